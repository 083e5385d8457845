//! The reading pass of an import: each source feature to a stored row (geometry converted,
//! reprojected, checked against the region, validated or repaired; attributes decoded and
//! coerced), streamed in batches to the store's writer on its own thread while the source is
//! hashed on another.
//!
//! Owns the per-feature rules and the tally of what was skipped, repaired or refused. It must not
//! decide the layer's schema (that is `super::plan_fields`) nor commit: the caller commits the
//! writer it gets back, or drops it so the store rolls back.

use std::path::Path;
use std::sync::mpsc;

use gdal::spatial_ref::CoordTransform;
use gdal::vector::{LayerAccess, OGRFieldType};
use geo_types::Geometry;

use super::geometry::{self, Converted, GeometryError, Rules};
use super::{read_value, repair, sha256_of, source, validation_error, FieldPlan, ImportError, ImportOptions, Repaired};
use crate::feature::{Bbox, Value};
use crate::store::{LayerWriter, StoreError};

/// Features are sent to the writer thread this many at a time.
const BATCH: usize = 2048;
/// Refused features listed in the error; the rest are counted.
const LISTED_INVALID: usize = 20;

/// One stored row: the geometry and its attributes in the layer's field order.
type Row = (Geometry<f64>, Vec<Value>);
type Batch = Vec<Row>;

/// Everything a feature needs to become a row, fixed for the whole import.
pub(super) struct RowRules<'a> {
    pub opts: &'a ImportOptions,
    pub transform: Option<&'a CoordTransform>,
    pub geometry: &'a Rules,
    pub plans: &'a [FieldPlan],
    pub ogr_types: &'a [OGRFieldType::Type],
    pub decoding: source::TextDecoding,
    /// Append the source's Z range as two fields (building base and roof).
    pub keeps_z: bool,
    pub crs_name: &'a str,
}

/// What the reading pass leaves for the commit: counts, the source's SHA-256 and the open writer.
pub(super) struct Streamed {
    pub read: u64,
    pub skipped: u64,
    pub repaired: u64,
    pub split: u64,
    pub sha: String,
    pub writer: Box<dyn LayerWriter>,
}

/// Counts kept while reading, and the listing of refused features.
#[derive(Default)]
struct Tally {
    read: u64,
    skipped: u64,
    repaired: u64,
    split: u64,
    invalid: Vec<String>,
    invalid_count: usize,
}

impl Tally {
    fn refuse(&mut self, line: String) {
        self.invalid_count += 1;
        if self.invalid.len() < LISTED_INVALID {
            self.invalid.push(line);
        }
    }

    /// The tally, or the error that refuses the whole import when any feature was refused.
    fn refusal(mut self, file: &Path) -> Result<Tally, ImportError> {
        if self.invalid_count == 0 {
            return Ok(self);
        }
        if self.invalid_count > self.invalid.len() {
            self.invalid
                .push(format!("  ... and {} more", self.invalid_count - self.invalid.len()));
        }
        Err(ImportError::Invalid {
            file: file.to_path_buf(),
            count: self.invalid_count,
            listing: self.invalid.join("\n"),
        })
    }
}

impl RowRules<'_> {
    fn file(&self) -> std::path::PathBuf {
        self.opts.file.clone()
    }

    /// One feature as a row; `Ok(None)` when it is skipped or refused (counted in `tally`),
    /// `Err` when the whole import must stop.
    fn row(&self, feature: &gdal::vector::Feature<'_>, tally: &mut Tally) -> Result<Option<Row>, ImportError> {
        let fid = feature.fid().map_or(tally.read as i64, |f| f as i64);
        let Some(ogr) = feature.geometry().filter(|g| !g.is_empty()) else {
            tally.skipped += 1;
            return Ok(None);
        };
        let Some(converted) = self.converted(ogr, fid, tally)? else {
            return Ok(None);
        };
        tally.split += u64::from(converted.split);
        let Some(geometry) = self.checked(converted.geometry, fid, tally)? else {
            return Ok(None);
        };
        let mut properties = self.properties(feature, fid)?;
        if self.keeps_z {
            let (low, high) = converted
                .z_range
                .map_or((Value::Null, Value::Null), |(low, high)| (Value::Float(low), Value::Float(high)));
            properties.extend([low, high]);
        }
        Ok(Some((geometry, properties)))
    }

    fn converted(&self, ogr: &gdal::vector::Geometry, fid: i64, tally: &mut Tally) -> Result<Option<Converted>, ImportError> {
        match geometry::convert(ogr, self.transform, self.geometry) {
            Ok(c) => Ok(Some(c)),
            Err(GeometryError::Transform(reason)) => Err(ImportError::Transform {
                file: self.file(),
                fid,
                crs: self.crs_name.to_string(),
                reason,
            }),
            Err(GeometryError::MixedCollection { kinds }) => Err(ImportError::MixedCollection {
                file: self.file(),
                fid,
                kinds,
            }),
            Err(e) => {
                tally.refuse(format!("  feature {fid}: unsupported geometry ({e})"));
                Ok(None)
            }
        }
    }

    /// The geometry inside the region and valid (or repaired with `--repair`).
    fn checked(&self, geometry: Geometry<f64>, fid: i64, tally: &mut Tally) -> Result<Option<Geometry<f64>>, ImportError> {
        let Some(bbox) = Bbox::of(&geometry) else {
            tally.skipped += 1;
            return Ok(None);
        };
        if !self.opts.region.contains(&bbox) {
            return Err(ImportError::OutsideRegion {
                file: self.file(),
                fid,
                bbox,
                crs: self.crs_name.to_string(),
                region: self.opts.region.name.clone(),
            });
        }
        let Some(reason) = validation_error(&geometry) else {
            return Ok(Some(geometry));
        };
        if !self.opts.repair {
            tally.refuse(format!("  feature {fid}: {reason}"));
            return Ok(None);
        }
        Ok(match repair(&geometry) {
            Repaired::Mended(g) => {
                tally.repaired += 1;
                Some(g)
            }
            Repaired::Collapsed => {
                tally.skipped += 1;
                None
            }
            Repaired::Failed => {
                tally.refuse(format!("  feature {fid}: {reason} (--repair could not mend it)"));
                None
            }
        })
    }

    fn properties(&self, feature: &gdal::vector::Feature<'_>, fid: i64) -> Result<Vec<Value>, ImportError> {
        let mut properties = Vec::with_capacity(self.plans.len() + 2);
        for plan in self.plans {
            let value = read_value(feature, plan.source_index, self.ogr_types[plan.source_index], self.decoding).map_err(|()| {
                ImportError::Encoding {
                    file: self.file(),
                    field: plan.source_name.clone(),
                    fid,
                }
            })?;
            properties.push(value.coerce(plan.target.ty));
        }
        Ok(properties)
    }
}

/// Reads every feature of `layer` into `writer`. On any error the writer is dropped (the store
/// rolls back) and the error names the first problem, or lists the refused features.
pub(super) fn stream(
    layer: &mut gdal::vector::Layer<'_>,
    rules: &RowRules<'_>,
    writer: Box<dyn LayerWriter>,
    progress: &indicatif::ProgressBar,
) -> Result<Streamed, ImportError> {
    let file = &rules.opts.file;
    let (tx, rx) = mpsc::sync_channel::<Batch>(4);
    std::thread::scope(|scope| {
        let hashing = scope.spawn(|| sha256_of(file));
        let writing = scope.spawn(move || write_batches(writer, rx));
        let read = read_features(layer, rules, &tx, progress);
        drop(tx);
        let written = writing.join().expect("writer thread does not panic");
        let sha = hashing.join().expect("hash thread does not panic");
        progress.finish_and_clear();
        let tally = read?; // `written` is dropped on error: the transaction rolls back
        let writer = written?;
        let sha = sha.map_err(|source| ImportError::Io {
            file: file.clone(),
            source,
        })?;
        Ok(Streamed {
            read: tally.read,
            skipped: tally.skipped,
            repaired: tally.repaired,
            split: tally.split,
            sha,
            writer,
        })
    })
}

fn write_batches(mut writer: Box<dyn LayerWriter>, batches: mpsc::Receiver<Batch>) -> Result<Box<dyn LayerWriter>, StoreError> {
    for batch in batches {
        for (geometry, properties) in &batch {
            writer.write(geometry, properties)?;
        }
    }
    Ok(writer)
}

/// The reading loop: rows to `tx` in batches, until the end of the source or the first error.
fn read_features(
    layer: &mut gdal::vector::Layer<'_>,
    rules: &RowRules<'_>,
    tx: &mpsc::SyncSender<Batch>,
    progress: &indicatif::ProgressBar,
) -> Result<Tally, ImportError> {
    let mut tally = Tally::default();
    let mut batch: Batch = Vec::with_capacity(BATCH);
    source::reset_gdal_error();
    for feature in layer.features() {
        tally.read += 1;
        let Some(row) = rules.row(&feature, &mut tally)? else {
            continue;
        };
        if tally.invalid_count > 0 {
            continue; // the import will be refused: keep reading to list problems, stop writing
        }
        batch.push(row);
        if batch.len() == BATCH {
            progress.set_position(tally.read);
            if tx.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH))).is_err() {
                break; // the writer failed; its error is reported by the caller
            }
        }
    }
    if let Some(reason) = source::take_gdal_error() {
        return Err(ImportError::ReadFailed {
            file: rules.file(),
            after: tally.read,
            reason,
        });
    }
    let tally = tally.refusal(&rules.opts.file)?;
    if !batch.is_empty() {
        let _ = tx.send(batch);
    }
    Ok(tally)
}
