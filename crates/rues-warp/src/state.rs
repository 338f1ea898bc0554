//! The state every task shares: the core node behind one mutex.
//!
//! Nothing here routes output: each session's task waits on its own
//! [`rues_core::Outbox`], which the core fills and wakes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rues_core::{BlockingJob, Event, Node, PublishError, Published, Response};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// Shared by the listener, the HTTP handlers, every session task and every
/// publisher handle.
pub(crate) struct Shared {
    node: Mutex<Node>,
    /// Wakes the keep-alive timer task when the earliest deadline may have
    /// moved earlier (a session opened).
    pub(crate) timer_changed: Notify,
    pub(crate) metrics: Metrics,
    /// Every session task, so shutdown can wait until each has sent its
    /// Close frame (the core releases a session before its task says
    /// goodbye on the socket).
    pub(crate) session_tasks: tokio_util::task::TaskTracker,
    pub(crate) blocking: BlockingPool,
    pub(crate) body_deadlines: BodyDeadlines,
    /// Whether the keep-alive timer task runs (it starts with the first
    /// session, so an endpoint can be made outside a runtime).
    timer_started: AtomicBool,
    /// Stops the keep-alive timer.
    timer_stop: CancellationToken,
}

impl Shared {
    pub(crate) fn new(node: Node, blocking: BlockingPool, body_deadlines: BodyDeadlines) -> Self {
        Self {
            node: Mutex::new(node),
            timer_changed: Notify::new(),
            metrics: Metrics::default(),
            session_tasks: tokio_util::task::TaskTracker::new(),
            blocking,
            body_deadlines,
            timer_started: AtomicBool::new(false),
            timer_stop: CancellationToken::new(),
        }
    }

    /// A session opened: its keep-alive deadline may be the earliest. Starts
    /// the timer task the first time (on the caller's runtime).
    pub(crate) fn session_opened(self: &Arc<Self>) {
        if !self.timer_started.swap(true, Ordering::AcqRel) {
            tokio::spawn(keep_alive(self.clone()));
        }
        self.timer_changed.notify_one();
    }

    /// Closes every session with 1001 (the first step of a graceful shutdown).
    pub(crate) fn close_sessions(&self) {
        self.node().shutdown();
    }

    /// Resolves once every session task has ended (after its Close
    /// handshake). Sessions opened afterwards are waited for too.
    pub(crate) async fn sessions_finished(&self) {
        self.session_tasks.close();
        self.session_tasks.wait().await;
    }

    pub(crate) fn stop_timer(&self) {
        self.timer_stop.cancel();
    }

    /// Locks the node. Never held across an `.await`. A poisoned lock is
    /// taken over: the core leaves its state consistent before anything
    /// that could panic.
    pub(crate) fn node(&self) -> MutexGuard<'_, Node> {
        self.node
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The keep-alive timer: re-armed to the core's `next_timeout` after it
/// fires and whenever a session opens (the only inputs that can move the
/// deadline earlier); fires `handle_timeout`.
async fn keep_alive(shared: Arc<Shared>) {
    loop {
        let next = shared.node().next_timeout();
        let sleep = async {
            match next {
                Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = sleep => shared.node().handle_timeout(Instant::now()),
            () = shared.timer_changed.notified() => {}
            () = shared.timer_stop.cancelled() => return,
        }
    }
}

/// How long a dispatch body may take: in all, and between two pieces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyDeadlines {
    pub(crate) total: Duration,
    pub(crate) idle: Duration,
}

/// Where blocking handlers run: tokio's blocking threads, at most `slots`
/// at a time, so a slow handler (a prover) never occupies a thread that
/// serves sessions and requests, and a flood of slow calls cannot start
/// unbounded threads.
pub(crate) struct BlockingPool {
    permits: Arc<Semaphore>,
    slots: usize,
    wait: Duration,
}

impl BlockingPool {
    pub(crate) fn new(slots: usize, wait: Duration) -> Self {
        let slots = slots.max(1);
        Self {
            permits: Arc::new(Semaphore::new(slots)),
            slots,
            wait,
        }
    }

    /// Runs `job` on a blocking thread once a slot is free; 503 (the core's
    /// answer) when none frees up within the wait.
    pub(crate) async fn run(&self, job: BlockingJob) -> Response {
        let permit =
            match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                // Timed out, or the semaphore was closed (never, here).
                _ => return job.busy(self.slots),
            };
        let unfinished = job.unfinished();
        let running = tokio::task::spawn_blocking(move || {
            let response = job.run();
            drop(permit);
            response
        });
        running.await.unwrap_or(unfinished)
    }
}

/// A handle for publishing events from the application: cheap to clone,
/// safe to use from any thread or task. Publishing never waits on a client.
#[derive(Clone)]
pub struct Publisher {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher").finish_non_exhaustive()
    }
}

impl Publisher {
    /// Publishes an event to every session subscribed to it: the frame is
    /// encoded once and queued to each; a session whose queue is full is
    /// closed with 4008 instead of slowing anyone down.
    pub fn publish(&self, event: &Event) -> Result<Published, PublishError> {
        self.shared.node().publish(event)
    }

    /// A snapshot of the core's counters.
    pub fn stats(&self) -> rues_core::Stats {
        self.shared.node().stats()
    }
}
