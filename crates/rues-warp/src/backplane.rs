//! The seam between one node and a cluster (docs/protocol.md §11): what a
//! [`Backplane`] is told and asked, and the [`ClusterPort`] through which
//! it reaches the node. rues-warp knows no broker; `rues-cluster` is the
//! NATS backplane.
//!
//! - Every [`Change`] the core records (a session opened or closed, a path
//!   first wanted or no longer wanted) is handed to
//!   [`Backplane::changes`] in order, under the node's lock, by whichever
//!   call made it.
//! - Every event published here goes to [`Backplane::published`] right
//!   after its local delivery, under the same lock: the backplane sees
//!   events in the order local sessions got them. A backplane that keeps a
//!   history shared by every node ([`Backplane::take`]) takes the event
//!   before that instead: it reaches local sessions when it comes back
//!   numbered, through [`ClusterPort::deliver_at`], as on every node.
//! - A subscribe with `Rues-Resume` first awaits
//!   [`Backplane::prepare_resume`], which may bring the node's history of
//!   the stream up to date from the shared one
//!   ([`ClusterPort::backfill`]), so that a client resumes at any node.
//! - Before a subscribe is answered the transport awaits
//!   [`Backplane::settled`], and before a new session is told its id
//!   [`Backplane::sessions_settled`]: once a client has the 200 (or its
//!   id), the cluster knows where to send its events (or its requests).
//! - A subscribe the core accepted is answered only once
//!   [`Backplane::admit`] agrees (by default, once the backplane has
//!   settled): a backplane that must ask something beyond the node (a
//!   relay asks its upstream) refuses with the answer to send, and the
//!   transport takes the subscription back, as a `DELETE` would.
//! - A request the core leaves to another node ([`Decision::Forward`]) goes
//!   to [`Backplane::forward`] (with its body, read under the usual limits
//!   and deadlines); `None` means nobody took it, and the core's fallback
//!   answer is sent.
//!
//! [`Decision::Forward`]: rues_core::Decision::Forward

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http_body_util::{BodyDataStream, BodyExt};
use rues_core::http::{HeaderMap, Method};
use rues_core::rues_target::EventPath;
use rues_core::{
    Arrival, Change, Destination, Epoch, Event, Position, PublishError, Published, Registry,
};

use crate::state::Shared;

/// An error in a forwarded body's stream.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A response body as a stream of chunks: a forwarded answer's, both ways.
pub type BodyChunks = Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send>>;

/// A boxed future, so that a backplane is an object.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A request on its way to the node that must answer it.
#[derive(Debug, Clone)]
pub struct ForwardedRequest {
    /// `GET`, `DELETE` or `POST`.
    pub method: Method,
    /// The request path, as the client sent it (no query).
    pub path: String,
    /// The request's headers, as the client sent them.
    pub headers: HeaderMap,
    /// The body (a dispatch's, read whole within the node's limits).
    pub body: Bytes,
}

/// A forwarded answer's body.
pub enum ForwardedBody {
    /// All of it (sent with its `Content-Length`).
    Whole(Bytes),
    /// Chunks as they come (sent chunked, as a streamed reply is).
    Chunks(BodyChunks),
}

/// What came of a forwarded request.
pub enum Forwarded {
    /// The other node's answer, to send as it is.
    Answer(rues_core::http::Response<ForwardedBody>),
    /// Nobody takes such requests (no owner, no service): the core's own
    /// answer is sent.
    Nobody,
    /// Someone took it, but no answer came back: sent as this node's error
    /// with this status (502, 503, 504) and message.
    Failed(rues_core::http::StatusCode, String),
}

/// A cluster backplane, as the transport drives it. Its calls under the
/// node lock ([`changes`](Self::changes), [`published`](Self::published))
/// must not block: they hand work to the backplane's own tasks.
pub trait Backplane: Send + Sync + 'static {
    /// Changes from the core, in the order they happened.
    fn changes(&self, changes: Vec<Change>);

    /// An event published on this node, after its local delivery.
    fn published(&self, event: &Event);

    /// Whether the backplane takes `event`, published on this node, to
    /// number it in a history shared by every node: then the node does not
    /// deliver it now, nor call [`published`](Self::published); it comes
    /// back through [`ClusterPort::deliver_at`] with its number, here as
    /// on every node. Called under the node's lock, in publish order; must
    /// not block. The default takes nothing.
    fn take(&self, event: &Event) -> bool {
        let _ = event;
        false
    }

    /// Called before a subscribe to `path` (canonical) that resumes from
    /// `from` goes to the core: a backplane with a shared history brings
    /// the node's history of the stream up to date
    /// ([`ClusterPort::backfill`]) and keeps receiving the stream until the
    /// returned guard is dropped, after the subscribe is answered, so that
    /// nothing published meanwhile is missed. The default does nothing.
    fn prepare_resume(&self, path: &EventPath, from: Position) -> BoxFuture<ResumeGuard> {
        let _ = (path, from);
        Box::pin(async { ResumeGuard::none() })
    }

    /// Resolves once every change handed over so far is in effect across
    /// the cluster; at once when the backplane is down (it re-declares
    /// everything when it is back).
    fn settled(&self) -> BoxFuture<()>;

    /// [`settled`](Self::settled) for the sessions only: resolves once the
    /// cluster can find every session opened here so far, whatever their
    /// subscriptions still wait for. A new session's id is sent after it.
    /// The default is `settled`.
    fn sessions_settled(&self) -> BoxFuture<()> {
        self.settled()
    }

    /// Whether a subscribe to `path` (canonical, as the core holds it) that
    /// the core accepted may be answered 200: `Ok` once it may, `Err` with
    /// the answer to send instead, in which case the transport takes the
    /// session's subscription back (as a `DELETE` would). Called after
    /// the change that added the interest was handed to
    /// [`changes`](Self::changes). The default waits for
    /// [`settled`](Self::settled) and agrees: a cluster's nodes never veto.
    fn admit(&self, path: &EventPath) -> BoxFuture<Result<(), rues_core::Response>> {
        let _ = path;
        let settled = self.settled();
        Box::pin(async move {
            settled.await;
            Ok(())
        })
    }

    /// Sends a request to the node (or process) that must answer it, and
    /// gives back what came of it.
    fn forward(&self, to: Destination, request: ForwardedRequest) -> BoxFuture<Forwarded>;

    /// The backplane's line in `/health`: `Ok(detail)` when it is
    /// connected, `Err(reason)` when not (the node then answers 503).
    fn health(&self) -> Result<String, String>;

    /// The name of [`health`](Self::health)'s line in `/health`:
    /// `cluster` unless the backplane says otherwise (a relay's is
    /// `upstream`).
    fn health_name(&self) -> &'static str {
        "cluster"
    }

    /// The backplane's own metrics, as OpenMetrics text lines (no `# EOF`).
    fn metrics(&self) -> String;
}

/// What a backplane holds for a resuming subscribe while the core takes it
/// ([`Backplane::prepare_resume`]); dropped once the subscribe is answered.
pub struct ResumeGuard(Option<Box<dyn Send>>);

impl ResumeGuard {
    /// A guard that holds nothing.
    pub fn none() -> Self {
        Self(None)
    }

    /// A guard that holds `held` until the subscribe is answered.
    pub fn holding(held: impl Send + 'static) -> Self {
        Self(Some(Box::new(held)))
    }
}

impl std::fmt::Debug for ResumeGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResumeGuard")
            .field("holds", &self.0.is_some())
            .finish()
    }
}

/// What a backplane may do with the node: deliver events that came from
/// the cluster, answer requests forwarded to it, and read what it must
/// declare. From [`Endpoint::cluster_port`](crate::Endpoint::cluster_port).
#[derive(Clone)]
pub struct ClusterPort {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for ClusterPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterPort").finish_non_exhaustive()
    }
}

impl ClusterPort {
    /// Delivers an event that came from the cluster to the local sessions
    /// it matches (encoded once, as any publish), without handing it back
    /// to the backplane.
    pub fn deliver(&self, event: &Event) -> Result<Published, PublishError> {
        self.shared.node().publish(event)
    }

    /// Delivers an event numbered in a history shared by the cluster's
    /// nodes, at `at` ([`Node::publish_at`](rues_core::Node::publish_at)):
    /// one already had is not delivered again.
    pub fn deliver_at(&self, event: &Event, at: Position) -> Result<Published, PublishError> {
        self.shared.node().publish_at(event, at)
    }

    /// [`notify_gap`](Self::notify_gap) for a notice numbered in the shared
    /// history, at `at`.
    pub fn notify_gap_at(
        &self,
        stream: &EventPath,
        reason: &str,
        at: Position,
    ) -> Result<Published, PublishError> {
        self.shared.node().publish_gap_at(stream, reason, at)
    }

    /// Puts events of the shared history (`epoch`) that this node did not
    /// have into its history of the stream of `path`: `events[i]` is number
    /// `first + i`, `None` for a gap notice
    /// ([`Node::backfill`](rues_core::Node::backfill)).
    pub fn backfill(
        &self,
        path: &EventPath,
        epoch: Epoch,
        first: u64,
        events: &[Option<Event>],
    ) -> Result<(), PublishError> {
        self.shared.node().backfill(path, epoch, first, events)
    }

    /// Whether this node's history of the stream of `path` holds every
    /// number after `from` ([`Node::keeps_since`](rues_core::Node::keeps_since)).
    pub fn keeps_since(&self, path: &EventPath, from: Position) -> bool {
        self.shared.node().keeps_since(path, from)
    }

    /// The newest position this node has of the stream of `path`.
    pub fn stream_position(&self, path: &EventPath) -> Option<Position> {
        self.shared.node().stream_position(path)
    }

    /// Tells the local sessions on `stream` (component, topic; an entity
    /// in it is not looked at) that events of it were lost before they
    /// reached this node, e.g. while a relay's upstream was away: one
    /// `Rues-Gap: <reason>` notice frame to each, and a `gap` for a later
    /// resume across it ([`Node::publish_gap`](rues_core::Node::publish_gap)).
    /// Not handed to the backplane, as [`deliver`](Self::deliver).
    pub fn notify_gap(
        &self,
        stream: &rues_core::rues_target::EventPath,
        reason: &str,
    ) -> Result<Published, PublishError> {
        self.shared.node().publish_gap(stream, reason)
    }

    /// Answers a request another node forwarded here, as this node answers
    /// its own clients (same checks, statuses, headers and body): a whole
    /// answer whole, a streamed reply as its chunks come.
    pub async fn answer(
        &self,
        arrival: Arrival,
        request: ForwardedRequest,
    ) -> rues_core::http::Response<ForwardedBody> {
        let body = futures_util::stream::once(async move { Ok::<_, BoxError>(request.body) });
        let response = crate::routes::request_from(
            &self.shared,
            arrival,
            &request.path,
            request.method,
            request.headers,
            body,
        )
        .await;
        let (parts, body) = response.into_parts();
        // A body of known length is a whole answer (already in memory);
        // any other is a streamed reply, and stays one.
        let body = if http_body::Body::size_hint(&body).exact().is_some() {
            match body.collect().await {
                Ok(collected) => ForwardedBody::Whole(collected.to_bytes()),
                Err(error) => {
                    ForwardedBody::Chunks(Box::pin(futures_util::stream::once(async move {
                        Err(Box::new(error) as BoxError)
                    })))
                }
            }
        } else {
            ForwardedBody::Chunks(Box::pin(
                BodyDataStream::new(body).map(|chunk| chunk.map_err(|e| Box::new(e) as BoxError)),
            ))
        };
        rues_core::http::Response::from_parts(parts, body)
    }

    /// Everything the backplane must declare afresh (after a reconnect).
    pub fn current_state(&self) -> Vec<Change> {
        self.shared.node().current_state()
    }

    /// The node's registry: which topics have handlers here, for a
    /// backplane that serves them to the cluster.
    pub fn registry(&self) -> Registry {
        self.shared.node().registry().clone()
    }
}
