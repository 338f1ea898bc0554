//! The NATS backplane between in-process nodes (real `rues_warp` servers on
//! loopback) through a real `nats-server`: events by interest, requests
//! answered by a session's owner, dispatches served by another node or by
//! a node with no listener at all (a service process's shape), whole and
//! streamed answers in many chunks.
//!
//! Each test skips, saying why, where nats-server is not installed; under
//! CI the fixture panics instead.

use std::time::{Duration, Instant};

use bytes::Bytes;
use rues_cluster::{Cluster, ClusterConfig};
use rues_core::http::{Method, StatusCode};
use rues_core::{Config, Registry};
use rues_testkit::{NatsServer, PATIENCE, TestServer, WsClient, registry};
use rues_warp::Endpoint;

/// A node with the fixture registry, joined to the cluster at `nats`.
async fn node(nats: &NatsServer, registry: Registry) -> TestServer {
    let server = TestServer::builder().registry(registry).start().await;
    Cluster::join(&server.endpoint, ClusterConfig::new(nats.url()))
        .await
        .expect("joined");
    server
}

fn nats() -> Option<NatsServer> {
    match NatsServer::start() {
        Ok(nats) => Some(nats),
        Err(unavailable) => {
            eprintln!("skipped: {unavailable}");
            None
        }
    }
}

/// A sample of the node's `/metrics` (the first with this name and labels).
fn metric(server: &TestServer, sample: &str) -> f64 {
    server
        .endpoint
        .metrics()
        .lines()
        .find_map(|line| line.strip_prefix(sample)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {sample} in /metrics"))
}

async fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn session_header(session: &WsClient) -> [(&'static str, &str); 1] {
    [("rusk-session-id", session.session_text.as_str())]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_cross_each_once_in_order_and_interest_follows_subscriptions() {
    let Some(nats) = nats() else { return };
    let publisher = node(&nats, registry()).await;
    let edge = node(&nats, registry().without_handlers()).await;
    let mut session = edge.connect().await;
    // Both a wildcard and an entity subscription match `blocks:ab`: each
    // event still comes once.
    for path in ["/on/blocks/accepted", "/on/blocks:ab/accepted"] {
        assert_eq!(session.subscribe(&edge, path).await.status, StatusCode::OK);
    }
    assert_eq!(
        metric(&edge, "rues_cluster_subscriptions{kind=\"stream\"}"),
        1.0
    );
    for i in 0..200u32 {
        let entity = if i % 2 == 0 { "ab" } else { "cd" };
        publisher.publish(&format!("/on/blocks:{entity}/accepted"), i.to_string());
    }
    for i in 0..200u32 {
        let frame = session.next_event().await;
        assert_eq!(frame.payload(), &Bytes::from(i.to_string()), "event {i}");
    }
    session.assert_quiet(Duration::from_millis(200)).await;
    // The last subscription gone: the node no longer wants the stream.
    for path in ["/on/blocks/accepted", "/on/blocks:ab/accepted"] {
        assert_eq!(
            session.unsubscribe(&edge, path).await.status,
            StatusCode::OK
        );
    }
    eventually("the stream's NATS subscription dropped", || {
        metric(&edge, "rues_cluster_subscriptions{kind=\"stream\"}") == 0.0
    })
    .await;
    let received = metric(&edge, "rues_cluster_events_received_total");
    publisher.publish("/on/blocks:ab/accepted", "unwanted");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        metric(&edge, "rues_cluster_events_received_total"),
        received,
        "a node receives nothing no local session wants"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_process_may_publish_into_the_cluster() {
    let Some(nats) = nats() else { return };
    let edge = node(&nats, registry().without_handlers()).await;
    let mut session = edge.connect().await;
    let path = "/on/contracts:0a1b/transfer";
    assert_eq!(session.subscribe(&edge, path).await.status, StatusCode::OK);
    let client = async_nats::connect(nats.url()).await.expect("connected");
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Content-Type", "application/json");
    headers.insert("Rusk-Origin", "0a1b");
    client
        .publish_with_headers(
            "rues.ev.contracts.0a1b.transfer",
            headers,
            Bytes::from_static(b"{\"value\":1}"),
        )
        .await
        .expect("published");
    // Not an event subject of any path: counted, not delivered.
    client
        .publish("rues.ev.contracts.~zz.transfer", Bytes::from_static(b"x"))
        .await
        .expect("published");
    client.flush().await.expect("flushed");
    let frame = session.next_event().await;
    assert_eq!(frame.content_location(), Some(path));
    assert_eq!(
        frame.headers().get("Content-Type"),
        Some("application/json")
    );
    assert_eq!(frame.headers().get("Rusk-Origin"), Some("0a1b"));
    assert_eq!(frame.payload(), &Bytes::from_static(b"{\"value\":1}"));
    eventually("the invalid message counted", || {
        metric(&edge, "rues_cluster_events_invalid_total") == 1.0
    })
    .await;
    session.assert_quiet(Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_owned_elsewhere_is_answered_by_its_owner() {
    let Some(nats) = nats() else { return };
    let owner = node(&nats, registry()).await;
    let other = node(&nats, registry()).await;
    let mut session = owner.connect().await;
    let text = session.session_text.clone();
    let id = [("rusk-session-id", text.as_str())];
    // Subscribed through the other node; the owner holds the subscription.
    let answer = other
        .http(Method::GET, "/on/blocks/accepted", &id, b"")
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.headers.contains_key("rusk-version"));
    assert_eq!(
        owner.publisher.stats().subscriptions,
        1,
        "held by the owner"
    );
    assert_eq!(other.publisher.stats().subscriptions, 0);
    owner.publish("/on/blocks:ab/accepted", "1");
    assert_eq!(
        session.next_event().await.payload(),
        &Bytes::from_static(b"1")
    );
    // A dispatch naming the session: the owner vouches for it.
    let answer = other.http(Method::POST, "/on/node/whoami", &id, b"").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, Bytes::from(text.clone()));
    let answer = other
        .http(Method::DELETE, "/on/blocks/accepted", &id, b"")
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let answer = other
        .http(Method::DELETE, "/on/blocks/accepted", &id, b"")
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "the owner's own 404");
    assert_eq!(owner.publisher.stats().subscriptions, 0);
    // Closed: unknown everywhere, at once.
    drop(session);
    eventually("the session released", || {
        owner.publisher.stats().sessions_open == 0
    })
    .await;
    let started = Instant::now();
    let answer = other
        .http(Method::GET, "/on/blocks/accepted", &id, b"")
        .await;
    assert_eq!(answer.status, StatusCode::FAILED_DEPENDENCY);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        metric(
            &other,
            "rues_cluster_forwarded_total{to=\"owner\",outcome=\"nobody\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(&owner, "rues_cluster_subscriptions{kind=\"session\"}"),
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_no_listener_serves_dispatches_whole_and_streamed() {
    let Some(nats) = nats() else { return };
    // The service: an endpoint with handlers and no listener, as a
    // separate process that speaks only NATS would be.
    let service = Endpoint::new(Config::new("1.0.0".parse().expect("version")), registry());
    let membership = Cluster::join(&service, ClusterConfig::new(nats.url()))
        .await
        .expect("joined");
    let edge = node(&nats, registry().without_handlers()).await;
    let session = edge.connect().await;

    let answer = edge.http(Method::POST, "/on/node/info", &[], b"").await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    // A whole answer of many chunks keeps its length.
    let big: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
    let octets = [("content-type", "application/octet-stream")];
    let answer = edge
        .http(Method::POST, "/on/node/echo", &octets, &big)
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body.as_ref(), big.as_slice());
    assert_eq!(
        answer.headers.get("content-length").map(|v| v.as_bytes()),
        Some(big.len().to_string().as_bytes())
    );
    // A streamed reply of 300 000 one-byte chunks streams across, gathered
    // into few messages.
    let feed: Vec<u8> = (0..300_000u32).map(|i| (i % 7) as u8).collect();
    let headers = [
        ("content-type", "application/octet-stream"),
        ("rusk-feeder", "1"),
    ];
    let answer = edge
        .http(Method::POST, "/on/node/feed", &headers, &feed)
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body.as_ref(), feed.as_slice());
    assert_eq!(
        answer
            .headers
            .get("transfer-encoding")
            .map(|v| v.as_bytes()),
        Some(&b"chunked"[..])
    );
    // Errors keep their status and body; the session is vouched for.
    let answer = edge.http(Method::POST, "/on/node/reject", &[], b"").await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    let answer = edge
        .http(
            Method::POST,
            "/on/node/whoami",
            &session_header(&session),
            b"",
        )
        .await;
    assert_eq!(answer.body, Bytes::from(session.session_text.clone()));
    // A contract call goes to the component's fallback handler.
    let answer = edge
        .http(
            Method::POST,
            "/on/contracts:0a/anything",
            &octets,
            b"\x01\x02",
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body.as_ref(), b"\x01\x02");
    // A body over what one NATS message carries is refused, clearly.
    let huge = vec![0u8; 1_100_000];
    let answer = edge
        .http(Method::POST, "/on/node/echo", &octets, &huge)
        .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);

    // The service gone: no responders, the edge's own 404 at once.
    membership.leave().await;
    // One attempt may wait out its whole patience: a request that reached
    // the service while it was leaving is not answered (see docs/cluster.md).
    let deadline = Instant::now() + 3 * PATIENCE;
    loop {
        let started = Instant::now();
        // A request that reached the service as it left may go unanswered:
        // try again (the fresh one finds nobody at once).
        let Ok(answer) =
            rues_testkit::try_http(edge.addr, Method::POST, "/on/node/info", &[], b"").await
        else {
            assert!(Instant::now() < deadline, "the service never left");
            continue;
        };
        if answer.status == StatusCode::NOT_FOUND {
            assert!(started.elapsed() < Duration::from_secs(2));
            break;
        }
        assert!(Instant::now() < deadline, "the service never left");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_over_max_payload_stays_local_and_the_connection_stays_up() {
    let Some(nats) = nats() else { return };
    let publisher = node(&nats, registry()).await;
    let edge = node(&nats, registry().without_handlers()).await;
    let mut remote = edge.connect().await;
    assert_eq!(
        remote.subscribe(&edge, "/on/blocks/accepted").await.status,
        StatusCode::OK
    );
    // nats-server's default max_payload is 1 MiB.
    let big = vec![b'x'; 1_100_000];
    publisher.publish("/on/blocks:ab/accepted", &big);
    publisher.publish("/on/blocks:ab/accepted", "small");
    assert_eq!(
        remote.next_event().await.payload(),
        &Bytes::from_static(b"small"),
        "the big one stayed local; the small one crossed"
    );
    assert_eq!(metric(&publisher, "rues_cluster_events_dropped_total"), 1.0);
    assert_eq!(metric(&publisher, "rues_cluster_connections_total"), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_answer_past_the_gathering_bound_is_a_502() {
    let Some(nats) = nats() else { return };
    let _service = node(&nats, registry()).await;
    let edge = TestServer::builder()
        .registry(registry().without_handlers())
        .start()
        .await;
    let config = ClusterConfig::new(nats.url()).with_max_whole_answer(500_000);
    Cluster::join(&edge.endpoint, config).await.expect("joined");
    let octets = [("content-type", "application/octet-stream")];
    let within = vec![7u8; 400_000];
    let answer = edge
        .http(Method::POST, "/on/node/echo", &octets, &within)
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body.len(), within.len());
    let past = vec![7u8; 700_000];
    let answer = edge
        .http(Method::POST, "/on/node/echo", &octets, &past)
        .await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    assert!(answer.headers.contains_key("rusk-version"));
    assert!(!String::from_utf8_lossy(&answer.body).contains("\u{7}"));
}

/// The next change of the cluster's demand, as `+path` or `-path`.
async fn next_demand(demand: &mut rues_cluster::demand::Demand) -> String {
    use futures_util::StreamExt;
    match tokio::time::timeout(PATIENCE, demand.next()).await {
        Ok(Some(rues_core::Change::InterestAdded(path))) => format!("+{path}"),
        Ok(Some(rues_core::Change::InterestDropped(path))) => format!("-{path}"),
        Ok(other) => panic!("unexpected demand change {other:?}"),
        Err(_) => panic!("no demand change within {PATIENCE:?}"),
    }
}

async fn assert_no_demand(demand: &mut rues_cluster::demand::Demand, wait: Duration) {
    use futures_util::StreamExt;
    if let Ok(change) = tokio::time::timeout(wait, demand.next()).await {
        panic!("unexpected demand change {change:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_learns_the_paths_every_node_wants_and_forgets_dead_nodes() {
    let Some(nats) = nats() else { return };
    let census = Duration::from_millis(200);
    // A node with a subscription before anyone watches: found by census.
    let early = node(&nats, registry()).await;
    let mut early_session = early.connect().await;
    let answer = early
        .http(
            Method::GET,
            "/on/contracts:ab/transfer",
            &session_header(&early_session),
            b"",
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);

    let watcher_node = TestServer::builder().registry(registry()).start().await;
    let watcher = Cluster::join(
        &watcher_node.endpoint,
        ClusterConfig::new(nats.url()).with_census_interval(census),
    )
    .await
    .expect("joined");
    let mut demand = watcher.demand().await.expect("watching");
    assert_eq!(next_demand(&mut demand).await, "+/on/contracts:ab/transfer");

    // Paths as they come, entity included, once however many nodes want them.
    let late = node(&nats, registry()).await;
    let late_session = late.connect().await;
    for path in ["/on/blocks:cd/accepted", "/on/contracts:ab/transfer"] {
        let answer = late
            .http(Method::GET, path, &session_header(&late_session), b"")
            .await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    assert_eq!(next_demand(&mut demand).await, "+/on/blocks:cd/accepted");
    assert_no_demand(&mut demand, census * 3).await;
    // The watcher's own sessions are its own business.
    let own = watcher_node.connect().await;
    let answer = watcher_node
        .http(
            Method::GET,
            "/on/blocks/statechange",
            &session_header(&own),
            b"",
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_no_demand(&mut demand, census * 2).await;

    // Dropped when the last node lets go: by unsubscribe, or by closing.
    let answer = early
        .http(
            Method::DELETE,
            "/on/contracts:ab/transfer",
            &session_header(&early_session),
            b"",
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    early_session.assert_quiet(Duration::from_millis(10)).await;
    assert_no_demand(&mut demand, census * 2).await;
    drop(late_session);
    let mut dropped = vec![
        next_demand(&mut demand).await,
        next_demand(&mut demand).await,
    ];
    dropped.sort();
    assert_eq!(
        dropped,
        ["-/on/blocks:cd/accepted", "-/on/contracts:ab/transfer"]
    );

    // A node that drops off NATS without a word (its sessions never
    // closed, no drop was sent) is forgotten once it misses censuses.
    let doomed = TestServer::builder().registry(registry()).start().await;
    let doomed_cluster = Cluster::join(&doomed.endpoint, ClusterConfig::new(nats.url()))
        .await
        .expect("joined");
    let doomed_session = doomed.connect().await;
    let answer = doomed
        .http(
            Method::GET,
            "/on/transactions/executed",
            &session_header(&doomed_session),
            b"",
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(next_demand(&mut demand).await, "+/on/transactions/executed");
    doomed_cluster.leave().await;
    let started = Instant::now();
    assert_eq!(next_demand(&mut demand).await, "-/on/transactions/executed");
    assert!(
        started.elapsed() >= census,
        "forgotten only after missed censuses"
    );
    drop(doomed_session);
}

/// The position (`Rues-Seq`, `Rues-Epoch`) of an event frame.
fn position(frame: &rues_core::rues_wire::Frame) -> rues_core::Position {
    frame.position().expect("valid").expect("numbered")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_resumes_at_another_node_from_the_shared_history() {
    let Some(nats) = nats() else { return };
    let publisher = node(&nats, registry()).await;
    let left = node(&nats, registry().without_handlers()).await;
    let other = node(&nats, registry().without_handlers()).await;
    let mut watcher = left.connect().await;
    let path = "/on/blocks/accepted";
    assert_eq!(watcher.subscribe(&left, path).await.status, StatusCode::OK);
    let mut own = publisher.connect().await;
    assert_eq!(own.subscribe(&publisher, path).await.status, StatusCode::OK);
    for i in 1..=50u32 {
        publisher.publish(&format!("/on/blocks:e{}/accepted", i % 3), i.to_string());
    }
    let mut seen = Vec::new();
    for i in 1..=50u32 {
        let frame = watcher.next_event().await;
        assert_eq!(frame.payload(), &Bytes::from(i.to_string()), "event {i}");
        let mine = own.next_event().await;
        assert_eq!(
            position(&mine),
            position(&frame),
            "the publisher's own session gets the cluster's numbers"
        );
        seen.push(position(&frame));
    }
    let epoch = seen[0].epoch;
    assert!(
        seen.iter()
            .zip(1..)
            .all(|(at, seq)| at.seq == seq && at.epoch == epoch),
        "numbered 1.. under one epoch: {seen:?}"
    );
    // The client saw 20 at `left` and comes back at `other`, which had no
    // session on the stream: replayed from the shared history.
    let mut back = other.connect().await;
    let from = seen[19].to_string();
    let answer = other
        .http(
            Method::GET,
            path,
            &[
                ("rusk-session-id", back.session_text.as_str()),
                ("rues-resume", from.as_str()),
            ],
            b"",
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.header("rues-resume-result"),
        Some("complete; replayed=30")
    );
    for i in 51..=55u32 {
        publisher.publish("/on/blocks:e0/accepted", i.to_string());
    }
    assert_eq!(metric(&other, "rues_cluster_history_shared"), 1.0);
    assert_eq!(
        metric(&other, "rues_cluster_backfills_total{outcome=\"read\"}"),
        1.0
    );
    assert_eq!(metric(&other, "rues_cluster_backfilled_events_total"), 30.0);
    for i in 21..=55u32 {
        let frame = back.next_event().await;
        assert_eq!(frame.payload(), &Bytes::from(i.to_string()), "event {i}");
        assert_eq!(position(&frame).seq, u64::from(i));
    }
    back.assert_quiet(Duration::from_millis(200)).await;
    // Again at `other`, which now receives the stream: its own history
    // replays it, and JetStream is not asked.
    let again = other.connect().await;
    let answer = other
        .http(
            Method::GET,
            path,
            &[
                ("rusk-session-id", again.session_text.as_str()),
                ("rues-resume", from.as_str()),
            ],
            b"",
        )
        .await;
    assert_eq!(
        answer.header("rues-resume-result"),
        Some("complete; replayed=35")
    );
    assert_eq!(
        metric(&other, "rues_cluster_backfills_total{outcome=\"read\"}"),
        1.0,
        "no second read-back"
    );
    for _ in 51..=55u32 {
        watcher.next_event().await;
    }
    watcher.assert_quiet(Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_from_before_what_the_cluster_keeps_is_a_gap_with_the_lost_range() {
    let Some(nats) = nats() else { return };
    let small = rues_cluster::SharedHistory::default().per_stream(10, 1 << 20);
    let publisher = TestServer::builder().registry(registry()).start().await;
    Cluster::join(
        &publisher.endpoint,
        ClusterConfig::new(nats.url()).with_shared_history(Some(small)),
    )
    .await
    .expect("joined");
    let edge = node(&nats, registry().without_handlers()).await;
    let mut first = edge.connect().await;
    let path = "/on/blocks/accepted";
    assert_eq!(first.subscribe(&edge, path).await.status, StatusCode::OK);
    publisher.publish("/on/blocks/accepted", "1");
    let start = position(&first.next_event().await);
    for i in 2..=30u32 {
        publisher.publish("/on/blocks/accepted", i.to_string());
    }
    for _ in 2..=30u32 {
        first.next_event().await;
    }
    // A new node-side session at another node (the publisher) resumes
    // from 1: the shared stream keeps 21..30 only.
    let back = publisher.connect().await;
    let answer = publisher
        .http(
            Method::GET,
            path,
            &[
                ("rusk-session-id", back.session_text.as_str()),
                ("rues-resume", start.to_string().as_str()),
            ],
            b"",
        )
        .await;
    assert_eq!(
        answer.header("rues-resume-result"),
        Some("gap; replayed=10; lost=2-20")
    );
}
