//! Pictures to files: PNG (fast deflate: a miss is paid by a waiting client), JPEG (quality 85,
//! on white, as JPEG has no alpha) and lossless WebP, all with the `image` crate's pure-Rust
//! encoders.
//!
//! Owns the image formats and their media types. Knows nothing of what the picture shows.

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::codecs::webp::WebPEncoder;
use image::{ExtendedColorType, ImageEncoder};
use tiny_skia::Pixmap;

use super::RenderError;

/// JPEG quality of rendered maps: text stays legible, a tile stays small.
const JPEG_QUALITY: u8 = 85;

/// An image format bando writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Png,
    Jpeg,
    Webp,
}

impl Format {
    /// From a file extension: `png`, `jpg`/`jpeg`, `webp`.
    pub fn from_extension(ext: &str) -> Option<Format> {
        match ext {
            "png" => Some(Format::Png),
            "jpg" | "jpeg" => Some(Format::Jpeg),
            "webp" => Some(Format::Webp),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Jpeg => "jpg",
            Format::Webp => "webp",
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
            Format::Webp => "image/webp",
        }
    }
}

/// Encodes a picture.
pub fn encode(picture: &Pixmap, format: Format) -> Result<Vec<u8>, RenderError> {
    let (w, h) = (picture.width(), picture.height());
    let mut out = Vec::new();
    let failed = |source| RenderError::Encode {
        format: format.extension(),
        source,
    };
    match format {
        Format::Png => {
            let rgba = picture.clone().take_demultiplied();
            PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive)
                .write_image(&rgba, w, h, ExtendedColorType::Rgba8)
                .map_err(failed)?;
        }
        Format::Webp => {
            let rgba = picture.clone().take_demultiplied();
            WebPEncoder::new_lossless(&mut out)
                .write_image(&rgba, w, h, ExtendedColorType::Rgba8)
                .map_err(failed)?;
        }
        Format::Jpeg => {
            // Premultiplied colour over white: c + (1 - a)·255.
            let rgb: Vec<u8> = picture
                .pixels()
                .iter()
                .flat_map(|p| {
                    let under = 255 - p.alpha();
                    [
                        p.red().saturating_add(under),
                        p.green().saturating_add(under),
                        p.blue().saturating_add(under),
                    ]
                })
                .collect();
            JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
                .write_image(&rgb, w, h, ExtendedColorType::Rgb8)
                .map_err(failed)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_decodes_back_to_the_same_size_and_colour() {
        let mut picture = Pixmap::new(64, 32).unwrap();
        picture.fill(tiny_skia::Color::from_rgba8(200, 40, 40, 255));
        for format in [Format::Png, Format::Jpeg, Format::Webp] {
            let bytes = encode(&picture, format).unwrap();
            let decoded = image::load_from_memory(&bytes).unwrap().to_rgba8();
            assert_eq!(decoded.dimensions(), (64, 32), "{format:?}");
            let p = decoded.get_pixel(10, 10);
            assert!(p[0].abs_diff(200) <= 3 && p[1].abs_diff(40) <= 3, "{format:?}: {p:?}");
        }
    }
}
