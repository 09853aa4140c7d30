//! Background threads yield to the threads that serve requests.
//!
//! Shipping interaction records (serializing and compressing a batch), exporting spans,
//! config sync and the metrics endpoint all run on threads of their own. Where they share a
//! core with a proxy thread, the scheduler would split it evenly, and a request arriving
//! while a batch is being compressed waits for the scheduler's slice: milliseconds at p99.
//! At a lower priority they still get the core whenever the proxy threads leave it idle,
//! and about a tenth of it when the core is saturated, which is more than they need there.

use tracing::debug;

/// The nice value of background threads (0 is the default; weight 110 against 1024).
pub const BACKGROUND_NICE: i32 = 10;

/// Lowers the calling thread's priority to [`BACKGROUND_NICE`]. Threads it starts from
/// then on (a runtime's blocking pool, an exporter's worker) inherit it. Raising it again
/// would need `CAP_SYS_NICE`, so call this only on threads that do background work.
pub fn lower_this_thread() {
    // On Linux the nice value belongs to the thread, and a thread id is accepted where
    // setpriority(2) takes a process id.
    let tid = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(tid), BACKGROUND_NICE) {
        debug!(error = %e, "could not lower a background thread's priority");
    }
}

/// Runs `f` on a new background-priority thread and returns its result: for setting up
/// something that starts its own worker threads, which then run at that priority.
pub fn on_lowered_thread<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            lower_this_thread();
            f()
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}
