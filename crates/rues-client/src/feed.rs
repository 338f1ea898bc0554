//! [`Feed`]: one stream for the events of many paths, each event once.
//!
//! A [`Subscription`](crate::Subscription) per path suits an application
//! that handles each path on its own; a program that forwards everything it
//! gets (a relay, a bridge to a queue) wants one stream in the node's order,
//! with an event that matches several of its paths (`blocks/accepted` and
//! `blocks:ab12/accepted`) once, and paths it adds and removes as it goes.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::Stream;

use crate::endpoint::IntoEventPath;
use crate::error::Error;
use crate::event::Event;
use crate::queue::{Gap, Queue};
use crate::session::Handle;

/// Adds and removes the paths of a [`Feed`]; from [`Client::feed`](crate::Client::feed).
/// Cheap to clone; it keeps the session alive, as the feed does.
#[derive(Clone)]
pub struct FeedControl {
    id: u64,
    queue: Arc<Queue>,
    handle: Arc<Handle>,
}

impl FeedControl {
    /// Adds `path` to the feed: subscribes on the node, unless this client
    /// already holds `path` there. Nothing happens when the feed has it.
    ///
    /// # Errors
    ///
    /// As [`Client::subscribe`](crate::Client::subscribe): the node's
    /// refusal as [`Error::Status`], [`Error::Reconnecting`] while the
    /// session is down, [`Error::Closed`] after the end.
    pub async fn subscribe(&self, path: impl IntoEventPath) -> Result<(), Error> {
        let path = path.into_event_path()?;
        self.handle
            .shared
            .subscribe_feed(self.id, &self.queue, &path)
            .await
    }

    /// Removes `path` from the feed: unsubscribes on the node when nothing
    /// else of this client needs it. Nothing happens when the feed does not
    /// have it.
    ///
    /// # Errors
    ///
    /// The node's answer to the `DELETE`, or the usual request errors.
    pub async fn unsubscribe(&self, path: impl IntoEventPath) -> Result<(), Error> {
        let path = path.into_event_path()?;
        self.handle.shared.unsubscribe_feed(self.id, &path).await
    }
}

impl fmt::Debug for FeedControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FeedControl").finish_non_exhaustive()
    }
}

/// The events of every path a [`FeedControl`] added: a [`Stream`] of
/// `Result<Event, Gap>`.
///
/// Each event the node sends that matches any of the feed's paths comes
/// once, in the node's order. Gaps: [`Gap::Reconnected`] once per
/// reconnect (every path is renewed first), [`Gap::Lagged`] when the
/// buffer was full, [`Gap::Lost`] for the node's gap notice on a stream the
/// feed has a path on, [`Gap::Dropped`] for a path the node refused to
/// renew. The stream ends when the client is closed or ends for good
/// ([`Client::closed`](crate::Client::closed) says why).
///
/// Dropping the feed removes its paths (a `DELETE` in the background for
/// each one nothing else of the client needs).
pub struct Feed {
    control: FeedControl,
}

impl Feed {
    /// A new, empty feed of `handle`'s session, buffering up to `buffer`
    /// events.
    pub(crate) fn open(handle: Arc<Handle>, buffer: usize) -> (FeedControl, Feed) {
        let queue = Queue::new(buffer);
        let control = FeedControl {
            id: handle.shared.new_feed(&queue),
            queue,
            handle,
        };
        (control.clone(), Feed { control })
    }
}

impl Stream for Feed {
    type Item = Result<Event, Gap>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.control.queue.poll_next(cx)
    }
}

impl fmt::Debug for Feed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Feed").finish_non_exhaustive()
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        let shared = self.control.handle.shared.clone();
        let handle = self.control.handle.clone();
        let id = self.control.id;
        // As a dropped Subscription: the DELETEs need the session, which
        // the task keeps alive until it is done.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                shared.drop_feed(id).await;
                drop(handle);
            });
        }
    }
}
