//! Audit throughput: records queued by `Auditor::record` (as the edge does per request) and
//! written by its background thread in batches into a GeoPackage's hash-chained `bando_audit`,
//! from the first record to the flush that sees the last one written; then `audit::verify` over
//! the whole table. Run: cargo bench --bench audit [-- RECORDS]   (default 200,000)

use std::sync::Arc;
use std::time::Instant;

use bando::audit::{self, AuditEntry, Auditor};
use bando::store::gpkg::GpkgStore;
use bando::store::Store;

fn entry(i: usize) -> AuditEntry {
    AuditEntry {
        time: audit::now(),
        action: audit::REQUEST.into(),
        identity: format!("token:{}", i % 500),
        role: "officer".into(),
        client_ip: "10.0.0.7".into(),
        route: format!("GET /tiles/parcels/16/{}/29728.mvt", 52_000 + i % 1000),
        layers: "parcels".into(),
        area: format!("tile 16/{}/29728", 52_000 + i % 1000),
        features: Some((i % 300) as i64),
        status: 200,
    }
}

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .skip(1)
        .find(|a| a != "--bench")
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let dir = tempfile::tempdir()?;
    let store: Arc<dyn Store> = Arc::new(GpkgStore::open(&dir.path().join("audit.gpkg"))?);
    let auditor = Auditor::start(store.clone(), n);
    let entries: Vec<AuditEntry> = (0..n).map(entry).collect();
    let started = Instant::now();
    let mut queue_ns = 0u128;
    for e in entries {
        let t = Instant::now();
        auditor.record(e);
        queue_ns += t.elapsed().as_nanos();
    }
    auditor.flush();
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(auditor.dropped() == 0 && auditor.written() == n as u64, "all records written");
    let verify_started = Instant::now();
    let checked = audit::verify(store.audit_rows()?)?;
    let verify_seconds = verify_started.elapsed().as_secs_f64();
    println!(
        "{n} records into a GeoPackage audit chain: {seconds:.2} s, {:.0} records/s sustained",
        n as f64 / seconds
    );
    println!("record() on the request path: {:.0} ns mean", queue_ns as f64 / n as f64);
    println!(
        "audit verify: {checked} rows in {verify_seconds:.2} s ({:.0} rows/s)",
        checked as f64 / verify_seconds
    );
    Ok(())
}
