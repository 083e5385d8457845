//! The audit log in the GeoPackage: the `bando_audit` table, one row per record with the hash of
//! the previous row (`crate::audit::chain_hash`). Rows are appended in one `BEGIN IMMEDIATE`
//! transaction per batch, which reads the last row first, so a server and a CLI command writing
//! at once still make one chain. Triggers refuse UPDATE and DELETE; whoever drops them and edits
//! a row by hand is caught by `bando audit verify`.

use rusqlite::types::Value as SqlValue;
use rusqlite::{params_from_iter, Connection, OptionalExtension};

use super::StoreError;
use crate::audit::{chain_hash, column_names, columns, field_column, AuditEntry, AuditRow, Field, COLUMNS, FIELDS, GENESIS};

/// The table, its append-only triggers and its `gpkg_contents` entry.
fn schema() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS bando_audit ({columns});
CREATE TRIGGER IF NOT EXISTS bando_audit_no_update BEFORE UPDATE ON bando_audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS bando_audit_no_delete BEFORE DELETE ON bando_audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description) VALUES
  ('bando_audit', 'attributes', 'bando_audit', 'bando audit log: append-only, each row hashes the previous one');",
        columns = columns("TEXT", "INTEGER")
    )
}

/// Creates the table in a store that lacks it, and adds to an older table the fields it lacks.
pub(super) fn create_table(conn: &Connection) -> rusqlite::Result<()> {
    let n: i64 = conn.query_row("SELECT count(*) FROM sqlite_master WHERE name = 'bando_audit'", [], |r| r.get(0))?;
    if n == 0 {
        return conn.execute_batch(&format!("BEGIN IMMEDIATE; {} COMMIT;", schema()));
    }
    let present = present_columns(conn)?;
    for &(name, kind) in FIELDS.iter().filter(|(name, _)| !present.iter().any(|p| p == name)) {
        conn.execute_batch(&format!(
            "ALTER TABLE bando_audit ADD COLUMN {}",
            field_column(name, kind, "TEXT", "INTEGER")
        ))?;
    }
    Ok(())
}

/// The columns the table has.
fn present_columns(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('bando_audit')")?;
    let names = stmt.query_map([], |r| r.get(0))?;
    names.collect()
}

pub(super) fn append(conn: &Connection, entries: &[AuditEntry]) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let written = append_in(conn, entries);
    conn.execute_batch(if written.is_ok() { "COMMIT" } else { "ROLLBACK" })?;
    written
}

fn append_in(conn: &Connection, entries: &[AuditEntry]) -> Result<(), StoreError> {
    let last: Option<(i64, String)> = conn
        .query_row("SELECT id, hash FROM bando_audit ORDER BY id DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let (mut id, mut prev) = last.unwrap_or((0, GENESIS.to_string()));
    for e in entries {
        id += 1;
        let hash = chain_hash(&prev, id, e);
        insert(conn, id, e, &prev, &hash)?;
        prev = hash;
    }
    Ok(())
}

/// One row of the chain, as given.
fn insert(conn: &Connection, id: i64, e: &AuditEntry, prev_hash: &str, hash: &str) -> rusqlite::Result<()> {
    let marks: Vec<String> = (1..=COLUMNS).map(|i| format!("?{i}")).collect();
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT INTO bando_audit ({}) VALUES ({})",
        column_names(),
        marks.join(", ")
    ))?;
    let mut values = vec![SqlValue::Integer(id)];
    values.extend(e.fields().iter().map(|value| match value {
        Field::Text(text) => SqlValue::Text(text.to_string()),
        Field::Int(n) => n.map_or(SqlValue::Null, SqlValue::Integer),
    }));
    values.extend([prev_hash, hash].map(|h| SqlValue::Text(h.to_string())));
    stmt.execute(params_from_iter(values))?;
    Ok(())
}

pub(super) fn rows(conn: &Connection) -> Result<Vec<AuditRow>, StoreError> {
    let n: i64 = conn.query_row("SELECT count(*) FROM sqlite_master WHERE name = 'bando_audit'", [], |r| r.get(0))?;
    if n == 0 {
        return Ok(Vec::new());
    }
    let present = present_columns(conn)?;
    let has = |name: &str| present.iter().any(|p| p == name);
    let mut stmt = conn.prepare("SELECT * FROM bando_audit ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok(AuditRow {
            id: r.get("id")?,
            entry: AuditEntry::from_fields(has, |name| r.get(name), |name| r.get(name))?,
            prev_hash: r.get("prev_hash")?,
            hash: r.get("hash")?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Appends another store's rows verbatim when this log is empty (`Store::restore_audit`).
pub(super) fn restore(conn: &Connection, rows: &[AuditRow]) -> Result<bool, StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let written = restore_in(conn, rows);
    conn.execute_batch(if matches!(written, Ok(true)) { "COMMIT" } else { "ROLLBACK" })?;
    written
}

fn restore_in(conn: &Connection, rows: &[AuditRow]) -> Result<bool, StoreError> {
    let has_rows: bool = conn.query_row("SELECT EXISTS (SELECT 1 FROM bando_audit)", [], |r| r.get(0))?;
    if has_rows {
        return Ok(false);
    }
    for r in rows {
        insert(conn, r.id, &r.entry, &r.prev_hash, &r.hash)?;
    }
    Ok(true)
}
