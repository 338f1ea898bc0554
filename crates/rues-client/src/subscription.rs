//! [`Subscription`]: a stream of the events that match one event path.
//!
//! Its buffer, filled by the session's reader and drained here, is the
//! `Queue` of `queue.rs`; the session it keeps alive is `session.rs`'s.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::Stream;
use rues_target::EventPath;

use crate::error::Error;
use crate::event::Event;
use crate::queue::{Gap, Queue};
use crate::session::Handle;

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
        self.queue.error()
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
