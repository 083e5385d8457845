//! The audit log in the PostGIS store: `<schema>_meta.audit`, the same rows and chain as the
//! GeoPackage's `bando_audit`. A batch is one transaction that takes a transaction-level
//! advisory lock and reads the last row first, so concurrent writers make one chain; a trigger
//! refuses UPDATE, DELETE and TRUNCATE.

use postgres::types::ToSql;
use postgres::{Client, Row, Statement, Transaction};

use super::StoreError;
use crate::audit::{chain_hash, column_names, columns, field_column, AuditEntry, AuditRow, Field, COLUMNS, FIELDS, GENESIS};

/// The table, created with the rest of the catalog (`postgis::create_schemas`); an older
/// table gains the fields it lacks.
pub(super) fn schema(meta: &str) -> String {
    let added: String = FIELDS
        .iter()
        .map(|&(name, kind)| {
            format!(
                "ALTER TABLE {meta}.audit ADD COLUMN IF NOT EXISTS {};\n",
                field_column(name, kind, "text", "bigint")
            )
        })
        .collect();
    format!(
        "CREATE TABLE IF NOT EXISTS {meta}.audit (
{columns});
         {added}
         CREATE OR REPLACE FUNCTION {meta}.audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
         DROP TRIGGER IF EXISTS audit_append_only ON {meta}.audit;
         CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {meta}.audit
           FOR EACH STATEMENT EXECUTE FUNCTION {meta}.audit_append_only();",
        columns = columns("text", "bigint")
    )
}

pub(super) fn append(client: &mut Client, meta: &str, entries: &[AuditEntry]) -> Result<(), StoreError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&format!("{meta}.audit")])?;
    let last = tx.query_opt(&format!("SELECT id, hash FROM {meta}.audit ORDER BY id DESC LIMIT 1"), &[])?;
    let (mut id, mut prev): (i64, String) = match last {
        Some(row) => (row.try_get(0)?, row.try_get(1)?),
        None => (0, GENESIS.to_string()),
    };
    let insert = insert_statement(&mut tx, meta)?;
    for e in entries {
        id += 1;
        let hash = chain_hash(&prev, id, e);
        insert_row(&mut tx, &insert, id, e, &prev, &hash)?;
        prev = hash;
    }
    tx.commit()?;
    Ok(())
}

fn insert_statement(tx: &mut Transaction<'_>, meta: &str) -> Result<Statement, postgres::Error> {
    let marks: Vec<String> = (1..=COLUMNS).map(|i| format!("${i}")).collect();
    tx.prepare(&format!(
        "INSERT INTO {meta}.audit ({}) VALUES ({})",
        column_names(),
        marks.join(", ")
    ))
}

/// One row of the chain, as given.
fn insert_row(
    tx: &mut Transaction<'_>,
    insert: &Statement,
    id: i64,
    e: &AuditEntry,
    prev: &str,
    hash: &str,
) -> Result<(), postgres::Error> {
    let mut values: Vec<Box<dyn ToSql + Sync + '_>> = vec![Box::new(id)];
    values.extend(e.fields().into_iter().map(|value| -> Box<dyn ToSql + Sync + '_> {
        match value {
            Field::Text(text) => Box::new(text),
            Field::Int(n) => Box::new(n),
        }
    }));
    values.extend([prev, hash].map(|h| -> Box<dyn ToSql + Sync + '_> { Box::new(h) }));
    let values: Vec<&(dyn ToSql + Sync)> = values.iter().map(AsRef::as_ref).collect();
    tx.execute(insert, &values)?;
    Ok(())
}

/// Appends another store's rows verbatim when this log is empty (`Store::restore_audit`).
pub(super) fn restore(client: &mut Client, meta: &str, rows: &[AuditRow]) -> Result<bool, StoreError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&format!("{meta}.audit")])?;
    if tx.query_opt(&format!("SELECT 1 FROM {meta}.audit LIMIT 1"), &[])?.is_some() {
        return Ok(false);
    }
    let insert = insert_statement(&mut tx, meta)?;
    for r in rows {
        insert_row(&mut tx, &insert, r.id, &r.entry, &r.prev_hash, &r.hash)?;
    }
    tx.commit()?;
    Ok(true)
}

fn row_of(r: &Row) -> Result<AuditRow, postgres::Error> {
    Ok(AuditRow {
        id: r.try_get("id")?,
        entry: AuditEntry::from_fields(
            |name| r.columns().iter().any(|c| c.name() == name),
            |name| r.try_get(name),
            |name| r.try_get(name),
        )?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

pub(super) fn rows(client: &mut Client, meta: &str) -> Result<Vec<AuditRow>, StoreError> {
    let rows = client.query(&format!("SELECT * FROM {meta}.audit ORDER BY id"), &[])?;
    Ok(rows.iter().map(row_of).collect::<Result<Vec<_>, _>>()?)
}
