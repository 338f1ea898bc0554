//! A session's outbound queue, shared by the node (which fills it) and the
//! adapter's writer (which empties it).
//!
//! Fan-out is the hot path: one event to thousands of sessions. If every
//! writer had to take the node's lock to fetch its frames, the writers would
//! queue behind the publisher and behind each other. So each session's
//! frames live in an [`Outbox`] with its own small lock: [`Node::publish`]
//! pushes into it (under the node, which it needs anyway to find the
//! receivers), and the writer drains it without touching the node at all.
//! The writer waits with a [`std::task::Waker`], which the push wakes when
//! the queue goes from empty to non-empty: no runtime, no output to route.
//!
//! [`Node::publish`]: crate::Node::publish

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

/// A session's queue of encoded frames: a cheap handle (an `Arc`) to clone
/// into the task that writes the session's socket. See
/// [`Node::outbox`](crate::Node::outbox).
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    queue: Arc<Mutex<Queue>>,
}

#[derive(Debug, Default)]
struct Queue {
    frames: VecDeque<Bytes>,
    bytes: usize,
    /// Frames handed to the writer, for [`crate::Stats::frames_delivered`].
    delivered: u64,
    /// The writer waiting for the next frame, if it is waiting.
    waker: Option<Waker>,
    /// The session was released: nothing is queued or delivered any more.
    closed: bool,
}

/// What [`Outbox::push`] did.
pub(crate) enum Pushed {
    /// Queued; carries the writer to wake (if it was waiting).
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
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `frame` unless that would take a non-empty queue past
    /// `max_bytes`: an empty queue always takes one frame, so an event larger
    /// than the budget still reaches a reader that keeps up. The waker comes
    /// back to the caller, to be woken after the lock is released.
    pub(crate) fn push(&self, frame: &Bytes, max_bytes: usize) -> Pushed {
        let mut queue = self.lock();
        if queue.closed {
            return Pushed::Closed;
        }
        if !queue.frames.is_empty() && queue.bytes + frame.len() > max_bytes {
            return Pushed::OverBudget;
        }
        queue.bytes += frame.len();
        queue.frames.push_back(frame.clone());
        Pushed::Queued(queue.waker.take())
    }

    /// Marks the session released: drops its frames and wakes a waiting
    /// writer (whose next poll then waits for good). Returns the bytes
    /// dropped and the frames delivered over the session's life.
    pub(crate) fn close(&self) -> (usize, u64) {
        let mut queue = self.lock();
        queue.closed = true;
        queue.frames = VecDeque::new();
        let dropped = std::mem::take(&mut queue.bytes);
        let waker = queue.waker.take();
        let delivered = queue.delivered;
        drop(queue);
        if let Some(waker) = waker {
            waker.wake();
        }
        (dropped, delivered)
    }

    /// Moves up to `max_bytes` of frames (at least one, if any is queued)
    /// into `out`, oldest first; returns how many. Each frame is the shared
    /// encoding of one event: send it as one Binary message.
    pub fn drain(&self, max_bytes: usize, out: &mut Vec<Bytes>) -> usize {
        let mut queue = self.lock();
        queue.drain_into(max_bytes, out)
    }

    /// The oldest queued frame, if any.
    pub fn pop(&self) -> Option<Bytes> {
        let mut queue = self.lock();
        let frame = queue.frames.pop_front()?;
        queue.bytes -= frame.len();
        queue.delivered += 1;
        Some(frame)
    }

    /// Like [`Outbox::drain`], but when nothing is queued it stores the
    /// task's waker and returns `Pending`: the next queued frame wakes it.
    /// Once the session is released it stays `Pending`; the adapter learns
    /// of the close from [`Output::Close`](crate::Output::Close).
    pub fn poll_drain(
        &self,
        cx: &mut Context<'_>,
        max_bytes: usize,
        out: &mut Vec<Bytes>,
    ) -> Poll<usize> {
        let mut queue = self.lock();
        match queue.drain_into(max_bytes, out) {
            0 => {
                if !queue.closed {
                    match &mut queue.waker {
                        Some(waker) => waker.clone_from(cx.waker()),
                        None => queue.waker = Some(cx.waker().clone()),
                    }
                }
                Poll::Pending
            }
            taken => Poll::Ready(taken),
        }
    }

    /// Bytes queued now.
    pub fn queued_bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Frames handed to the writer so far.
    pub(crate) fn delivered(&self) -> u64 {
        self.lock().delivered
    }
}

impl Queue {
    fn drain_into(&mut self, max_bytes: usize, out: &mut Vec<Bytes>) -> usize {
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
        taken
    }
}
