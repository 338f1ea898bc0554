//! [`Subscription`]: a stream of the events that match one event path, and
//! [`Gap`]: the notice that some may be missing.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use futures_util::Stream;
use rues_target::EventPath;
use rues_wire::SessionId;

use crate::client::Handle;
use crate::{Error, Event};

/// Events may have been missed at this point of a subscription's stream.
///
/// RUES delivers at most once and never replays (PROTOCOL.md §6), so the
/// client cannot recover what was missed; it says so, in order, between the
/// last event before the gap and the first after it. A caller that keeps
/// state (a block height, a balance) should re-read it from the node.
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
        }
    }
}

/// The events of one subscription: a [`Stream`] of `Result<Event, Gap>`.
///
/// It yields every event whose location matches the subscription's path
/// by the protocol's rule (a path without entity matches every entity), in
/// the order the node sent them; a [`Gap`] where events may be missing; and
/// ends (`None`) when the subscription ends: [`Subscription::unsubscribe`],
/// [`Client::unsubscribe`](crate::Client::unsubscribe) of its path,
/// [`Client::close`](crate::Client::close), or the session's loss without
/// reconnect, in which case [`Subscription::error`] says why.
///
/// Several subscriptions may overlap (`blocks/accepted` and
/// `blocks:ab12/accepted`, or the same path twice): each sees every event
/// that matches it, while the node sends each event once.
///
/// Dropping it unsubscribes (a `DELETE` in the background, when no other
/// subscription of this client has the same path), so a "first event only"
/// caller leaves nothing behind on the node (w3sper's `once` does).
///
/// Events are buffered per subscription up to the client's
/// [`buffer`](crate::ClientBuilder::buffer) size; past it they are dropped
/// and counted, and a [`Gap::Lagged`] says how many. The client never stops
/// reading the socket on a slow stream, so one slow subscription neither
/// delays the others nor gets the session closed as a slow consumer.
pub struct Subscription {
    id: u64,
    path: EventPath,
    queue: Arc<Queue>,
    /// Keeps the session alive; `None` once unsubscribed by hand.
    handle: Option<Arc<Handle>>,
}

impl Subscription {
    pub(crate) fn new(id: u64, path: EventPath, queue: Arc<Queue>, handle: Arc<Handle>) -> Self {
        Subscription {
            id,
            path,
            queue,
            handle: Some(handle),
        }
    }

    /// The path subscribed to, in canonical form.
    pub fn path(&self) -> &EventPath {
        &self.path
    }

    /// Why the stream ended, when it ended because of a failure: the
    /// session was lost and not recovered, reconnecting gave up, or the node
    /// refused to renew this subscription on a new session. `None` while
    /// the stream runs, and when it ended by unsubscribe or close.
    pub fn error(&self) -> Option<Error> {
        self.queue.lock().error.clone()
    }

    /// Unsubscribes now and waits for the node's answer.
    ///
    /// The `DELETE` is sent only when no other subscription of this client
    /// has the same path (the node holds one subscription per path and
    /// session); it is not sent when the session is down, since the node
    /// already forgot every subscription of a closed session (w3sper sends
    /// it anyway and always gets 424).
    pub async fn unsubscribe(mut self) -> Result<(), Error> {
        let Some(handle) = self.handle.take() else {
            return Ok(());
        };
        let shared = handle.shared.clone();
        if let Some(path) = shared.forget(self.id) {
            shared.release_remote(&path).await?;
        }
        drop(handle);
        Ok(())
    }
}

impl Stream for Subscription {
    type Item = Result<Event, Gap>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.queue.poll_next(cx)
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("path", &self.path.to_string())
            .finish_non_exhaustive()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let Some(handle) = self.handle.take() else {
            return;
        };
        let shared = handle.shared.clone();
        let Some(path) = shared.forget(self.id) else {
            return;
        };
        // The DELETE needs the session: the task keeps the handle (and so
        // the session) until it is done. Without a runtime (dropped after
        // it shut down) there is no session left to tell.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = shared.release_remote(&path).await;
                drop(handle);
            });
        }
    }
}

/// A subscription's buffer: filled by the client's reader task, drained by
/// the [`Subscription`] stream.
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

    fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<Result<Event, Gap>>> {
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
