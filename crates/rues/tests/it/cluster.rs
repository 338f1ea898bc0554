//! Cluster mode (docs/cluster.md), as an operator runs it: a real
//! `nats-server`, one `rues serve --nats`, two `rues edge --nats` and
//! nginx in front with plain round robin and no stickiness, all started by
//! the test on loopback and stopped by their pids.
//!
//! Each test skips, saying why, only where nats-server or nginx cannot be
//! found; under CI (`CI` set) the fixtures panic instead, so CI never
//! skips.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use hyper::{Method, StatusCode};
use rues_testkit::{NatsServer, Nginx, http};

use crate::node::{Node, PATIENCE};
use crate::sockets::{consecutive_blocks, height, metric, session, text};

const ACCEPTED: &str = "/on/blocks/accepted";

/// One NATS server, `rues serve` and two edges in its cluster.
pub(crate) struct Cluster {
    pub(crate) nats: NatsServer,
    pub(crate) serve: Node,
    pub(crate) edges: Vec<Node>,
}

impl Cluster {
    /// `None` (with the reason printed) where nats-server is not installed.
    pub(crate) fn start() -> Option<Self> {
        let nats = match NatsServer::start() {
            Ok(nats) => nats,
            Err(unavailable) => {
                eprintln!("skipped: {unavailable}");
                return None;
            }
        };
        let serve = Node::in_cluster("serve", &nats.url());
        let edges = (0..2)
            .map(|_| Node::in_cluster("edge", &nats.url()))
            .collect();
        Some(Self { nats, serve, edges })
    }

    pub(crate) fn nodes(&self) -> impl Iterator<Item = &Node> {
        std::iter::once(&self.serve).chain(&self.edges)
    }

    /// The nodes' addresses: the serve node's first.
    pub(crate) fn addrs(&self) -> Vec<SocketAddr> {
        self.nodes().map(|node| node.addr).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_round_robin_nginx_the_cluster_behaves_as_one_node() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let addrs = cluster.addrs();
    let nginx = match tokio::task::spawn_blocking(move || Nginx::start(&addrs))
        .await
        .expect("started")
    {
        Ok(nginx) => nginx,
        Err(unavailable) => {
            eprintln!("skipped: {unavailable}");
            return;
        }
    };
    let lb = nginx.addr();

    // Sessions open through the balancer (so on every node) and subscribe
    // through it (so mostly on a node that does not own them).
    let mut sessions = Vec::new();
    for _ in 0..6 {
        let session = session(lb).await;
        let id = [("rusk-session-id", session.session_text.as_str())];
        let answer = http(lb, Method::GET, ACCEPTED, &id, b"").await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "subscribe: {}",
            text(&answer)
        );
        sessions.push(session);
    }
    // A second subscribe is idempotent, wherever it lands.
    let id = [("rusk-session-id", sessions[0].session_text.as_str())];
    assert_eq!(
        http(lb, Method::GET, ACCEPTED, &id, b"").await.status,
        StatusCode::OK
    );
    for session in &mut sessions {
        consecutive_blocks(session, 4).await;
    }

    // Unsubscribe through the balancer: no more blocks for that session.
    let first = sessions.remove(0);
    let id = [("rusk-session-id", first.session_text.as_str())];
    let answer = http(lb, Method::DELETE, ACCEPTED, &id, b"").await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "unsubscribe: {}",
        text(&answer)
    );
    let answer = http(lb, Method::DELETE, ACCEPTED, &id, b"").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", text(&answer));
    let mut first = first;
    // Frames queued before the DELETE may still be on their way.
    tokio::time::sleep(Duration::from_millis(300)).await;
    while tokio::time::timeout(Duration::from_millis(50), first.ws.next())
        .await
        .is_ok()
    {}
    first.assert_quiet(Duration::from_millis(1000)).await;

    // A session nobody owns: 424 at once, not after a timeout.
    let nobody = [("rusk-session-id", "0123456789abcdef0123456789abcdef")];
    for _ in 0..3 {
        let started = Instant::now();
        let answer = http(lb, Method::GET, ACCEPTED, &nobody, b"").await;
        assert_eq!(
            answer.status,
            StatusCode::FAILED_DEPENDENCY,
            "{}",
            text(&answer)
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "424 took {:?}",
            started.elapsed()
        );
    }

    // Dispatch lands anywhere: the answer is the chain's.
    for _ in 0..3 {
        let answer = http(lb, Method::POST, "/on/node/info", &[], b"").await;
        assert_eq!(answer.status, StatusCode::OK, "{}", text(&answer));
        let info: serde_json::Value = serde_json::from_slice(&answer.body).expect("JSON");
        assert_eq!(info["chain_id"], 0);
    }
    // A dispatch naming a session is answered whichever node owns it.
    let id = [("rusk-session-id", sessions[0].session_text.as_str())];
    for _ in 0..3 {
        let answer = http(lb, Method::POST, "/on/blocks/gas-price", &id, b"").await;
        assert_eq!(answer.status, StatusCode::OK, "{}", text(&answer));
    }
    // A streamed reply (a feeder) streams through an edge.
    let leaves = "/on/contracts:0100000000000000000000000000000000000000000000000000000000000000/leaves_from_height";
    for _ in 0..3 {
        let answer = http(
            lb,
            Method::POST,
            leaves,
            &[
                ("rusk-feeder", "1"),
                ("content-type", "application/octet-stream"),
            ],
            &0u64.to_le_bytes(),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", text(&answer));
        assert_eq!(answer.body.len() % 112, 0, "112-byte records");
        assert_eq!(
            answer
                .headers
                .get("transfer-encoding")
                .map(|v| v.to_str().unwrap_or("")),
            Some("chunked"),
            "a streamed reply stays streamed"
        );
    }
    // The node's own refusals hold through the balancer.
    let answer = http(lb, Method::GET, "/on/nosuch/topic", &id, b"").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let answer = http(
        lb,
        Method::GET,
        ACCEPTED,
        &[
            ("rusk-session-id", sessions[0].session_text.as_str()),
            ("rusk-version", "99.0.0"),
        ],
        b"",
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let answer = http(lb, Method::GET, ACCEPTED, &[], b"").await;
    assert_eq!(answer.status, StatusCode::FAILED_DEPENDENCY);
    let answer = http(lb, Method::PUT, ACCEPTED, &id, b"").await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    // The rest of the conformance profile, whichever node answers (each
    // several times, so that every node gives it).
    let origin = [
        ("origin", "https://wallet.example"),
        ("access-control-request-method", "POST"),
        ("access-control-request-headers", "rusk-version, x-trace"),
    ];
    for _ in 0..3 {
        let answer = http(lb, Method::GET, "/on", &[], b"").await;
        assert_eq!(
            answer.status,
            StatusCode::UPGRADE_REQUIRED,
            "plain GET on /on"
        );
        let answer = http(lb, Method::GET, "/nowhere", &[], b"").await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        let answer = http(lb, Method::OPTIONS, "/on/node/info", &origin, b"").await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT, "preflight");
        let allowed = answer
            .headers
            .get("access-control-allow-headers")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        assert!(allowed.contains("x-trace"), "{allowed}");
        // Decoding holds for a dispatch that crosses.
        let answer = http(lb, Method::POST, "/on/transactions/propagate", &[], b"0xzz").await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            text(&answer)
        );
        let answer = http(
            lb,
            Method::POST,
            "/on/node/info",
            &[("rusk-version", "99")],
            b"",
        )
        .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert!(answer.headers.contains_key("rusk-version"));
        let answer = http(lb, Method::POST, "/on/node/nosuch", &[], b"").await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
    }

    // Requests landed on every node, and some crossed the cluster.
    let mut forwarded = 0.0;
    for node in cluster.nodes() {
        let requests = metric(node.admin, "rues_requests_total").await;
        assert!(requests > 0.0, "no request landed on {}", node.addr);
        forwarded += metric(node.admin, "rues_cluster_forwarded_total").await;
        assert_eq!(metric(node.admin, "rues_cluster_up").await, 1.0);
    }
    assert!(forwarded > 0.0, "nothing was forwarded");
    drop(nginx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_killed_takes_only_its_own_sessions() {
    let Some(mut cluster) = Cluster::start() else {
        return;
    };
    let mut on_serve = session(cluster.serve.addr).await;
    let mut survivors = vec![session(cluster.edges[1].addr).await];
    let mut doomed = session(cluster.edges[0].addr).await;
    for session in std::iter::once(&on_serve)
        .chain(&survivors)
        .chain(std::iter::once(&doomed))
    {
        // Subscribed through the serve node: the owner is elsewhere.
        let id = [("rusk-session-id", session.session_text.as_str())];
        let answer = http(cluster.serve.addr, Method::GET, ACCEPTED, &id, b"").await;
        assert_eq!(answer.status, StatusCode::OK, "{}", text(&answer));
    }
    consecutive_blocks(&mut doomed, 2).await;
    let before = metric(cluster.edges[1].admin, "rues_sessions_open").await;

    cluster.edges[0].child.kill().expect("kill -9");
    let _ = cluster.edges[0].child.wait();
    // Its session ends (no Close frame: the process is gone).
    let ended = tokio::time::timeout(PATIENCE, async {
        loop {
            match doomed.ws.next().await {
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the dead edge's session did not end");

    // Everyone else keeps receiving, in order.
    consecutive_blocks(&mut on_serve, 3).await;
    for session in &mut survivors {
        consecutive_blocks(session, 3).await;
    }
    // Nothing of the dead edge is left on the others.
    assert_eq!(
        metric(cluster.edges[1].admin, "rues_sessions_open").await,
        before
    );
    assert_eq!(metric(cluster.serve.admin, "rues_sessions_open").await, 1.0);
    let sessions = |addr| async move {
        let answer = http(addr, Method::GET, "/metrics", &[], b"").await;
        text(&answer)
            .lines()
            .find(|l| l.starts_with("rues_cluster_subscriptions{kind=\"session\"}"))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
    };
    assert_eq!(sessions(cluster.serve.admin).await, Some(1.0));
    assert_eq!(sessions(cluster.edges[1].admin).await, Some(1.0));
    // Its sessions are unknown everywhere now.
    let id = [("rusk-session-id", doomed.session_text.as_str())];
    let answer = http(cluster.serve.addr, Method::GET, ACCEPTED, &id, b"").await;
    assert_eq!(answer.status, StatusCode::FAILED_DEPENDENCY);
    drop(cluster.nats);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_outage_keeps_local_delivery_and_the_cluster_comes_back() {
    let Some(mut cluster) = Cluster::start() else {
        return;
    };
    let mut local = session(cluster.serve.addr).await;
    let mut remote = session(cluster.edges[0].addr).await;
    for (session, node) in [(&local, &cluster.serve), (&remote, &cluster.edges[0])] {
        let id = [("rusk-session-id", session.session_text.as_str())];
        let answer = http(node.addr, Method::GET, ACCEPTED, &id, b"").await;
        assert_eq!(answer.status, StatusCode::OK, "{}", text(&answer));
    }
    consecutive_blocks(&mut remote, 2).await;

    tokio::task::block_in_place(|| cluster.nats.kill());
    // The serve node's own sessions keep getting its events.
    consecutive_blocks(&mut local, 5).await;
    // Both nodes say the backplane is down.
    let edge = cluster.edges[0].admin;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let health = http(edge, Method::GET, "/health", &[], b"").await;
        if health.status == StatusCode::SERVICE_UNAVAILABLE {
            let body: serde_json::Value = serde_json::from_slice(&health.body).expect("JSON");
            assert_eq!(body["checks"]["cluster"]["status"], "failing", "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "/health never said 503");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(metric(edge, "rues_cluster_up").await, 0.0);
    // Sessions stay open on both sides (pings are local).
    let id = [("rusk-session-id", remote.session_text.as_str())];
    let answer = http(
        cluster.edges[0].addr,
        Method::GET,
        "/on/blocks/statechange",
        &id,
        b"",
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "a local subscribe still works: {}",
        text(&answer)
    );

    tokio::task::block_in_place(|| cluster.nats.restart());
    let back = Instant::now();
    // Drain what the edge still holds, then a fresh block must come from
    // the serve node through the cluster, within 5 s of NATS's return.
    let mut fresh = None;
    while back.elapsed() < Duration::from_secs(10) {
        let frame = remote.next_event().await;
        if frame
            .content_location()
            .unwrap_or("")
            .ends_with("/accepted")
        {
            let height = height(&frame);
            if fresh.is_none() {
                fresh = Some((height, back.elapsed()));
            }
            break;
        }
    }
    let (_, after) = fresh.expect("cluster delivery resumed");
    assert!(
        after <= Duration::from_secs(5),
        "cross-node delivery resumed {after:?} after NATS returned"
    );
    consecutive_blocks(&mut remote, 3).await;
    let health = http(edge, Method::GET, "/health", &[], b"").await;
    assert_eq!(health.status, StatusCode::OK, "{}", text(&health));
}
