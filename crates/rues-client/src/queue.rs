//! A subscription's buffer ([`Queue`]), shared by the session's reader,
//! which fills it, and the [`Subscription`] stream, which drains it; and
//! [`Gap`], the notice in it that some events may be missing.
//!
//! [`Subscription`]: crate::Subscription

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use rues_target::EventPath;
use rues_wire::SessionId;

use crate::error::Error;
use crate::event::Event;

/// Events may have been missed at this point of a subscription's stream.
///
/// What a node could not deliver or replay (docs/protocol.md §6, §10) is
/// gone; the client says so, in order, between the last event before the
/// gap and the first after it. A caller that keeps state (a block height, a
/// balance) should re-read it from the node.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum Gap {
    /// The session was lost and a new one opened; this subscription was
    /// renewed on it. Events published in between are lost.
    Reconnected {
        /// The session that ended.
        previous: SessionId,
        /// The new session.
        session: SessionId,
        /// Why the previous session ended.
        cause: Error,
    },
    /// The subscription's buffer was full (the stream was not read fast
    /// enough), so `missed` events were dropped.
    Lagged {
        /// How many events were dropped.
        missed: u64,
    },
    /// After a reconnect the node resumed this subscription, but its history
    /// no longer held events `first..=last` of the stream (those that
    /// matched are lost); every later one was replayed.
    Missed {
        /// The subscription's path.
        path: EventPath,
        /// The first event number lost.
        first: u64,
        /// The last event number lost.
        last: u64,
    },
    /// The node said that events of `stream` were lost (a `Rues-Gap`
    /// notice, docs/protocol.md §10): e.g. a relay whose own upstream went
    /// away for a while. The session itself is fine.
    Lost {
        /// The stream (component and topic, no entity) that lost events.
        stream: EventPath,
        /// The node's reason, as it gave it.
        reason: String,
    },
    /// After a reconnect the node refused to renew `path`, so a
    /// [`Feed`](crate::Feed) no longer receives its events. (A
    /// [`Subscription`](crate::Subscription) ends with the error instead.)
    Dropped {
        /// The path that was not renewed.
        path: EventPath,
        /// The node's answer.
        error: Error,
    },
}

impl fmt::Display for Gap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Gap::Reconnected {
                previous,
                session,
                cause,
            } => write!(
                f,
                "reconnected as session {session} after {previous} ended ({cause}): events published in between are lost"
            ),
            Gap::Lagged { missed } => write!(
                f,
                "{missed} event(s) dropped: the subscription was not read fast enough"
            ),
            Gap::Missed { path, first, last } => write!(
                f,
                "events {first}-{last} of {path}'s stream were no longer in the node's history: those that matched are lost"
            ),
            Gap::Lost { stream, reason } => {
                write!(f, "the node lost events of {stream}: {reason}")
            }
            Gap::Dropped { path, error } => {
                write!(f, "{path} was not renewed after a reconnect: {error}")
            }
        }
    }
}

/// A subscription's buffer: filled by the client's reader task, drained by
/// the [`Subscription`](crate::Subscription) stream.
pub(crate) struct Queue {
    inner: Mutex<QueueInner>,
}

struct QueueInner {
    items: VecDeque<Result<Event, Gap>>,
    /// Events (not gaps) in `items`.
    events: usize,
    capacity: usize,
    /// Events dropped since the last `Lagged` was queued.
    missed: u64,
    ended: bool,
    error: Option<Error>,
    waker: Option<Waker>,
}

impl Queue {
    pub(crate) fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Queue {
            inner: Mutex::new(QueueInner {
                items: VecDeque::new(),
                events: 0,
                capacity: capacity.max(1),
                missed: 0,
                ended: false,
                error: None,
                waker: None,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, QueueInner> {
        // A panic elsewhere while holding the lock leaves plain data behind.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn push_event(&self, event: Event) {
        let mut inner = self.lock();
        if inner.ended {
            return;
        }
        if inner.events >= inner.capacity {
            inner.missed += 1;
            return;
        }
        inner.flush_missed();
        inner.items.push_back(Ok(event));
        inner.events += 1;
        inner.wake();
    }

    pub(crate) fn push_gap(&self, gap: Gap) {
        let mut inner = self.lock();
        if inner.ended {
            return;
        }
        inner.flush_missed();
        inner.items.push_back(Err(gap));
        inner.wake();
    }

    /// Ends the stream once the queued items are read.
    pub(crate) fn end(&self, error: Option<Error>) {
        let mut inner = self.lock();
        if inner.ended {
            return;
        }
        inner.flush_missed();
        inner.ended = true;
        inner.error = error;
        inner.wake();
    }

    /// Why the stream ended, if a failure ended it.
    pub(crate) fn error(&self) -> Option<Error> {
        self.lock().error.clone()
    }

    pub(crate) fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<Result<Event, Gap>>> {
        let mut inner = self.lock();
        if let Some(item) = inner.items.pop_front() {
            if item.is_ok() {
                inner.events -= 1;
            }
            return Poll::Ready(Some(item));
        }
        if inner.missed > 0 {
            let missed = std::mem::take(&mut inner.missed);
            return Poll::Ready(Some(Err(Gap::Lagged { missed })));
        }
        if inner.ended {
            return Poll::Ready(None);
        }
        match &inner.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => inner.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl QueueInner {
    fn flush_missed(&mut self) {
        if self.missed > 0 {
            let missed = std::mem::take(&mut self.missed);
            self.items.push_back(Err(Gap::Lagged { missed }));
        }
    }

    fn wake(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use futures_util::task::noop_waker_ref;
    use rues_target::EventPath;
    use rues_wire::Headers;

    fn event(n: u8) -> Event {
        let path = EventPath::parse("/on/blocks/accepted").unwrap();
        Event::new(path, Headers::new(), Bytes::from(vec![n]))
    }

    fn drain(queue: &Queue) -> Vec<String> {
        let mut cx = Context::from_waker(noop_waker_ref());
        let mut seen = Vec::new();
        loop {
            match queue.poll_next(&mut cx) {
                Poll::Ready(Some(Ok(event))) => seen.push(format!("e{}", event.payload()[0])),
                Poll::Ready(Some(Err(Gap::Lagged { missed }))) => seen.push(format!("lag{missed}")),
                Poll::Ready(Some(Err(gap))) => seen.push(format!("{gap}")),
                Poll::Ready(None) => {
                    seen.push("end".into());
                    return seen;
                }
                Poll::Pending => return seen,
            }
        }
    }

    #[test]
    fn a_full_buffer_drops_and_counts_then_says_so_in_order() {
        let queue = Queue::new(2);
        for n in 1..=5 {
            queue.push_event(event(n));
        }
        assert_eq!(drain(&queue), ["e1", "e2", "lag3"]);
        queue.push_event(event(6));
        queue.push_event(event(7));
        queue.push_event(event(8));
        queue.push_event(event(9));
        assert_eq!(drain(&queue), ["e6", "e7", "lag2"]);
    }

    #[test]
    fn the_lag_marker_sits_between_the_events_around_it() {
        let queue = Queue::new(1);
        queue.push_event(event(1));
        queue.push_event(event(2));
        let mut cx = Context::from_waker(noop_waker_ref());
        assert!(matches!(queue.poll_next(&mut cx), Poll::Ready(Some(Ok(_)))));
        queue.push_event(event(3));
        assert_eq!(drain(&queue), ["lag1", "e3"]);
    }

    #[test]
    fn end_is_seen_after_the_queued_items() {
        let queue = Queue::new(4);
        queue.push_event(event(1));
        queue.end(Some(Error::Closed));
        queue.push_event(event(2));
        assert_eq!(drain(&queue), ["e1", "end"]);
        assert!(matches!(queue.lock().error, Some(Error::Closed)));
    }
}
