//! `bando.toml`: the configuration file of `bando serve --config` (and of the commands that
//! read a policy, e.g. `bando token create --config`). One section per concern: `[server]`
//! (every `serve` flag), `[store]`, `[city3d]`, `[security]` (the access policy, whose keys
//! and meaning belong to `policy`); later concerns (`[live]`, `[ogc]`) add a section here.
//!
//! Owns: reading the file, refusing unknown keys, and naming the file and line of every problem
//! ([`ConfigError`]), so a mistyped key never silently falls back to a default. Does not decide
//! what a value means (that is `main.rs` for server settings, `policy` for `[security]`) and
//! knows nothing of HTTP. Relative paths in the file are taken from the working directory,
//! exactly like the flags they stand for.

use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::policy::SecuritySection;

/// What is wrong with a configuration file; every variant names the file, and the line when
/// one line is at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} line {line}: {message}")]
    Invalid { path: PathBuf, line: usize, message: String },
    #[error("{path}: {message}")]
    Whole { path: PathBuf, message: String },
}

/// The text of a configuration file, to turn byte spans into line numbers.
pub struct Source<'a> {
    pub path: &'a Path,
    pub text: &'a str,
}

impl Source<'_> {
    /// The 1-based line holding byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
    }

    /// An error about the value at `span`.
    pub fn error_at(&self, span: Range<usize>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line: self.line_of(span.start),
            message: message.into(),
        }
    }
}

/// The whole file. Every section is optional: an empty file is a valid configuration.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub store: StoreSection,
    #[serde(default)]
    pub city3d: City3dSection,
    /// The access policy; without it the server is open, as without a configuration file.
    #[serde(default)]
    pub security: Option<SecuritySection>,
}

/// `[server]`: one key per `bando serve` flag (same name, `_` for `-`); a flag given on the
/// command line wins over its key.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    pub addr: Option<SocketAddr>,
    pub demo: Option<bool>,
    pub watch_seconds: Option<f64>,
    pub public_url: Option<String>,
    pub cache_mb: Option<u64>,
    pub no_cache: Option<bool>,
    pub tilesets: Option<PathBuf>,
    pub styles: Option<PathBuf>,
    pub web: Option<PathBuf>,
    pub max_radius_m: Option<f64>,
    pub pmtiles: Option<Vec<PathBuf>>,
    pub log_format: Option<LogFormat>,
    pub cors_origins: Option<Vec<String>>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

/// How log lines are written (`--log-format`, `[server] log_format`): `text` for people, or
/// `json`, one object per line with every field, and a line for every request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<LogFormat, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("'{s}' is not a log format: use text or json")),
        }
    }
}

/// `[store]`: where the layers, catalog and tokens live (`--store`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// A GeoPackage path.
    pub location: Option<PathBuf>,
}

/// `[city3d]`: the LoD1 settings of 3D tiles (`--storey-height`, `--default-height`,
/// `--max-per-tile`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct City3dSection {
    pub storey_height: Option<f64>,
    pub default_height: Option<f64>,
    pub max_per_tile: Option<usize>,
}

impl ConfigFile {
    /// Reads and parses `path`; returns the text too, for the line numbers of later checks.
    pub fn read(path: &Path) -> Result<(ConfigFile, String), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let config = ConfigFile::parse(&Source { path, text: &text })?;
        Ok((config, text))
    }

    pub fn parse(source: &Source) -> Result<ConfigFile, ConfigError> {
        toml::from_str(source.text).map_err(|e| match e.span() {
            Some(span) => source.error_at(span, e.message().trim()),
            None => ConfigError::Whole {
                path: source.path.to_path_buf(),
                message: e.message().trim().to_string(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ConfigFile, ConfigError> {
        ConfigFile::parse(&Source {
            path: Path::new("bando.toml"),
            text,
        })
    }

    #[test]
    fn an_empty_file_is_a_valid_configuration() {
        let config = parse("").unwrap();
        assert!(config.server.addr.is_none() && config.security.is_none());
    }

    #[test]
    fn server_keys_parse() {
        let config =
            parse("[server]\naddr = \"0.0.0.0:9000\"\ncache_mb = 64\npmtiles = [\"a.pmtiles\"]\n[store]\nlocation = \"x.gpkg\"\n").unwrap();
        assert_eq!(config.server.addr.unwrap().port(), 9000);
        assert_eq!(config.server.cache_mb, Some(64));
        assert_eq!(config.store.location.unwrap(), PathBuf::from("x.gpkg"));
    }

    #[test]
    fn an_unknown_key_is_refused_with_its_file_and_line() {
        let err = parse("[server]\naddr = \"127.0.0.1:1\"\ncache_mbs = 64\n").unwrap_err().to_string();
        assert!(err.starts_with("bando.toml line 3: unknown field `cache_mbs`"), "{err}");
        assert!(err.contains("cache_mb"), "names the keys it knows: {err}");
        let err = parse("[sever]\n").unwrap_err().to_string();
        assert!(err.starts_with("bando.toml line 1:"), "{err}");
    }

    #[test]
    fn a_wrong_type_names_the_line() {
        let err = parse("\n\n[server]\ncache_mb = \"lots\"\n").unwrap_err().to_string();
        assert!(err.starts_with("bando.toml line 4:"), "{err}");
    }
}
