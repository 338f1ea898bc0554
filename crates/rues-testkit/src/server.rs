//! A real `rues_warp::Server` on a loopback port, run on a tokio task.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use rues_core::http::Method;
use rues_core::rues_target::EventPath;
use rues_core::{Config, DispatchRequest, Event, Registry, Reply, Stats};
use rues_warp::{Publisher, Server, TransportConfig};
use tokio::task::JoinHandle;

use crate::http::{Answer, Streamed, http, http_stream};
use crate::registry::{component, registry, topic};
use crate::ws::WsClient;

/// Every wait of the server-side helpers is bounded by this.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// How long `node/slow` (see [`with_slow`]) takes to answer.
pub const SLOW: Duration = Duration::from_secs(1);

/// How long a [`TestServer`]'s shutdown waits for sessions and in-flight
/// dispatches (unless its transport configuration says otherwise): longer
/// than [`SLOW`], so a `node/slow` dispatch in flight still finishes.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);

/// Awaits `future`, failing the test after [`PATIENCE`].
///
/// # Panics
///
/// If `future` is not ready in time.
pub async fn within<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(PATIENCE, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// `registry` with one more dispatch handler on its `node` component (if it
/// has one): `slow`, which answers the text `done` after [`SLOW`]. It needs
/// a timer, so it is not part of the runtime-free [`registry`].
pub fn with_slow(registry: Registry) -> Registry {
    let node = component("node");
    registry
        .components()
        .cloned()
        .fold(Registry::new(), |out, spec| {
            if *spec.name() == node {
                out.with(spec.handler(topic("slow"), |_req: DispatchRequest| async {
                    tokio::time::sleep(SLOW).await;
                    Ok(Reply::Text("done".into()))
                }))
            } else {
                out.with(spec)
            }
        })
}

type Configure<'a> = Box<dyn FnOnce(Config) -> Config + 'a>;
type Transport<'a> = Box<dyn FnOnce(TransportConfig) -> TransportConfig + 'a>;

/// How to start a [`TestServer`]: by default on `127.0.0.1:0`, serving
/// [`registry`] (with [`with_slow`]) as node version [`VERSION`](crate::VERSION)
/// with default limits.
pub struct TestServerBuilder<'a> {
    listen: SocketAddr,
    registry: Registry,
    configure: Configure<'a>,
    transport: Transport<'a>,
}

impl<'a> TestServerBuilder<'a> {
    /// Listens on `addr` (e.g. to restart a node on the port it had).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Serves `registry` (with [`with_slow`] applied) instead of
    /// [`registry`].
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = registry;
        self
    }

    /// Adjusts the node's configuration (limits, access rules, CORS...).
    pub fn config(mut self, configure: impl FnOnce(Config) -> Config + 'a) -> Self {
        self.configure = Box::new(configure);
        self
    }

    /// Adjusts the transport configuration (TLS, timeouts...).
    pub fn transport(
        mut self,
        transport: impl FnOnce(TransportConfig) -> TransportConfig + 'a,
    ) -> Self {
        self.transport = Box::new(transport);
        self
    }

    /// Binds and runs the server on a tokio task.
    ///
    /// # Panics
    ///
    /// If the server cannot bind.
    pub async fn start(self) -> TestServer {
        let config = (self.configure)(Config::new(crate::VERSION.parse().expect("valid version")));
        let mut transport = TransportConfig::new(self.listen);
        transport.shutdown_timeout = SHUTDOWN_TIMEOUT;
        let transport = (self.transport)(transport);
        let server = Server::bind(config, with_slow(self.registry), transport)
            .await
            .expect("bound");
        let addr = server.local_addr();
        let publisher = server.publisher();
        let endpoint = server.endpoint().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            publisher,
            endpoint,
            stop: Some(stop),
            task: Some(task),
        }
    }
}

/// A real `rues_warp::Server` on a loopback port, run on a tokio task of the
/// test's runtime. Dropping it asks it to stop; [`TestServer::shutdown`]
/// also waits until it has.
pub struct TestServer {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its publisher: publishes events, reads the node's counters.
    pub publisher: Publisher,
    /// Its endpoint (to join it to a cluster, to read its metrics).
    pub endpoint: rues_warp::Endpoint,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    /// A builder, for a server other than [`TestServer::start`]'s.
    pub fn builder<'a>() -> TestServerBuilder<'a> {
        TestServerBuilder {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            registry: registry(),
            configure: Box::new(|config| config),
            transport: Box::new(|transport| transport),
        }
    }

    /// A server on `127.0.0.1:0` serving [`registry`] with defaults.
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    /// As [`TestServer::start`], with the node's and the transport's
    /// configuration adjusted.
    pub async fn start_with(
        configure: impl FnOnce(Config) -> Config,
        transport: impl FnOnce(TransportConfig) -> TransportConfig,
    ) -> Self {
        Self::builder()
            .config(configure)
            .transport(transport)
            .start()
            .await
    }

    /// A server on `addr` serving `registry` (to restart a node on the same
    /// port, perhaps serving less).
    pub async fn start_on(addr: SocketAddr, registry: Registry) -> Self {
        Self::builder()
            .listen(addr)
            .registry(registry)
            .start()
            .await
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://<addr>/on`, where sessions are opened.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/on", self.addr)
    }

    /// Opens a WebSocket session.
    pub async fn connect(&self) -> WsClient {
        WsClient::connect(&self.ws_url()).await
    }

    /// One HTTP request on a fresh connection; see [`http`](crate::http).
    pub async fn http(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Answer {
        http(self.addr, method, path, headers, body).await
    }

    /// One HTTP request on a fresh connection, its body read as it comes;
    /// see [`http_stream`](crate::http_stream).
    pub async fn http_stream(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Streamed {
        http_stream(self.addr, method, path, headers, body).await
    }

    /// Publishes a JSON event at `path`; returns how many sessions it was
    /// queued to.
    ///
    /// # Panics
    ///
    /// If `path` is not a valid event path or the node refuses the event.
    pub fn publish(&self, path: &str, payload: impl AsRef<[u8]>) -> usize {
        self.publish_event(Event::new(
            EventPath::parse(path).expect("valid path"),
            "application/json",
            Bytes::copy_from_slice(payload.as_ref()),
        ))
    }

    /// Publishes `event`; returns how many sessions it was queued to.
    ///
    /// # Panics
    ///
    /// If the node refuses the event.
    pub fn publish_event(&self, event: Event) -> usize {
        self.publisher.publish(&event).expect("published").receivers
    }

    /// Waits until the node's counters satisfy `done`.
    ///
    /// # Panics
    ///
    /// If they do not within [`PATIENCE`].
    pub async fn wait_for(&self, what: &str, done: impl Fn(&Stats) -> bool) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if done(&self.publisher.stats()) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}: {:?}",
                self.publisher.stats()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops the server (sessions get 1001) and waits until it has shut down.
    ///
    /// # Panics
    ///
    /// If it does not within [`PATIENCE`], or its task panicked.
    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            within("the server's shutdown", task)
                .await
                .expect("no panic");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use rues_core::http::StatusCode;

    use super::*;

    #[tokio::test]
    async fn serves_the_fixture_and_shuts_down() {
        let mut server = TestServer::start().await;
        let info = server.http(Method::POST, "/on/node/info", &[], b"").await;
        assert_eq!(info.status, StatusCode::OK);
        assert_eq!(info.json()["version"], crate::VERSION);
        let mut client = server.connect().await;
        let subscribed = client.subscribe(&server, "/on/blocks/accepted").await;
        assert_eq!(subscribed.status, StatusCode::OK);
        assert_eq!(server.publish("/on/blocks:b/accepted", "{}"), 1);
        assert_eq!(
            client.next_event().await.content_location(),
            Some("/on/blocks:b/accepted")
        );
        server.shutdown().await;
        assert_eq!(client.close_code().await, Some(1001));
    }

    #[tokio::test]
    async fn a_variant_registry_and_the_slow_handler() {
        let server = TestServer::builder()
            .registry(crate::registry_without_contracts())
            .start()
            .await;
        server
            .http(Method::POST, "/on/contracts:c/x", &[], b"")
            .await
            .assert_error(StatusCode::NOT_FOUND, "unknown component");
        let started = tokio::time::Instant::now();
        let slow = server.http(Method::POST, "/on/node/slow", &[], b"").await;
        assert!(started.elapsed() >= SLOW);
        assert_eq!(slow.body.as_ref(), b"done");
    }

    #[tokio::test]
    async fn try_http_reports_a_refused_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bound");
        let addr = listener.local_addr().expect("an address");
        drop(listener);
        let error = crate::try_http(addr, Method::GET, "/", &[], b"")
            .await
            .expect_err("nothing listens");
        assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
    }
}
