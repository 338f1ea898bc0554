//! The RUES endpoint on its own: the `/on` upgrade and every `/on/...`
//! request, as a [`tower_service::Service`] that any hyper-based server
//! (axum, hyper itself, tonic-style servers) mounts next to its own routes.
//! [`Server`](crate::Server) is this endpoint plus a listener of its own.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::BodyDataStream;
use rues_core::http::Request;
use rues_core::{Config, Node, OsIds, Registry};
use warp::reply::Response;

use crate::routes;
use crate::state::{BlockingPool, BodyDeadlines, Publisher, Shared};

/// Settings of the endpoint itself, wherever it is mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndpointConfig {
    /// How many blocking handlers ([`rues_core::BlockingHandler`]) may run
    /// at once, each on a thread of tokio's blocking pool, never on the
    /// threads that serve sessions and requests.
    pub max_blocking_calls: usize,
    /// How long a call to a blocking handler may wait for a free slot
    /// before it is answered 503.
    pub blocking_wait: Duration,
    /// How many `nice` steps below the node's own threads the blocking
    /// handlers' threads run (Linux; 0 keeps them level, and other systems
    /// always do): under a CPU-heavy handler load, event delivery, pings
    /// and requests keep their latency and the handlers get what is left.
    pub blocking_nice: u8,
    /// A dispatch body must have arrived whole within this time of its
    /// head; a later one is answered 408 and its connection closed, so a
    /// body that never completes (or is dripped) holds nothing for long.
    pub body_read_timeout: Duration,
    /// The longest pause allowed between two pieces of a dispatch body
    /// (the minimum rate); a longer one is answered 408, as above.
    pub body_idle_timeout: Duration,
}

impl Default for EndpointConfig {
    /// 16 blocking slots, waited for up to 10 s, 10 `nice` steps down; a
    /// dispatch body within 30 s, with no pause longer than 10 s.
    fn default() -> Self {
        Self {
            max_blocking_calls: 16,
            blocking_wait: Duration::from_secs(10),
            blocking_nice: 10,
            body_read_timeout: Duration::from_secs(30),
            body_idle_timeout: Duration::from_secs(10),
        }
    }
}

impl EndpointConfig {
    /// Lets `calls` blocking handlers run at once; a call beyond that waits
    /// up to `wait` for a slot, then gets 503.
    pub fn with_blocking_calls(mut self, calls: usize, wait: Duration) -> Self {
        self.max_blocking_calls = calls.max(1);
        self.blocking_wait = wait;
        self
    }

    /// Runs the blocking handlers' threads `nice` steps below the node's
    /// own (Linux; 0 keeps them level).
    pub fn with_blocking_nice(mut self, nice: u8) -> Self {
        self.blocking_nice = nice;
        self
    }

    /// A dispatch body must arrive whole within `total`, with no pause
    /// longer than `idle`; otherwise 408 and the connection is closed.
    pub fn with_body_deadlines(mut self, total: Duration, idle: Duration) -> Self {
        self.body_read_timeout = total;
        self.body_idle_timeout = idle;
        self
    }
}

/// RUES, ready to mount into an existing server: a node (sessions,
/// subscriptions, the registry), the [`Publisher`] to publish with, and
/// the [`EndpointService`] that answers the `/on` upgrade and every
/// `/on/...` request. Cheap to clone: every clone is the same endpoint.
///
/// It needs a tokio runtime when it serves (sessions run on tasks of their
/// own), not when it is made. The server it is mounted in must serve HTTP/1
/// with upgrades (axum and hyper's `serve_connection(..).with_upgrades()`
/// do).
///
/// ```no_run
/// use rues_core::{Config, Registry};
/// use rues_warp::Endpoint;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let endpoint = Endpoint::new(Config::new("1.0.0".parse()?), Registry::new());
/// let publisher = endpoint.publisher();
/// // Mount `endpoint.service()` on `/on` and `/on/...` of your router (see
/// // `examples/axum.rs`), publish with `publisher`, and on shutdown:
/// endpoint.shutdown(std::time::Duration::from_secs(10)).await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Endpoint {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint").finish_non_exhaustive()
    }
}

impl Endpoint {
    /// An endpoint with the default [`EndpointConfig`]; session ids come
    /// from the OS CSPRNG.
    pub fn new(config: Config, registry: Registry) -> Self {
        Self::with_config(config, registry, EndpointConfig::default())
    }

    /// An endpoint with these settings.
    pub fn with_config(config: Config, registry: Registry, endpoint: EndpointConfig) -> Self {
        let node = Node::new(config, registry, OsIds);
        let blocking = BlockingPool::new(
            endpoint.max_blocking_calls,
            endpoint.blocking_wait,
            endpoint.blocking_nice,
        );
        let deadlines = BodyDeadlines {
            total: endpoint.body_read_timeout,
            idle: endpoint.body_idle_timeout,
        };
        Self {
            shared: Arc::new(Shared::new(node, blocking, deadlines)),
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// A handle to publish events with.
    pub fn publisher(&self) -> Publisher {
        Publisher {
            shared: self.shared.clone(),
        }
    }

    /// The service to mount: it answers WebSocket upgrades (sessions open on
    /// `/on` only; an upgrade elsewhere is the core's 404) and every other
    /// request through the core (`/on/...`; 426 on `/on`; 404 anywhere
    /// else, so mount it on `/on` and `/on/{*rest}`, or as the fallback).
    pub fn service(&self) -> EndpointService {
        EndpointService {
            shared: self.shared.clone(),
        }
    }

    /// The endpoint as a warp filter on `/on` and `/on/...`, for
    /// applications built on warp: `app_routes.or(endpoint.filter())`.
    /// Its sessions are the same as those of [`Endpoint::service`] and
    /// [`Server`](crate::Server): it upgrades through hyper as they do,
    /// not through warp's `ws()`. The application must serve it with
    /// upgrades (`warp::serve` does).
    pub fn filter(&self) -> warp::filters::BoxedFilter<(Response,)> {
        crate::filter::filter(self.shared.clone())
    }

    /// Joins a cluster through `backplane` (docs/protocol.md §11): from
    /// now on the node reports its sessions and interest to it, sends it
    /// every event it publishes, and forwards to it what another node must
    /// answer. The backplane reaches the node through
    /// [`Endpoint::cluster_port`]. `false` (and nothing changes) if the
    /// endpoint is in a cluster already.
    pub fn join_cluster(&self, backplane: std::sync::Arc<dyn crate::Backplane>) -> bool {
        self.shared.join_cluster(backplane)
    }

    /// The handle a backplane uses to deliver the cluster's events here
    /// and to answer requests forwarded to this node.
    pub fn cluster_port(&self) -> crate::ClusterPort {
        crate::ClusterPort {
            shared: self.shared.clone(),
        }
    }

    /// The node's metrics as OpenMetrics text, for an application that
    /// serves `/metrics` itself.
    pub fn metrics(&self) -> String {
        self.shared.render_metrics()
    }

    /// Graceful shutdown: closes every session with 1001 and waits, at most
    /// `timeout`, until each has finished its closing handshake. Returns
    /// whether all did. New upgrades are refused afterwards only if the
    /// application stops routing to the endpoint; call this when the server
    /// stops.
    pub async fn shutdown(&self, timeout: Duration) -> bool {
        self.shared.close_sessions();
        let finished = tokio::time::timeout(timeout, self.shared.sessions_finished())
            .await
            .is_ok();
        self.shared.stop_timer();
        finished
    }
}

/// The [`tower_service::Service`] of an [`Endpoint`], over hyper-style
/// requests with any body: mount it into axum (`Router::route_service`,
/// `fallback_service`), serve it with hyper (through hyper-util's
/// `TowerToHyperService`), or wrap it in tower layers. Never fails: every
/// refusal is an HTTP response.
#[derive(Clone)]
pub struct EndpointService {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for EndpointService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointService").finish_non_exhaustive()
    }
}

impl<B> tower_service::Service<Request<B>> for EndpointService
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: std::fmt::Display,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if let Some(key) = routes::websocket_key(&request) {
            let response = routes::upgrade(&self.shared, request, &key);
            return Box::pin(std::future::ready(Ok(response)));
        }
        let shared = self.shared.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let body = BodyDataStream::new(Box::pin(body));
            Ok(routes::request(&shared, parts.uri.path(), parts.method, parts.headers, body).await)
        })
    }
}
