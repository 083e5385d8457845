//! One mapping from a catalog row (`layers` joined with `imports`, or `imports` alone) to
//! [`LayerMeta`] and [`ImportRecord`], shared by every backend.
//!
//! Owns the column names and their conversions; each backend only says how to read one typed
//! column of its own row type ([`CatalogRow`]). It must not run SQL or know a driver's error
//! type beyond passing it through.

use super::{ImportRecord, LayerMeta};
use crate::feature::{Bbox, GeometryKind, LayerKind};

/// Typed access to one column of a catalog row, by name. SQLite stores flags as integers and
/// PostgreSQL as booleans: [`CatalogRow::flag`] hides that.
pub(crate) trait CatalogRow {
    type Error;
    fn text(&self, column: &str) -> Result<String, Self::Error>;
    fn int(&self, column: &str) -> Result<i64, Self::Error>;
    fn real(&self, column: &str) -> Result<f64, Self::Error>;
    fn opt_real(&self, column: &str) -> Result<Option<f64>, Self::Error>;
    fn flag(&self, column: &str) -> Result<bool, Self::Error>;
}

/// A catalog entry from `SELECT l.*, i.source_file, i.source_sha256, i.source_crs, i.imported_at`.
pub(crate) fn layer_meta<R: CatalogRow>(row: &R) -> Result<LayerMeta, R::Error> {
    let bbox = match (
        row.opt_real("min_x")?,
        row.opt_real("min_y")?,
        row.opt_real("max_x")?,
        row.opt_real("max_y")?,
    ) {
        (Some(west), Some(south), Some(east), Some(north)) => Some(Bbox { west, south, east, north }),
        _ => None,
    };
    Ok(LayerMeta {
        name: row.text("name")?,
        kind: row.text("kind")?.parse().unwrap_or(LayerKind::Poi),
        geometry_type: GeometryKind::parse(&row.text("geometry_type")?),
        feature_count: row.int("feature_count")? as u64,
        bbox,
        fields: serde_json::from_str(&row.text("fields")?).unwrap_or_default(),
        source_file: row.text("source_file")?,
        source_sha256: row.text("source_sha256")?,
        source_crs: row.text("source_crs")?,
        imported_at: row.text("imported_at")?,
        import_id: row.int("import_id")?,
    })
}

/// One row of the import history (`SELECT * FROM imports`).
pub(crate) fn import_record<R: CatalogRow>(row: &R) -> Result<ImportRecord, R::Error> {
    Ok(ImportRecord {
        id: row.int("id")?,
        layer: row.text("layer")?,
        source_file: row.text("source_file")?,
        source_sha256: row.text("source_sha256")?,
        source_crs: row.text("source_crs")?,
        imported_at: row.text("imported_at")?,
        read: row.int("read")? as u64,
        written: row.int("written")? as u64,
        skipped: row.int("skipped")? as u64,
        repaired: row.int("repaired")? as u64,
        seconds: row.real("seconds")?,
        replaced: row.flag("replaced")?,
    })
}

impl CatalogRow for rusqlite::Row<'_> {
    type Error = rusqlite::Error;
    fn text(&self, column: &str) -> rusqlite::Result<String> {
        self.get(column)
    }
    fn int(&self, column: &str) -> rusqlite::Result<i64> {
        self.get(column)
    }
    fn real(&self, column: &str) -> rusqlite::Result<f64> {
        self.get(column)
    }
    fn opt_real(&self, column: &str) -> rusqlite::Result<Option<f64>> {
        self.get(column)
    }
    fn flag(&self, column: &str) -> rusqlite::Result<bool> {
        Ok(self.get::<_, i64>(column)? != 0)
    }
}

impl CatalogRow for postgres::Row {
    type Error = postgres::Error;
    fn text(&self, column: &str) -> Result<String, postgres::Error> {
        self.try_get(column)
    }
    fn int(&self, column: &str) -> Result<i64, postgres::Error> {
        self.try_get(column)
    }
    fn real(&self, column: &str) -> Result<f64, postgres::Error> {
        self.try_get(column)
    }
    fn opt_real(&self, column: &str) -> Result<Option<f64>, postgres::Error> {
        self.try_get(column)
    }
    fn flag(&self, column: &str) -> Result<bool, postgres::Error> {
        self.try_get(column)
    }
}
