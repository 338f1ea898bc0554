//! RUES over real sockets: the warp and tokio transport for [`rues_core`].
//!
//! One listener serves everything of docs/protocol.md:
//! - the WebSocket session at `/on` (the session id as the first Text frame,
//!   Binary event frames, server pings, the inbound frame limit, close codes);
//! - `GET` / `DELETE` / `POST` / `OPTIONS` on `/on/...` (subscribe,
//!   unsubscribe, dispatch, CORS preflight), with every check and status
//!   decided by the core;
//! - Prometheus metrics at `/metrics`;
//! - optionally, the application's own routes (e.g. a web page).
//!
//! This is the only crate of the project that knows tokio, warp, hyper and
//! sockets. It drives [`rues_core::Node`] exactly as the core's drive loop
//! says: inputs under one short-held lock, one task per session writing
//! what that session's outbox yields, the keep-alive timer re-armed to
//! `next_timeout`. Every status and close code comes from the core.
//!
//! WebSocket framing: the handshake's accept key and the parsing of client
//! frame headers are tungstenite's; the session task owns the upgraded
//! connection's bytes, writes each event's shared frame with a header in
//! front and no per-session copy (vectored writes, many frames per call),
//! and reads into a per-thread scratch buffer only when the socket is
//! readable, so an idle session holds no buffer of its own.
//!
//! Hostile peers: accept errors (running out of file descriptors included)
//! are logged and retried; TLS handshakes, request heads and dispatch bodies
//! have deadlines (a late body is 408 and loses its connection) and run on
//! the connection's own task, never on the accept loop; a socket that stops
//! reading blocks only its own task while the core closes it with 4008 when
//! its queue budget is spent, and it is owed one Pong at most (the answer
//! to its latest Ping). Every response a [`Server`] sends carries `Rusk-Version`.
//!
//! # Embedding
//!
//! ```no_run
//! use rues_core::rues_target::{Component, EventPath, Topic};
//! use rues_core::{ComponentSpec, Config, DispatchRequest, EntityRule, Event, Registry, Reply};
//! use rues_warp::{Server, TransportConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let registry = Registry::new().with(
//!     ComponentSpec::new(Component::new("blocks")?)
//!         .entity(EntityRule::Optional)
//!         .topic(Topic::new("accepted")?)
//!         .handler(Topic::new("height")?, |_request: DispatchRequest| async {
//!             Ok(Reply::json(&serde_json::json!({ "height": 1 })))
//!         }),
//! );
//! let server = Server::bind(
//!     Config::new("1.0.0".parse()?),
//!     registry,
//!     TransportConfig::new("127.0.0.1:8080".parse()?),
//! )
//! .await?;
//! println!("listening on {}", server.local_addr());
//!
//! let publisher = server.publisher();
//! tokio::spawn(async move {
//!     let event = Event::new(
//!         EventPath::parse("/on/blocks:ab12/accepted").expect("valid path"),
//!         "application/json",
//!         bytes::Bytes::from_static(b"{}"),
//!     );
//!     let _ = publisher.publish(&event);
//! });
//!
//! server.run(rues_warp::shutdown_signal()).await;
//! # Ok(())
//! # }
//! ```
//!
//! `examples/embed.rs` is a complete, runnable version.
//!
//! # Mounting into an existing server
//!
//! [`Endpoint`] is RUES without a listener: [`Endpoint::service`] is a
//! `tower_service::Service` that axum, hyper and tower stacks mount next to
//! their own routes (`examples/axum.rs`), [`Endpoint::filter`] the same as a
//! warp filter, and [`Endpoint::shutdown`] the graceful shutdown to call from
//! the host server's. [`Server`] is an [`Endpoint`] with a listener of its
//! own.
//!
//! The guide for node builders, handlers (async, blocking) and publishing
//! included, is `docs/embedding.md` in the repository.

mod backplane;
mod endpoint;
mod filter;
mod head;
mod health;
mod listener;
mod metrics;
mod reply;
mod routes;
mod session;
mod state;
mod tls;
mod ws_read;
mod ws_write;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use rues_core::{Config, Registry};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use warp::filters::BoxedFilter;

pub use backplane::{
    Backplane, BodyChunks, BoxError, BoxFuture, ClusterPort, Forwarded, ForwardedBody,
    ForwardedRequest, ResumeGuard,
};
pub use endpoint::{Endpoint, EndpointConfig, EndpointService};
pub use health::HealthCheck;
pub use state::Publisher;
pub use tls::TlsFiles;
pub use warp;

/// Transport settings: where to listen, TLS, and the deadlines that keep
/// hostile peers from holding resources (docs/protocol.md §7).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransportConfig {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// TLS certificate and key; plain TCP when `None`.
    pub tls: Option<TlsFiles>,
    /// A connection that has not sent a whole request head in this time is
    /// dropped (slowloris).
    pub head_read_timeout: Duration,
    /// A TLS handshake that has not finished in this time is dropped.
    pub tls_handshake_timeout: Duration,
    /// An HTTP answer that makes no progress for this long (the client
    /// stopped reading it) ends its connection. Sessions, past the upgrade,
    /// have their own rule: the outbound queue budget and close code 4008.
    pub write_stall_timeout: Duration,
    /// On shutdown, how long in-flight requests and closing sessions get.
    pub shutdown_timeout: Duration,
    /// Where `/metrics` and `/health` are served instead of `listen`
    /// (plain HTTP, nothing else served there), so the public listener
    /// serves RUES and the application's routes alone; `None`: on `listen`.
    pub admin_listen: Option<SocketAddr>,
    /// The endpoint's own settings (blocking handlers).
    pub endpoint: EndpointConfig,
}

impl TransportConfig {
    /// Plain TCP on `listen`, with the default deadlines (10 s head read,
    /// 10 s TLS handshake, 30 s of a stalled answer, 10 s shutdown) and the
    /// default
    /// [`EndpointConfig`] (dispatch bodies within 30 s, no pause over 10 s).
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            tls: None,
            head_read_timeout: Duration::from_secs(10),
            tls_handshake_timeout: Duration::from_secs(10),
            write_stall_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(10),
            admin_listen: None,
            endpoint: EndpointConfig::default(),
        }
    }

    /// Lets `calls` blocking handlers run at once; a call beyond that waits
    /// up to `wait` for a slot, then gets 503
    /// ([`EndpointConfig::with_blocking_calls`]).
    pub fn with_blocking_calls(mut self, calls: usize, wait: Duration) -> Self {
        self.endpoint = self.endpoint.with_blocking_calls(calls, wait);
        self
    }

    /// Runs the blocking handlers' threads `nice` steps below the node's
    /// own ([`EndpointConfig::with_blocking_nice`]).
    pub fn with_blocking_nice(mut self, nice: u8) -> Self {
        self.endpoint = self.endpoint.with_blocking_nice(nice);
        self
    }

    /// A dispatch body must arrive whole within `total`, with no pause
    /// longer than `idle` ([`EndpointConfig::with_body_deadlines`]).
    pub fn with_body_deadlines(mut self, total: Duration, idle: Duration) -> Self {
        self.endpoint = self.endpoint.with_body_deadlines(total, idle);
        self
    }

    /// Serves TLS with this certificate and key.
    pub fn with_tls(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls = Some(TlsFiles {
            cert: cert.into(),
            key: key.into(),
        });
        self
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The TLS certificate or key could not be used.
    #[error("TLS: {}: {reason}", path.display())]
    Tls {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// A bound RUES server, ready to [`run`](Server::run): an [`Endpoint`] with
/// a listener of its own, `/metrics`, and optionally the application's warp
/// routes.
pub struct Server {
    endpoint: Endpoint,
    listener: listener::Listener,
    local_addr: SocketAddr,
    /// The admin listener and its address, when `/metrics` and `/health`
    /// are served apart.
    admin: Option<(listener::Listener, SocketAddr)>,
    extra_routes: Option<BoxedFilter<(warp::reply::Response,)>>,
    health_checks: Vec<(String, HealthCheck)>,
    shutdown_timeout: Duration,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("tls", &self.listener.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Binds the listener and loads TLS; the node uses the OS CSPRNG for
    /// session ids.
    pub async fn bind(
        config: Config,
        registry: Registry,
        transport: TransportConfig,
    ) -> Result<Self, Error> {
        let tls = transport.tls.as_ref().map(tls::acceptor).transpose()?;
        let tcp = TcpListener::bind(transport.listen)
            .await
            .map_err(|source| Error::Bind {
                addr: transport.listen,
                source,
            })?;
        let local_addr = tcp.local_addr().map_err(|source| Error::Bind {
            addr: transport.listen,
            source,
        })?;
        let admin = match transport.admin_listen {
            None => None,
            Some(addr) => {
                let tcp = TcpListener::bind(addr)
                    .await
                    .map_err(|source| Error::Bind { addr, source })?;
                let bound = tcp
                    .local_addr()
                    .map_err(|source| Error::Bind { addr, source })?;
                Some((tcp, bound))
            }
        };
        let rules = head::Rules {
            limits: head::HeadLimits::default(),
            write_stall: transport.write_stall_timeout,
            version: config.version.to_string().into(),
        };
        let listener = |tcp, tls| listener::Listener {
            tcp,
            tls,
            rules: rules.clone(),
            head_read_timeout: transport.head_read_timeout,
            tls_handshake_timeout: transport.tls_handshake_timeout,
        };
        Ok(Self {
            endpoint: Endpoint::with_config(config, registry, transport.endpoint),
            admin: admin.map(|(tcp, addr)| (listener(tcp, None), addr)),
            listener: listener(tcp, tls),
            local_addr,
            extra_routes: None,
            health_checks: Vec::new(),
            shutdown_timeout: transport.shutdown_timeout,
        })
    }

    /// Adds the application's own routes, tried after RUES's and before the
    /// 404 (e.g. a web page at `/`).
    pub fn with_routes(mut self, routes: BoxedFilter<(warp::reply::Response,)>) -> Self {
        self.extra_routes = Some(routes);
        self
    }

    /// Adds a check to `/health` under `name` (docs/protocol.md §13): it
    /// returns `Ok(detail)` when healthy, `Err(reason)` when not (then
    /// `/health` answers 503). It runs on every `/health` request and must
    /// not block.
    pub fn with_health_check(
        mut self,
        name: impl Into<String>,
        check: impl Fn() -> Result<String, String> + Send + Sync + 'static,
    ) -> Self {
        self.health_checks
            .push((name.into(), std::sync::Arc::new(check)));
        self
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The admin listener's address, when `/metrics` and `/health` are
    /// served apart ([`TransportConfig::admin_listen`]).
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|(_, addr)| *addr)
    }

    /// Whether the listener serves TLS.
    pub fn is_tls(&self) -> bool {
        self.listener.tls.is_some()
    }

    /// A handle to publish events with.
    pub fn publisher(&self) -> Publisher {
        self.endpoint.publisher()
    }

    /// The endpoint this server serves.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Serves until `shutdown` resolves, then shuts down gracefully: stops
    /// accepting, closes every session with 1001, lets in-flight requests
    /// finish, and returns within the shutdown timeout.
    ///
    /// An admin listener keeps serving until the shutdown is over, so that
    /// `/health` says "shutting down" (503) meanwhile.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let shared = self.endpoint.shared().clone();
        let checks: std::sync::Arc<[(String, HealthCheck)]> = self.health_checks.into();
        let draining = CancellationToken::new();
        let tasks = TaskTracker::new();
        let admin_done = CancellationToken::new();
        let (public_admin, admin_task) = match self.admin {
            None => (Some(routes::admin(shared.clone(), checks)), None),
            Some((admin, _)) => {
                let routes = routes::admin_only(shared.clone(), checks);
                let (shared, draining, tasks, done) = (
                    shared.clone(),
                    draining.clone(),
                    tasks.clone(),
                    admin_done.clone(),
                );
                let task = tokio::spawn(async move {
                    admin
                        .accept_until(&shared, None, routes, &draining, &tasks, done.cancelled())
                        .await;
                });
                (None, Some(task))
            }
        };
        let routes = routes::routes(shared.clone(), public_admin, self.extra_routes);
        self.listener
            .accept_until(
                &shared,
                Some(&self.endpoint.service()),
                routes,
                &draining,
                &tasks,
                shutdown,
            )
            .await;
        tracing::info!("shutting down: closing sessions, finishing requests");
        drop(self.listener);
        shared.close_sessions();
        tasks.close();
        let finished = tokio::time::timeout(self.shutdown_timeout, async {
            draining.cancel();
            tasks.wait().await;
            // Every session task ends after its Close handshake.
            shared.sessions_finished().await;
        })
        .await;
        match finished {
            Ok(()) => tracing::info!("shutdown complete"),
            Err(_) => tracing::warn!("shutdown timed out; dropping what is left"),
        }
        admin_done.cancel();
        if let Some(task) = admin_task {
            let _ = task.await;
        }
        shared.stop_timer();
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the node");
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
