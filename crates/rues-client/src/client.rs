//! [`Client`]: a RUES session with a node, its subscriptions as streams,
//! and dispatch; and [`ClientBuilder::connect`], which makes one.
//!
//! The session itself (its shared state, the background task that reads
//! it and reconnects) is `session.rs`; the settings are `builder.rs`.

use std::fmt;
use std::sync::Arc;

use rues_wire::SessionId;

use crate::builder::ClientBuilder;
use crate::endpoint::IntoEventPath;
use crate::error::Error;
use crate::feed::{Feed, FeedControl};
use crate::http::{Body, DispatchRequest, Dispatcher, Reply};
use crate::session::Handle;
use crate::subscription::Subscription;

impl ClientBuilder {
    /// Opens the session: the WebSocket upgrade at `<base>/on`, then the
    /// session id, the node's first message.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] or [`Error::InvalidHeader`] for bad settings;
    /// [`Error::Connect`] when the node cannot be reached;
    /// [`Error::Status`] when it refuses the upgrade (503 session limit,
    /// 403 origin not allowed); [`Error::Protocol`] when its first message
    /// is not a session id.
    pub async fn connect(self) -> Result<Client, Error> {
        let (dispatcher, settings) = self.prepare()?;
        let handle = Handle::connect(dispatcher, settings).await?;
        Ok(Client { handle })
    }
}

/// A RUES session with a node: subscriptions as streams, and dispatch.
///
/// The session lives in a background task that reads the WebSocket, routes
/// each event to every subscription it matches, answers the node's pings
/// and pings the node when it is silent. It lasts while the `Client` (any
/// clone) or any of its [`Subscription`]s is alive, or until
/// [`close`](Client::close).
///
/// ```no_run
/// use futures_util::StreamExt;
///
/// # async fn run() -> Result<(), rues_client::Error> {
/// let client = rues_client::Client::connect("http://127.0.0.1:8080").await?;
/// let mut blocks = client.subscribe("blocks/accepted").await?;
/// while let Some(item) = blocks.next().await {
///     match item {
///         Ok(event) => println!("{}", event.content_location()),
///         Err(gap) => eprintln!("{gap}"),
///     }
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    handle: Arc<Handle>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.handle.shared.lock();
        f.debug_struct("Client")
            .field("url", &self.handle.shared.dispatcher().url())
            .field("session", &state.session)
            .field("connected", &state.connected)
            .field("subscriptions", &state.subscriptions())
            .finish()
    }
}

impl Client {
    /// Opens a session with the default settings; see [`ClientBuilder::new`].
    pub async fn connect(url: &str) -> Result<Client, Error> {
        ClientBuilder::new(url).connect().await
    }

    /// Settings for a client of the node at `url`.
    pub fn builder(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(url)
    }

    /// The node's base URL, normalized.
    pub fn url(&self) -> &str {
        self.handle.shared.dispatcher().url()
    }

    /// The current session's id (after a reconnect, the new one; while
    /// reconnecting or after the end, the last one).
    pub fn session_id(&self) -> SessionId {
        self.handle.shared.lock().session
    }

    /// Whether the session is up now.
    pub fn is_connected(&self) -> bool {
        self.handle.shared.lock().connected
    }

    /// Subscribes to `path` (`/on/blocks/accepted`, `blocks/accepted`,
    /// `blocks:<hash>/accepted`...) and returns the stream of its events.
    ///
    /// Events that arrive while the node answers are not lost: the
    /// subscription is registered before the request goes out. The request
    /// is skipped when another subscription of this client already holds
    /// the same path on the node.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPath`] before anything is sent; [`Error::Status`]
    /// with the node's message (404 unknown component or topic, 429 too many
    /// subscriptions, 403 denied, 400 version); [`Error::Reconnecting`]
    /// while the session is down; [`Error::Closed`] or the session's
    /// end after it ended for good.
    pub async fn subscribe(&self, path: impl IntoEventPath) -> Result<Subscription, Error> {
        let path = path.into_event_path()?;
        let (id, queue) = self.handle.shared.subscribe(&path).await?;
        Ok(Subscription::new(id, path, queue, self.handle.clone()))
    }

    /// A [`Feed`]: one stream for the events of every path its
    /// [`FeedControl`] adds, each event once, buffering up to `buffer`
    /// events (past it they are dropped and counted, as for a
    /// subscription).
    pub fn feed(&self, buffer: usize) -> (FeedControl, Feed) {
        Feed::open(self.handle.clone(), buffer)
    }

    /// Unsubscribes from `path` on the node (`DELETE`) and ends every
    /// [`Subscription`] of this client to exactly that path.
    ///
    /// # Errors
    ///
    /// [`Error::Status`] 404 `Subscription not found` when the session was
    /// not subscribed to `path`; the usual request errors.
    pub async fn unsubscribe(&self, path: impl IntoEventPath) -> Result<(), Error> {
        let path = path.into_event_path()?;
        self.handle.shared.unsubscribe(&path).await
    }

    /// Dispatches `body` to `path`, without the session id (fire-and-forget,
    /// as the protocol allows); see [`Dispatcher::dispatch`].
    pub async fn dispatch(
        &self,
        path: impl IntoEventPath,
        body: impl Into<Body>,
    ) -> Result<Reply, Error> {
        self.handle.shared.dispatcher().dispatch(path, body).await
    }

    /// A dispatch request to finish (headers, [`session`](DispatchRequest::session),
    /// timeout) and send.
    pub fn request(&self, path: impl IntoEventPath) -> DispatchRequest {
        self.handle.shared.dispatcher().request(path)
    }

    /// The client's [`Dispatcher`], for dispatching without holding the
    /// session open.
    pub fn dispatcher(&self) -> &Dispatcher {
        self.handle.shared.dispatcher()
    }

    /// Closes the session (WebSocket Close 1000) and waits until it is
    /// closed; every subscription's stream ends, with no error. The node
    /// drops the session's subscriptions itself, so no `DELETE` is sent.
    pub async fn close(&self) {
        self.handle.close().await;
    }

    /// Waits until the client has ended for good, and says why: `None`
    /// after [`close`](Client::close), or the error that ended it (the
    /// session lost without reconnect, or reconnecting gave up).
    pub async fn closed(&self) -> Option<Error> {
        self.handle.shared.closed().await
    }
}
