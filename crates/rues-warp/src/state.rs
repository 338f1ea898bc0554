//! The state every task shares: the core node behind one mutex.
//!
//! Nothing here routes output: each session's task waits on its own
//! [`rues_core::Outbox`], which the core fills and wakes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use rues_core::{BlockingJob, Event, Node, PublishError, Published, Response};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::backplane::Backplane;
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
    /// The cluster backplane, once the endpoint joined one.
    backplane: OnceLock<Arc<dyn Backplane>>,
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
            backplane: OnceLock::new(),
        }
    }

    /// The cluster backplane, if the endpoint joined one.
    pub(crate) fn backplane(&self) -> Option<&Arc<dyn Backplane>> {
        self.backplane.get()
    }

    /// Joins a cluster: from now on the core records its changes and the
    /// backplane gets them, starting with everything already there.
    /// `false` if a backplane was already set.
    pub(crate) fn join_cluster(&self, backplane: Arc<dyn Backplane>) -> bool {
        // Under the lock, so that no change falls between the state the
        // backplane starts from and the first change it is handed.
        let mut node = self.node();
        if self.backplane.set(backplane.clone()).is_err() {
            return false;
        }
        backplane.changes(node.enter_cluster());
        true
    }

    /// A session opened: its keep-alive deadline may be the earliest. Starts
    /// the timer task the first time (on the caller's runtime).
    pub(crate) fn session_opened(self: &Arc<Self>) {
        if !self.timer_started.swap(true, Ordering::AcqRel) {
            tokio::spawn(keep_alive(self.clone()));
        }
        self.timer_changed.notify_one();
    }

    /// The metrics as OpenMetrics text (the node's lock held only to read
    /// its counters).
    pub(crate) fn render_metrics(&self) -> String {
        let (stats, version) = {
            let node = self.node();
            (node.stats(), node.config().version.to_string())
        };
        let mut text = self.metrics.render(&stats, &version);
        if let Some(backplane) = self.backplane() {
            // The exposition ends with `# EOF`: the backplane's lines go
            // before it.
            let end = text.rfind("# EOF").unwrap_or(text.len());
            text.insert_str(end, &backplane.metrics());
        }
        text
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
    /// that can panic. In a cluster, the changes the holder made go to the
    /// backplane when the guard is dropped, before the lock is released.
    pub(crate) fn node(&self) -> NodeGuard<'_> {
        NodeGuard {
            node: self.node.lock().unwrap_or_else(PoisonError::into_inner),
            backplane: self.backplane.get(),
        }
    }
}

/// The node, locked; see [`Shared::node`].
pub(crate) struct NodeGuard<'a> {
    node: MutexGuard<'a, Node>,
    backplane: Option<&'a Arc<dyn Backplane>>,
}

impl std::ops::Deref for NodeGuard<'_> {
    type Target = Node;

    fn deref(&self) -> &Node {
        &self.node
    }
}

impl std::ops::DerefMut for NodeGuard<'_> {
    fn deref_mut(&mut self) -> &mut Node {
        &mut self.node
    }
}

impl Drop for NodeGuard<'_> {
    fn drop(&mut self) {
        if let Some(backplane) = self.backplane {
            if self.node.has_changes() {
                backplane.changes(self.node.take_changes());
            }
        }
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

/// Where blocking handlers run: threads of a runtime of their own, at most
/// `slots` at a time, so a slow handler (a prover, a GraphQL query) never
/// occupies a thread that serves sessions and requests, and a flood of slow
/// calls cannot start unbounded threads. On Linux those threads also run
/// `nice` steps below the node's own, so while handlers keep every core
/// busy the threads that deliver events, answer pings and serve requests
/// still get the CPU the moment they need it.
pub(crate) struct BlockingPool {
    permits: Arc<Semaphore>,
    slots: usize,
    wait: Duration,
    /// The slots of handlers with a bound of their own
    /// (`BlockingJob::own_slots`), by handler: as many entries as such
    /// handlers are registered.
    own: Mutex<HashMap<usize, Arc<Semaphore>>>,
    /// `None` only if the threads could not be started; the handlers then
    /// run on the caller's runtime's blocking threads, at its priority.
    threads: Option<tokio::runtime::Runtime>,
}

impl BlockingPool {
    pub(crate) fn new(slots: usize, wait: Duration, nice: u8) -> Self {
        let slots = slots.max(1);
        let threads = handler_threads(slots, nice)
            .inspect_err(|error| {
                tracing::warn!(%error, "no threads of their own for blocking handlers");
            })
            .ok();
        Self {
            permits: Arc::new(Semaphore::new(slots)),
            slots,
            wait,
            own: Mutex::new(HashMap::new()),
            threads,
        }
    }

    /// Runs `job` on a blocking thread once a slot is free; 503 (the core's
    /// answer) when none frees up within the wait.
    /// A handler with a bound of its own first waits for one of its own
    /// slots, then for the pool's, all within the one wait.
    pub(crate) async fn run(&self, job: BlockingJob) -> Response {
        let deadline = tokio::time::Instant::now() + self.wait;
        let own = match job.own_slots() {
            Some((handler, slots)) => {
                let own = self.own_slots(handler, slots);
                match tokio::time::timeout_at(deadline, own.acquire_owned()).await {
                    Ok(Ok(permit)) => Some(permit),
                    _ => return job.busy(slots),
                }
            }
            None => None,
        };
        let permit =
            match tokio::time::timeout_at(deadline, self.permits.clone().acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                // Timed out, or the semaphore was closed (never, here).
                _ => return job.busy(self.slots),
            };
        let unfinished = job.unfinished();
        let work = move || {
            let response = job.run();
            drop((permit, own));
            response
        };
        let running = match &self.threads {
            Some(threads) => threads.spawn_blocking(work),
            None => tokio::task::spawn_blocking(work),
        };
        running.await.unwrap_or(unfinished)
    }

    /// The slots of one handler with a bound of its own.
    fn own_slots(&self, handler: usize, slots: usize) -> Arc<Semaphore> {
        let mut own = self.own.lock().unwrap_or_else(PoisonError::into_inner);
        own.entry(handler)
            .or_insert_with(|| Arc::new(Semaphore::new(slots)))
            .clone()
    }
}

impl Drop for BlockingPool {
    /// A runtime may not be dropped (which waits for its threads) on a
    /// thread that serves async code; a handler still running finishes on
    /// its own thread and its answer is dropped.
    fn drop(&mut self) {
        if let Some(threads) = self.threads.take() {
            threads.shutdown_background();
        }
    }
}

/// The runtime blocking handlers run on: `slots` blocking threads (and one
/// idle worker, which a runtime must have), each lowered by `nice` steps
/// when it starts.
fn handler_threads(slots: usize, nice: u8) -> std::io::Result<tokio::runtime::Runtime> {
    let priority = lowered_priority(nice);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(slots)
        .thread_name("rues-handler")
        .on_thread_start(move || set_thread_priority(priority))
        .build()
}

/// The priority handler threads run at: `nice` steps below the calling
/// thread's (Linux's range ends at 19). `None` where it is not changed.
#[cfg(target_os = "linux")]
fn lowered_priority(nice: u8) -> Option<i32> {
    if nice == 0 {
        return None;
    }
    let own = rustix::process::getpriority_process(None).unwrap_or(0);
    Some((own + i32::from(nice)).min(19))
}

#[cfg(not(target_os = "linux"))]
fn lowered_priority(_nice: u8) -> Option<i32> {
    // Elsewhere `setpriority` applies to the whole process, not a thread.
    None
}

/// Sets the calling thread's priority (on Linux, `setpriority` on the
/// current task is per thread).
#[cfg(target_os = "linux")]
fn set_thread_priority(priority: Option<i32>) {
    if let Some(priority) = priority
        && let Err(error) = rustix::process::setpriority_process(None, priority)
    {
        tracing::warn!(%error, "a blocking handler thread keeps its priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn set_thread_priority(_priority: Option<i32>) {}

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
    ///
    /// In a cluster, the event also goes to the backplane (after the local
    /// sessions, under the same lock, so in publish order), which sends it
    /// to the nodes that want it. A cluster with a shared history takes it
    /// instead, to number it: then it reaches local sessions when it comes
    /// back numbered, and the answer here is `Published::default()`.
    pub fn publish(&self, event: &Event) -> Result<Published, PublishError> {
        let mut node = self.shared.node();
        let backplane = self.shared.backplane();
        if backplane.is_some_and(|backplane| backplane.take(event)) {
            return Ok(Published::default());
        }
        let published = node.publish(event)?;
        if let Some(backplane) = backplane {
            backplane.published(event);
        }
        Ok(published)
    }

    /// A snapshot of the core's counters.
    pub fn stats(&self) -> rues_core::Stats {
        self.shared.node().stats()
    }
}
