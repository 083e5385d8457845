//! A static map picture (`/scenarios/{id}/static/...`): a frame centred on a point at a zoom,
//! or fitted to a box, drawn with the scenario's style for the request's view, with the
//! furniture of [`decor`](super::decor) on top, as a [`FileSource`] (never cached: each
//! request names its own picture).
//!
//! Owns the checks of a picture request (sizes up to [`MAX_SIDE`], positions, zooms). Drawing
//! is the renderer's.

use std::sync::Arc;

use super::canvas::Frame;
use super::decor::{self, Decor};
use super::encode::{encode, Format};
use super::{LoadedStyle, RenderError, Renderer, Sources, MAX_SIDE};
use crate::delivery::{Encoded, FileSource};
use crate::error::Error;
use crate::feature::Bbox;
use crate::tiles::math::MAX_ZOOM;

/// Where a static picture looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Place {
    /// `lon,lat,zoom`.
    Centre { lon: f64, lat: f64, zoom: f64 },
    /// `west,south,east,north`.
    Bounds(Bbox),
}

impl Place {
    /// Reads `lon,lat,zoom` or `west,south,east,north`.
    pub fn parse(text: &str) -> Result<Place, RenderError> {
        let numbers: Vec<f64> = text
            .split(',')
            .map(|n| n.trim().parse::<f64>().ok().filter(|v| v.is_finite()))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                RenderError::BadPicture(format!(
                    "'{}' is not lon,lat,zoom nor west,south,east,north (numbers)",
                    text.escape_default()
                ))
            })?;
        let lon_ok = |v: f64| (-180.0..=180.0).contains(&v);
        let lat_ok = |v: f64| (-85.06..=85.06).contains(&v);
        match numbers[..] {
            [lon, lat, zoom] => {
                if !lon_ok(lon) || !lat_ok(lat) {
                    return Err(RenderError::BadPicture(format!(
                        "centre {lon},{lat} is not a longitude,latitude on the Web Mercator map"
                    )));
                }
                if !(0.0..=MAX_ZOOM as f64).contains(&zoom) {
                    return Err(RenderError::BadPicture(format!("zoom {zoom} is out of range 0..={MAX_ZOOM}")));
                }
                Ok(Place::Centre { lon, lat, zoom })
            }
            [west, south, east, north] => {
                if !(lon_ok(west) && lon_ok(east) && lat_ok(south) && lat_ok(north)) || west >= east || south >= north {
                    return Err(RenderError::BadPicture(format!(
                        "box {west},{south},{east},{north} must be west,south,east,north with west < east and south < north"
                    )));
                }
                Ok(Place::Bounds(Bbox { west, south, east, north }))
            }
            _ => Err(RenderError::BadPicture(format!(
                "'{}' needs 3 numbers (lon,lat,zoom) or 4 (west,south,east,north)",
                text.escape_default()
            ))),
        }
    }
}

/// Reads `WIDTHxHEIGHT[@2x].png|jpg|webp`; a side over [`MAX_SIDE`] is refused.
pub fn parse_size(text: &str) -> Result<(u32, u32, u32, Format), RenderError> {
    let bad = || {
        RenderError::BadPicture(format!(
            "'{}' is not WIDTHxHEIGHT.png (or .jpg, .webp; @2x before the extension)",
            text.escape_default()
        ))
    };
    let (stem, ext) = text.rsplit_once('.').ok_or_else(bad)?;
    let format = Format::from_extension(ext).ok_or_else(bad)?;
    let (dims, ratio) = match stem.strip_suffix("@2x") {
        Some(d) => (d, 2),
        None => (stem, 1),
    };
    let (w, h) = dims.split_once('x').ok_or_else(bad)?;
    let side = |s: &str| s.parse::<u32>().ok().filter(|v| *v > 0).ok_or_else(bad);
    let (w, h) = (side(w)?, side(h)?);
    if w > MAX_SIDE || h > MAX_SIDE {
        return Err(RenderError::TooLarge(format!(
            "a static map is at most {MAX_SIDE}×{MAX_SIDE} pixels; {w}×{h} was asked for"
        )));
    }
    Ok((w, h, ratio, format))
}

/// One static picture for one request's view.
pub struct StaticMap {
    pub renderer: Arc<Renderer>,
    pub style: Arc<LoadedStyle>,
    pub sources: Sources,
    pub place: Place,
    pub size: (u32, u32),
    pub ratio: u32,
    pub format: Format,
    pub decor: Decor,
}

impl StaticMap {
    pub fn frame(&self) -> Frame {
        let (w, h) = self.size;
        let ratio = self.ratio as f32;
        match self.place {
            Place::Centre { lon, lat, zoom } => Frame::around(lon, lat, zoom, w, h, ratio),
            Place::Bounds(bbox) => Frame::fitting(&bbox, w, h, ratio),
        }
    }

    /// The picture, before encoding (reports embed it).
    pub fn draw(&self) -> Result<tiny_skia::Pixmap, RenderError> {
        let frame = self.frame();
        let (mut picture, mut labeler) = self.renderer.draw(&self.style.style, &self.sources, &frame)?;
        let legend = Some((&self.style.style, &self.sources));
        decor::draw(&mut picture, &frame, &self.decor, legend, &self.renderer.fonts, &mut labeler);
        Ok(picture)
    }
}

impl FileSource for StaticMap {
    fn media_type(&self) -> &'static str {
        self.format.media_type()
    }

    fn cached(&self, _want_gzip: bool) -> Option<Arc<Encoded>> {
        None
    }

    fn etag(&self) -> Option<String> {
        None
    }

    fn produce(self, _want_gzip: bool) -> Result<Arc<Encoded>, Error> {
        let bytes = encode(&self.draw()?, self.format)?;
        Ok(Arc::new(Encoded::new(bytes, String::new(), None)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_and_sizes_are_read_or_refused() {
        assert_eq!(
            Place::parse("107.58,16.46,15").unwrap(),
            Place::Centre {
                lon: 107.58,
                lat: 16.46,
                zoom: 15.0
            }
        );
        assert!(matches!(Place::parse("107.5,16.4,107.6,16.5").unwrap(), Place::Bounds(_)));
        for bad in ["107.58,16.46", "x,1,2", "107.6,16.4,107.5,16.5", "190,1,3", "1,2,30"] {
            assert!(Place::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_size("800x600.png").unwrap(), (800, 600, 1, Format::Png));
        assert_eq!(parse_size("400x300@2x.jpg").unwrap(), (400, 300, 2, Format::Jpeg));
        assert!(matches!(parse_size("4000x300.png"), Err(RenderError::TooLarge(_))));
        assert!(parse_size("0x300.png").is_err() && parse_size("800.png").is_err() && parse_size("8x3.gif").is_err());
    }
}
