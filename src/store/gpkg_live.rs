//! Live layers in the GeoPackage (`crate::live`): `bando_live_positions` (every report: the
//! track history, pruned past the retention), `bando_live_latest` (each device's newest report,
//! what a restart reloads) and `bando_live_alerts` (one row per alert, rewritten on each change
//! of its state). A batch of reports and alert changes is one transaction.
//!
//! Owns these tables only; what a position or an alert means is `live`'s.

use rusqlite::{params, Connection};

use super::StoreError;
use crate::live::alerts::{Alert, AlertState};
use crate::live::section::RuleKind;
use crate::live::{LiveBatch, StoredPosition};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS bando_live_positions (
  layer TEXT NOT NULL, device TEXT NOT NULL, t REAL NOT NULL, lon REAL NOT NULL, lat REAL NOT NULL,
  vals TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS bando_live_positions_device ON bando_live_positions (layer, device, t);
CREATE INDEX IF NOT EXISTS bando_live_positions_t ON bando_live_positions (t);
CREATE TABLE IF NOT EXISTS bando_live_latest (
  layer TEXT NOT NULL, device TEXT NOT NULL, t REAL NOT NULL, lon REAL NOT NULL, lat REAL NOT NULL,
  vals TEXT NOT NULL, PRIMARY KEY (layer, device));
CREATE TABLE IF NOT EXISTS bando_live_alerts (
  id INTEGER PRIMARY KEY, rule TEXT NOT NULL, layer TEXT NOT NULL, device TEXT NOT NULL,
  kind TEXT NOT NULL, state TEXT NOT NULL, opened_at TEXT NOT NULL, opened_unix REAL NOT NULL,
  lon REAL NOT NULL, lat REAL NOT NULL, zone_id INTEGER NOT NULL, zone TEXT, unit TEXT, value REAL,
  acknowledged_at TEXT, closed_at TEXT);
INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description) VALUES
  ('bando_live_positions', 'attributes', 'bando_live_positions', 'bando live layers: every device report'),
  ('bando_live_latest', 'attributes', 'bando_live_latest', 'bando live layers: the newest report of each device'),
  ('bando_live_alerts', 'attributes', 'bando_live_alerts', 'bando live layers: alerts and their state');
"#;

/// Creates the tables in a store that lacks them.
pub(super) fn create_tables(conn: &Connection) -> rusqlite::Result<()> {
    let n: i64 = conn.query_row("SELECT count(*) FROM sqlite_master WHERE name = 'bando_live_alerts'", [], |r| {
        r.get(0)
    })?;
    if n > 0 {
        return Ok(());
    }
    conn.execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA} COMMIT;"))
}

pub(super) fn append(conn: &Connection, batch: &LiveBatch) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let written = append_in(conn, batch);
    conn.execute_batch(if written.is_ok() { "COMMIT" } else { "ROLLBACK" })?;
    written
}

fn append_in(conn: &Connection, batch: &LiveBatch) -> Result<(), StoreError> {
    let mut history = conn.prepare_cached("INSERT INTO bando_live_positions VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?;
    let mut latest = conn.prepare_cached(
        "INSERT INTO bando_live_latest VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (layer, device) DO UPDATE SET \
         t = excluded.t, lon = excluded.lon, lat = excluded.lat, vals = excluded.vals WHERE excluded.t >= bando_live_latest.t",
    )?;
    for p in &batch.positions {
        let row = params![p.layer, p.device, p.time, p.lon, p.lat, p.values];
        history.execute(row)?;
        latest.execute(row)?;
    }
    let mut alert = conn.prepare_cached(
        "INSERT OR REPLACE INTO bando_live_alerts VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?;
    for a in &batch.alerts {
        alert.execute(params![
            a.id,
            a.rule,
            a.layer,
            a.device,
            a.kind.as_str(),
            a.state.as_str(),
            a.opened_at,
            a.opened_unix,
            a.lon,
            a.lat,
            a.zone_id,
            a.zone,
            a.unit,
            a.value,
            a.acknowledged_at,
            a.closed_at
        ])?;
    }
    Ok(())
}

fn position(r: &rusqlite::Row) -> rusqlite::Result<StoredPosition> {
    Ok(StoredPosition {
        layer: r.get(0)?,
        device: r.get(1)?,
        time: r.get(2)?,
        lon: r.get(3)?,
        lat: r.get(4)?,
        values: r.get(5)?,
    })
}

pub(super) fn latest(conn: &Connection) -> Result<Vec<StoredPosition>, StoreError> {
    let mut stmt = conn.prepare("SELECT layer, device, t, lon, lat, vals FROM bando_live_latest ORDER BY layer, t")?;
    let rows = stmt.query_map([], position)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub(super) fn track(conn: &Connection, layer: &str, device: &str, from: f64, to: f64) -> Result<Vec<StoredPosition>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT layer, device, t, lon, lat, vals FROM bando_live_positions WHERE layer = ?1 AND device = ?2 AND t >= ?3 AND t <= ?4 ORDER BY t",
    )?;
    let rows = stmt
        .query_map(params![layer, device, from, to], position)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub(super) fn prune(conn: &Connection, before: f64) -> Result<u64, StoreError> {
    Ok(conn.execute("DELETE FROM bando_live_positions WHERE t < ?1", [before])? as u64)
}

/// Active alerts, and those closed after `closed_since`.
pub(super) fn alerts(conn: &Connection, closed_since: f64) -> Result<Vec<Alert>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, rule, layer, device, kind, state, opened_at, opened_unix, lon, lat, zone_id, zone, unit, value, acknowledged_at, closed_at \
         FROM bando_live_alerts WHERE state != 'closed' OR opened_unix >= ?1 ORDER BY id",
    )?;
    let rows = stmt
        .query_map([closed_since], |r| {
            let kind: String = r.get(4)?;
            let state: String = r.get(5)?;
            Ok(Alert {
                id: r.get(0)?,
                rule: r.get(1)?,
                layer: r.get(2)?,
                device: r.get(3)?,
                kind: RuleKind::parse(&kind).unwrap_or(RuleKind::Outside),
                state: AlertState::parse(&state).unwrap_or(AlertState::Open),
                opened_at: r.get(6)?,
                opened_unix: r.get(7)?,
                lon: r.get(8)?,
                lat: r.get(9)?,
                zone_id: r.get(10)?,
                zone: r.get(11)?,
                unit: r.get(12)?,
                value: r.get(13)?,
                acknowledged_at: r.get(14)?,
                closed_at: r.get(15)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
