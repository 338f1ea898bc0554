//! Feeds arbitrary sequences of upgrades, requests, frames, publishes, gap
//! notices, timeouts and closes into a `rues_core::Node`, and drains every session's
//! outbox as its writer would. Nothing may panic, every response must carry
//! a status the protocol documents, a closed session's outbox must say so,
//! and once every session is closed nothing may be left behind.

#![no_main]

use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use rues_core::http::{HeaderMap, HeaderName, HeaderValue, Method};
use rues_core::rues_target::EventPath;
use rues_core::{
    AccessRules, Config, Decision, Event, Limits, Node, Outbox, SeededIds, SessionId, SocketEnd,
    Transmit,
};
use rues_testkit::{assert_holds_nothing, registry};

#[derive(Debug, Arbitrary)]
enum Op {
    /// A session from one of a few client addresses (or from none known).
    Open {
        peer: u8,
    },
    Request {
        method: u8,
        session: Option<u8>,
        path: String,
        headers: Vec<(String, Vec<u8>)>,
        body: Vec<u8>,
    },
    Publish {
        path: String,
        payload: Vec<u8>,
    },
    Inbound {
        session: u8,
        len: u32,
    },
    Advance {
        millis: u16,
    },
    Drain {
        session: u8,
    },
    Close {
        session: u8,
    },
    /// An upgrade on any path: only `/on` and `/on/` open a session.
    Upgrade {
        path: String,
        peer: u8,
    },
    /// A gap notice on the stream of `path`, with any reason.
    Gap {
        path: String,
        reason: String,
    },
}

/// One of three client addresses, or none (an adapter that knows no peer),
/// so the per-client session limit is reached, and freed, often.
fn peer(i: u8) -> Option<std::net::IpAddr> {
    (i % 4 != 3).then(|| std::net::IpAddr::from([127, 0, 0, i % 4]))
}

const DOCUMENTED: &[u16] = &[
    200, 202, 204, 400, 403, 404, 405, 413, 422, 424, 426, 429, 500, 503,
];

fn poll_ready<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let mut limits = Limits::default();
    limits.max_sessions = 8;
    limits.max_subscriptions = 4;
    limits.max_total_subscriptions = 10;
    limits.max_sessions_per_client = 3;
    limits.max_body = 64;
    limits.max_queue_bytes = 512;
    let config = Config::new("1.6.0".parse().expect("valid"))
        .with_limits(limits)
        .with_access(
            AccessRules::parse(["DENY POST /on/blocks/", "DENY GET /on/contracts:*/secret"])
                .expect("valid"),
        );
    let mut node = Node::new(config, registry(), SeededIds::new(1));
    let start = Instant::now();
    let mut now = start;
    let mut sessions: Vec<(SessionId, Outbox)> = Vec::new();
    let pick = |sessions: &[(SessionId, Outbox)], i: u8| {
        sessions
            .get(usize::from(i) % sessions.len().max(1))
            .cloned()
    };
    let max_inbound = node.config().limits.max_inbound_frame;
    let mut frames = Vec::new();

    for op in ops.into_iter().take(256) {
        match op {
            Op::Open { peer: i } => {
                if let Ok(session) = node.handle_upgrade(now, "/on", &HeaderMap::new(), peer(i)) {
                    sessions.push((session.id, session.outbox));
                }
            }
            Op::Upgrade { path, peer: i } => {
                match node.handle_upgrade(now, &path, &HeaderMap::new(), peer(i)) {
                    Ok(session) => {
                        assert!(
                            path == "/on" || path == "/on/",
                            "a session opened on {path:?}"
                        );
                        sessions.push((session.id, session.outbox));
                    }
                    Err(refusal) => assert!(
                        [404, 429, 503].contains(&refusal.status().as_u16()),
                        "upgrade refused with {}",
                        refusal.status()
                    ),
                }
            }
            Op::Request {
                method,
                session,
                path,
                headers,
                body,
            } => {
                let method = match method % 6 {
                    0 => Method::GET,
                    1 => Method::DELETE,
                    2 => Method::POST,
                    3 => Method::OPTIONS,
                    4 => Method::PUT,
                    _ => Method::HEAD,
                };
                let mut map = HeaderMap::new();
                for (name, value) in headers.into_iter().take(8) {
                    if let (Ok(name), Ok(value)) = (
                        HeaderName::from_bytes(name.as_bytes()),
                        HeaderValue::from_bytes(&value),
                    ) {
                        map.append(name, value);
                    }
                }
                if let Some((id, _)) = session.and_then(|i| pick(&sessions, i)) {
                    map.insert(
                        "rusk-session-id",
                        HeaderValue::from_str(&id.to_string()).expect("hex"),
                    );
                }
                let response = match node.handle_request(&method, &path, &map) {
                    Decision::Respond(response) => response,
                    // A single node forwards nothing: its own answer.
                    Decision::Forward(forward) => forward.fallback,
                    Decision::ReadBody(ticket) => {
                        if body.len() > ticket.body_limit().max() {
                            ticket.body_limit().too_large()
                        } else {
                            match ticket.with_body(Bytes::from(body)) {
                                Ok(call) => rues_testkit::collect(poll_ready(call.run())),
                                Err(response) => response,
                            }
                        }
                    }
                };
                assert!(
                    DOCUMENTED.contains(&response.status().as_u16()),
                    "undocumented status {}",
                    response.status()
                );
                assert!(response.headers().contains_key("rusk-version"));
                if response.status().is_client_error() || response.status().is_server_error() {
                    let body: serde_json::Value =
                        serde_json::from_slice(response.body()).expect("JSON error body");
                    assert!(body["error"].is_string());
                }
            }
            Op::Publish { path, payload } => {
                if let Ok(path) = EventPath::parse(&path) {
                    let _ = node.publish(&Event::new(
                        path,
                        "application/octet-stream",
                        Bytes::from(payload),
                    ));
                }
            }
            Op::Gap { path, reason } => {
                if let Ok(path) = EventPath::parse(&path) {
                    let _ = node.publish_gap(&path, &reason);
                }
            }
            Op::Inbound { session, len } => {
                if let Some((id, outbox)) = pick(&sessions, session) {
                    // What the adapter's WebSocket layer does: a frame over
                    // the limit is refused, anything else is a sign of life.
                    if len as usize > max_inbound {
                        node.handle_closed(id, SocketEnd::FrameTooBig);
                        let closed = outbox.try_next(usize::MAX, &mut frames);
                        assert!(matches!(closed, Some(Transmit::Close(_))), "{closed:?}");
                    } else {
                        node.handle_inbound(id, now);
                    }
                }
            }
            Op::Advance { millis } => {
                now += Duration::from_millis(u64::from(millis) * 100);
                node.handle_timeout(now);
            }
            Op::Drain { session } => {
                if let Some((id, outbox)) = pick(&sessions, session) {
                    loop {
                        frames.clear();
                        match outbox.try_next(usize::MAX, &mut frames) {
                            Some(Transmit::Frames(n)) => assert_eq!(n, frames.len()),
                            Some(Transmit::Ping) => {}
                            Some(Transmit::Close(_)) => {
                                assert!(!node.is_open(id), "a close for an open session");
                                break;
                            }
                            _ => break,
                        }
                    }
                }
            }
            Op::Close { session } => {
                if let Some((id, _)) = pick(&sessions, session) {
                    node.handle_closed(id, SocketEnd::ClientClose);
                    sessions.retain(|(s, _)| *s != id);
                }
            }
        }
    }
    for (id, outbox) in sessions {
        node.handle_closed(id, SocketEnd::Vanished);
        assert!(matches!(
            outbox.try_next(usize::MAX, &mut frames),
            Some(Transmit::Close(_))
        ));
    }
    let stats = node.stats();
    assert_holds_nothing(&stats);
    assert_eq!(node.next_timeout(), None);
});
