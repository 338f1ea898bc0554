//! `rues relay` (docs/relay.md), as an operator runs it: the relay process
//! in front of a `rues serve` process (or of a fake upstream that speaks
//! as rusk does), every client on real sockets.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use hyper::{Method, StatusCode};
use rues_testkit::{Answer, FAKE_RUSK_VERSION, FakeRusk, WsClient, http};
use tokio_tungstenite::tungstenite::Message;

use crate::node::{Node, PATIENCE};
use crate::sockets::{consecutive_blocks, metric, session, text};

const ACCEPTED: &str = "/on/blocks/accepted";
/// A transaction nobody sends: subscribable, never an event.
const TX: &str =
    "/on/transactions:00000000000000000000000000000000000000000000000000000000000000aa/executed";
const TX_ALL: &str = "/on/transactions/executed";

async fn request(addr: SocketAddr, method: Method, path: &str, session: &WsClient) -> Answer {
    let id = [("rusk-session-id", session.session_text.as_str())];
    http(addr, method, path, &id, b"").await
}

async fn subscribe(addr: SocketAddr, path: &str, session: &WsClient) {
    let answer = request(addr, Method::GET, path, session).await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "GET {path}: {}",
        text(&answer)
    );
}

async fn unsubscribe(addr: SocketAddr, path: &str, session: &WsClient) {
    let answer = request(addr, Method::DELETE, path, session).await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "DELETE {path}: {}",
        text(&answer)
    );
}

/// Waits until `name` at `addr` reads `value` (an unsubscribe upstream is
/// made after the downstream one is answered).
async fn metric_becomes(addr: SocketAddr, name: &str, value: f64) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let now = metric(addr, name).await;
        if now == value {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} at {addr} stayed {now}, not {value}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_sessions_share_one_upstream_subscription_per_path() {
    let upstream = Node::start(&[]);
    let relay = Node::relay(&format!("http://{}", upstream.addr), &["--no-explorer"]);
    assert!(
        relay.banner.contains("node version 1.6.0"),
        "the upstream's version: {}",
        relay.banner
    );
    let (up, down) = (upstream.addr, relay.addr);

    // Four sessions on the same path, at once (they wait for the same
    // upstream answer), two on another: two upstream paths, on the
    // relay's one upstream session.
    let mut blocks = Vec::new();
    for _ in 0..4 {
        blocks.push(session(down).await);
    }
    futures_util::future::join_all(blocks.iter().map(|s| subscribe(down, ACCEPTED, s))).await;
    let mut txs = Vec::new();
    for _ in 0..2 {
        let session = session(down).await;
        subscribe(down, TX, &session).await;
        txs.push(session);
    }
    // Answered 200 only once the upstream holds it: no wait needed.
    assert_eq!(metric(up, "rues_subscriptions").await, 2.0);
    assert_eq!(metric(up, "rues_sessions_open").await, 1.0);
    assert_eq!(metric(down, "rues_relay_upstream_subscriptions").await, 2.0);
    assert_eq!(metric(down, "rues_subscriptions").await, 6.0);

    // Each session gets each block once, in order.
    for session in &mut blocks {
        consecutive_blocks(session, 3).await;
    }

    // A wildcard beside an entity path of the same stream: the upstream
    // holds the wildcard alone, and the entity path again once the
    // wildcard's session has gone.
    // Each switch ends with an unsubscribe upstream (the new set is held
    // before the old one goes), which says when it is over.
    const UPSTREAM_UNSUBSCRIBES: &str =
        "rues_requests_total{operation=\"unsubscribe\",status=\"200\"}";
    let all = session(down).await;
    subscribe(down, TX_ALL, &all).await;
    metric_becomes(up, UPSTREAM_UNSUBSCRIBES, 1.0).await;
    assert_eq!(metric(up, "rues_subscriptions").await, 2.0);
    unsubscribe(down, TX_ALL, &all).await;
    metric_becomes(up, UPSTREAM_UNSUBSCRIBES, 2.0).await;
    assert_eq!(metric(up, "rues_subscriptions").await, 2.0);
    assert_eq!(metric(down, "rues_relay_upstream_subscriptions").await, 2.0);

    // Unsubscribing: the upstream path stays while one session wants it.
    for session in &blocks[..3] {
        unsubscribe(down, ACCEPTED, session).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(metric(up, "rues_subscriptions").await, 2.0);
    unsubscribe(down, ACCEPTED, &blocks[3]).await;
    metric_becomes(up, "rues_subscriptions", 1.0).await;
    // A closed session's subscriptions go too.
    drop(txs);
    metric_becomes(up, "rues_subscriptions", 0.0).await;
    assert_eq!(metric(down, "rues_relay_upstream_subscriptions").await, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstream_answers_subscribes_and_dispatches() {
    let upstream = Node::start(&[]);
    let relay = Node::relay(&format!("http://{}", upstream.addr), &["--no-explorer"]);
    let (up, down) = (upstream.addr, relay.addr);
    let client = session(down).await;

    // A topic the upstream does not have: its 404 and message, and the
    // relay holds nothing for it.
    let direct = session(up).await;
    let refused = request(up, Method::GET, "/on/blocks/nosuch", &direct).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    let relayed = request(down, Method::GET, "/on/blocks/nosuch", &client).await;
    assert_eq!(relayed.status, StatusCode::NOT_FOUND, "{}", text(&relayed));
    assert_eq!(relayed.error(), refused.error());
    assert_eq!(metric(down, "rues_subscriptions").await, 0.0);
    let gone = request(down, Method::DELETE, "/on/blocks/nosuch", &client).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    // An unknown session is the relay's own 424, never asked upstream.
    let nobody = [("rusk-session-id", "0123456789abcdef0123456789abcdef")];
    let answer = http(down, Method::GET, ACCEPTED, &nobody, b"").await;
    assert_eq!(answer.status, StatusCode::FAILED_DEPENDENCY);

    // A dispatch: the upstream's answer, with the caller's X-* echoed.
    let direct = http(up, Method::POST, "/on/node/info", &[], b"").await;
    let answer = http(
        down,
        Method::POST,
        "/on/node/info",
        &[("x-request-id", "r-42")],
        b"",
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", text(&answer));
    assert_eq!(answer.json()["chain_id"], direct.json()["chain_id"]);
    assert_eq!(answer.header("x-request-id"), Some("r-42"));
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.header("rusk-version"), Some("1.6.0"));

    // An error status and its message, as the upstream gave them.
    let direct = http(up, Method::POST, "/on/transactions/propagate", &[], b"0x00").await;
    assert!(direct.status.is_client_error(), "{}", text(&direct));
    let answer = http(
        down,
        Method::POST,
        "/on/transactions/propagate",
        &[],
        b"0x00",
    )
    .await;
    assert_eq!(answer.status, direct.status, "{}", text(&answer));
    assert_eq!(answer.error(), direct.error());
    let answer = http(down, Method::POST, "/on/node/nosuch", &[], b"").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", text(&answer));

    // A streamed reply stays streamed, and whole.
    let leaves = "/on/contracts:0100000000000000000000000000000000000000000000000000000000000000/leaves_from_height";
    let feeder = [
        ("rusk-feeder", "1"),
        ("content-type", "application/octet-stream"),
    ];
    let direct = http(up, Method::POST, leaves, &feeder, &0u64.to_le_bytes()).await;
    let answer = http(down, Method::POST, leaves, &feeder, &0u64.to_le_bytes()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", text(&answer));
    assert_eq!(answer.header("transfer-encoding"), Some("chunked"));
    assert_eq!(
        answer.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(answer.body.len() % 112, 0, "112-byte records");
    assert!(answer.body.len() >= direct.body.len(), "the whole stream");

    // node/info, propagate, node/nosuch and the feeder: each counted.
    assert_eq!(metric(down, "rues_relay_dispatches_total").await, 4.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_of_a_rusk_upstream_get_their_content_type_and_length() {
    let rusk = FakeRusk::start().await;
    let relay = Node::relay(&rusk.url(), &["--no-explorer"]);
    assert!(
        relay
            .banner
            .contains(&format!("node version {FAKE_RUSK_VERSION}")),
        "{}",
        relay.banner
    );
    let down = relay.addr;
    let mut blocks = session(down).await;
    subscribe(down, ACCEPTED, &blocks).await;
    let contract =
        "/on/contracts:0100000000000000000000000000000000000000000000000000000000000000/moonlight";
    let mut moonlight = session(down).await;
    subscribe(down, contract, &moonlight).await;
    assert_eq!(
        rusk.subscriptions(),
        [
            "blocks/accepted",
            "contracts:0100000000000000000000000000000000000000000000000000000000000000/moonlight"
        ]
    );
    assert_eq!(rusk.sessions(), 1);

    let block = br#"{"header":{"height":7}}"#;
    assert_eq!(rusk.emit("/on/blocks:ab12/accepted", block, None), 1);
    let frame = blocks.next_event().await;
    assert_eq!(frame.content_location(), Some("/on/blocks:ab12/accepted"));
    assert_eq!(frame.content_type(), Some("application/json"));
    assert_eq!(frame.content_length(), Some(23));
    assert_eq!(frame.payload(), &block[..]);
    assert_eq!(frame.headers().get("rues-seq"), Some("1"));

    let origin = "aa".repeat(32);
    assert_eq!(rusk.emit(contract, &[1, 2, 3], Some(&origin)), 1);
    let frame = moonlight.next_event().await;
    assert_eq!(frame.content_type(), Some("application/octet-stream"));
    assert_eq!(frame.content_length(), Some(3));
    assert_eq!(frame.headers().get("rusk-origin"), Some(origin.as_str()));
    assert_eq!(frame.payload(), &[1, 2, 3][..]);
    // The other session got neither of the other's events.
    blocks.assert_quiet(Duration::from_millis(200)).await;
    assert_eq!(metric(down, "rues_relay_events_total").await, 2.0);

    // rusk's plain-text refusal becomes the protocol's JSON error, with
    // its status and message.
    let answer = http(
        down,
        Method::POST,
        "/on/transactions/propagate",
        &[],
        b"0x00",
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", text(&answer));
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(
        answer.error(),
        "Invalid input: the body is not a transaction"
    );
    let answer = http(
        down,
        Method::POST,
        "/on/node/info",
        &[
            ("x-request-id", "r-7"),
            ("rusk-version", "^1.4"),
            ("accept", "application/json"),
            ("rusk-session-id", blocks.session_text.as_str()),
            ("cookie", "secret=1"),
        ],
        b"",
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", text(&answer));
    assert_eq!(answer.header("rusk-version"), Some(FAKE_RUSK_VERSION));
    assert_eq!(answer.header("x-request-id"), Some("r-7"));
    // What reached the upstream: what it reads, and the caller's X-*;
    // neither the relay's session id nor anything else of the caller's.
    let sent = rusk.last_dispatch_headers();
    let got = |name: &str| {
        sent.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(got("x-request-id"), Some("r-7"), "{sent:?}");
    assert_eq!(got("rusk-version"), Some("^1.4"), "{sent:?}");
    assert_eq!(got("accept"), Some("application/json"), "{sent:?}");
    assert_eq!(got("rusk-session-id"), None, "{sent:?}");
    assert_eq!(got("cookie"), None, "{sent:?}");

    unsubscribe(down, ACCEPTED, &blocks).await;
    let deadline = Instant::now() + PATIENCE;
    while rusk.subscriptions().len() != 1 {
        assert!(Instant::now() < deadline, "{:?}", rusk.subscriptions());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether `/health` at `addr` answers `status`.
async fn health_is(addr: SocketAddr, status: StatusCode) -> bool {
    http(addr, Method::GET, "/health", &[], b"").await.status == status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_restart_is_a_gap_then_events_flow_again() {
    let mut upstream = Node::start(&[]);
    let addr = upstream.addr.to_string();
    let relay = Node::relay(&format!("http://{addr}"), &["--no-explorer"]);
    let down = relay.addr;
    let mut sessions = Vec::new();
    for _ in 0..2 {
        let session = session(down).await;
        subscribe(down, ACCEPTED, &session).await;
        sessions.push(session);
    }
    for session in &mut sessions {
        consecutive_blocks(session, 2).await;
    }
    assert!(health_is(down, StatusCode::OK).await);

    let _ = upstream.child.kill();
    let _ = upstream.child.wait();
    let deadline = Instant::now() + PATIENCE;
    while !health_is(down, StatusCode::SERVICE_UNAVAILABLE).await {
        assert!(Instant::now() < deadline, "/health never said 503");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(metric(down, "rues_relay_upstream_up").await, 0.0);
    let health = http(down, Method::GET, "/health", &[], b"").await.json();
    assert_eq!(
        health["checks"]["upstream"]["status"], "failing",
        "{health}"
    );

    let restarted = Node::serve(&["--listen", &addr, "--block-time-ms", "200"]);
    let back = Instant::now();
    for session in &mut sessions {
        // The session stayed open: the notice of the gap, then blocks of
        // the new upstream, within 5 s of its start (blocks queued before
        // the loss may still come before the notice).
        let left = Duration::from_secs(5).saturating_sub(back.elapsed());
        let reason = gap_notice(session, left).await;
        assert!(reason.contains("upstream"), "{reason}");
        let left = Duration::from_secs(5).saturating_sub(back.elapsed());
        tokio::time::timeout(left, consecutive_blocks(session, 1))
            .await
            .expect("a block within 5 s of the upstream's start");
    }
    assert!(health_is(down, StatusCode::OK).await);
    assert_eq!(metric(down, "rues_relay_upstream_up").await, 1.0);
    // Counted by the relay's watch of its upstream session (every 250 ms).
    metric_becomes(down, "rues_relay_upstream_reconnects_total", 1.0).await;
    metric_becomes(down, "rues_relay_upstream_resubscriptions_total", 1.0).await;
    assert_eq!(metric(restarted.addr, "rues_subscriptions").await, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_upstream_is_trusted_with_upstream_ca() {
    let files = rues_testkit::cert::CertFiles::self_signed_ca("relay-ca", &["localhost"]);
    let (cert, key) = (
        files.cert.to_str().expect("a UTF-8 path"),
        files.key.to_str().expect("a UTF-8 path"),
    );
    let upstream = Node::start(&["--tls-cert", cert, "--tls-key", key]);
    let url = format!("https://localhost:{}", upstream.addr.port());

    // Without the certificate the upstream is not trusted: the relay exits
    // instead of serving,
    // at once (it is no failure to wait out) with the reason.
    let started = Instant::now();
    let refused = crate::node::rues()
        .args(["relay", "--upstream", &url, "--listen", "127.0.0.1:0"])
        .args(["--upstream-wait", "30"])
        .output()
        .expect("rues runs");
    assert!(!refused.status.success());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(
            "cannot learn the upstream's node version: invalid upstream https://localhost:"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("certificate"), "{stderr}");

    let relay = Node::relay(&url, &["--no-explorer", "--upstream-ca", cert]);
    let down = relay.addr;
    let mut client = session(down).await;
    subscribe(down, ACCEPTED, &client).await;
    consecutive_blocks(&mut client, 2).await;
    assert!(metric(down, "rues_relay_events_total").await >= 2.0);
}

/// The next frame of `session` that carries a `Rues-Gap` notice, skipping
/// events; its reason.
async fn gap_notice(session: &mut WsClient, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = tokio::time::timeout(left, session.ws.next())
            .await
            .unwrap_or_else(|_| panic!("no gap notice within {within:?}"))
            .expect("the session stayed open")
            .expect("no error");
        let Message::Binary(bytes) = message else {
            continue;
        };
        let frame = rues_core::rues_wire::Frame::decode(&bytes).expect("a frame");
        if let Some(reason) = frame.headers().get(rues_core::rues_wire::RUES_GAP) {
            assert_eq!(
                frame.content_location(),
                Some(ACCEPTED),
                "the stream's notice"
            );
            // The node's own notice (no payload, so no type), also on an
            // edge that got it from the cluster.
            assert_eq!(frame.content_type(), None, "a notice, not an event");
            assert!(frame.payload().is_empty());
            return reason.to_owned();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_relay_feeds_a_whole_cluster_of_edges() {
    let nats = match rues_testkit::NatsServer::start() {
        Ok(nats) => nats,
        Err(unavailable) => {
            eprintln!("skipped: {unavailable}");
            return;
        }
    };
    let mut upstream = Node::start(&[]);
    let up = upstream.addr;
    let edges = [
        Node::in_cluster("edge", &nats.url()),
        Node::in_cluster("edge", &nats.url()),
    ];
    // Sessions on both edges before any relay runs, then on the relay: one
    // upstream session, one upstream subscription per path wanted anywhere.
    let mut on_edges = Vec::new();
    for edge in &edges {
        let session = session(edge.addr).await;
        subscribe(edge.addr, ACCEPTED, &session).await;
        on_edges.push(session);
    }
    let watcher = session(edges[0].addr).await;
    subscribe(edges[0].addr, TX, &watcher).await;
    let relay = Node::relay(
        &format!("http://{up}"),
        &["--no-explorer", "--nats", &nats.url()],
    );
    // They waited for a relay: the one that starts says so.
    for session in &mut on_edges {
        let reason = gap_notice(session, PATIENCE).await;
        assert!(reason.contains("relay started"), "{reason}");
    }
    let on_relay = session(relay.addr).await;
    subscribe(relay.addr, ACCEPTED, &on_relay).await;
    metric_becomes(up, "rues_subscriptions", 2.0).await;
    assert_eq!(metric(up, "rues_sessions_open").await, 1.0);
    for session in &mut on_edges {
        consecutive_blocks(session, 3).await;
    }

    // A dispatch on an edge is answered by the upstream, through the relay.
    const DISPATCHES: &str = "rues_requests_total{operation=\"dispatch\",status=\"200\"}";
    let before = metric(up, DISPATCHES).await;
    let answer = http(edges[1].addr, Method::POST, "/on/node/info", &[], b"").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", text(&answer));
    assert_eq!(metric(up, DISPATCHES).await, before + 1.0);

    // The upstream drops a path once no node wants it.
    unsubscribe(edges[0].addr, TX, &watcher).await;
    metric_becomes(up, "rues_subscriptions", 1.0).await;

    // An upstream restart reaches the edges' sessions as a gap notice.
    let addr = up.to_string();
    let _ = upstream.child.kill();
    let _ = upstream.child.wait();
    let _restarted = Node::serve(&["--listen", &addr, "--block-time-ms", "200"]);
    for session in &mut on_edges {
        let reason = gap_notice(session, PATIENCE).await;
        assert!(reason.contains("upstream"), "{reason}");
        consecutive_blocks(session, 2).await;
    }
    assert!(health_is(relay.addr, StatusCode::OK).await);
    let health = http(relay.addr, Method::GET, "/health", &[], b"")
        .await
        .json();
    let detail = health["checks"]["upstream"]["detail"].to_string();
    assert!(detail.contains("cluster"), "{health}");
    drop(on_relay);
}
