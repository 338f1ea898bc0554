//! The client side: WebSocket sessions opened from this process, each
//! subscribed the way its server expects, each counting what it receives and
//! recording the latency of every event (now minus the publish time stamped
//! in the payload).
//!
//! How each server is subscribed to, and when a subscription is confirmed:
//! - rues: upgrade `/on`, read the session id (first Text frame), then
//!   `GET /on/bench:<name>/tick` with `Rusk-Session-Id` over a pool of
//!   keep-alive HTTP/1.1 connections; confirmed by the 200;
//! - baseline and Node.js `ws`: upgrade `/all` or `/e/<i>`; confirmed by the
//!   server's Text `ok`;
//! - NATS: upgrade on nats-server's WebSocket listener, read `INFO`, send
//!   `CONNECT`, `SUB bench.<name> 1` and `PING`; confirmed by the `PONG`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use bytes::{Buf, BytesMut};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::hist::Hist;
use crate::server::entity_name;

/// Which server a session talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Kind {
    Rues,
    Baseline,
    Nats,
    NodeWs,
    /// The machine's limit: frames each event once, vectored writes.
    Limit,
}

impl Kind {
    pub(crate) const ALL: [Kind; 5] = [
        Kind::Rues,
        Kind::Baseline,
        Kind::Nats,
        Kind::NodeWs,
        Kind::Limit,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Rues => "rues",
            Kind::Baseline => "baseline",
            Kind::Nats => "nats",
            Kind::NodeWs => "node-ws",
            Kind::Limit => "limit",
        }
    }

    pub(crate) fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| {
                anyhow!("unknown server `{name}` (rues, baseline, nats, node-ws, limit)")
            })
    }
}

/// Where sessions connect.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Endpoint {
    pub(crate) kind: Kind,
    /// The WebSocket listener (for rues, also its HTTP listener).
    pub(crate) addr: SocketAddr,
}

/// Client sockets are spread over this many loopback source addresses
/// (127.0.0.1, 127.0.0.2, ...), so ephemeral ports never run short.
const SOURCE_ADDRESSES: u32 = 16;

/// How long opening and subscribing one session may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(15);

fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(32 * 1024)
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20))
}

pub(crate) async fn tcp_connect(
    addr: SocketAddr,
    index: u64,
    recv_buffer: Option<u32>,
) -> Result<TcpStream> {
    let source = Ipv4Addr::from(
        u32::from(Ipv4Addr::new(127, 0, 0, 1)) + (index % u64::from(SOURCE_ADDRESSES)) as u32,
    );
    let socket = TcpSocket::new_v4()?;
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size)?;
    }
    socket.bind(SocketAddr::new(IpAddr::V4(source), 0))?;
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Keep-alive HTTP/1.1 connections to a rues server, for subscribe and
/// dispatch requests; a new connection opens when every open one is busy,
/// up to `size` at once.
pub(crate) struct HttpPool {
    addr: SocketAddr,
    idle: Mutex<Vec<HttpConn>>,
    permits: Semaphore,
    opened: AtomicU64,
}

struct HttpConn {
    stream: TcpStream,
    buffer: BytesMut,
}

impl HttpPool {
    pub(crate) fn new(addr: SocketAddr, size: usize) -> Self {
        Self {
            addr,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(size),
            opened: AtomicU64::new(0),
        }
    }

    /// `GET path` with the session id; returns the status code.
    pub(crate) async fn get(&self, path: &str, session: &str) -> Result<u16> {
        self.request("GET", path, Some(session), b"").await
    }

    /// `DELETE path` with the session id (an unsubscribe); returns the
    /// status code.
    pub(crate) async fn delete(&self, path: &str, session: &str) -> Result<u16> {
        self.request("DELETE", path, Some(session), b"").await
    }

    /// `POST path` with `body` (a dispatch); returns the status code.
    pub(crate) async fn post(&self, path: &str, body: &[u8]) -> Result<u16> {
        self.request("POST", path, None, body).await
    }

    async fn request(
        &self,
        method: &str,
        path: &str,
        session: Option<&str>,
        body: &[u8],
    ) -> Result<u16> {
        let _permit = self.permits.acquire().await?;
        let pooled = self
            .idle
            .lock()
            .map_err(|_| anyhow!("pool poisoned"))?
            .pop();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => {
                let n = self.opened.fetch_add(1, Ordering::Relaxed);
                HttpConn {
                    stream: tcp_connect(self.addr, n, None).await?,
                    buffer: BytesMut::with_capacity(4096),
                }
            }
        };
        let (status, keep) = conn.request(method, path, session, body).await?;
        if keep {
            self.idle
                .lock()
                .map_err(|_| anyhow!("pool poisoned"))?
                .push(conn);
        }
        Ok(status)
    }
}

impl HttpConn {
    async fn request(
        &mut self,
        method: &str,
        path: &str,
        session: Option<&str>,
        body: &[u8],
    ) -> Result<(u16, bool)> {
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        if let Some(session) = session {
            request.push_str(&format!("Rusk-Session-Id: {session}\r\n"));
        }
        if method != "GET" {
            request.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        let mut request = request.into_bytes();
        request.extend_from_slice(body);
        self.stream.write_all(&request).await?;
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(head) = response.parse(&self.buffer)? {
                let status = response.code.unwrap_or(0);
                let mut length = 0usize;
                let mut keep = true;
                for header in response.headers.iter() {
                    if header.name.eq_ignore_ascii_case("content-length") {
                        length = std::str::from_utf8(header.value)?.trim().parse()?;
                    } else if header.name.eq_ignore_ascii_case("connection")
                        && header.value.eq_ignore_ascii_case(b"close")
                    {
                        keep = false;
                    }
                }
                while self.buffer.len() < head + length {
                    if self.stream.read_buf(&mut self.buffer).await? == 0 {
                        bail!("connection closed mid-body");
                    }
                }
                self.buffer.advance(head + length);
                return Ok((status, keep));
            }
            if self.stream.read_buf(&mut self.buffer).await? == 0 {
                bail!("connection closed before the response");
            }
        }
    }
}

/// The most a one-off [`fetch`] reads.
const FETCH_MAX: u64 = 4 << 20;

/// A one-off `GET path` on a connection of its own (`Connection: close`),
/// bounded to 5 s and 4 MiB: the status and the body as text. For
/// `/metrics` and `/health`.
pub(crate) async fn fetch(addr: SocketAddr, path: &str) -> Result<(u16, String)> {
    let fetched = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await?;
        let mut text = Vec::new();
        stream.take(FETCH_MAX).read_to_end(&mut text).await?;
        anyhow::Ok(text)
    };
    let text = tokio::time::timeout(Duration::from_secs(5), fetched)
        .await
        .with_context(|| format!("GET {path} did not answer in time"))??;
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(head) = response.parse(&text)? else {
        bail!("GET {path}: an incomplete response head");
    };
    let status = response.code.unwrap_or(0);
    Ok((status, String::from_utf8_lossy(&text[head..]).into_owned()))
}

/// The value of `series` (exactly as printed, labels included) in a rues
/// node's `/metrics`.
pub(crate) async fn metric(addr: SocketAddr, series: &str) -> Result<u64> {
    let (status, text) = fetch(addr, "/metrics").await?;
    anyhow::ensure!(status == 200, "/metrics answered {status}");
    rues_testkit::metric(&text, series).with_context(|| format!("no {series} in /metrics"))
}

/// What a session saw, shared between its task and the harness.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) received: AtomicU64,
    pub(crate) closed: AtomicBool,
    /// The close code the server sent, if any (0: none).
    pub(crate) close_code: AtomicU64,
    pub(crate) latencies: Mutex<Hist>,
}

impl Tally {
    fn record(&self, payload: &[u8], now: u64) {
        if let Some(at) = crate::payload::published_at(payload) {
            if let Ok(mut hist) = self.latencies.lock() {
                hist.record(now.saturating_sub(at));
            }
        }
        self.received.fetch_add(1, Ordering::Relaxed);
    }
}

/// Times of one open-and-subscribe.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Opened {
    /// From the TCP connect to the confirmed subscription.
    pub(crate) total: Duration,
    /// Of the subscribe request alone (rues's GET, NATS's SUB+PING); for the
    /// plain WebSocket servers, where the upgrade is the subscription, the
    /// same as `total`.
    pub(crate) subscribe: Duration,
}

type Ws = WebSocketStream<TcpStream>;

/// An open, subscribed session, before its reader task starts.
pub(crate) struct Session {
    ws: Ws,
    kind: Kind,
    /// NATS bytes received after the PONG (the start of the first MSG).
    leftover: BytesMut,
    pub(crate) opened: Opened,
    /// rues: the session id, for further subscribe requests.
    pub(crate) id: Option<String>,
}

/// Opens a session to `endpoint` and subscribes it to `entity` (the fan-out
/// topic when `None`).
pub(crate) async fn open(
    endpoint: Endpoint,
    entity: Option<u32>,
    index: u64,
    http: Option<&HttpPool>,
) -> Result<Session> {
    open_to(endpoint, entity, None, index, http).await
}

/// [`open`], to `rues_path` instead of the bench topic when given (rues
/// only).
async fn open_to(
    endpoint: Endpoint,
    entity: Option<u32>,
    rues_path: Option<&str>,
    index: u64,
    http: Option<&HttpPool>,
) -> Result<Session> {
    tokio::time::timeout(
        OPEN_TIMEOUT,
        open_inner(endpoint, entity, rues_path, index, http, None),
    )
    .await
    .map_err(|_| anyhow!("opening a session timed out"))?
}

/// Opens a fan-out session meant never to be read (a stalled client), with
/// a small kernel receive buffer so the backlog builds up at the server
/// rather than in the client's socket.
pub(crate) async fn open_stalled(
    endpoint: Endpoint,
    index: u64,
    http: Option<&HttpPool>,
) -> Result<Session> {
    let open = open_inner(endpoint, None, None, index, http, Some(STALLED_RECV_BUFFER));
    tokio::time::timeout(OPEN_TIMEOUT, open)
        .await
        .map_err(|_| anyhow!("opening a session timed out"))?
}

/// The kernel receive buffer of a stalled client (the kernel doubles it).
const STALLED_RECV_BUFFER: u32 = 4096;

async fn open_inner(
    endpoint: Endpoint,
    entity: Option<u32>,
    rues_path: Option<&str>,
    index: u64,
    http: Option<&HttpPool>,
    recv_buffer: Option<u32>,
) -> Result<Session> {
    let started = Instant::now();
    let name = entity_name(entity);
    let path = match (endpoint.kind, entity) {
        (Kind::Rues, _) => "/on".to_owned(),
        (Kind::Nats, _) => "/".to_owned(),
        (Kind::Baseline | Kind::NodeWs | Kind::Limit, None) => "/all".to_owned(),
        (Kind::Baseline | Kind::NodeWs | Kind::Limit, Some(e)) => format!("/e/{e}"),
    };
    let url = format!("ws://{}{path}", endpoint.addr);
    let stream = tcp_connect(endpoint.addr, index, recv_buffer).await?;
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(ws_config()))
        .await
        .context("WebSocket upgrade")?;
    let mut leftover = BytesMut::new();
    let mut session_id = None;
    let subscribe = match endpoint.kind {
        Kind::Rues => {
            let id = match ws.next().await {
                Some(Ok(Message::Text(id))) => id,
                other => bail!("expected the session id, got {other:?}"),
            };
            session_id = Some(id.as_str().to_owned());
            let http = http.context("rues sessions need an HTTP pool")?;
            let asked = Instant::now();
            let path = match rues_path {
                Some(path) => path.to_owned(),
                None => format!("/on/bench:{name}/tick"),
            };
            let status = http.get(&path, id.as_str()).await?;
            if status != 200 {
                bail!("subscribe answered {status}");
            }
            asked.elapsed()
        }
        Kind::Baseline | Kind::NodeWs | Kind::Limit => {
            match ws.next().await {
                Some(Ok(Message::Text(ok))) if ok.as_str() == "ok" => {}
                other => bail!("expected `ok`, got {other:?}"),
            }
            started.elapsed()
        }
        Kind::Nats => {
            let mut buffer = BytesMut::new();
            // INFO first.
            loop {
                if find_line(&buffer).is_some() {
                    break;
                }
                append(&mut buffer, ws.next().await)?;
            }
            let line = take_line(&mut buffer).unwrap_or_default();
            if !line.starts_with(b"INFO") {
                bail!(
                    "nats-server sent {:?} before INFO",
                    String::from_utf8_lossy(&line)
                );
            }
            let asked = Instant::now();
            let hello = format!(
                "CONNECT {{\"verbose\":false,\"pedantic\":false,\"protocol\":1,\"echo\":false}}\r\nSUB bench.{name} 1\r\nPING\r\n"
            );
            ws.send(Message::binary(hello.into_bytes())).await?;
            loop {
                match take_line(&mut buffer) {
                    Some(line) if line == b"PONG" => break,
                    Some(line) if line.starts_with(b"-ERR") => {
                        bail!("nats-server: {}", String::from_utf8_lossy(&line))
                    }
                    Some(_) => {}
                    None => append(&mut buffer, ws.next().await)?,
                }
            }
            leftover = buffer;
            asked.elapsed()
        }
    };
    Ok(Session {
        ws,
        kind: endpoint.kind,
        leftover,
        opened: Opened {
            total: started.elapsed(),
            subscribe,
        },
        id: session_id,
    })
}

fn append(
    buffer: &mut BytesMut,
    message: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
) -> Result<()> {
    match message {
        Some(Ok(Message::Binary(data))) => buffer.extend_from_slice(&data),
        Some(Ok(Message::Text(text))) => buffer.extend_from_slice(text.as_bytes()),
        Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
        Some(Ok(Message::Close(close))) => bail!("closed: {close:?}"),
        Some(Err(error)) => return Err(error.into()),
        None => bail!("connection closed"),
    }
    Ok(())
}

fn find_line(buffer: &[u8]) -> Option<usize> {
    buffer.windows(2).position(|w| w == b"\r\n")
}

fn take_line(buffer: &mut BytesMut) -> Option<Vec<u8>> {
    let end = find_line(buffer)?;
    let line = buffer[..end].to_vec();
    buffer.advance(end + 2);
    Some(line)
}

impl Session {
    /// Closes the session politely: a Close frame, then whatever the server
    /// sends until it closes too (bounded).
    pub(crate) async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            if self.ws.close(None).await.is_ok() {
                while let Some(Ok(_)) = self.ws.next().await {}
            }
        })
        .await;
    }

    /// Reads a stalled session at last: counts the messages still queued for
    /// it until the server's Close (returning its code), EOF or `within`
    /// passes (`None`: the server never closed it).
    pub(crate) async fn read_to_close(mut self, within: Duration) -> (u64, Option<u16>) {
        let mut messages = 0;
        let read = async {
            while let Some(message) = self.ws.next().await {
                match message {
                    Ok(Message::Close(frame)) => {
                        return Some(frame.map_or(1005, |f| u16::from(f.code)));
                    }
                    Ok(_) => messages += 1,
                    // Reset or EOF without a Close frame.
                    Err(_) => return Some(1006),
                }
            }
            Some(1006)
        };
        let code = tokio::time::timeout(within, read).await.ok().flatten();
        (messages, code)
    }

    /// Starts the reader task, counting into `tally`.
    pub(crate) fn spawn_reader(self, tally: Arc<Tally>) -> JoinHandle<()> {
        tokio::spawn(read_loop(self, tally))
    }
}

async fn read_loop(session: Session, tally: Arc<Tally>) {
    let Session {
        mut ws,
        kind,
        leftover,
        ..
    } = session;
    let mut nats = leftover;
    while let Some(message) = ws.next().await {
        let now = crate::clock::now_ns();
        let data = match message {
            Ok(Message::Binary(data)) => data,
            Ok(Message::Text(text)) if kind == Kind::Nats => text.into(),
            Ok(Message::Close(frame)) => {
                let code = frame.map_or(0, |f| u16::from(f.code));
                tally.close_code.store(u64::from(code), Ordering::Relaxed);
                break;
            }
            Ok(_) => continue,
            Err(_) => break,
        };
        match kind {
            Kind::Rues => {
                // u32 LE header length, the header JSON, then the payload.
                let Some(len) = data.get(0..4) else { continue };
                let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
                if let Some(payload) = data.get(4 + len..) {
                    tally.record(payload, now);
                }
            }
            Kind::Baseline | Kind::NodeWs | Kind::Limit => tally.record(&data, now),
            Kind::Nats => {
                nats.extend_from_slice(&data);
                if nats_messages(&mut nats, &tally, now, &mut ws)
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }
    }
    tally.closed.store(true, Ordering::Relaxed);
}

/// Consumes the complete NATS protocol messages in `buffer`: records each
/// `MSG` payload, answers `PING`.
async fn nats_messages(buffer: &mut BytesMut, tally: &Tally, now: u64, ws: &mut Ws) -> Result<()> {
    loop {
        let Some(end) = find_line(buffer) else {
            return Ok(());
        };
        let line = &buffer[..end];
        if line.starts_with(b"MSG ") {
            // MSG <subject> <sid> [reply-to] <#bytes>
            let size: usize = std::str::from_utf8(line)?
                .rsplit(' ')
                .next()
                .unwrap_or("")
                .parse()?;
            if buffer.len() < end + 2 + size + 2 {
                return Ok(());
            }
            tally.record(&buffer[end + 2..end + 2 + size], now);
            buffer.advance(end + 2 + size + 2);
        } else {
            let ping = line == b"PING";
            buffer.advance(end + 2);
            if ping {
                ws.send(Message::binary(&b"PONG\r\n"[..])).await?;
            }
        }
    }
}

/// Many subscribed sessions with their reader tasks.
pub(crate) struct Fleet {
    pub(crate) tallies: Vec<Arc<Tally>>,
    tasks: Vec<JoinHandle<()>>,
    /// Open-and-subscribe times, one per session.
    pub(crate) opened: Vec<Opened>,
}

impl Fleet {
    /// Opens `count` sessions, session `i` subscribed to `entity(i)`, at most
    /// `parallel` opening at once.
    pub(crate) async fn open(
        endpoint: Endpoint,
        count: usize,
        entity: impl Fn(usize) -> Option<u32>,
        parallel: usize,
    ) -> Result<Fleet> {
        Self::open_to(endpoint, count, entity, None, parallel).await
    }

    /// Opens `count` rues sessions, each subscribed to `path`, at most
    /// `parallel` opening at once.
    pub(crate) async fn open_path(
        endpoint: Endpoint,
        count: usize,
        path: &str,
        parallel: usize,
    ) -> Result<Fleet> {
        Self::open_to(endpoint, count, |_| None, Some(Arc::from(path)), parallel).await
    }

    async fn open_to(
        endpoint: Endpoint,
        count: usize,
        entity: impl Fn(usize) -> Option<u32>,
        rues_path: Option<Arc<str>>,
        parallel: usize,
    ) -> Result<Fleet> {
        let http =
            (endpoint.kind == Kind::Rues).then(|| Arc::new(HttpPool::new(endpoint.addr, 32)));
        let gate = Arc::new(Semaphore::new(parallel));
        let mut opening = Vec::with_capacity(count);
        for i in 0..count {
            let http = http.clone();
            let gate = gate.clone();
            let entity = entity(i);
            let rues_path = rues_path.clone();
            opening.push(tokio::spawn(async move {
                let _permit = gate.acquire_owned().await?;
                open_to(
                    endpoint,
                    entity,
                    rues_path.as_deref(),
                    i as u64,
                    http.as_deref(),
                )
                .await
            }));
        }
        let mut fleet = Fleet {
            tallies: Vec::with_capacity(count),
            tasks: Vec::with_capacity(count),
            opened: Vec::with_capacity(count),
        };
        let mut failure = None;
        for task in opening {
            match task.await? {
                Ok(session) => {
                    let tally = Arc::new(Tally::default());
                    fleet.opened.push(session.opened);
                    fleet.tasks.push(session.spawn_reader(tally.clone()));
                    fleet.tallies.push(tally);
                }
                Err(error) => failure = failure.or(Some(error)),
            }
        }
        if let Some(error) = failure {
            fleet.abort();
            return Err(error.context(format!(
                "opening {count} sessions to {} at {}",
                endpoint.kind.name(),
                endpoint.addr
            )));
        }
        Ok(fleet)
    }

    /// Forgets every count and latency (between steps).
    pub(crate) fn reset(&self) {
        for tally in &self.tallies {
            tally.received.store(0, Ordering::Relaxed);
            if let Ok(mut hist) = tally.latencies.lock() {
                hist.clear();
            }
        }
    }

    pub(crate) fn received(&self) -> u64 {
        self.tallies
            .iter()
            .map(|t| t.received.load(Ordering::Relaxed))
            .sum()
    }

    /// Sessions whose socket has closed, and the close codes seen.
    pub(crate) fn closed(&self) -> (usize, Vec<u64>) {
        let mut codes: Vec<u64> = Vec::new();
        let mut closed = 0;
        for tally in &self.tallies {
            if tally.closed.load(Ordering::Relaxed) {
                closed += 1;
                let code = tally.close_code.load(Ordering::Relaxed);
                if !codes.contains(&code) {
                    codes.push(code);
                }
            }
        }
        (closed, codes)
    }

    pub(crate) fn latencies(&self) -> Hist {
        let mut all = Hist::default();
        for tally in &self.tallies {
            if let Ok(hist) = tally.latencies.lock() {
                all.merge(&hist);
            }
        }
        all
    }

    /// Drops every session (the sockets close with the tasks).
    pub(crate) fn abort(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        self.tallies.clear();
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listener that answers each connection with `response` once it
    /// has read the request head, then closes it.
    async fn serve(response: &'static [u8]) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut head = Vec::new();
                while !head.ends_with(b"\r\n\r\n") {
                    let mut byte = [0u8; 1];
                    if stream.read_exact(&mut byte).await.is_err() {
                        break;
                    }
                    head.push(byte[0]);
                }
                let _ = stream.write_all(response).await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn a_metric_is_read_from_the_body_of_a_200() {
        let addr = serve(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n\
              # TYPE rues_sessions_open gauge\nrues_sessions_open 1000\n\
              rues_relay_upstream_subscriptions 1\n",
        )
        .await;
        assert_eq!(
            metric(addr, "rues_sessions_open").await.expect("read"),
            1000
        );
        assert_eq!(
            metric(addr, "rues_relay_upstream_subscriptions")
                .await
                .expect("read"),
            1
        );
        let missing = metric(addr, "rues_sessions")
            .await
            .expect_err("no such series");
        assert!(
            missing.to_string().contains("no rues_sessions in"),
            "{missing}"
        );
        let (status, body) = fetch(addr, "/health").await.expect("fetched");
        assert_eq!(status, 200);
        assert!(
            body.starts_with("# TYPE"),
            "the head is not in the body: {body}"
        );
    }

    #[tokio::test]
    async fn a_metric_behind_another_status_or_a_broken_head_is_an_error() {
        let unavailable =
            serve(b"HTTP/1.1 503 Service Unavailable\r\n\r\nrues_sessions_open 3\n").await;
        let error = metric(unavailable, "rues_sessions_open")
            .await
            .expect_err("not a 200");
        assert!(error.to_string().contains("503"), "{error}");
        assert_eq!(fetch(unavailable, "/health").await.expect("fetched").0, 503);
        let broken = serve(b"HTTP/1.1 200 OK\r\nrues_sessions_open").await;
        assert!(
            fetch(broken, "/metrics").await.is_err(),
            "an incomplete head"
        );
    }
}
