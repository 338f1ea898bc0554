//! The hostile-input suite: malformed paths, headers, bodies, methods and
//! WebSocket frames, each answered with its documented status or close code
//! and message. After all of it, the node still serves a fresh client and
//! holds no leaked session or subscription.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::SinkExt;
use rues_core::Limits;
use rues_core::http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};

use crate::support::{PATIENCE, TestServer};

/// A response read off a raw socket.
#[derive(Debug)]
struct Raw {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }

    fn error_message(&self) -> String {
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// Sends raw bytes as one request (the connection is closed after it) and
/// reads the whole response.
async fn raw(addr: SocketAddr, request: &[u8]) -> Raw {
    let mut stream = TcpStream::connect(addr).await.expect("connected");
    stream.write_all(request).await.expect("sent");
    let mut bytes = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut bytes))
        .await
        .expect("answered in time");
    parse(&bytes)
}

fn parse(bytes: &[u8]) -> Raw {
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(bytes)));
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let mut body = bytes[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Raw { status, head, body }
}

fn dechunk(mut bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = bytes.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&bytes[..line_end]).trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&bytes[start..(start + size).min(bytes.len())]);
        bytes = &bytes[(start + size + 2).min(bytes.len())..];
    }
    out
}

/// One case: a raw request and what must come back.
struct Case {
    name: &'static str,
    request: Vec<u8>,
    status: u16,
    /// A substring of the JSON error message; empty when the answer is not ours
    /// (hyper refuses what is not HTTP) or has no body.
    message: &'static str,
}

fn request(method: &str, path: &[u8], headers: &[(&str, &[u8])], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(path);
    out.extend_from_slice(b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    if !body.is_empty() || method == "POST" {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

fn cases(session: &str, closed: &str) -> Vec<Case> {
    let sid: &[u8] = session.as_bytes();
    let closed: &[u8] = closed.as_bytes();
    let with = |s: &'static str, p: &str, status: u16, message: &'static str| Case {
        name: s,
        request: request("GET", p.as_bytes(), &[("Rusk-Session-Id", sid)], b""),
        status,
        message,
    };
    let long_entity = format!("/on/blocks:{}/accepted", "e".repeat(257));
    let ok_entity = format!("/on/blocks:{}/accepted", "e".repeat(256));
    let long_topic = format!("/on/node/{}", "t".repeat(129));
    let long_path = format!("/on/blocks:{}/accepted", "%41".repeat(400));
    vec![
        // Paths.
        with("path: no topic", "/on/blocks", 404, "topic"),
        with("path: trailing slash, no topic", "/on/blocks/", 404, "topic"),
        with("path: extra segment", "/on/blocks/accepted/extra", 404, "segment"),
        with("path: two extra segments", "/on/blocks/accepted/a/b", 404, "segment"),
        with("path: empty topic between slashes", "/on/blocks//accepted", 404, ""),
        with("path: empty component", "/on//accepted", 404, "empty"),
        with("path: empty entity", "/on/blocks:/accepted", 404, "empty"),
        with("path: entity without component", "/on/:ab/accepted", 404, "empty"),
        with("path: bad prefix", "/onx/blocks/accepted", 404, "no such route"),
        with("path: prefix glued", "/online", 404, "no such route"),
        with("path: outside /on", "/blocks/accepted", 404, "no such route"),
        with("path: encoded colon in component", "/on/blocks%3Aab/accepted", 404, "component"),
        with("path: encoded slash forging a segment", "/on/blocks%2Faccepted/x", 404, "component"),
        with("path: encoded colon in entity is data", "/on/blocks:a%3Ab/accepted", 200, ""),
        with("path: encoded slash in entity is data", "/on/blocks:a%2Fb/accepted", 200, ""),
        with("path: encoded slash in topic is data", "/on/blocks:a/acc%2Fepted", 404, "unknown topic"),
        with("path: raw colon in topic", "/on/blocks:a/accepted:x", 404, "unknown topic"),
        with("path: entity at the limit", &ok_entity, 200, ""),
        with("path: entity over the limit", &long_entity, 404, "256"),
        with("path: topic over the limit", &long_topic, 404, "128"),
        with("path: path over the limit", &long_path, 404, "1024"),
        with("path: invalid percent-encoding", "/on/blocks:%zz/accepted", 404, "percent"),
        with("path: truncated percent-encoding", "/on/blocks:%4/accepted", 404, "percent"),
        with("path: percent at the end", "/on/blocks:ab/accepted%", 404, "percent"),
        with("path: decodes to non-UTF-8", "/on/blocks:%FF/accepted", 404, "UTF-8"),
        with("path: decodes to broken UTF-8", "/on/blocks:%C3%28/accepted", 404, "UTF-8"),
        with("path: unknown component", "/on/block/accepted", 404, "unknown component `block`"),
        with("path: component in any case", "/on/Blocks/accepted", 200, ""),
        with("path: topic in any case", "/on/blocks/ACCEPTED", 200, ""),
        with("path: component not served", "/on/contracts/transfer", 404, "unknown component"),
        with("path: entity forbidden", "/on/node:x/info", 404, "takes no entity"),
        with("path: query string ignored", "/on/blocks:q/accepted?x=1&y", 200, ""),
        with("path: encoded space entity", "/on/blocks:%20/accepted", 200, ""),
        Case { name: "path: raw non-UTF-8 byte", request: request("GET", b"/on/blocks:\xff/accepted", &[("Rusk-Session-Id", sid)], b""), status: 400, message: "not valid HTTP/1.1" },
        Case { name: "path: raw space splits the request line", request: request("GET", b"/on/blocks:a b/accepted", &[("Rusk-Session-Id", sid)], b""), status: 400, message: "not valid HTTP/1.1" },
        // Headers.
        Case { name: "header: no session", request: request("GET", b"/on/blocks/accepted", &[], b""), status: 424, message: "Rusk-Session-Id" },
        Case { name: "header: short session", request: request("GET", b"/on/blocks/accepted", &[("Rusk-Session-Id", b"abc")], b""), status: 424, message: "Rusk-Session-Id" },
        Case { name: "header: 31 hex session", request: request("GET", b"/on/blocks/accepted", &[("Rusk-Session-Id", &sid[..31])], b""), status: 424, message: "Rusk-Session-Id" },
        Case { name: "header: 33 hex session", request: request("GET", b"/on/blocks/accepted", &[("Rusk-Session-Id", format!("{session}0").as_bytes())], b""), status: 424, message: "Rusk-Session-Id" },
        Case { name: "header: non-hex session", request: request("GET", b"/on/blocks/accepted", &[("Rusk-Session-Id", "g".repeat(32).as_bytes())], b""), status: 424, message: "Rusk-Session-Id" },
        Case { name: "header: non-ASCII session", request: request("GET", b"/on/blocks/accepted", &[("Rusk-Session-Id", "é".repeat(16).as_bytes())], b""), status: 424, message: "Rusk-Session-Id" },
        Case { name: "header: foreign session", request: request("GET", b"/on/blocks/accepted", &[("Rusk-Session-Id", b"0123456789abcdef0123456789abcdef")], b""), status: 424, message: "unknown or closed" },
        Case { name: "header: closed session", request: request("GET", b"/on/blocks/accepted", &[("Rusk-Session-Id", closed)], b""), status: 424, message: "unknown or closed" },
        Case { name: "header: session in upper case", request: request("GET", b"/on/blocks:upper/accepted", &[("Rusk-Session-Id", session.to_uppercase().as_bytes())], b""), status: 200, message: "" },
        Case { name: "header: version mismatch", request: request("GET", b"/on/blocks/accepted", &[("Rusk-Version", b"2.0.0")], b""), status: 400, message: "does not satisfy" },
        Case { name: "header: version garbage", request: request("GET", b"/on/blocks/accepted", &[("Rusk-Version", b"one point six")], b""), status: 400, message: "invalid Rusk-Version" },
        Case { name: "header: version empty", request: request("GET", b"/on/blocks/accepted", &[("Rusk-Version", b"")], b""), status: 400, message: "invalid Rusk-Version" },
        Case { name: "header: version range excluding the node", request: request("GET", b"/on/blocks/accepted", &[("Rusk-Version", b">=1.0.0, <1.5")], b""), status: 400, message: "does not satisfy" },
        Case { name: "header: version non-ASCII", request: request("GET", b"/on/blocks/accepted", &[("Rusk-Version", "1.é".as_bytes())], b""), status: 400, message: "ASCII" },
        Case { name: "header: strict without version", request: request("GET", b"/on/blocks/accepted", &[("Rusk-Version-Strict", b"true")], b""), status: 400, message: "required" },
        Case { name: "header: strict false without version", request: request("POST", b"/on/node/accept", &[("Rusk-Version-Strict", b"false")], b""), status: 202, message: "" },
        Case { name: "header: strict with a matching version", request: request("POST", b"/on/node/accept", &[("Rusk-Version-Strict", b"1"), ("Rusk-Version", b"1.0.0-rc.0")], b""), status: 202, message: "" },
        Case { name: "header: huge header value", request: request("POST", b"/on/node/accept", &[("X-Junk", "x".repeat(512 * 1024).as_bytes())], b""), status: 431, message: "head is too large" },
        Case { name: "header: too many headers", request: request("POST", b"/on/node/accept", &(0..200).map(|_| ("X-Many", &b"1"[..])).collect::<Vec<_>>(), b""), status: 431, message: "too many header fields" },
        Case { name: "header: a line without a colon", request: b"GET /on HTTP/1.1\r\nHost: x\r\nNo-Colon\r\n\r\n".to_vec(), status: 400, message: "not valid HTTP/1.1" },
        Case { name: "head: not HTTP at all", request: b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(), status: 400, message: "not valid HTTP/1.1" },
        Case { name: "head: HTTP/2 prior knowledge", request: b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(), status: 505, message: "HTTP/1.1" },
        Case { name: "head: target over 8 KiB", request: request("GET", format!("/on/{}", "a".repeat(9000)).as_bytes(), &[], b""), status: 414, message: "too long" },
        Case { name: "head: target over hyper's 64 KiB", request: request("GET", format!("/on/{}", "a".repeat(70_000)).as_bytes(), &[], b""), status: 414, message: "too long" },
        Case { name: "head: two different lengths", request: b"POST /on/node/accept HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab".to_vec(), status: 400, message: "Content-Length" },
        Case { name: "head: a transfer coding that is not chunked", request: b"POST /on/node/accept HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n".to_vec(), status: 400, message: "Transfer-Encoding" },
        // Bodies.
        Case { name: "body: over the limit", request: request("POST", b"/on/node/echo", &[("Content-Type", b"application/octet-stream")], &vec![0u8; 4097]), status: 413, message: "exceeds 4096 bytes" },
        Case { name: "body: announced over the limit", request: b"POST /on/node/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 10485760\r\n\r\npartial".to_vec(), status: 413, message: "exceeds 4096 bytes" },
        Case { name: "body: chunked over the limit", request: [&b"POST /on/node/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"[..], &chunked(&vec![b'a'; 5000])].concat(), status: 413, message: "exceeds 4096 bytes" },
        Case { name: "body: non-UTF-8 text", request: request("POST", b"/on/node/echo", &[], &[0xff, 0xfe, 0x00]), status: 422, message: "UTF-8" },
        Case { name: "body: bad 0x hex", request: request("POST", b"/on/node/echo", &[], b"0xzz"), status: 422, message: "not hex" },
        Case { name: "body: odd 0x hex", request: request("POST", b"/on/node/echo", &[], b"0xabc"), status: 422, message: "not hex" },
        Case { name: "body: text the handler cannot process", request: request("POST", b"/on/node/echo", &[("Content-Type", b"text/plain")], b"hello"), status: 422, message: "binary" },
        Case { name: "body: JSON content type with garbage bytes", request: request("POST", b"/on/node/echo", &[("Content-Type", b"application/json")], &[0xc3]), status: 422, message: "UTF-8" },
        Case { name: "body: 0x hex decodes to binary", request: request("POST", b"/on/node/echo", &[], b"0x00ff"), status: 200, message: "" },
        Case { name: "body: dispatch to an event-only topic", request: request("POST", b"/on/blocks/accepted", &[], b""), status: 404, message: "no dispatch handler" },
        // Methods.
        Case { name: "method: PUT", request: request("PUT", b"/on/blocks/accepted", &[], b""), status: 405, message: "PUT" },
        Case { name: "method: PATCH", request: request("PATCH", b"/on/blocks/accepted", &[], b""), status: 405, message: "PATCH" },
        Case { name: "method: HEAD", request: request("HEAD", b"/on/blocks/accepted", &[], b""), status: 405, message: "" },
        Case { name: "method: TRACE", request: request("TRACE", b"/on/blocks/accepted", &[], b""), status: 405, message: "TRACE" },
        Case { name: "method: OPTIONS without CORS headers", request: request("OPTIONS", b"/on/blocks/accepted", &[], b""), status: 204, message: "" },
        Case { name: "method: GET on the session path without upgrade", request: request("GET", b"/on", &[], b""), status: 426, message: "WebSocket upgrade" },
        Case { name: "upgrade: wrong path", request: request("GET", b"/on/blocks/accepted", &[("Upgrade", b"websocket"), ("Connection", b"Upgrade"), ("Sec-WebSocket-Version", b"13"), ("Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ==")], b""), status: 404, message: "sessions are opened on /on" },
        Case { name: "upgrade: bad WebSocket version", request: request("GET", b"/on", &[("Upgrade", b"websocket"), ("Connection", b"Upgrade"), ("Sec-WebSocket-Version", b"8"), ("Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ==")], b""), status: 426, message: "" },
    ]
}

fn chunked(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in body.chunks(1000) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// A bad head after good requests on one connection: the good ones are
/// answered, then the bad one gets the node's own refusal and the
/// connection closes.
#[tokio::test]
async fn a_bad_head_after_good_requests_is_refused_in_turn() {
    let server = TestServer::start().await;
    let good = b"POST /on/node/accept HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nGET ";
    let mut pipelined = [&good[..], &good[..]].concat();
    pipelined.extend_from_slice(b"GET /on HTTP/1.1\r\nBad Header: x\r\n\r\n");
    let mut stream = TcpStream::connect(server.addr).await.expect("connected");
    stream.write_all(&pipelined).await.expect("sent");
    let mut bytes = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut bytes))
        .await
        .expect("answered in time");
    let text = String::from_utf8_lossy(&bytes);
    let statuses: Vec<&str> = text
        .match_indices("HTTP/1.1 ")
        .map(|(at, _)| &text[at + 9..at + 12])
        .collect();
    assert_eq!(statuses, ["202", "202", "400"], "{text}");
    let last = parse(&bytes[text.rfind("HTTP/1.1 400").expect("the refusal")..]);
    assert!(last.header("rusk-version").is_some(), "{}", last.head);
    assert_eq!(
        last.error_message(),
        "the request head is not valid HTTP/1.1"
    );
}

#[tokio::test]
async fn hostile_input_gets_documented_answers_and_leaves_nothing_behind() {
    // No `contracts`: a component this node does not serve.
    let server = TestServer::builder()
        .registry(rues_testkit::registry_without_contracts())
        .config(|c| {
            let mut limits = Limits::default();
            limits.max_body = 4096;
            c.with_limits(limits)
        })
        .start()
        .await;
    let client = server.connect().await;
    let mut gone = server.connect().await;
    let closed = gone.session_text.clone();
    gone.send(Message::Close(None)).await;
    server
        .wait_for("the closed session", |s| s.sessions_open == 1)
        .await;

    let cases = cases(&client.session_text, &closed);
    let mut failures = Vec::new();
    for case in &cases {
        let answer = raw(server.addr, &case.request).await;
        let message = answer.error_message();
        // Every answer is the node's own (hyper's bare refusals of a head
        // included: the listener checks heads first), and its errors JSON.
        let ours = answer.header("rusk-version").is_some();
        let ok = answer.status == case.status
            && (case.message.is_empty() || message.contains(case.message))
            && ours
            && (answer.status < 400
                || answer.header("content-type").as_deref() == Some("application/json"));
        if !ok {
            failures.push(format!(
                "{}: got {} {:?} (expected {} containing {:?})",
                case.name, answer.status, message, case.status, case.message
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    let http_cases = cases.len();

    // WebSocket frames.
    let ws_cases = hostile_frames(&server).await;
    assert!(
        http_cases + ws_cases >= 60,
        "only {} cases",
        http_cases + ws_cases
    );

    // Still serving, and nothing leaked: the one live client's subscriptions
    // are all that is left.
    drop(client);
    server
        .wait_for("every hostile session released", |s| {
            s.sessions_open == 0 && s.subscriptions == 0 && s.bytes_queued == 0
        })
        .await;
    let mut fresh = server.connect().await;
    assert_eq!(
        fresh.subscribe(&server, "/on/blocks/accepted").await.status,
        StatusCode::OK
    );
    assert_eq!(server.publish("/on/blocks:after/accepted", b"{}"), 1);
    assert_eq!(
        fresh.next_event().await.content_location(),
        Some("/on/blocks:after/accepted")
    );
    let metrics = server
        .http(rues_core::http::Method::GET, "/metrics", &[], b"")
        .await;
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.contains("rues_sessions_open 1") && text.contains("rues_subscriptions 1"),
        "{text}"
    );
}

/// Hostile WebSocket input; returns how many cases ran.
async fn hostile_frames(server: &TestServer) -> usize {
    // An oversized frame: 1009.
    let mut client = server.connect().await;
    client.send(Message::binary(vec![0u8; 64 * 1024 + 1])).await;
    assert_eq!(client.close_code().await, Some(1009), "oversized frame");

    // An oversized message in small fragments: 1009.
    let mut client = server.connect().await;
    let piece = vec![b'x'; 16 * 1024];
    for i in 0..5 {
        let opcode = if i == 0 {
            OpCode::Data(Data::Binary)
        } else {
            OpCode::Data(Data::Continue)
        };
        let frame = Frame::from_payload(
            FrameHeader {
                is_final: false,
                opcode,
                ..FrameHeader::default()
            },
            piece.clone().into(),
        );
        if client.ws.send(Message::Frame(frame)).await.is_err() {
            break;
        }
    }
    assert_eq!(
        client.close_code().await,
        Some(1009),
        "oversized fragmented message"
    );

    // Text that is not UTF-8: 1002 (protocol error).
    let mut client = server.connect().await;
    let frame = Frame::from_payload(
        FrameHeader {
            opcode: OpCode::Data(Data::Text),
            ..FrameHeader::default()
        },
        vec![0xff, 0xfe].into(),
    );
    client.ws.send(Message::Frame(frame)).await.expect("sent");
    assert_eq!(client.close_code().await, Some(1002), "invalid UTF-8 text");

    // A reserved opcode: 1002.
    let mut client = server.connect().await;
    let frame = Frame::from_payload(
        FrameHeader {
            opcode: OpCode::Data(Data::Reserved(3)),
            ..FrameHeader::default()
        },
        vec![1].into(),
    );
    let _ = client.ws.send(Message::Frame(frame)).await;
    assert_eq!(client.close_code().await, Some(1002), "reserved opcode");

    // Garbage bytes after a successful upgrade (unmasked, bad header): the
    // node closes the connection (1002 when it can still say so) and
    // releases the session.
    let before = server.publisher.stats().sessions_opened;
    let mut stream = TcpStream::connect(server.addr).await.expect("connected");
    stream
        .write_all(b"GET /on HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        .await
        .expect("sent");
    let mut head = vec![0u8; 4096];
    let n = tokio::time::timeout(PATIENCE, stream.read(&mut head))
        .await
        .expect("in time")
        .expect("read");
    assert!(
        String::from_utf8_lossy(&head[..n]).starts_with("HTTP/1.1 101"),
        "{:?}",
        String::from_utf8_lossy(&head[..n])
    );
    stream.write_all(&[0x7f; 64]).await.expect("garbage sent");
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut rest))
        .await
        .expect("closed in time");
    assert!(server.publisher.stats().sessions_opened > before);

    // A client that vanishes mid-frame.
    let mut stream = TcpStream::connect(server.addr).await.expect("connected");
    stream
        .write_all(b"GET /on HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        .await
        .expect("sent");
    let _ = tokio::time::timeout(PATIENCE, stream.read(&mut head)).await;
    stream
        .write_all(&[0x82, 0xfe, 0x10])
        .await
        .expect("half a frame");
    drop(stream);
    tokio::time::sleep(Duration::from_millis(50)).await;
    6
}
