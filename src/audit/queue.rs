//! The bounded queue between a server's requests and the audit table: [`Auditor::record`] never
//! blocks (a full queue loses the record, counts it and logs it, and the loss itself is written
//! as an [`super::DROPPED`] record once there is room); one background thread takes what is
//! queued and appends it in batches, each batch one store transaction.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::{AuditEntry, DROPPED};
use crate::store::Store;

/// Records queued at most (a few MB); past it, records are counted as dropped.
pub const DEFAULT_CAPACITY: usize = 65_536;
/// Records appended in one transaction at most.
const BATCH: usize = 4_096;

enum Message {
    Entry(AuditEntry),
    /// Answered once everything queued before it is written.
    Flush(SyncSender<()>),
}

/// A server's audit writer.
pub struct Auditor {
    queue: SyncSender<Message>,
    dropped: Arc<AtomicU64>,
    /// Records written, and batches that failed.
    written: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Auditor {
    /// Starts the writer thread over `store`.
    pub fn start(store: Arc<dyn Store>, capacity: usize) -> Auditor {
        let (queue, inbox) = sync_channel(capacity.max(1));
        let dropped = Arc::new(AtomicU64::new(0));
        let written = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let writer = Writer {
            store,
            inbox,
            dropped: dropped.clone(),
            written: written.clone(),
            failed: failed.clone(),
            reported_drops: 0,
        };
        let thread = std::thread::Builder::new()
            .name("bando-audit".into())
            .spawn(move || writer.run())
            .ok();
        Auditor {
            queue,
            dropped,
            written,
            failed,
            thread: Mutex::new(thread),
        }
    }

    /// Queues a record without waiting; a full queue counts and logs the loss.
    pub fn record(&self, entry: AuditEntry) {
        match self.queue.try_send(Message::Entry(entry)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                let lost = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if lost.is_power_of_two() {
                    tracing::warn!(lost, "audit queue full: records dropped (counted, and written as audit.dropped)");
                }
            }
        }
    }

    /// Records lost to a full queue since start.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Records written since start.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Batches the store refused since start.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Waits until everything queued so far is written (shutdown, tests, benches).
    pub fn flush(&self) {
        let (done, wait) = sync_channel(1);
        if self.queue.send(Message::Flush(done)).is_ok() {
            let _ = wait.recv();
        }
    }
}

impl Drop for Auditor {
    fn drop(&mut self) {
        self.flush();
        if let Some(thread) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            // The writer ends when the queue closes; the flush above emptied it.
            drop(std::mem::replace(&mut self.queue, sync_channel(1).0));
            let _ = thread.join();
        }
    }
}

struct Writer {
    store: Arc<dyn Store>,
    inbox: Receiver<Message>,
    dropped: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    /// Dropped records already written as an `audit.dropped` record.
    reported_drops: u64,
}

impl Writer {
    fn run(mut self) {
        let mut batch = Vec::with_capacity(BATCH);
        let mut acks = Vec::new();
        loop {
            match self.inbox.recv_timeout(Duration::from_secs(1)) {
                Ok(message) => take(message, &mut batch, &mut acks),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            while batch.len() < BATCH {
                match self.inbox.try_recv() {
                    Ok(message) => take(message, &mut batch, &mut acks),
                    Err(_) => break,
                }
            }
            self.note_drops(&mut batch);
            self.append(&mut batch);
            for ack in acks.drain(..) {
                let _ = ack.send(());
            }
        }
        self.note_drops(&mut batch);
        self.append(&mut batch);
    }

    /// Adds one record for the records lost since the last one.
    fn note_drops(&mut self, batch: &mut Vec<AuditEntry>) {
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > self.reported_drops {
            batch.push(AuditEntry {
                time: super::now(),
                action: DROPPED.into(),
                identity: "server".into(),
                features: Some((dropped - self.reported_drops) as i64),
                ..AuditEntry::default()
            });
            self.reported_drops = dropped;
        }
    }

    fn append(&self, batch: &mut Vec<AuditEntry>) {
        if batch.is_empty() {
            return;
        }
        match self.store.append_audit(batch) {
            Ok(()) => {
                self.written.fetch_add(batch.len() as u64, Ordering::Relaxed);
            }
            Err(e) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, records = batch.len(), "audit records cannot be written to the store");
            }
        }
        batch.clear();
    }
}

fn take(message: Message, batch: &mut Vec<AuditEntry>, acks: &mut Vec<SyncSender<()>>) {
    match message {
        Message::Entry(entry) => batch.push(entry),
        Message::Flush(ack) => acks.push(ack),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{verify, AuditEntry, REQUEST};
    use crate::store::gpkg::GpkgStore;

    fn entry(i: usize) -> AuditEntry {
        AuditEntry {
            time: crate::audit::now(),
            action: REQUEST.into(),
            identity: format!("token:{i}"),
            route: "GET /layers".into(),
            status: 200,
            ..AuditEntry::default()
        }
    }

    #[test]
    fn queued_records_are_written_in_order_as_one_chain() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(GpkgStore::open(&dir.path().join("a.gpkg")).unwrap());
        let auditor = Auditor::start(store.clone(), 1_000);
        for i in 0..500 {
            auditor.record(entry(i));
        }
        auditor.flush();
        assert_eq!((auditor.written(), auditor.dropped()), (500, 0));
        let rows = store.audit_rows().unwrap();
        assert_eq!(rows[499].entry.identity, "token:499");
        assert_eq!(verify(rows), Ok(500));
    }

    #[test]
    fn a_full_queue_counts_its_losses_and_writes_them_down() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(GpkgStore::open(&dir.path().join("a.gpkg")).unwrap());
        let auditor = Auditor::start(store.clone(), 4);
        for i in 0..20_000 {
            auditor.record(entry(i));
        }
        auditor.flush();
        let lost = auditor.dropped();
        assert!(lost > 0, "a queue of 4 overflows");
        let rows = store.audit_rows().unwrap();
        let noted: i64 = rows
            .iter()
            .filter(|r| r.entry.action == DROPPED)
            .filter_map(|r| r.entry.features)
            .sum();
        assert_eq!(noted as u64, lost, "every loss is written down");
        assert_eq!(
            rows.len() as u64 + lost,
            20_000 + rows.iter().filter(|r| r.entry.action == DROPPED).count() as u64
        );
        assert!(verify(rows).is_ok());
    }
}
