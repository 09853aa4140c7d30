//! Fan-out of config changes to data-plane workers.
//!
//! Each control-plane replica LISTENs on the change channel; on every notification (and on
//! a short poll, in case a notification or the listening connection is lost) it reads the
//! change log after the last revision it broadcast, so every replica broadcasts every change
//! exactly once and in revision order. Each watch stream replays from the database what its
//! worker missed, follows the broadcast, replays again whenever it sees a gap (a lagging
//! stream), and tells a worker too far behind to drop its whole cache.

use std::convert::Infallible;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use api_types::internal::{ConfigChange, RevisionInfo};
use axum::response::sse::Event;
use futures::Stream;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use crate::db::changes;

/// How often a stream sends a heartbeat, so a worker can tell a quiet stream from a dead one.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// How often the change log is polled besides notifications.
const POLL: Duration = Duration::from_secs(1);
const BATCH: i64 = 1000;

/// The replica's change broadcaster. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    db: PgPool,
    tx: broadcast::Sender<ConfigChange>,
    /// The last revision broadcast; -1 until the listener has started.
    latest: AtomicI64,
    subscribers: AtomicUsize,
    /// Set on shutdown: every stream ends, so graceful shutdown is not held open by them.
    closing: tokio::sync::watch::Sender<bool>,
}

impl Hub {
    /// Starts listening (and pruning the log down to `retention` events) in the background.
    pub fn start(db: PgPool, retention: i64) -> Hub {
        let (tx, _) = broadcast::channel(4096);
        let hub = Hub {
            inner: Arc::new(Inner {
                db,
                tx,
                latest: AtomicI64::new(-1),
                subscribers: AtomicUsize::new(0),
                closing: tokio::sync::watch::channel(false).0,
            }),
        };
        tokio::spawn(hub.clone().listen());
        tokio::spawn(hub.clone().prune(retention));
        hub
    }

    /// Ends every watch stream (workers reconnect, to another replica when there is one).
    pub fn close(&self) {
        self.inner.closing.send_replace(true);
    }

    /// Open watch streams on this replica.
    pub fn subscribers(&self) -> usize {
        self.inner.subscribers.load(Ordering::Relaxed)
    }

    async fn listen(self) {
        loop {
            match PgListener::connect_with(&self.inner.db).await {
                Ok(mut listener) => {
                    if let Err(e) = listener.listen(changes::CHANNEL).await {
                        tracing::warn!(error = %e, "LISTEN failed");
                    } else {
                        self.follow(&mut listener).await;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "change listener cannot connect"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Broadcasts on every notification and every poll until the connection fails.
    async fn follow(&self, listener: &mut PgListener) {
        self.catch_up().await;
        loop {
            tokio::select! {
                received = listener.try_recv() => match received {
                    Ok(Some(_)) => {}
                    // The connection dropped (sqlx reconnects on the next call): anything sent
                    // meanwhile is caught up below.
                    Ok(None) => tracing::warn!("change listener reconnecting"),
                    Err(e) => {
                        tracing::warn!(error = %e, "change listener failed");
                        return;
                    }
                },
                () = tokio::time::sleep(POLL) => {}
            }
            self.catch_up().await;
        }
    }

    /// Broadcasts every logged change after the last one broadcast, in order.
    async fn catch_up(&self) {
        let db = &self.inner.db;
        if self.inner.latest.load(Ordering::Acquire) < 0 {
            // Fresh start: streams replay history from the log themselves.
            match changes::current(db).await {
                Ok(current) => self.inner.latest.store(current, Ordering::Release),
                Err(e) => return tracing::warn!(error = %e, "reading the revision failed"),
            }
        }
        loop {
            let since = self.inner.latest.load(Ordering::Acquire);
            let batch = match changes::since(db, since, BATCH).await {
                Ok(batch) => batch,
                Err(e) => return tracing::warn!(error = %e, "reading the change log failed"),
            };
            let full = batch.len() as i64 == BATCH;
            for change in batch {
                self.inner.latest.store(change.revision, Ordering::Release);
                // No subscribers is not an error.
                let _ = self.inner.tx.send(change);
            }
            if !full {
                return;
            }
        }
    }

    async fn prune(self, retention: i64) {
        loop {
            tokio::time::sleep(Duration::from_secs(60)).await;
            match changes::prune(&self.inner.db, retention).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(pruned = n, "change log pruned"),
                Err(e) => tracing::warn!(error = %e, "pruning the change log failed"),
            }
        }
    }

    /// A watch stream for a worker at revision `since` (`None`: a worker with an empty
    /// cache, which starts from the current revision).
    pub fn subscribe(&self, since: Option<i64>) -> impl Stream<Item = Result<Event, Infallible>> {
        let (out, rx) = mpsc::channel(256);
        let broadcast = self.inner.tx.subscribe();
        let hub = self.clone();
        tokio::spawn(async move {
            hub.inner.subscribers.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = hub.stream(since, broadcast, &out).await {
                tracing::debug!(error = %e, "watch stream ended");
            }
            hub.inner.subscribers.fetch_sub(1, Ordering::Relaxed);
        });
        ReceiverStream::new(rx)
    }

    async fn stream(
        &self,
        since: Option<i64>,
        mut broadcast: broadcast::Receiver<ConfigChange>,
        out: &mpsc::Sender<Result<Event, Infallible>>,
    ) -> Result<(), StreamEnd> {
        let db = &self.inner.db;
        let mut closing = self.inner.closing.subscribe();
        if *closing.borrow_and_update() {
            return Ok(());
        }
        let mut last = match since {
            Some(since) if changes::replayable(db, since).await? => self.replay(since, out).await?,
            _ => {
                let current = changes::current(db).await?;
                send(out, "reset", &RevisionInfo { revision: current }).await?;
                current
            }
        };
        // At once, so the worker knows the stream is live without waiting for the first tick.
        send(out, "heartbeat", &RevisionInfo { revision: last }).await?;
        loop {
            tokio::select! {
                received = broadcast.recv() => match received {
                    Ok(change) if change.revision <= last => {}
                    Ok(change) if change.revision == last + 1 => {
                        send(out, "change", &change).await?;
                        last = change.revision;
                    }
                    // A gap (this stream lagged, or changes committed before the listener saw
                    // them): the log has everything.
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        last = self.replay(last, out).await?;
                    }
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                },
                () = tokio::time::sleep(HEARTBEAT) => {
                    send(out, "heartbeat", &RevisionInfo { revision: last }).await?;
                }
                () = out.closed() => return Ok(()),
                _ = closing.changed() => return Ok(()),
            }
        }
    }

    /// Sends every logged change after `since`; answers the last revision sent.
    async fn replay(
        &self,
        mut since: i64,
        out: &mpsc::Sender<Result<Event, Infallible>>,
    ) -> Result<i64, StreamEnd> {
        loop {
            let batch = changes::since(&self.inner.db, since, BATCH).await?;
            let full = batch.len() as i64 == BATCH;
            for change in batch {
                since = change.revision;
                send(out, "change", &change).await?;
            }
            if !full {
                return Ok(since);
            }
        }
    }
}

/// Why a watch stream stopped: the worker went away, or the database failed (the worker
/// reconnects, possibly to another replica).
#[derive(Debug, thiserror::Error)]
enum StreamEnd {
    #[error("the worker disconnected")]
    Disconnected,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

async fn send(
    out: &mpsc::Sender<Result<Event, Infallible>>,
    event: &'static str,
    data: &impl serde::Serialize,
) -> Result<(), StreamEnd> {
    let data = serde_json::to_string(data).unwrap_or_default();
    out.send(Ok(Event::default().event(event).data(data)))
        .await
        .map_err(|_| StreamEnd::Disconnected)
}
