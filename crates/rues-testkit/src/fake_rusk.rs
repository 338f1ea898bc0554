//! A small upstream that behaves on the wire as rusk does
//! (RUSK-REFERENCE.md §1-§6), for the relay's tests: sessions on `/on`
//! with a 32-hex id as the first Text frame; `GET`/`DELETE
//! /on/<component>[:<entity>]/<topic>` with `Rusk-Session-Id` (424
//! without), component and topic lower-cased, a set per session (a `GET`
//! twice is one subscription, a `DELETE` of one it lacks is 404); event
//! frames `u32 LE length + JSON {Content-Location, Rusk-Origin?} +
//! payload`, with neither `Content-Type` nor `Content-Length`;
//! `Rusk-Version` on every answer; error bodies without a type, a POST
//! error as plain text.
//!
//! It is no node: there is no registry, any path parses, and the only
//! dispatches are `node/info` (JSON) and `transactions/propagate`
//! (always 400 `Invalid input: ...`, as rusk refuses a body that is no
//! transaction); any other is 501 `Unsupported operation`.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

/// The version the fake answers with.
pub const FAKE_RUSK_VERSION: &str = "1.4.2";

/// A subscription as rusk keeps it: component and topic lower-cased, the
/// entity as sent.
type Subscription = (String, Option<String>, String);

struct Session {
    subscriptions: HashSet<Subscription>,
    frames: mpsc::UnboundedSender<Bytes>,
}

#[derive(Default)]
struct Sessions {
    by_id: HashMap<String, Session>,
    next: u64,
    /// The headers of the last dispatch (`POST`), as received.
    last_dispatch: Vec<(String, String)>,
}

/// The fake upstream, serving on a loopback port until dropped.
pub struct FakeRusk {
    /// Where it listens.
    pub addr: SocketAddr,
    sessions: Arc<Mutex<Sessions>>,
    task: JoinHandle<()>,
}

impl FakeRusk {
    /// Starts on `127.0.0.1:0`.
    ///
    /// # Panics
    ///
    /// If it cannot bind.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bound");
        let addr = listener.local_addr().expect("an address");
        let sessions = Arc::new(Mutex::new(Sessions::default()));
        let task = tokio::spawn(serve(listener, sessions.clone()));
        Self {
            addr,
            sessions,
            task,
        }
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends an event at `location` (`/on/<component>:<entity>/<topic>`, as
    /// rusk always names one) to every session whose subscriptions match
    /// it, once per session; `origin` becomes `Rusk-Origin`. Returns how
    /// many sessions it went to.
    pub fn emit(&self, location: &str, payload: &[u8], origin: Option<&str>) -> usize {
        let Some(event) = parse(location) else {
            return 0;
        };
        let mut headers = serde_json::Map::new();
        headers.insert("Content-Location".into(), location.into());
        if let Some(origin) = origin {
            headers.insert("Rusk-Origin".into(), origin.into());
        }
        let headers = serde_json::Value::Object(headers).to_string();
        let mut frame = Vec::with_capacity(4 + headers.len() + payload.len());
        frame.extend_from_slice(&u32::try_from(headers.len()).unwrap_or(0).to_le_bytes());
        frame.extend_from_slice(headers.as_bytes());
        frame.extend_from_slice(payload);
        let frame = Bytes::from(frame);
        let sessions = self.lock();
        sessions
            .by_id
            .values()
            .filter(|session| session.subscriptions.iter().any(|s| matches(s, &event)))
            .filter(|session| session.frames.send(frame.clone()).is_ok())
            .count()
    }

    /// The subscriptions held, over all sessions, as `component[:entity]/topic`.
    pub fn subscriptions(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .lock()
            .by_id
            .values()
            .flat_map(|session| session.subscriptions.iter())
            .map(|(component, entity, topic)| match entity {
                Some(entity) => format!("{component}:{entity}/{topic}"),
                None => format!("{component}/{topic}"),
            })
            .collect();
        all.sort();
        all
    }

    /// The headers of the last dispatch it received, names lower-cased, in
    /// the order they came.
    pub fn last_dispatch_headers(&self) -> Vec<(String, String)> {
        self.lock().last_dispatch.clone()
    }

    /// Sessions open now.
    pub fn sessions(&self) -> usize {
        self.lock().by_id.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for FakeRusk {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// rusk's matching: component and topic equal, an absent entity matches
/// every entity.
fn matches(subscription: &Subscription, event: &Subscription) -> bool {
    subscription.0 == event.0
        && subscription.2 == event.2
        && (subscription.1.is_none() || subscription.1 == event.1)
}

/// rusk's path grammar, simplified: `/on/<target>/<topic>[/...]`, the
/// component and topic lower-cased, the entity kept.
fn parse(path: &str) -> Option<Subscription> {
    let rest = path.strip_prefix("/on/")?;
    let mut segments = rest.split('/');
    let target = segments.next()?;
    let topic = segments.next().filter(|t| !t.is_empty())?;
    let (component, entity) = match target.split_once(':') {
        Some((component, entity)) => (component, Some(entity.to_owned())),
        None => (target, None),
    };
    Some((
        component.to_ascii_lowercase(),
        entity,
        topic.to_ascii_lowercase(),
    ))
}

async fn serve(listener: TcpListener, sessions: Arc<Mutex<Sessions>>) {
    let mut connections = tokio::task::JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        let sessions = sessions.clone();
        connections.spawn(async move {
            let service = service_fn(move |request| {
                let sessions = sessions.clone();
                async move { Ok::<_, Infallible>(answer(request, &sessions)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

fn reply(status: StatusCode, content_type: Option<&str>, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert("rusk-version", FAKE_RUSK_VERSION.parse().expect("a header"));
    if let Some(content_type) = content_type {
        headers.insert("content-type", content_type.parse().expect("a header"));
    }
    response
}

fn answer(
    mut request: Request<Incoming>,
    sessions: &Arc<Mutex<Sessions>>,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let upgrade = request
        .headers()
        .get("upgrade")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if upgrade && path.starts_with("/on") {
        let Some(key) = request.headers().get("sec-websocket-key").cloned() else {
            return reply(StatusCode::INTERNAL_SERVER_ERROR, None, "no key");
        };
        let upgrading = hyper::upgrade::on(&mut request);
        let sessions = sessions.clone();
        tokio::spawn(async move {
            if let Ok(upgraded) = upgrading.await {
                let ws =
                    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None)
                        .await;
                session(ws, sessions).await;
            }
        });
        let mut response = reply(StatusCode::SWITCHING_PROTOCOLS, None, "");
        let headers = response.headers_mut();
        headers.insert("connection", "upgrade".parse().expect("a header"));
        headers.insert("upgrade", "websocket".parse().expect("a header"));
        headers.insert(
            "sec-websocket-accept",
            derive_accept_key(key.as_bytes()).parse().expect("a header"),
        );
        return response;
    }
    let method = request.method().clone();
    if method == Method::POST {
        sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last_dispatch = request
            .headers()
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect();
        return match parse(&path) {
            Some((component, None, topic)) if component == "node" && topic == "info" => reply(
                StatusCode::OK,
                Some("application/json"),
                r#"{"chain_id":0,"version":"1.4.2"}"#,
            ),
            Some((component, _, topic)) if component == "transactions" && topic == "propagate" => {
                reply(
                    StatusCode::BAD_REQUEST,
                    None,
                    "Invalid input: the body is not a transaction",
                )
            }
            Some(_) => reply(StatusCode::NOT_IMPLEMENTED, None, "Unsupported operation"),
            None => reply(
                StatusCode::BAD_REQUEST,
                None,
                "Invalid input: Invalid URL path",
            ),
        };
    }
    let no_session = || {
        reply(
            StatusCode::FAILED_DEPENDENCY,
            None,
            r#"{"error":"Session ID not provided or invalid"}"#,
        )
    };
    let Some(id) = request
        .headers()
        .get("rusk-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase)
    else {
        return no_session();
    };
    let Some(subscription) = parse(&path) else {
        return reply(
            StatusCode::NOT_FOUND,
            None,
            "{{\"error\":\"Invalid URL path\n\"}}",
        );
    };
    let mut sessions = sessions.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(session) = sessions.by_id.get_mut(&id) else {
        return no_session();
    };
    match method {
        Method::GET => {
            session.subscriptions.insert(subscription);
            reply(StatusCode::OK, None, "")
        }
        Method::DELETE if session.subscriptions.remove(&subscription) => {
            reply(StatusCode::OK, None, "")
        }
        Method::DELETE => reply(
            StatusCode::NOT_FOUND,
            None,
            r#"{"error":"Subscription not found"}"#,
        ),
        _ => reply(
            StatusCode::METHOD_NOT_ALLOWED,
            None,
            r#"{"error":"Method not allowed"}"#,
        ),
    }
}

/// One session: its id first, then its frames, until the socket closes.
async fn session<S>(mut ws: WebSocketStream<S>, sessions: Arc<Mutex<Sessions>>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (frames, mut queued) = mpsc::unbounded_channel();
    let id = {
        let mut sessions = sessions.lock().unwrap_or_else(PoisonError::into_inner);
        sessions.next += 1;
        // 16 bytes as 32 lower-case hex characters, distinct per session.
        let id = format!("{:016x}{:016x}", std::process::id(), sessions.next);
        sessions.by_id.insert(
            id.clone(),
            Session {
                subscriptions: HashSet::new(),
                frames,
            },
        );
        id
    };
    if ws.send(Message::text(id.clone())).await.is_ok() {
        loop {
            tokio::select! {
                frame = queued.recv() => match frame {
                    Some(frame) => {
                        if ws.send(Message::Binary(frame)).await.is_err() {
                            break;
                        }
                    }
                    None => break,
                },
                incoming = ws.next() => match incoming {
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                    Some(Ok(_)) => {}
                },
            }
        }
    }
    sessions
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .by_id
        .remove(&id);
}
