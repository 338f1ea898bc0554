//! A server on 127.0.0.1:0 with a small registry, and clients for it.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use rues_core::http::{Method, Request, StatusCode};
use rues_core::rues_target::{Component, EventPath, Topic};
use rues_core::rues_wire::Frame;
use rues_core::{
    ComponentSpec, Config, DispatchRequest, EntityRule, Event, HandlerError, Registry, Reply,
    RequestBody, SessionId,
};
use rues_warp::{Publisher, Server, TransportConfig};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub(crate) const VERSION: &str = "1.6.0";
/// Every wait in these tests is bounded by this.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

fn component(name: &str) -> Component {
    Component::new(name).expect("valid component")
}

fn topic(name: &str) -> Topic {
    Topic::new(name).expect("valid topic")
}

pub(crate) fn registry() -> Registry {
    Registry::new()
        .with(
            ComponentSpec::new(component("blocks"))
                .entity(EntityRule::Optional)
                .topic(topic("accepted")),
        )
        .with(
            ComponentSpec::new(component("node"))
                .entity(EntityRule::Forbidden)
                .handler(topic("info"), |_r: DispatchRequest| async {
                    Ok(Reply::json(&serde_json::json!({ "version": VERSION })))
                })
                .handler(topic("echo"), |r: DispatchRequest| async move {
                    match r.body {
                        RequestBody::Binary(bytes) => Ok(Reply::Binary(bytes)),
                        RequestBody::Text(_) => {
                            Err(HandlerError::unprocessable("echo takes binary"))
                        }
                    }
                })
                .handler(topic("accept"), |_r: DispatchRequest| async {
                    Ok(Reply::Accepted)
                })
                .handler(topic("slow"), |_r: DispatchRequest| async {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    Ok(Reply::Text("done".into()))
                }),
        )
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
        let config = configure(Config::new(VERSION.parse().expect("valid version")));
        let transport = transport(TransportConfig::new(
            "127.0.0.1:0".parse().expect("valid address"),
        ));
        let server = Server::bind(config, registry(), transport)
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

    /// Stops the server and waits until it has shut down.
    pub(crate) async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(PATIENCE, task)
                .await
                .expect("shut down in time")
                .expect("no panic");
        }
    }

    pub(crate) fn ws_url(&self) -> String {
        format!("ws://{}/on", self.addr)
    }

    pub(crate) async fn connect(&self) -> Client {
        Client::connect(&self.ws_url()).await
    }

    pub(crate) async fn http(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Answer {
        http(self.addr, method, path, headers, body).await
    }

    pub(crate) fn publish(&self, path: &str, payload: &'static [u8]) -> usize {
        let event = Event::new(
            EventPath::parse(path).expect("valid path"),
            "application/json",
            Bytes::from_static(payload),
        );
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

/// An HTTP response, read whole.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: rues_core::http::HeaderMap,
    pub(crate) body: Bytes,
}

impl Answer {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(crate) fn error(&self) -> String {
        let body: serde_json::Value =
            serde_json::from_slice(&self.body).expect("a JSON error body");
        body["error"].as_str().expect("an error message").to_owned()
    }

    #[track_caller]
    pub(crate) fn assert_error(&self, status: StatusCode, needle: &str) {
        assert_eq!(
            self.status,
            status,
            "{:?}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.header("content-type"), Some("application/json"));
        assert_eq!(self.header("rusk-version"), Some(VERSION));
        let message = self.error();
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    }
}

/// One HTTP/1.1 request on a fresh connection.
pub(crate) async fn http(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let stream = TcpStream::connect(addr).await.expect("connected");
    request_on(stream, addr, method, path, headers, body).await
}

pub(crate) async fn request_on<T>(
    io: T,
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
            .await
            .expect("HTTP handshake");
    tokio::spawn(conn);
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::copy_from_slice(body)))
        .expect("valid request");
    let response = tokio::time::timeout(PATIENCE, sender.send_request(request))
        .await
        .expect("answered in time")
        .expect("a response");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("a whole body").to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// A WebSocket client holding a session.
pub(crate) struct Client {
    pub(crate) ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub(crate) session: SessionId,
    pub(crate) session_text: String,
}

impl Client {
    pub(crate) async fn connect(url: &str) -> Self {
        let (ws, _) = tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(url))
            .await
            .expect("connected in time")
            .expect("upgraded");
        Self::from_stream(ws).await
    }

    pub(crate) async fn from_stream(mut ws: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Self {
        let first = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("id in time")
            .expect("a message")
            .expect("no error");
        let Message::Text(text) = first else {
            panic!("the first message is Text, got {first:?}")
        };
        let session_text = text.to_string();
        let session = session_text.parse().expect("a session id");
        Self {
            ws,
            session,
            session_text,
        }
    }

    pub(crate) async fn subscribe(&self, server: &TestServer, path: &str) -> Answer {
        server
            .http(
                Method::GET,
                path,
                &[("rusk-session-id", &self.session_text)],
                b"",
            )
            .await
    }

    pub(crate) async fn unsubscribe(&self, server: &TestServer, path: &str) -> Answer {
        server
            .http(
                Method::DELETE,
                path,
                &[("rusk-session-id", &self.session_text)],
                b"",
            )
            .await
    }

    /// The next event frame (skipping pings and pongs).
    pub(crate) async fn next_event(&mut self) -> Frame {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("an event in time")
                .expect("the socket is open")
                .expect("no error");
            match message {
                Message::Binary(bytes) => return Frame::decode(&bytes).expect("a valid frame"),
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("expected an event, got {other:?}"),
            }
        }
    }

    /// Asserts nothing but control frames arrive for `wait`.
    pub(crate) async fn assert_quiet(&mut self, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(message) = tokio::time::timeout_at(deadline, self.ws.next()).await {
            match message {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("expected silence, got {other:?}"),
            }
        }
    }

    /// Reads until the Close frame and returns its code.
    pub(crate) async fn close_code(&mut self) -> Option<u16> {
        loop {
            match tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("closed in time")
            {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    }

    pub(crate) async fn send(&mut self, message: Message) {
        self.ws.send(message).await.expect("sent");
    }
}
