//! The policy in force and the file it comes from, reloaded while the server runs (on SIGHUP
//! and when the file changes, seen by the watch task's stamp). A file that no longer parses or
//! checks keeps the last good policy in service and is reported ([`PolicyFile::problem`]),
//! like a broken scenario edit.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;

use super::{Policy, Vocabulary};
use crate::config::{ConfigError, ConfigFile, Source};
use crate::watch::FileStamps;

/// What a look at the policy file found.
#[derive(Debug, PartialEq)]
pub enum Reload {
    Unchanged,
    /// The new policy is in force.
    Applied,
    /// The file changed but was refused (the message); the previous policy stays in force.
    Refused(String),
}

pub struct PolicyFile {
    path: PathBuf,
    current: ArcSwapOption<Policy>,
    /// The file as last looked at, and why its latest content is not in force, if it is not.
    last: Mutex<(FileStamps, Option<String>)>,
}

/// The `[security]` policy of the file at `path`, checked; `None` when it has no such section.
fn load(path: &Path, known: &Vocabulary) -> Result<Option<Policy>, ConfigError> {
    let (config, text) = ConfigFile::read(path)?;
    let source = Source { path, text: &text };
    config.security.map(|s| s.check(&source, known)).transpose()
}

impl PolicyFile {
    /// Loads the policy at start-up: a bad file is an error, not a warning.
    pub fn open(path: &Path, known: &Vocabulary) -> Result<PolicyFile, ConfigError> {
        let stamp = FileStamps::of(&[path.to_path_buf()]);
        let policy = load(path, known)?;
        Ok(PolicyFile {
            path: path.to_path_buf(),
            current: ArcSwapOption::new(policy.map(Arc::new)),
            last: Mutex::new((stamp, None)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The policy in force; `None` when the file has no `[security]` section (an open server).
    pub fn current(&self) -> Option<Arc<Policy>> {
        self.current.load_full()
    }

    /// Why the file's latest content is not in force, if it is not.
    pub fn problem(&self) -> Option<String> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).1.clone()
    }

    /// Reloads if the file changed since the last look; `known` is only built when it did.
    pub fn reload_if_changed(&self, known: impl FnOnce() -> Vocabulary) -> Reload {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        // Stamped before reading, so an edit made during the read is seen on the next look.
        let stamp = FileStamps::of(std::slice::from_ref(&self.path));
        if stamp == last.0 {
            return Reload::Unchanged;
        }
        last.0 = stamp;
        self.apply(&mut last.1, &known())
    }

    /// Reloads whether or not the file changed (SIGHUP, or the names it refers to changed).
    pub fn reload(&self, known: &Vocabulary) -> Reload {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.0 = FileStamps::of(std::slice::from_ref(&self.path));
        self.apply(&mut last.1, known)
    }

    fn apply(&self, problem: &mut Option<String>, known: &Vocabulary) -> Reload {
        match load(&self.path, known) {
            Ok(policy) => {
                self.current.store(policy.map(Arc::new));
                *problem = None;
                Reload::Applied
            }
            Err(e) => {
                let message = e.to_string();
                *problem = Some(message.clone());
                Reload::Refused(message)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    fn known() -> Vocabulary {
        Vocabulary {
            layers: BTreeMap::from([("wards".to_string(), BTreeSet::from(["code".to_string()]))]),
            scenarios: BTreeSet::new(),
        }
    }

    const GOOD: &str = "[security]\n[[security.roles]]\nname = \"public\"\nlayers = [\"wards\"]\n";

    #[test]
    fn a_bad_edit_keeps_the_last_good_policy_and_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bando.toml");
        std::fs::write(&path, GOOD).unwrap();
        let file = PolicyFile::open(&path, &known()).unwrap();
        assert_eq!(file.reload_if_changed(known), Reload::Unchanged);
        std::fs::write(&path, GOOD.replace("\"wards\"", "\"wardss\"")).unwrap();
        let Reload::Refused(why) = file.reload_if_changed(known) else {
            panic!("a policy naming an unknown layer is refused")
        };
        assert!(why.contains("bando.toml line 4") && why.contains("wardss"), "{why}");
        assert_eq!(file.problem(), Some(why));
        assert!(
            file.current().unwrap().anonymous().layers.allows("wards"),
            "the last good policy stays"
        );
        assert_eq!(file.reload_if_changed(known), Reload::Unchanged, "refused once, not on every tick");
        std::fs::write(&path, "").unwrap();
        assert_eq!(file.reload(&known()), Reload::Applied);
        assert!(
            file.current().is_none() && file.problem().is_none(),
            "no [security]: an open server"
        );
    }
}
