//! Draining on SIGTERM: the worker stops accepting connections (pingora closes its
//! listeners when shutdown is broadcast), reports not-ready, lets the requests in flight —
//! streams included — finish for up to the grace period, and exits as soon as the last one
//! ends. Pingora alone would sleep out the whole grace period, then drop whatever was
//! still running.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Requests in flight (counted whatever the metrics settings) and the draining flag.
#[derive(Debug, Default)]
pub struct Drain {
    in_flight: AtomicUsize,
    draining: AtomicBool,
}

/// One request in flight; dropping it ends the request.
#[derive(Debug)]
pub struct InFlight(Arc<Drain>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Drain {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Counts a request until the guard is dropped.
    pub fn enter(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Whether shutdown has begun (`/readyz` then answers 503).
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Marks the worker draining and waits until nothing is in flight, or `grace` has
    /// passed; returns how many requests were still running.
    pub async fn drain(&self, grace: Duration) -> usize {
        self.draining.store(true, Ordering::Release);
        let deadline = Instant::now() + grace;
        loop {
            let left = self.in_flight();
            if left == 0 || Instant::now() >= deadline {
                return left;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drain_waits_for_the_last_request_and_no_longer() {
        let drain = Drain::new();
        let a = drain.enter();
        let b = drain.enter();
        assert_eq!(drain.in_flight(), 2);
        let waiter = {
            let drain = drain.clone();
            tokio::spawn(async move { drain.drain(Duration::from_secs(10)).await })
        };
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(drain.is_draining());
        drop(a);
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(!waiter.is_finished(), "one request is still running");
        let started = Instant::now();
        drop(b);
        assert_eq!(waiter.await.unwrap(), 0);
        assert!(started.elapsed() < Duration::from_millis(500));
    }

    #[tokio::test]
    async fn drain_gives_up_at_the_grace_period() {
        let drain = Drain::new();
        let _stuck = drain.enter();
        assert_eq!(drain.drain(Duration::from_millis(80)).await, 1);
    }
}
