//! Sharing the chain between the publisher task and the dispatch handlers,
//! and driving it on tokio.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rues_core::Event;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::chain::{Chain, TxError};
use crate::history::Snapshot;
use crate::id::TxId;

/// The chain behind a mutex, plus a wake-up for [`run`]. Handlers and the
/// driver share it as `Arc<SharedChain>`; every lock is short and never
/// held across an `.await`.
#[derive(Debug)]
pub struct SharedChain {
    chain: Mutex<Chain>,
    wake: Notify,
}

impl SharedChain {
    /// Wraps a chain for sharing.
    pub fn new(chain: Chain) -> Arc<Self> {
        Arc::new(Self {
            chain: Mutex::new(chain),
            wake: Notify::new(),
        })
    }

    /// Locks the chain. Hold the guard briefly and never across an `.await`.
    /// A lock poisoned by a panic elsewhere is recovered: the chain's
    /// methods leave it consistent at every return.
    pub fn lock(&self) -> MutexGuard<'_, Chain> {
        self.chain
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A snapshot of the blocks and the mempool, taken under a short lock.
    pub fn snapshot(&self) -> Snapshot {
        self.lock().snapshot()
    }

    /// [`Chain::propagate`], then wakes [`run`] so the `included` event is
    /// published at once.
    pub fn propagate(&self, bytes: &[u8]) -> Result<TxId, TxError> {
        let result = self.lock().propagate(bytes);
        if result.is_ok() {
            self.wake();
        }
        result
    }

    /// Tells [`run`] to tick now (e.g. after changing the chain by hand).
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Milliseconds since the Unix epoch, from the system clock (0 if the clock
/// is before 1970): the `now_ms` to create a [`Chain`] with.
pub fn unix_time_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Drives the chain until `shutdown` completes: ticks it whenever a block or
/// a generated transaction is due, or as soon as a transaction was
/// propagated through [`SharedChain::propagate`], and hands every event to
/// `publish` in chain order, outside the lock.
///
/// The clock is the system time when `run` starts, advanced by tokio's
/// monotonic clock (so a test with paused tokio time drives the chain
/// without sleeping).
pub async fn run(
    chain: Arc<SharedChain>,
    mut publish: impl FnMut(Event),
    shutdown: impl Future<Output = ()>,
) {
    let start = Instant::now();
    let start_ms = unix_time_ms();
    let now_ms = || {
        let elapsed = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        start_ms.saturating_add(elapsed)
    };
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (events, due) = {
            let mut guard = chain.lock();
            let events = guard.tick(now_ms());
            (events, guard.poll_timeout())
        };
        for event in events {
            publish(event);
        }
        let wait = Duration::from_millis(due.saturating_sub(now_ms()));
        tokio::select! {
            biased;
            () = &mut shutdown => return,
            () = chain.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}
