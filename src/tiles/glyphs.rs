//! SDF glyph ranges for map labels (`/fonts/{fontstack}/{range}.pbf`), made from the machine's
//! TrueType/OpenType fonts (e.g. Debian's Noto Sans, which covers Vietnamese) so labels with
//! diacritics render with no internet. A range is rasterised with fontdue, turned into a signed
//! distance field with the layout MapLibre expects (24 px, 3 px buffer, 8 px radius, edge at
//! 192), encoded as the glyphs protobuf, and kept.
//!
//! Owns font lookup, name and range checking, glyph encoding. Knows nothing of HTTP.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::mvt::{put_bytes_field, put_sint_field, put_uint_field};
use super::TileError;

const SIZE: f32 = 24.0;
const BUFFER: usize = 3;
const RADIUS: usize = 8;
const CUTOFF: f64 = 0.25;
/// Where fonts are looked for (recursively).
const FONT_DIRS: [&str; 2] = ["/usr/share/fonts", "/usr/local/share/fonts"];

/// Font files by their file stem, e.g. `NotoSans-Regular`.
pub struct Glyphs {
    files: HashMap<String, PathBuf>,
    fonts: Mutex<HashMap<String, Arc<fontdue::Font>>>,
    ranges: Option<Mutex<HashMap<(String, u32), Bytes>>>,
}

fn index_fonts(dir: &Path, files: &mut HashMap<String, PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        if path.is_dir() {
            index_fonts(&path, files);
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("ttf") || e.eq_ignore_ascii_case("otf"))
        {
            if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                files.entry(stem.to_string()).or_insert(path);
            }
        }
    }
}

/// `Noto Sans Regular` → `NotoSans-Regular` (family words joined, style after a dash).
fn file_stem_of(font_name: &str) -> Option<String> {
    let words: Vec<&str> = font_name.split_whitespace().collect();
    let (style, family) = words.split_last()?;
    if family.is_empty() {
        return Some(style.to_string());
    }
    Some(format!("{}-{style}", family.concat()))
}

/// Parses `0-255.pbf`-style ranges (without the suffix): 256 code points starting at a multiple of 256.
pub fn parse_range(range: &str) -> Result<u32, TileError> {
    let bad = || {
        TileError::BadGlyphs(format!(
            "glyph range '{}' must be N-(N+255) with N a multiple of 256 up to 65280",
            range.escape_default()
        ))
    };
    let (a, b) = range.split_once('-').ok_or_else(bad)?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 5 && s.bytes().all(|c| c.is_ascii_digit());
    if !digits(a) || !digits(b) {
        return Err(bad());
    }
    let (start, end): (u32, u32) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if start % 256 != 0 || end != start + 255 || end > 65535 {
        return Err(bad());
    }
    Ok(start)
}

fn check_fontstack(fontstack: &str) -> Result<(), TileError> {
    let ok = !fontstack.is_empty()
        && fontstack.len() <= 200
        && fontstack.bytes().all(|b| b.is_ascii_alphanumeric() || b" -_,".contains(&b))
        && !fontstack.contains("..");
    if ok {
        Ok(())
    } else {
        Err(TileError::BadGlyphs(format!(
            "font stack '{}' may hold only letters, digits, spaces, '-', '_' and ','",
            fontstack.escape_default()
        )))
    }
}

impl Glyphs {
    /// Indexes the font folders; `cache` keeps generated ranges.
    pub fn new(cache: bool) -> Glyphs {
        let mut files = HashMap::new();
        for dir in FONT_DIRS {
            index_fonts(Path::new(dir), &mut files);
        }
        Glyphs {
            files,
            fonts: Mutex::new(HashMap::new()),
            ranges: cache.then(|| Mutex::new(HashMap::new())),
        }
    }

    /// The file of a font name (`Noto Sans Bold`), as glyph ranges find it; the server-side
    /// renderer draws labels from the same files.
    pub fn font_file(&self, font_name: &str) -> Option<PathBuf> {
        file_stem_of(font_name).and_then(|stem| self.files.get(&stem).cloned())
    }

    /// The glyph PBF of `range` (e.g. `0-255`) for the first font of `fontstack` this machine has.
    pub fn range(&self, fontstack: &str, range: &str) -> Result<Bytes, TileError> {
        check_fontstack(fontstack)?;
        let start = parse_range(range)?;
        let (name, stem) = fontstack
            .split(',')
            .map(str::trim)
            .find_map(|name| {
                file_stem_of(name)
                    .filter(|stem| self.files.contains_key(stem))
                    .map(|stem| (name, stem))
            })
            .ok_or_else(|| TileError::UnknownFont(fontstack.to_string()))?;
        if let Some(hit) = self
            .ranges
            .as_ref()
            .and_then(|r| r.lock().unwrap_or_else(|e| e.into_inner()).get(&(stem.clone(), start)).cloned())
        {
            return Ok(hit);
        }
        let font = self.font(&stem)?;
        let bytes = Bytes::from(encode_range(&font, name, start));
        if let Some(ranges) = &self.ranges {
            ranges
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert((stem, start), bytes.clone());
        }
        Ok(bytes)
    }

    fn font(&self, stem: &str) -> Result<Arc<fontdue::Font>, TileError> {
        let mut fonts = self.fonts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = fonts.get(stem) {
            return Ok(f.clone());
        }
        let path = &self.files[stem];
        let data = std::fs::read(path).map_err(|e| TileError::BadFont {
            file: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let font = fontdue::Font::from_bytes(
            data,
            fontdue::FontSettings {
                scale: SIZE,
                ..Default::default()
            },
        )
        .map_err(|e| TileError::BadFont {
            file: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let font = Arc::new(font);
        fonts.insert(stem.to_string(), font.clone());
        Ok(font)
    }
}

/// One `glyphs` protobuf message holding the font stack's glyphs for `start..start+256`.
fn encode_range(font: &fontdue::Font, name: &str, start: u32) -> Vec<u8> {
    let ascender = font.horizontal_line_metrics(SIZE).map_or(SIZE, |m| m.ascent).round() as i64;
    let mut stack = Vec::new();
    put_bytes_field(&mut stack, 1, name.as_bytes());
    put_bytes_field(&mut stack, 2, format!("{start}-{}", start + 255).as_bytes());
    let mut glyph = Vec::new();
    for code in start..start + 256 {
        let Some(ch) = char::from_u32(code) else { continue };
        if font.lookup_glyph_index(ch) == 0 {
            continue;
        }
        let (metrics, coverage) = font.rasterize(ch, SIZE);
        glyph.clear();
        put_uint_field(&mut glyph, 1, code as u64);
        if metrics.width > 0 && metrics.height > 0 {
            let sdf = sdf_glyph_renderer::BitmapGlyph::from_unbuffered(&coverage, metrics.width, metrics.height, BUFFER)
                .map(|b| b.render_sdf(RADIUS))
                .and_then(|sdf| sdf_glyph_renderer::clamp_to_u8(&sdf, CUTOFF));
            match sdf {
                Ok(bitmap) => put_bytes_field(&mut glyph, 2, &bitmap),
                Err(_) => continue,
            }
        }
        put_uint_field(&mut glyph, 3, metrics.width as u64);
        put_uint_field(&mut glyph, 4, metrics.height as u64);
        put_sint_field(&mut glyph, 5, metrics.xmin as i64);
        put_sint_field(&mut glyph, 6, (metrics.ymin as i64 + metrics.height as i64) - ascender);
        put_uint_field(&mut glyph, 7, metrics.advance_width.round().max(0.0) as u64);
        put_bytes_field(&mut stack, 3, &glyph);
    }
    let mut out = Vec::with_capacity(stack.len() + 8);
    put_bytes_field(&mut out, 1, &stack);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_names_are_checked() {
        assert_eq!(parse_range("0-255").unwrap(), 0);
        assert_eq!(parse_range("7680-7935").unwrap(), 7680);
        for bad in ["0-256", "1-256", "65536-65791", "-1-254", "a-b", "0255", ""] {
            assert!(parse_range(bad).is_err(), "{bad}");
        }
        assert!(check_fontstack("Noto Sans Regular,Noto Sans Bold").is_ok());
        for bad in ["../etc/passwd", "a/b", "Noto\u{0}", "x..y", ""] {
            assert!(check_fontstack(bad).is_err(), "{bad}");
        }
        assert_eq!(file_stem_of("Noto Sans Regular").as_deref(), Some("NotoSans-Regular"));
    }
}
