//! API tokens in the GeoPackage: the `bando_tokens` table (SHA-256 hash, role, scope, times,
//! note; never the token itself) and the `tokens` counter in `bando_meta` that servers poll.
//! The table is created on first open of a writable store, so stores made by older versions
//! gain it; a read-only store without it simply has no tokens.

use rusqlite::{params, Connection, OptionalExtension};

use super::{NewToken, StoreError, TokenRecord};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS bando_tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT, hash TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
  scope TEXT NOT NULL, created_unix INTEGER NOT NULL, expires_unix INTEGER, note TEXT NOT NULL,
  revoked_unix INTEGER);
INSERT OR IGNORE INTO bando_meta VALUES ('tokens', 0);
INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description) VALUES
  ('bando_tokens', 'attributes', 'bando_tokens', 'bando API tokens: SHA-256 hashes only, never a token');
"#;

fn has_table(conn: &Connection) -> rusqlite::Result<bool> {
    let n: i64 = conn.query_row("SELECT count(*) FROM sqlite_master WHERE name = 'bando_tokens'", [], |r| r.get(0))?;
    Ok(n > 0)
}

/// Creates the table in a store that lacks it; a store that has it is not written to.
pub(super) fn create_table(conn: &Connection) -> rusqlite::Result<()> {
    if has_table(conn)? {
        return Ok(());
    }
    conn.execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA} COMMIT;"))
}

fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn record_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRecord> {
    let hash_hex: String = row.get("hash")?;
    let mut hash = [0u8; 32];
    // A hash that is not 64 hex digits matches no token: the all-zero hash is no token's.
    if hex::decode_to_slice(&hash_hex, &mut hash).is_err() {
        hash = [0u8; 32];
    }
    let scope: String = row.get("scope")?;
    Ok(TokenRecord {
        id: row.get("id")?,
        hash,
        role: row.get("role")?,
        scope: scope.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
        created_unix: row.get("created_unix")?,
        expires_unix: row.get("expires_unix")?,
        note: row.get("note")?,
        revoked_unix: row.get("revoked_unix")?,
    })
}

fn record(conn: &Connection, id: i64) -> Result<TokenRecord, StoreError> {
    conn.query_row("SELECT * FROM bando_tokens WHERE id = ?1", [id], record_from_row)
        .optional()?
        .ok_or(StoreError::NoSuchToken(id))
}

/// Bumps the counter servers poll, in the caller's transaction.
fn bump_generation(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute("UPDATE bando_meta SET value = value + 1 WHERE key = 'tokens'", [])?;
    Ok(())
}

pub(super) fn add(conn: &Connection, token: &NewToken) -> Result<TokenRecord, StoreError> {
    let tx = conn.unchecked_transaction()?;
    tx.execute(
        "INSERT INTO bando_tokens (hash, role, scope, created_unix, expires_unix, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            hex::encode(token.hash),
            token.role,
            token.scope.join(","),
            now_unix(),
            token.expires_unix,
            token.note
        ],
    )?;
    let id = tx.last_insert_rowid();
    bump_generation(&tx)?;
    let stored = record(&tx, id)?;
    tx.commit()?;
    Ok(stored)
}

pub(super) fn list(conn: &Connection) -> Result<Vec<TokenRecord>, StoreError> {
    if !has_table(conn)? {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare_cached("SELECT * FROM bando_tokens ORDER BY id")?;
    let rows = stmt.query_map([], record_from_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn revoke(conn: &Connection, id: i64) -> Result<TokenRecord, StoreError> {
    let tx = conn.unchecked_transaction()?;
    let changed = tx.execute(
        "UPDATE bando_tokens SET revoked_unix = ?2 WHERE id = ?1 AND revoked_unix IS NULL",
        params![id, now_unix()],
    )?;
    if changed > 0 {
        bump_generation(&tx)?;
    }
    let stored = record(&tx, id)?;
    tx.commit()?;
    Ok(stored)
}

pub(super) fn generation(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn
        .query_row("SELECT value FROM bando_meta WHERE key = 'tokens'", [], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// Carries tokens of another store over (`Store::restore_tokens`), in one transaction.
pub(super) fn restore(conn: &Connection, tokens: &[TokenRecord]) -> Result<(), StoreError> {
    let tx = conn.unchecked_transaction()?;
    for t in tokens {
        // A new hash takes its own id when that id is free here (NULL: the next one).
        tx.execute(
            "INSERT INTO bando_tokens (id, hash, role, scope, created_unix, expires_unix, note, revoked_unix)
             VALUES ((SELECT CASE WHEN EXISTS (SELECT 1 FROM bando_tokens WHERE id = ?1) THEN NULL ELSE ?1 END),
                     ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (hash) DO UPDATE SET revoked_unix =
               CASE WHEN revoked_unix IS NULL THEN excluded.revoked_unix
                    WHEN excluded.revoked_unix IS NULL THEN revoked_unix
                    ELSE min(revoked_unix, excluded.revoked_unix) END",
            params![
                t.id,
                hex::encode(t.hash),
                t.role,
                t.scope.join(","),
                t.created_unix,
                t.expires_unix,
                t.note,
                t.revoked_unix
            ],
        )?;
    }
    bump_generation(&tx)?;
    tx.commit()?;
    Ok(())
}
