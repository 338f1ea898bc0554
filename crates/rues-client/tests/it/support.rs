//! A real `rues_warp` server on a loopback port with a small registry, a
//! fake node for protocol violations, and bounded waits.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use rues_client::{Event, Gap};
use rues_core::rues_target::{Component, EventPath, Topic};
use rues_core::{
    ComponentSpec, Config, DispatchRequest, EntityRule, HandlerError, Registry, Reply, RequestBody,
};
use rues_warp::{Publisher, Server, TransportConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub(crate) const VERSION: &str = "1.6.0";
/// Every wait in these tests is bounded by this.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

fn component(name: &str) -> Component {
    Component::new(name).expect("valid component")
}

fn topic(name: &str) -> Topic {
    Topic::new(name).expect("valid topic")
}

/// `blocks` (optional entity, topic `accepted`), `contracts` (entity
/// required, open topics), and `node` with dispatch handlers.
pub(crate) fn registry() -> Registry {
    Registry::new()
        .with(
            ComponentSpec::new(component("blocks"))
                .entity(EntityRule::Optional)
                .topic(topic("accepted")),
        )
        .with(
            ComponentSpec::new(component("contracts"))
                .entity(EntityRule::Required)
                .open_topics(),
        )
        .with(node_component())
}

/// The same node without `blocks`: a node a client may reconnect to that
/// no longer knows some of its subscriptions.
pub(crate) fn registry_without_blocks() -> Registry {
    Registry::new().with(node_component())
}

fn node_component() -> ComponentSpec {
    ComponentSpec::new(component("node"))
        .entity(EntityRule::Forbidden)
        .handler(topic("info"), |_r: DispatchRequest| async {
            Ok(Reply::json(&serde_json::json!({ "version": VERSION })))
        })
        .handler(topic("echo"), |r: DispatchRequest| async move {
            match r.body {
                RequestBody::Binary(bytes) => Ok(Reply::Binary(bytes)),
                RequestBody::Text(_) => Err(HandlerError::unprocessable("echo takes binary")),
            }
        })
        .handler(topic("text"), |_r: DispatchRequest| async {
            Ok(Reply::Text("plain words".into()))
        })
        .handler(topic("accept"), |_r: DispatchRequest| async {
            Ok(Reply::Accepted)
        })
        .handler(topic("whoami"), |r: DispatchRequest| async move {
            Ok(Reply::Text(
                r.session.map(|s| s.to_string()).unwrap_or_default(),
            ))
        })
        .handler(topic("slow"), |_r: DispatchRequest| async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Ok(Reply::Text("done".into()))
        })
}

pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    pub(crate) publisher: Publisher,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    pub(crate) async fn start() -> Self {
        Self::start_with(|c| c, |t| t).await
    }

    pub(crate) async fn start_with(
        configure: impl FnOnce(Config) -> Config,
        transport: impl FnOnce(TransportConfig) -> TransportConfig,
    ) -> Self {
        let listen = "127.0.0.1:0".parse().expect("valid address");
        Self::start_full(listen, registry(), configure, transport).await
    }

    /// A server on a given address (to restart a node on the same port).
    pub(crate) async fn start_on(addr: SocketAddr, registry: Registry) -> Self {
        Self::start_full(addr, registry, |c| c, |t| t).await
    }

    async fn start_full(
        listen: SocketAddr,
        registry: Registry,
        configure: impl FnOnce(Config) -> Config,
        transport: impl FnOnce(TransportConfig) -> TransportConfig,
    ) -> Self {
        let config = configure(Config::new(VERSION.parse().expect("valid version")));
        let mut transport = transport(TransportConfig::new(listen));
        transport.shutdown_timeout = Duration::from_secs(2);
        let server = Server::bind(config, registry, transport)
            .await
            .expect("bound");
        let addr = server.local_addr();
        let publisher = server.publisher();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            publisher,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server (sessions get 1001) and waits until it has shut down.
    pub(crate) async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            within("the server's shutdown", task)
                .await
                .expect("no panic");
        }
    }

    /// Publishes a JSON event; returns how many sessions it was queued to.
    pub(crate) fn publish(&self, path: &str, payload: &'static str) -> usize {
        self.publish_event(rues_core::Event::new(
            EventPath::parse(path).expect("valid path"),
            "application/json",
            Bytes::from_static(payload.as_bytes()),
        ))
    }

    pub(crate) fn publish_event(&self, event: rues_core::Event) -> usize {
        self.publisher.publish(&event).expect("published").receivers
    }

    /// Waits until the node's counters satisfy `done`.
    pub(crate) async fn wait_for(&self, what: &str, done: impl Fn(&rues_core::Stats) -> bool) {
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
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Awaits `future`, failing the test after [`PATIENCE`].
pub(crate) async fn within<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(PATIENCE, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// The next item of a stream that must not end.
pub(crate) async fn next<S: Stream + Unpin>(stream: &mut S) -> S::Item {
    within("the next item", stream.next())
        .await
        .expect("the stream has not ended")
}

/// The next item, which must be an event.
pub(crate) async fn next_event<S>(stream: &mut S) -> Event
where
    S: Stream<Item = Result<Event, Gap>> + Unpin,
{
    match next(stream).await {
        Ok(event) => event,
        Err(gap) => panic!("expected an event, got a gap: {gap}"),
    }
}

/// Asserts the stream yields nothing for `wait`.
pub(crate) async fn assert_quiet<S>(stream: &mut S, wait: Duration)
where
    S: Stream<Item = Result<Event, Gap>> + Unpin,
{
    if let Ok(item) = tokio::time::timeout(wait, stream.next()).await {
        panic!("expected silence, got {item:?}");
    }
}

/// Asserts the stream ends (after any items still queued are skipped).
pub(crate) async fn assert_ends<S: Stream + Unpin>(stream: &mut S) {
    within("the end of the stream", async {
        while stream.next().await.is_some() {}
    })
    .await;
}

/// A fake node for what a real one never does: it runs `script` on each
/// WebSocket session (numbered from 0, and given the count of HTTP requests
/// so far), and answers each plain HTTP request (numbered from 0) with the
/// status `http` gives and an empty body.
pub(crate) struct FakeNode {
    pub(crate) addr: SocketAddr,
    task: JoinHandle<()>,
}

pub(crate) type FakeSocket = tokio_tungstenite::WebSocketStream<TcpStream>;

impl FakeNode {
    /// Answers every HTTP request with 200.
    pub(crate) async fn start<F, Fut>(script: F) -> Self
    where
        F: Fn(FakeSocket, usize, Requests) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self::start_with(script, |_| 200).await
    }

    pub(crate) async fn start_with<F, Fut, H>(script: F, http: H) -> Self
    where
        F: Fn(FakeSocket, usize, Requests) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
        H: Fn(usize) -> u16 + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bound");
        let addr = listener.local_addr().expect("an address");
        let script = Arc::new(script);
        let http = Arc::new(http);
        let sessions = Arc::new(AtomicUsize::new(0));
        let numbers = Arc::new(AtomicUsize::new(0));
        let requests = Requests::default();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (script, http) = (script.clone(), http.clone());
                let (sessions, numbers) = (sessions.clone(), numbers.clone());
                let requests = requests.clone();
                tokio::spawn(async move {
                    if is_upgrade(&stream).await {
                        if let Ok(ws) = tokio_tungstenite::accept_async(stream).await {
                            let n = sessions.fetch_add(1, Ordering::SeqCst);
                            script(ws, n, requests).await;
                        }
                    } else {
                        let n = numbers.fetch_add(1, Ordering::SeqCst);
                        answer(stream, http(n)).await;
                        requests.0.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        Self { addr, task }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// How many HTTP requests a [`FakeNode`] has answered.
#[derive(Clone, Default)]
pub(crate) struct Requests(Arc<AtomicUsize>);

impl Requests {
    /// Waits until at least `n` requests have been answered.
    pub(crate) async fn wait_for(&self, n: usize) {
        within("the client's requests", async {
            while self.0.load(Ordering::SeqCst) < n {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
    }
}

impl Drop for FakeNode {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whether the request head (peeked, not consumed) asks for a WebSocket.
async fn is_upgrade(stream: &TcpStream) -> bool {
    let mut buffer = [0u8; 4096];
    for _ in 0..100 {
        let Ok(n) = stream.peek(&mut buffer).await else {
            return false;
        };
        let head = String::from_utf8_lossy(&buffer[..n]).to_ascii_lowercase();
        if head.contains("\r\n\r\n") || n == buffer.len() {
            return head.contains("upgrade: websocket");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}

async fn answer(mut stream: TcpStream, status: u16) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let _ = stream
        .write_all(
            format!("HTTP/1.1 {status} Fake\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await;
    let _ = stream.shutdown().await;
}
