//! Hostile clients against the transport itself, over raw sockets: bodies
//! that never complete, a Ping flood from a client that never reads, a TCP
//! close without a Close frame, malformed handshakes, and responses the
//! core does not build (metrics, the application's routes). Each test
//! asserts the bound: a status, a time, a memory growth, a counter.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rues_core::http::Method;
use rues_core::{Config, Registry};
use rues_testkit::{metric, rss_kib};
use rues_warp::warp::Filter;
use rues_warp::{Server, TransportConfig, warp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{PATIENCE, Running, TestServer, http};

/// A response read off a raw socket up to its end (the node closes it).
#[derive(Debug)]
struct Raw {
    status: u16,
    head: String,
    body: String,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    fn error(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// Reads until the node closes the connection; panics if it does not
/// within [`PATIENCE`], which is how a connection held forever shows.
async fn read_all(stream: &mut TcpStream) -> Raw {
    let mut bytes = Vec::new();
    tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the node answered and closed the connection in time");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"));
    Raw {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

async fn raw(addr: SocketAddr, request: &[u8]) -> Raw {
    let mut stream = TcpStream::connect(addr).await.expect("connected");
    stream.write_all(request).await.expect("sent");
    read_all(&mut stream).await
}

const UPGRADE: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n";
const KEY: &str = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

/// Opens a session on a raw socket and returns it once the 101 is read.
async fn raw_session(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connected");
    let request = format!("GET /on HTTP/1.1\r\nHost: x\r\n{UPGRADE}{KEY}\r\n");
    stream.write_all(request.as_bytes()).await.expect("sent");
    let (status, head) = rues_testkit::read_head(&mut stream).await;
    assert_eq!(status, 101, "{head:?}");
    // The session id, a short Text frame: read, so that a close afterwards
    // is a clean FIN (a socket closed with unread data is reset instead).
    let mut frame = [0u8; 2];
    tokio::time::timeout(PATIENCE, stream.read_exact(&mut frame))
        .await
        .expect("the id in time")
        .expect("read");
    assert_eq!(frame[0], 0x81, "a Text frame first");
    let mut id = vec![0u8; usize::from(frame[1] & 0x7f)];
    stream.read_exact(&mut id).await.expect("the id");
    stream
}

/// A dispatch body that never completes (cut short of its length, chunked
/// and left open, dripped slower than the deadline allows) is answered 408
/// with a JSON error once its deadline passes, and the connection is
/// closed, releasing its descriptor and task. Before the deadlines,
/// `read_all` waited forever (the test fails on its timeout).
#[tokio::test]
async fn unfinished_bodies_get_408_and_lose_their_connection() {
    let total = Duration::from_millis(1500);
    let idle = Duration::from_millis(600);
    let server = TestServer::start_with(
        |config| config,
        |transport| transport.with_body_deadlines(total, idle),
    )
    .await;
    let addr = server.addr;
    let head = |framing: &str| {
        format!(
            "POST /on/node/text HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n{framing}\r\n\r\n"
        )
    };

    // Shorter than its Content-Length: the idle timeout ends it.
    let short = async {
        let started = Instant::now();
        let request = head("Content-Length: 100") + "abc";
        (raw(addr, request.as_bytes()).await, started.elapsed())
    };
    // Chunked, never given its last chunk.
    let open = async {
        let started = Instant::now();
        let request = head("Transfer-Encoding: chunked") + "3\r\nabc\r\n";
        (raw(addr, request.as_bytes()).await, started.elapsed())
    };
    // One byte every 200 ms: never idle for long, so the total deadline
    // ends it.
    let dripped = async {
        let started = Instant::now();
        let mut stream = TcpStream::connect(addr).await.expect("connected");
        let request = head("Content-Length: 1000");
        stream.write_all(request.as_bytes()).await.expect("sent");
        let (mut reader, mut writer) = stream.into_split();
        let drip = tokio::spawn(async move {
            for _ in 0..1000 {
                if writer.write_all(b"x").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        let mut bytes = Vec::new();
        tokio::time::timeout(PATIENCE, reader.read_to_end(&mut bytes))
            .await
            .expect("answered and closed in time")
            .ok();
        drip.abort();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let answer = Raw {
            status,
            head: head.to_owned(),
            body: body.to_owned(),
        };
        (answer, started.elapsed())
    };
    let (short, open, dripped) = tokio::join!(short, open, dripped);
    for (name, (answer, elapsed)) in [("short", short), ("open", open), ("dripped", dripped)] {
        assert_eq!(answer.status, 408, "{name}: {answer:?}");
        assert!(
            answer.error().contains("did not arrive in time"),
            "{name}: {answer:?}"
        );
        assert!(
            answer.header("rusk-version").is_some(),
            "{name}: {answer:?}"
        );
        assert_eq!(answer.header("connection"), Some("close"), "{name}");
        // The deadline is 1.5 s; 10 s of PATIENCE bounds it from above.
        assert!(elapsed >= idle, "{name}: answered after {elapsed:?}");
    }
    // A body that arrives whole in time is still served.
    let ok = http(addr, Method::POST, "/on/node/text", &[], b"hello").await;
    assert_eq!(ok.status.as_u16(), 200);
}

/// One masked Ping frame with a 125-byte payload (mask key 0, which leaves
/// the payload as it is: any key is valid).
fn ping_frame() -> Vec<u8> {
    let mut frame = vec![0x89, 0x80 | 125, 0, 0, 0, 0];
    frame.extend_from_slice(&[b'p'; 125]);
    frame
}

/// 400 MB of Pings from a client that never reads: the node answers only
/// the latest unanswered one once its socket is full, so its memory grows
/// by at most the session's queue budget (1 MiB by default), not by the
/// ~0.9 byte per byte sent that queued Pongs cost before (+375 MB for
/// this flood; the bound below is 32 MiB). The session ends as
/// `disconnected` or is still open; either way the node stays responsive.
///
/// RSS is the process's, so the measurement runs in a child process (this
/// test binary again, running this test alone), as the streaming test's.
#[test]
fn ping_flood_from_a_client_that_never_reads_is_bounded() {
    if std::env::var_os(ALONE).is_some() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(measure_ping_flood());
        return;
    }
    crate::support::run_in_a_process_of_its_own(
        "hostile_transport::ping_flood_from_a_client_that_never_reads_is_bounded",
        ALONE,
    );
}

/// Set in the child process that measures the Ping flood.
const ALONE: &str = "RUES_PING_FLOOD_TEST_ALONE";

async fn measure_ping_flood() {
    // Through the server's own upgrade, then through the warp filter
    // (`Endpoint::filter`, warp's WebSocket), whose Pongs are capped by the
    // same budget.
    let server = TestServer::start().await;
    flood_with_pings(server.addr).await;

    let endpoint = rues_warp::Endpoint::new(
        Config::new(rues_testkit::VERSION.parse().expect("version")),
        rues_testkit::registry(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bound");
    let addr = listener.local_addr().expect("an address");
    let serving = tokio::spawn(warp::serve(endpoint.filter()).incoming(listener).run());
    flood_with_pings(addr).await;
    serving.abort();
}

/// 400 MB of Pings into one session at `addr`, never reading: the process's
/// RSS grows by under 32 MiB, and the node still answers.
async fn flood_with_pings(addr: SocketAddr) {
    let mut stream = raw_session(addr).await;
    let frame = ping_frame();
    let batch: Vec<u8> = frame
        .iter()
        .copied()
        .cycle()
        .take(frame.len() * 8000)
        .collect();
    let pid = std::process::id();
    // Warm up (the first Pongs fill the socket buffers), then measure.
    for _ in 0..8 {
        stream.write_all(&batch).await.expect("sent");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = rss_kib(pid).expect("RSS");
    let target: usize = 400 * 1000 * 1000;
    let mut sent = 0usize;
    while sent < target {
        match tokio::time::timeout(PATIENCE, stream.write_all(&batch)).await {
            Ok(Ok(())) => sent += batch.len(),
            // Closed by the node: bounded too.
            Ok(Err(_)) => break,
            Err(_) => panic!("the node at {addr} stopped reading after {sent} bytes"),
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = rss_kib(pid).expect("RSS");
    let grown_mib = after.saturating_sub(before) / 1024;
    println!("{addr}: {sent} bytes of Pings: RSS {before} KiB -> {after} KiB");
    assert!(
        grown_mib < 32,
        "{sent} bytes of Pings grew RSS by {grown_mib} MiB ({before} -> {after} KiB)"
    );
    let info = http(addr, Method::POST, "/on/node/info", &[], b"").await;
    assert_eq!(info.status.as_u16(), 200);
    drop(stream);
}

/// A TCP close without a Close frame is a client that went away:
/// `disconnected` in `/metrics`, not `protocol_error` (which it was, since
/// tungstenite calls it a protocol error).
#[tokio::test]
async fn a_plain_tcp_close_counts_as_disconnected() {
    let server = TestServer::start().await;
    for _ in 0..3 {
        drop(raw_session(server.addr).await);
    }
    server
        .wait_for("the sessions to close", |stats| {
            stats.sessions_open == 0 && stats.sessions_opened == 3
        })
        .await;
    let metrics = http(server.addr, Method::GET, "/metrics", &[], b"").await;
    let text = String::from_utf8_lossy(&metrics.body).into_owned();
    let closed = |reason: &str| {
        metric(
            &text,
            &format!("rues_sessions_closed_total{{reason=\"{reason}\"}}"),
        )
    };
    assert_eq!(closed("disconnected"), Some(3), "{text}");
    assert_eq!(closed("protocol_error"), Some(0), "{text}");
}

/// RFC 6455 and RFC 9112 at the handshake: each refusal is an HTTP
/// response with the JSON error and `Rusk-Version`, never a 101.
#[tokio::test]
async fn malformed_handshakes_are_refused_over_http() {
    let server = TestServer::start().await;
    let addr = server.addr;

    for key in [
        "not-a-key",
        "dGhlIHNhbXBsZSBub25jZQ=",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let request = format!(
            "GET /on HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{UPGRADE}Sec-WebSocket-Key: {key}\r\n\r\n"
        );
        let answer = raw(addr, request.as_bytes()).await;
        assert_eq!(answer.status, 400, "key {key}: {answer:?}");
        assert!(answer.error().contains("Sec-WebSocket-Key"), "{answer:?}");
        assert!(!answer.body.contains(key), "the key is never echoed");
        assert!(answer.header("rusk-version").is_some());
    }

    // Another WebSocket version: 426 naming the one the node speaks.
    let request = format!(
        "GET /on HTTP/1.1\r\nHost: x\r\nConnection: close\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\n{KEY}\r\n"
    );
    let answer = raw(addr, request.as_bytes()).await;
    assert_eq!(answer.status, 426, "{answer:?}");
    assert_eq!(answer.header("sec-websocket-version"), Some("13"));
    assert!(answer.header("rusk-version").is_some());

    // An HTTP/1.0 upgrade: an HTTP refusal (426), never a 101.
    let request = format!("GET /on HTTP/1.0\r\nHost: x\r\n{UPGRADE}{KEY}\r\n");
    let answer = raw(addr, request.as_bytes()).await;
    assert_eq!(answer.status, 426, "{answer:?}");
    assert_eq!(answer.header("sec-websocket-version"), Some("13"));
    assert!(!answer.error().is_empty(), "{answer:?}");

    // HTTP/1.1 without Host: 400, upgrade or not.
    let request = format!("GET /on HTTP/1.1\r\n{UPGRADE}{KEY}\r\n");
    let answer = raw(addr, request.as_bytes()).await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(answer.error().contains("Host"), "{answer:?}");
    let answer = raw(
        addr,
        b"POST /on/node/info HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(answer.error().contains("Host"), "{answer:?}");
    assert!(answer.header("rusk-version").is_some());
    // Two Hosts are as bad as none.
    let answer = raw(
        addr,
        b"GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(answer.status, 400, "{answer:?}");

    // HTTP/1.0 needs no Host.
    let answer = raw(
        addr,
        b"POST /on/node/info HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");

    // No session was opened by any of it.
    assert_eq!(server.publisher.stats().sessions_opened, 0);
}

/// Responses the core does not build carry `Rusk-Version` too: `/metrics`
/// and the application's own routes (the explorer's pages, in `rues`).
#[tokio::test]
async fn every_response_carries_rusk_version() {
    let page = warp::path("page")
        .map(|| warp::reply::Response::new("a page".into()))
        .boxed();
    let server = Server::bind(
        Config::new(rues_testkit::VERSION.parse().expect("version")),
        Registry::new(),
        TransportConfig::new(SocketAddr::from(([127, 0, 0, 1], 0))),
    )
    .await
    .expect("bound")
    .with_routes(page);
    let running = Running::start(server);
    let addr = running.addr;
    for path in ["/metrics", "/page", "/nowhere", "/on/node/info"] {
        let answer = http(addr, Method::GET, path, &[], b"").await;
        assert_eq!(
            answer.header("rusk-version"),
            Some(rues_testkit::VERSION),
            "{path}: {}",
            answer.status
        );
    }
    running.stop().await;
}

/// A client that asks for a large answer and never reads it loses its
/// connection once the answer has stalled for the write deadline, instead
/// of holding the connection, its task and the answer's memory forever.
/// Before the deadline the node waited, and a reader arriving late got all
/// 64 MiB.
#[tokio::test]
async fn an_answer_the_client_never_reads_ends_its_connection() {
    const SIZE: usize = 64 * 1024 * 1024;
    let answer = bytes::Bytes::from(vec![b'x'; SIZE]);
    let big = warp::path("big")
        .map(move || warp::reply::Response::new(answer.clone().into()))
        .boxed();
    let mut transport = TransportConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)));
    transport.write_stall_timeout = Duration::from_millis(300);
    let server = Server::bind(
        Config::new(rues_testkit::VERSION.parse().expect("version")),
        Registry::new(),
        transport,
    )
    .await
    .expect("bound")
    .with_routes(big);
    let running = Running::start(server);
    let addr = running.addr;

    let mut stream = TcpStream::connect(addr).await.expect("connected");
    stream
        .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("sent");
    // Not reading, for well past the deadline.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut received = 0usize;
    let mut buffer = vec![0u8; 256 * 1024];
    let ended = tokio::time::timeout(PATIENCE, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received += n,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the connection was not closed");
    assert!(
        received < SIZE,
        "the whole answer ({received} bytes) waited for the reader"
    );
    // Everyone else is served as before.
    let info = http(addr, Method::GET, "/metrics", &[], b"").await;
    assert_eq!(info.status, rues_core::http::StatusCode::OK);
    running.stop().await;
}
