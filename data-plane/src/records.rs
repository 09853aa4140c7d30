//! The interaction log's way out of the worker: a bounded in-memory queue that requests
//! put their record into without waiting, and one task that sends batches (gzip-compressed
//! JSON) to the control plane.
//!
//! - Delivery is at least once: a batch is retried with backoff until the control plane
//!   stores it, and records carry their own ids, so a batch delivered twice is stored once.
//! - A request never waits: when the queue is full the record is dropped and counted
//!   (`gatehouse_usage_records_total{outcome="dropped_queue_full"}`).
//! - Bodies (`log_bodies: full`) share a byte budget; past it, records are kept without
//!   their bodies.
//! - On shutdown, [`RecordSink::flush`] sends what is queued before the process exits.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use api_types::{IngestAck, Interaction};
use backon::BackoffBuilder;
use tokio::sync::{mpsc, Notify};

use crate::config::{ConfigClient, ConfigError};
use crate::metrics::metrics;

/// How the queue behaves.
#[derive(Debug, Clone)]
pub struct SinkSettings {
    /// Records the queue holds at most.
    pub capacity: usize,
    /// Records per batch at most.
    pub batch_size: usize,
    /// How long the first record of a batch waits for others.
    pub flush_interval: Duration,
    /// Bytes of bodies the queue holds at most.
    pub body_budget: usize,
    /// Batches being sent (or retried) at once.
    pub in_flight: usize,
}

impl Default for SinkSettings {
    fn default() -> Self {
        Self {
            capacity: 50_000,
            batch_size: 1_000,
            flush_interval: Duration::from_secs(1),
            body_budget: 64 << 20,
            in_flight: 4,
        }
    }
}

/// How often a filling batch looks for more records.
const FILL_POLL: Duration = Duration::from_millis(20);

/// Where a record goes once sent.
#[async_trait::async_trait]
pub trait Delivery: Send + Sync + 'static {
    /// Sends one compressed batch.
    async fn deliver(&self, gzipped: Vec<u8>) -> Result<IngestAck, ConfigError>;
}

/// The control plane's ingest endpoint (`<base>/internal/v1/interactions`), reached with
/// the config client's internal token.
pub struct Ingest {
    pub client: Arc<ConfigClient>,
    pub url: String,
}

impl Ingest {
    /// Ingest at the control plane whose base URL is `base`.
    pub fn at(client: Arc<ConfigClient>, base: &str) -> Self {
        Self {
            client,
            url: format!("{}/internal/v1/interactions", base.trim_end_matches('/')),
        }
    }
}

#[async_trait::async_trait]
impl Delivery for Ingest {
    async fn deliver(&self, gzipped: Vec<u8>) -> Result<IngestAck, ConfigError> {
        self.client.post_url(&self.url, gzipped, true).await
    }
}

struct Shared {
    body_bytes: AtomicUsize,
    body_budget: usize,
    shutting_down: AtomicBool,
    shutdown: Notify,
    done: Notify,
    finished: AtomicBool,
}

/// The sending side, held by the proxy.
#[derive(Clone)]
pub struct RecordSink {
    tx: mpsc::Sender<Interaction>,
    shared: Arc<Shared>,
    capacity: usize,
}

fn count(outcome: &str, n: u64) {
    if let Some(m) = metrics() {
        m.usage_records.with_label_values(&[outcome]).inc_by(n);
    }
}

/// The counter of queued records, looked up once (the hot path pays no label lookup).
fn queued_counter() -> Option<&'static prometheus::IntCounter> {
    static QUEUED: std::sync::OnceLock<Option<prometheus::IntCounter>> = std::sync::OnceLock::new();
    QUEUED
        .get_or_init(|| metrics().map(|m| m.usage_records.with_label_values(&["queued"])))
        .as_ref()
}

fn body_len(r: &Interaction) -> usize {
    r.request_body.as_ref().map_or(0, String::len) + r.response_body.as_ref().map_or(0, String::len)
}

/// The receiving side: sends batches until [`RecordSink::flush`] (run it as a task).
pub struct Shipper {
    rx: mpsc::Receiver<Interaction>,
    delivery: Arc<dyn Delivery>,
    settings: SinkSettings,
    shared: Arc<Shared>,
}

impl Shipper {
    pub async fn run(self) {
        send_loop(self.rx, self.delivery, self.settings, self.shared).await;
    }
}

impl RecordSink {
    /// The queue; nothing is sent until the [`Shipper`] runs.
    pub fn new(delivery: Arc<dyn Delivery>, settings: SinkSettings) -> (Self, Shipper) {
        let capacity = settings.capacity.max(1);
        let (tx, rx) = mpsc::channel(capacity);
        let shared = Arc::new(Shared {
            body_bytes: AtomicUsize::new(0),
            body_budget: settings.body_budget,
            shutting_down: AtomicBool::new(false),
            shutdown: Notify::new(),
            done: Notify::new(),
            finished: AtomicBool::new(false),
        });
        let shipper = Shipper {
            rx,
            delivery,
            settings,
            shared: shared.clone(),
        };
        (
            Self {
                tx,
                shared,
                capacity,
            },
            shipper,
        )
    }

    /// The queue with its shipper running on the current runtime.
    pub fn start(delivery: Arc<dyn Delivery>, settings: SinkSettings) -> Self {
        let (sink, shipper) = Self::new(delivery, settings);
        tokio::spawn(shipper.run());
        sink
    }

    /// Queues a record without waiting; drops it (counted) when the queue is full.
    pub fn record(&self, mut record: Interaction) {
        let bodies = body_len(&record);
        if bodies > 0 {
            let held = self.shared.body_bytes.fetch_add(bodies, Ordering::Relaxed);
            if held + bodies > self.shared.body_budget {
                self.shared.body_bytes.fetch_sub(bodies, Ordering::Relaxed);
                record.request_body = None;
                record.response_body = None;
                count("bodies_dropped", 1);
            }
        }
        let kept = body_len(&record);
        match self.tx.try_send(record) {
            Ok(()) => {
                if let Some(queued) = queued_counter() {
                    queued.inc();
                }
            }
            Err(_) => {
                self.shared.body_bytes.fetch_sub(kept, Ordering::Relaxed);
                count("dropped_queue_full", 1);
            }
        }
    }

    /// Records waiting in the queue.
    pub fn depth(&self) -> usize {
        self.capacity - self.tx.capacity()
    }

    /// Sends everything queued (retrying) and stops, waiting at most `deadline`; `true`
    /// when all was sent.
    pub async fn flush(&self, deadline: Duration) -> bool {
        let done = self.shared.done.notified();
        self.shared.shutting_down.store(true, Ordering::Release);
        self.shared.shutdown.notify_one();
        if self.shared.finished.load(Ordering::Acquire) {
            return true;
        }
        tokio::time::timeout(deadline, done).await.is_ok()
    }
}

/// Collects batches and sends them until shutdown, then sends what is left.
async fn send_loop(
    mut rx: mpsc::Receiver<Interaction>,
    delivery: Arc<dyn Delivery>,
    settings: SinkSettings,
    shared: Arc<Shared>,
) {
    let batch_size = settings.batch_size.max(1);
    let mut batch: Vec<Interaction> = Vec::with_capacity(batch_size);
    let mut sending = tokio::task::JoinSet::new();
    loop {
        let stopping = shared.shutting_down.load(Ordering::Acquire);
        if batch.is_empty() {
            if stopping {
                if rx.is_empty() {
                    break;
                }
            } else {
                tokio::select! {
                    n = rx.recv_many(&mut batch, batch_size) => if n == 0 { break },
                    () = shared.shutdown.notified() => continue,
                }
            }
        }
        // Let a batch fill for up to the flush interval (not when stopping). The queue is
        // polled every few milliseconds rather than awaited: awaiting it would wake this
        // task (a cross-thread wake-up, a context switch) for every request.
        let deadline = tokio::time::Instant::now() + settings.flush_interval;
        loop {
            while batch.len() < batch_size {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            let now = tokio::time::Instant::now();
            if batch.len() >= batch_size
                || now >= deadline
                || stopping
                || shared.shutting_down.load(Ordering::Acquire)
            {
                break;
            }
            let nap = (deadline - now).min(FILL_POLL);
            tokio::select! {
                () = tokio::time::sleep(nap) => {}
                () = shared.shutdown.notified() => {}
            }
        }
        if let Some(m) = metrics() {
            m.usage_queue_depth.set(rx.len() as i64);
        }
        while sending.len() >= settings.in_flight.max(1) {
            sending.join_next().await;
        }
        let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
        sending.spawn(send(delivery.clone(), full, shared.clone()));
    }
    while sending.join_next().await.is_some() {}
    shared.finished.store(true, Ordering::Release);
    shared.done.notify_waiters();
}

/// Sends one batch, retrying with exponential backoff (jittered, up to 30 s apart) until
/// the control plane stores it or refuses it for good (400: the batch itself is bad).
async fn send(delivery: Arc<dyn Delivery>, batch: Vec<Interaction>, shared: Arc<Shared>) {
    let bodies: usize = batch.iter().map(body_len).sum();
    let n = batch.len() as u64;
    let encoded = tokio::task::spawn_blocking(move || compress(&batch)).await;
    shared.body_bytes.fetch_sub(bodies, Ordering::Relaxed);
    let gzipped = match encoded {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => {
            tracing::error!(error = %e, records = n, "could not encode a batch; dropped");
            count("dropped_rejected", n);
            return;
        }
        Err(e) => {
            tracing::error!(error = %e, records = n, "encoding a batch failed; dropped");
            count("dropped_rejected", n);
            return;
        }
    };
    let mut delays = backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(30))
        .with_jitter()
        .without_max_times()
        .build();
    loop {
        match delivery.deliver(gzipped.clone()).await {
            Ok(ack) => {
                batch_result("ok");
                count("sent", n);
                if ack.duplicates > 0 {
                    tracing::debug!(
                        duplicates = ack.duplicates,
                        "batch was partly delivered before"
                    );
                }
                return;
            }
            Err(ConfigError::Status(status @ (400 | 413 | 422))) => {
                batch_result("rejected");
                count("dropped_rejected", n);
                tracing::error!(
                    status,
                    records = n,
                    "the control plane refused a batch; dropped"
                );
                return;
            }
            Err(e) => {
                batch_result("retry");
                let delay = delays.next().unwrap_or(Duration::from_secs(30));
                tracing::warn!(error = %e, records = n, retry_in = ?delay, "sending interaction records failed");
                tokio::time::sleep(delay).await;
            }
        }
    }
}

fn batch_result(result: &str) {
    if let Some(m) = metrics() {
        m.usage_batches.with_label_values(&[result]).inc();
    }
}

/// Serializes first and compresses the whole text in one call: handing serde_json's many
/// small writes to the encoder one by one cost a deflate call each.
fn compress(records: &[Interaction]) -> std::io::Result<Vec<u8>> {
    let json = serde_json::to_vec(&InteractionBatchRef { records })?;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(json.len() / 4),
        flate2::Compression::fast(),
    );
    encoder.write_all(&json)?;
    encoder.finish()
}

/// [`api_types::InteractionBatch`] without owning its records.
#[derive(serde::Serialize)]
struct InteractionBatchRef<'a> {
    records: &'a [Interaction],
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Fails the first `failures` deliveries, then stores.
    struct Flaky {
        failures: AtomicUsize,
        stored: Mutex<Vec<uuid::Uuid>>,
    }

    #[async_trait::async_trait]
    impl Delivery for Flaky {
        async fn deliver(&self, gzipped: Vec<u8>) -> Result<IngestAck, ConfigError> {
            if self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return Err(ConfigError::Unreachable("down".into()));
            }
            let json = {
                use std::io::Read;
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(&gzipped[..])
                    .read_to_end(&mut out)
                    .unwrap();
                out
            };
            let batch: InteractionBatch = serde_json::from_slice(&json).unwrap();
            let mut stored = self.stored.lock().unwrap();
            stored.extend(batch.records.iter().map(|r| r.id));
            Ok(IngestAck {
                inserted: batch.records.len() as u64,
                duplicates: 0,
            })
        }
    }

    use api_types::InteractionBatch;

    pub(crate) fn record() -> Interaction {
        serde_json::from_value(serde_json::json!({
            "id": uuid::Uuid::now_v7(), "occurred_at": "2026-11-22T00:00:00Z",
            "request_id": "r", "provider": "openai", "api": null, "model": "m",
            "response_model": null, "profile_id": null, "team_id": null,
            "virtual_key_id": null, "credential": "passthrough", "status": 200, "error": null,
            "stream": false, "client_aborted": false, "tokens": null, "cost_usd": null,
            "duration_ms": 1.0, "time_to_first_token_ms": null, "gateway_overhead_us": 5,
            "tool_calls_allowed": 0, "tool_calls_blocked": 0, "untrusted": false
        }))
        .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn records_survive_a_control_plane_outage_and_are_flushed_on_shutdown() {
        let flaky = Arc::new(Flaky {
            failures: AtomicUsize::new(5),
            stored: Mutex::new(Vec::new()),
        });
        let sink = RecordSink::start(
            flaky.clone(),
            SinkSettings {
                batch_size: 10,
                ..SinkSettings::default()
            },
        );
        let ids: Vec<_> = (0..35)
            .map(|_| {
                let r = record();
                let id = r.id;
                sink.record(r);
                id
            })
            .collect();
        assert!(sink.flush(Duration::from_secs(120)).await);
        let mut stored = flaky.stored.lock().unwrap().clone();
        stored.sort();
        assert_eq!(stored, ids, "all of them, once");
    }

    /// Never answers: batches stay in flight and records stay queued.
    struct Never;

    #[async_trait::async_trait]
    impl Delivery for Never {
        async fn deliver(&self, _: Vec<u8>) -> Result<IngestAck, ConfigError> {
            std::future::pending().await
        }
    }

    #[tokio::test]
    async fn a_full_queue_drops_records_instead_of_waiting() {
        let sink = RecordSink::start(
            Arc::new(Never),
            SinkSettings {
                capacity: 4,
                batch_size: 1,
                ..SinkSettings::default()
            },
        );
        let started = std::time::Instant::now();
        for _ in 0..100 {
            sink.record(record());
        }
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(
            sink.tx.capacity() == 0,
            "the queue is full, and recording did not block"
        );
    }

    #[tokio::test]
    async fn bodies_past_the_budget_are_dropped_but_the_record_is_kept() {
        let sink = RecordSink::start(
            Arc::new(Never),
            SinkSettings {
                body_budget: 100,
                flush_interval: Duration::from_secs(3600),
                ..SinkSettings::default()
            },
        );
        let mut big = record();
        big.request_body = Some("x".repeat(80));
        sink.record(big.clone());
        sink.record(big);
        assert_eq!(sink.shared.body_bytes.load(Ordering::Relaxed), 80);
    }
}
