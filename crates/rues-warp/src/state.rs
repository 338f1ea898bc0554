//! The state every task shares: the core node behind one mutex, and the
//! signals that wake each session's task when the core has output for it.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use rues_core::{CloseReason, Event, Node, Output, PublishError, Published, SessionId, SessionMap};
use tokio::sync::Notify;

use crate::metrics::Metrics;

/// What the core asked a session's task to do, set under the node lock and
/// read by the task when its `notify` fires. (Frames do not come this way:
/// the task waits on the session's outbox, which publishing wakes.)
#[derive(Debug, Default)]
pub(crate) struct SessionSignal {
    /// A ping is due.
    pub(crate) ping: Notify,
    /// The core closed the session: stop whatever the task is doing.
    pub(crate) closed: Notify,
    pending: Mutex<PendingWork>,
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PendingWork {
    pub(crate) ping: bool,
    pub(crate) close: Option<CloseReason>,
}

impl SessionSignal {
    pub(crate) fn take(&self) -> PendingWork {
        let mut pending = lock(&self.pending);
        std::mem::take(&mut *pending)
    }

    /// Takes only the close reason, leaving a pending ping for its branch.
    pub(crate) fn take_close(&self) -> Option<CloseReason> {
        lock(&self.pending).close.take()
    }

    fn request_ping(&self) {
        lock(&self.pending).ping = true;
        self.ping.notify_one();
    }

    fn request_close(&self, reason: CloseReason) {
        lock(&self.pending).close = Some(reason);
        self.closed.notify_one();
    }
}

/// The node and the per-session signals, under one lock so an output is
/// always routed to the session it names.
pub(crate) struct Core {
    pub(crate) node: Node,
    pub(crate) signals: SessionMap<Arc<SessionSignal>>,
}

impl Core {
    /// Routes every pending output of the node to its session's task.
    pub(crate) fn route_outputs(&mut self) {
        while let Some(output) = self.node.poll_output() {
            match output {
                Output::Ping(session) => {
                    if let Some(signal) = self.signals.get(&session) {
                        signal.request_ping();
                    }
                }
                Output::Close { session, reason } => {
                    if let Some(signal) = self.signals.remove(&session) {
                        signal.request_close(reason);
                    }
                }
                // `Output` is non-exhaustive: a future output this adapter
                // does not know is safe to ignore.
                _ => {}
            }
        }
    }
}

/// Shared by the listener, the HTTP handlers, every session task and every
/// publisher handle.
pub(crate) struct Shared {
    core: Mutex<Core>,
    /// Wakes the keep-alive timer task when the earliest deadline may have
    /// moved earlier (a session opened).
    pub(crate) timer_changed: Notify,
    pub(crate) metrics: Metrics,
    /// Every session task, so shutdown can wait until each has sent its
    /// Close frame (the core releases a session before its task says
    /// goodbye on the socket).
    pub(crate) session_tasks: tokio_util::task::TaskTracker,
}

impl Shared {
    pub(crate) fn new(node: Node) -> Self {
        Self {
            core: Mutex::new(Core {
                node,
                signals: SessionMap::default(),
            }),
            timer_changed: Notify::new(),
            metrics: Metrics::default(),
            session_tasks: tokio_util::task::TaskTracker::new(),
        }
    }

    /// Locks the core. Never held across an `.await`.
    pub(crate) fn core(&self) -> MutexGuard<'_, Core> {
        lock(&self.core)
    }

    /// Runs `f` on the core and routes whatever outputs it produced.
    pub(crate) fn with_core<T>(&self, f: impl FnOnce(&mut Node) -> T) -> T {
        let mut core = self.core();
        let result = f(&mut core.node);
        core.route_outputs();
        result
    }

    pub(crate) fn publish(&self, event: &Event) -> Result<Published, PublishError> {
        self.with_core(|node| node.publish(event))
    }

    /// The socket of `session` is gone; release it in the core.
    pub(crate) fn session_ended(&self, session: SessionId, reason: CloseReason) {
        let mut core = self.core();
        core.signals.remove(&session);
        core.node.handle_closed(session, reason);
        core.route_outputs();
    }

    pub(crate) fn now() -> Instant {
        Instant::now()
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
        self.shared.publish(event)
    }

    /// A snapshot of the core's counters.
    pub fn stats(&self) -> rues_core::Stats {
        self.shared.core().node.stats()
    }
}

/// Locks a mutex, recovering from poisoning: every critical section here
/// leaves the data consistent before anything that could panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
