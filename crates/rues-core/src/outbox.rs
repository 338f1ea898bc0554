//! A session's outbox: the one way its output leaves the core.
//!
//! Everything a session's writer must do comes out of its [`Outbox`], as a
//! [`Transmit`]: frames to send, a ping that is due, or "closed with reason
//! R". The node sets those (under its own lock, which it needs anyway to
//! find the receivers of an event or the sessions whose timer fired) and
//! wakes the one [`Waker`] the writer left; the writer takes them without
//! touching the node at all.
//!
//! Fan-out is the hot path: one event to thousands of sessions. If every
//! writer had to take the node's lock to fetch its frames, the writers would
//! queue behind the publisher and behind each other. So each session's
//! output lives behind its own small lock. No runtime is involved: a
//! `Mutex` and a `Waker` are plain `std`, and [`Outbox::try_next`] serves
//! adapters that have no tasks at all.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

use crate::close::CloseReason;

/// What a session's writer must do next, from [`Outbox::try_next`] or
/// [`Outbox::poll_next`]. A close comes before anything else, then a due
/// ping, then frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transmit {
    /// This many frames were appended to the caller's buffer, oldest first.
    /// Each is the shared encoding of one event: send it as one Binary
    /// message.
    Frames(usize),
    /// Send a WebSocket Ping.
    Ping,
    /// The session is over: the core has released it (its subscriptions and
    /// queued frames are gone, its id is no longer valid). Send a Close frame
    /// with `reason.code()` when it has one, then close the socket. Every
    /// later call returns the same.
    Close(CloseReason),
}

/// A session's output queue: a cheap handle (an `Arc`) to move into the
/// task that writes the session's socket. [`Node::handle_upgrade`] hands it
/// out with the session's id.
///
/// [`Node::handle_upgrade`]: crate::Node::handle_upgrade
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<Queue>,
    /// Whether `queue.closed` is set, readable without the lock: a
    /// session's task asks on every wake-up, while the publisher may be
    /// pushing under the lock.
    closed: AtomicBool,
}

#[derive(Debug, Default)]
struct Queue {
    frames: VecDeque<Bytes>,
    bytes: usize,
    /// Frames handed to the writer, for [`crate::Stats::frames_delivered`].
    delivered: u64,
    ping_due: bool,
    /// Set once, when the session is released.
    closed: Option<CloseReason>,
    /// The writer waiting for its next output, if it is waiting.
    waker: Option<Waker>,
    /// What that writer waits for: any output, or only the close (while it
    /// is busy writing, a new frame is no reason to wake it).
    wake_on: WakeOn,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum WakeOn {
    #[default]
    Anything,
    Close,
}

/// What [`Outbox::push`] did.
pub(crate) enum Pushed {
    /// Queued; carries the writer to wake (if it was waiting for output).
    Queued(Option<Waker>),
    /// The queue is not empty and the frame would take it over the budget.
    OverBudget,
    /// The session is gone.
    Closed,
}

impl Outbox {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Every critical section leaves the queue consistent before anything
        // that could panic, so a poisoned lock holds valid data.
        self.shared
            .queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The next output, if there is one: a close, a due ping, or up to
    /// `max_bytes` of frames (at least one, if any is queued) appended to
    /// `frames`. For adapters without async tasks, and for a writer that has
    /// just finished a write and looks for more before waiting again.
    pub fn try_next(&self, max_bytes: usize, frames: &mut Vec<Bytes>) -> Option<Transmit> {
        self.lock().next(max_bytes, frames)
    }

    /// Like [`Outbox::try_next`], but when there is nothing to do it stores
    /// the task's waker and returns `Pending`: the next frame, ping or close
    /// wakes it.
    pub fn poll_next(
        &self,
        cx: &mut Context<'_>,
        max_bytes: usize,
        frames: &mut Vec<Bytes>,
    ) -> Poll<Transmit> {
        let mut queue = self.lock();
        match queue.next(max_bytes, frames) {
            Some(transmit) => Poll::Ready(transmit),
            None => {
                queue.wait(cx, WakeOn::Anything);
                Poll::Pending
            }
        }
    }

    /// Ready with the reason once the session is closed; until then stores
    /// the task's waker, woken by the close only. A writer blocked on a
    /// socket that stopped reading races its write against this, so that a
    /// 4008 (or a shutdown) interrupts the write.
    pub fn poll_closed(&self, cx: &mut Context<'_>) -> Poll<CloseReason> {
        let mut queue = self.lock();
        match queue.closed {
            Some(reason) => Poll::Ready(reason),
            None => {
                queue.wait(cx, WakeOn::Close);
                Poll::Pending
            }
        }
    }

    /// Why the session was closed, once it is.
    pub fn close_reason(&self) -> Option<CloseReason> {
        // Set once, after the reason: false means not closed yet.
        if !self.shared.closed.load(Ordering::Acquire) {
            return None;
        }
        self.lock().closed
    }

    /// Bytes of frames queued now.
    pub fn queued_bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Queues `frame` unless that would take a non-empty queue past
    /// `max_bytes`: an empty queue always takes one frame, so an event larger
    /// than the budget still reaches a reader that keeps up. The waker comes
    /// back to the caller, to be woken after the lock is released.
    pub(crate) fn push(&self, frame: &Bytes, max_bytes: usize) -> Pushed {
        let mut queue = self.lock();
        if queue.closed.is_some() {
            return Pushed::Closed;
        }
        if !queue.frames.is_empty() && queue.bytes + frame.len() > max_bytes {
            return Pushed::OverBudget;
        }
        queue.bytes += frame.len();
        queue.frames.push_back(frame.clone());
        Pushed::Queued(queue.take_waker(WakeOn::Anything))
    }

    /// Queues `frames` (of `bytes` bytes together), oldest first, past the
    /// budget check: a replay the caller has already fitted to the budget.
    /// Gives the writer to wake, as [`Outbox::push`] does.
    pub(crate) fn push_all(&self, frames: Vec<Bytes>, bytes: usize) -> Option<Waker> {
        if frames.is_empty() {
            return None;
        }
        let mut queue = self.lock();
        if queue.closed.is_some() {
            return None;
        }
        queue.bytes += bytes;
        queue.frames.extend(frames);
        queue.take_waker(WakeOn::Anything)
    }

    /// A keep-alive ping is due.
    pub(crate) fn request_ping(&self) {
        let mut queue = self.lock();
        queue.ping_due = true;
        let waker = queue.take_waker(WakeOn::Anything);
        drop(queue);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Marks the session released with `reason` (the first reason wins):
    /// drops its frames and wakes the writer. Returns the frames delivered
    /// over the session's life.
    pub(crate) fn close(&self, reason: CloseReason) -> u64 {
        let mut queue = self.lock();
        queue.closed.get_or_insert(reason);
        self.shared.closed.store(true, Ordering::Release);
        queue.frames = VecDeque::new();
        queue.bytes = 0;
        queue.ping_due = false;
        let waker = queue.waker.take();
        let delivered = queue.delivered;
        drop(queue);
        if let Some(waker) = waker {
            waker.wake();
        }
        delivered
    }

    /// Frames handed to the writer so far.
    pub(crate) fn delivered(&self) -> u64 {
        self.lock().delivered
    }
}

impl Queue {
    fn next(&mut self, max_bytes: usize, out: &mut Vec<Bytes>) -> Option<Transmit> {
        if let Some(reason) = self.closed {
            return Some(Transmit::Close(reason));
        }
        if std::mem::take(&mut self.ping_due) {
            return Some(Transmit::Ping);
        }
        let mut taken = 0;
        let mut bytes = 0;
        while let Some(next) = self.frames.front() {
            if taken > 0 && bytes + next.len() > max_bytes {
                break;
            }
            bytes += next.len();
            if let Some(frame) = self.frames.pop_front() {
                out.push(frame);
            }
            taken += 1;
        }
        self.bytes -= bytes;
        self.delivered += taken as u64;
        (taken > 0).then_some(Transmit::Frames(taken))
    }

    fn wait(&mut self, cx: &mut Context<'_>, wake_on: WakeOn) {
        self.wake_on = wake_on;
        match &mut self.waker {
            Some(waker) => waker.clone_from(cx.waker()),
            None => self.waker = Some(cx.waker().clone()),
        }
    }

    /// The waiting writer, if what happened is what it waits for.
    fn take_waker(&mut self, event: WakeOn) -> Option<Waker> {
        if self.wake_on == WakeOn::Close && event != WakeOn::Close {
            return None;
        }
        self.waker.take()
    }
}
