//! API tokens in the PostGIS store: the table `<schema>_meta.tokens` (SHA-256 hash, role, scope,
//! times, note; never the token itself) and the `tokens` counter beside the layer generation,
//! which servers poll. Same rows and rules as the GeoPackage's `bando_tokens`.

use postgres::{Client, GenericClient, Row};

use super::{NewToken, StoreError, TokenRecord};

/// The table and counter, created with the rest of the catalog (`postgis::create_schemas`).
pub(super) fn schema(meta: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {meta}.tokens (
           id bigserial PRIMARY KEY, hash text NOT NULL UNIQUE, role text NOT NULL, scope text NOT NULL,
           created_unix bigint NOT NULL, expires_unix bigint, note text NOT NULL, revoked_unix bigint);
         ALTER TABLE {meta}.generation ADD COLUMN IF NOT EXISTS tokens bigint NOT NULL DEFAULT 0;"
    )
}

fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn record_from_row(row: &Row) -> Result<TokenRecord, postgres::Error> {
    let hash_hex: String = row.try_get("hash")?;
    let mut hash = [0u8; 32];
    // A hash that is not 64 hex digits matches no token: the all-zero hash is no token's.
    if hex::decode_to_slice(&hash_hex, &mut hash).is_err() {
        hash = [0u8; 32];
    }
    let scope: String = row.try_get("scope")?;
    Ok(TokenRecord {
        id: row.try_get("id")?,
        hash,
        role: row.try_get("role")?,
        scope: scope.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
        created_unix: row.try_get("created_unix")?,
        expires_unix: row.try_get("expires_unix")?,
        note: row.try_get("note")?,
        revoked_unix: row.try_get("revoked_unix")?,
    })
}

fn record(client: &mut impl GenericClient, meta: &str, id: i64) -> Result<TokenRecord, StoreError> {
    let row = client
        .query_opt(&format!("SELECT * FROM {meta}.tokens WHERE id = $1"), &[&id])?
        .ok_or(StoreError::NoSuchToken(id))?;
    Ok(record_from_row(&row)?)
}

pub(super) fn add(client: &mut Client, meta: &str, token: &NewToken) -> Result<TokenRecord, StoreError> {
    let mut tx = client.transaction()?;
    let id: i64 = tx
        .query_one(
            &format!(
                "INSERT INTO {meta}.tokens (hash, role, scope, created_unix, expires_unix, note)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id"
            ),
            &[
                &hex::encode(token.hash),
                &token.role,
                &token.scope.join(","),
                &now_unix(),
                &token.expires_unix,
                &token.note,
            ],
        )?
        .get(0);
    tx.execute(&format!("UPDATE {meta}.generation SET tokens = tokens + 1"), &[])?;
    let stored = record(&mut tx, meta, id)?;
    tx.commit()?;
    Ok(stored)
}

pub(super) fn list(client: &mut Client, meta: &str) -> Result<Vec<TokenRecord>, StoreError> {
    let rows = client.query(&format!("SELECT * FROM {meta}.tokens ORDER BY id"), &[])?;
    Ok(rows.iter().map(record_from_row).collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn revoke(client: &mut Client, meta: &str, id: i64) -> Result<TokenRecord, StoreError> {
    let mut tx = client.transaction()?;
    let changed = tx.execute(
        &format!("UPDATE {meta}.tokens SET revoked_unix = $2 WHERE id = $1 AND revoked_unix IS NULL"),
        &[&id, &now_unix()],
    )?;
    if changed > 0 {
        tx.execute(&format!("UPDATE {meta}.generation SET tokens = tokens + 1"), &[])?;
    }
    let stored = record(&mut tx, meta, id)?;
    tx.commit()?;
    Ok(stored)
}

pub(super) fn generation(client: &mut Client, meta: &str) -> Result<i64, StoreError> {
    Ok(client
        .query_one(&format!("SELECT tokens FROM {meta}.generation"), &[])?
        .try_get(0)?)
}

/// Carries tokens of another store over (`Store::restore_tokens`), in one transaction.
pub(super) fn restore(client: &mut Client, meta: &str, tokens: &[TokenRecord]) -> Result<(), StoreError> {
    let mut tx = client.transaction()?;
    let sequence = format!("{meta}.tokens_id_seq");
    // The sequence first passes every id either store has, so an id it hands out below never
    // meets one given explicitly.
    let highest = tokens.iter().map(|t| t.id).max().unwrap_or(0);
    tx.execute(
        &format!("SELECT setval('{sequence}', GREATEST((SELECT max(id) FROM {meta}.tokens), $1)) WHERE GREATEST((SELECT max(id) FROM {meta}.tokens), $1) > 0"),
        &[&highest],
    )?;
    // A new hash takes its own id when that id is free here; LEAST skips NULL, so the earlier
    // of two revocations wins and a revocation is never undone.
    let upsert = tx.prepare(&format!(
        "INSERT INTO {meta}.tokens (id, hash, role, scope, created_unix, expires_unix, note, revoked_unix)
         VALUES (CASE WHEN EXISTS (SELECT 1 FROM {meta}.tokens WHERE id = $1) THEN nextval('{sequence}') ELSE $1 END,
                 $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (hash) DO UPDATE SET revoked_unix = LEAST({meta}.tokens.revoked_unix, excluded.revoked_unix)"
    ))?;
    for t in tokens {
        tx.execute(
            &upsert,
            &[
                &t.id,
                &hex::encode(t.hash),
                &t.role,
                &t.scope.join(","),
                &t.created_unix,
                &t.expires_unix,
                &t.note,
                &t.revoked_unix,
            ],
        )?;
    }
    tx.execute(&format!("UPDATE {meta}.generation SET tokens = tokens + 1"), &[])?;
    tx.commit()?;
    Ok(())
}
