//! The store writer of live layers: one thread that takes reports and alert changes from a
//! bounded queue and writes them in batches (one transaction per batch, at most
//! [`BATCH_WAIT`] after the first item waited), and prunes history past its retention. A full
//! queue makes the sender wait rather than lose a report: the MQTT client then slows down, and
//! the broker holds the rest.
//!
//! Owns batching and retries; the tables are the store's (`store/gpkg_live.rs`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::alerts::{now_unix, Alert};
use super::{LiveBatch, StoredPosition};
use crate::store::Store;

/// Items queued at most before senders wait.
const CAPACITY: usize = 100_000;
/// Items written in one transaction at most.
const BATCH: usize = 20_000;
/// How long a batch collects after its first item.
const BATCH_WAIT: Duration = Duration::from_millis(100);
/// Tries of a batch the store refuses before it is given up (and logged).
const TRIES: u32 = 5;
/// How often history past the retention is deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

enum Item {
    Position(StoredPosition),
    Alert(Alert),
    Flush(SyncSender<()>),
}

pub struct Writer {
    queue: SyncSender<Item>,
    pub written: Arc<AtomicU64>,
    pub failed: Arc<AtomicU64>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    /// Starts the thread; history older than `retention_seconds` is pruned.
    pub fn start(store: Arc<dyn Store>, retention_seconds: f64) -> Writer {
        let (queue, inbox) = sync_channel(CAPACITY);
        let written = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let worker = Worker {
            store,
            inbox,
            written: written.clone(),
            failed: failed.clone(),
            retention_seconds,
        };
        let thread = std::thread::Builder::new()
            .name("bando-live-writer".into())
            .spawn(move || worker.run())
            .ok();
        Writer {
            queue,
            written,
            failed,
            thread: Mutex::new(thread),
        }
    }

    pub fn position(&self, position: StoredPosition) {
        let _ = self.queue.send(Item::Position(position));
    }

    pub fn alert(&self, alert: &Alert) {
        let _ = self.queue.send(Item::Alert(alert.clone()));
    }

    /// Waits until everything queued so far is written.
    pub fn flush(&self) {
        let (done, wait) = sync_channel(1);
        if self.queue.send(Item::Flush(done)).is_ok() {
            let _ = wait.recv();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.flush();
        if let Some(thread) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            drop(std::mem::replace(&mut self.queue, sync_channel(1).0));
            let _ = thread.join();
        }
    }
}

struct Worker {
    store: Arc<dyn Store>,
    inbox: Receiver<Item>,
    written: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    retention_seconds: f64,
}

impl Worker {
    fn run(self) {
        let mut pruned = Instant::now() - PRUNE_EVERY;
        loop {
            let first = match self.inbox.recv_timeout(PRUNE_EVERY) {
                Ok(item) => item,
                Err(RecvTimeoutError::Timeout) => {
                    self.prune(&mut pruned);
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return,
            };
            let mut batch = LiveBatch::default();
            let mut waiting = Vec::new();
            let deadline = Instant::now() + BATCH_WAIT;
            let mut next = Some(first);
            while let Some(item) = next.take() {
                match item {
                    Item::Position(p) => batch.positions.push(p),
                    Item::Alert(a) => batch.alerts.push(a),
                    Item::Flush(done) => {
                        waiting.push(done);
                        break;
                    }
                }
                if batch.positions.len() + batch.alerts.len() >= BATCH {
                    break;
                }
                let left = deadline.saturating_duration_since(Instant::now());
                next = self.inbox.recv_timeout(left).ok();
            }
            self.write(&batch);
            waiting.into_iter().for_each(|done| {
                let _ = done.send(());
            });
            self.prune(&mut pruned);
        }
    }

    fn write(&self, batch: &LiveBatch) {
        if batch.positions.is_empty() && batch.alerts.is_empty() {
            return;
        }
        for attempt in 1..=TRIES {
            match self.store.append_live(batch) {
                Ok(()) => {
                    let n = (batch.positions.len() + batch.alerts.len()) as u64;
                    self.written.fetch_add(n, Ordering::Relaxed);
                    return;
                }
                Err(e) if attempt < TRIES => {
                    tracing::warn!(error = %e, attempt, "live batch not written; retrying");
                    std::thread::sleep(Duration::from_millis(200 * u64::from(attempt)));
                }
                Err(e) => {
                    self.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(error = %e, positions = batch.positions.len(), alerts = batch.alerts.len(), "live batch given up after {TRIES} tries");
                }
            }
        }
    }

    fn prune(&self, pruned: &mut Instant) {
        if pruned.elapsed() < PRUNE_EVERY {
            return;
        }
        *pruned = Instant::now();
        match self.store.prune_live(now_unix() - self.retention_seconds) {
            Ok(0) => {}
            Ok(n) => tracing::info!(reports = n, "live history past its retention deleted"),
            Err(e) => tracing::warn!(error = %e, "live history cannot be pruned"),
        }
    }
}
