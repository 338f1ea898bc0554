//! Resume (docs/protocol.md §10) through a cluster (§11): a client whose
//! connection is cut reconnects to ANOTHER node of a three-node cluster
//! (nats-server with JetStream, `rues serve --nats`, two `rues edge
//! --nats`) and resumes there, as `rues-client` does by itself.
//!
//! The events are published into the cluster by the test, over NATS, on a
//! contract event stream no node publishes to, with a counter as payload;
//! so the test knows every event there is. One test resumes the serve
//! node's own blocks instead, made (and numbered) on another node than the
//! one that replays them. A [`CuttingProxy`] in front of
//! the three nodes gives each new WebSocket to the next node, and cuts
//! every open connection with a reset.
//!
//! Each test skips, saying why, only where nats-server cannot be found
//! (under CI the fixture panics instead).

use std::time::Duration;

use futures_util::StreamExt as _;
use rues_client::{Client, Event, Gap, ReconnectPolicy};
use rues_testkit::CuttingProxy;
use tokio::time::Instant;

use crate::cluster::Cluster;
use crate::node::PATIENCE;
use crate::sockets::metric;

/// A contract id no part of the demo uses: only the test publishes there.
const CONTRACT: &str = "c0ffee00000000000000000000000000000000000000000000000000000000c5";

/// The path the client subscribes to.
fn path() -> String {
    format!("contracts:{CONTRACT}/ticks")
}

/// Where an event on [`path`] is published into the cluster
/// (docs/cluster.md, "Subjects": hex digits are their own token).
fn subject() -> String {
    format!("rues.ev.contracts.{CONTRACT}.ticks")
}

/// Reconnects at once, as a client that wants to miss little does.
fn fast() -> ReconnectPolicy {
    ReconnectPolicy::default()
        .initial_delay(Duration::from_millis(20))
        .max_delay(Duration::from_millis(100))
}

/// A plain NATS client publishing into the cluster, as any process may.
async fn publisher(cluster: &Cluster) -> async_nats::Client {
    async_nats::connect(cluster.nats.url())
        .await
        .expect("the test's publisher connects to NATS")
}

/// Publishes the event numbered `n` (its payload is the number, as text).
async fn publish(nats: &async_nats::Client, n: u64) {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Content-Type", "text/plain");
    nats.publish_with_headers(subject(), headers, n.to_string().into())
        .await
        .expect("published");
}

fn counter(event: &Event) -> u64 {
    std::str::from_utf8(event.payload())
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| panic!("no counter in {:?}", event.payload()))
}

/// The event's number in its stream (`Rues-Seq`).
fn seq(event: &Event) -> u64 {
    event
        .header("Rues-Seq")
        .and_then(|seq| seq.parse().ok())
        .unwrap_or_else(|| panic!("no Rues-Seq on {:?}", event.headers()))
}

/// How many sessions each node holds (in [`Cluster::addrs`] order).
async fn sessions(cluster: &Cluster) -> Vec<f64> {
    let mut open = Vec::new();
    for node in cluster.nodes() {
        open.push(metric(node.admin, "rues_sessions_open").await);
    }
    open
}

/// Waits (bounded) until the cluster holds exactly `count` sessions (one
/// node one session when `count` is 1) and answers each node's count.
async fn wait_for_sessions(cluster: &Cluster, count: f64) -> Vec<f64> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let open = sessions(cluster).await;
        let settled = open.iter().sum::<f64>() == count && open.iter().all(|&n| n <= 1.0);
        if settled {
            return open;
        }
        assert!(
            Instant::now() < deadline,
            "the cluster never held {count} session(s): {open:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The index of the one node holding a session.
async fn holder(cluster: &Cluster) -> usize {
    let open = wait_for_sessions(cluster, 1.0).await;
    open.iter()
        .position(|&n| n == 1.0)
        .expect("one node holds it")
}

/// The node's resumes with `result` (complete, gap, reset) and the frames
/// it replayed, from its `/metrics`.
async fn resumes(node: &crate::node::Node, result: &str) -> (f64, f64) {
    let name = format!("rues_resumes_total{{result=\"{result}\"}}");
    (
        metric(node.admin, &name).await,
        metric(node.admin, "rues_frames_replayed_total").await,
    )
}

/// The node at `index` in [`Cluster::addrs`] order.
fn node(cluster: &Cluster, index: usize) -> &crate::node::Node {
    cluster.nodes().nth(index).expect("a node of the cluster")
}

/// What a subscription gave: the counters of its events, and its gaps.
#[derive(Debug, Default)]
struct Received {
    counters: Vec<u64>,
    gaps: Vec<String>,
}

/// Reads `stream` into `into` until `done` says so, the stream ends, or
/// it is quiet for [`PATIENCE`].
async fn receive<S>(stream: &mut S, into: &mut Received, done: impl Fn(&Received) -> bool)
where
    S: futures_util::Stream<Item = Result<Event, Gap>> + Unpin,
{
    while !done(into) {
        match tokio::time::timeout(PATIENCE, stream.next()).await {
            Ok(Some(Ok(event))) => into.counters.push(counter(&event)),
            Ok(Some(Err(gap))) => into
                .gaps
                .push(format!("after {:?}: {gap} ({gap:?})", into.counters.last())),
            Ok(None) | Err(_) => return,
        }
    }
}

/// What is wrong with `received` against the counters `expected`, in a
/// few words (missing, duplicated, out of order), for a failure message.
fn differences(received: &[u64], expected: &[u64]) -> String {
    let missing: Vec<u64> = expected
        .iter()
        .filter(|n| !received.contains(n))
        .copied()
        .collect();
    let mut sorted = received.to_vec();
    sorted.sort_unstable();
    let duplicated = sorted.windows(2).filter(|w| w[0] == w[1]).count();
    let disordered = received.windows(2).filter(|w| w[1] <= w[0]).count();
    format!(
        "{} received of {} expected; {} missing (first {:?}), {duplicated} duplicated, \
         {disordered} out of order",
        received.len(),
        expected.len(),
        missing.len(),
        &missing[..missing.len().min(10)],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_cut_mid_stream_resumes_on_another_node_without_loss_or_duplicate() {
    // An event every ~5 ms for ~3 s: fewer than the 1 000 a stream's
    // history keeps by default, so the history always covers the cut.
    const EVENTS: u64 = 600;
    const CUT_AFTER: usize = 200;
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let started = Instant::now();
    let proxy = CuttingProxy::round_robin(cluster.addrs()).await;
    let nats = publisher(&cluster).await;
    let client = Client::builder(proxy.url())
        .reconnect_policy(fast())
        .connect()
        .await
        .expect("connected through the proxy");
    let first_session = client.session_id();
    // The subscribe's 200 comes once the cluster routes the stream here.
    let mut ticks = client.subscribe(path()).await.expect("subscribed");
    let before = holder(&cluster).await;
    assert_eq!(proxy.upgrades(), [before], "the first session's node");

    let publishing = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(5));
        for n in 0..EVENTS {
            every.tick().await;
            publish(&nats, n).await;
        }
        nats.flush().await.expect("flushed");
    });
    let mut received = Received::default();
    receive(&mut ticks, &mut received, |r| r.counters.len() >= CUT_AFTER).await;
    assert!(
        received.counters.len() >= CUT_AFTER,
        "events stopped before the cut: {received:?}"
    );
    // Cut mid-stream: the node's socket is reset, no close frame.
    proxy.cut();
    let all = |r: &Received| r.counters.last() == Some(&(EVENTS - 1));
    receive(&mut ticks, &mut received, all).await;
    publishing.await.expect("published every event");

    // The reconnect landed on another node, which holds the session now.
    assert_ne!(client.session_id(), first_session, "the connection was cut");
    let upgrades = proxy.upgrades();
    assert!(upgrades.len() >= 2, "no reconnect: {upgrades:?}");
    assert_ne!(
        upgrades[1], upgrades[0],
        "the same node twice: {upgrades:?}"
    );
    let after = holder(&cluster).await;
    assert_ne!(after, before, "the session is still on node {before}");
    assert_eq!(Some(&after), upgrades.last(), "the last WebSocket's node");
    // It resumed there, replaying what came while the client was away.
    let (complete, replayed) = resumes(node(&cluster, after), "complete").await;
    assert_eq!(complete, 1.0, "one complete resume on node {after}");
    assert!(replayed > 0.0, "node {after} replayed nothing");

    // Every event exactly once, in order, and nothing reported lost.
    let expected: Vec<u64> = (0..EVENTS).collect();
    assert!(
        received.gaps.is_empty(),
        "gaps reported across the cut: {:?}; {}",
        received.gaps,
        differences(&received.counters, &expected)
    );
    assert!(
        received.counters == expected,
        "{}",
        differences(&received.counters, &expected)
    );
    assert!(
        started.elapsed() < Duration::from_secs(50),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_from_a_position_the_cluster_no_longer_keeps_is_a_gap() {
    // The history a stream keeps by default, and events beyond it
    // published while the client is cut off.
    let kept = rues_core::HistoryLimits::default().max_events_per_stream as u64;
    const LOST: u64 = 200;
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let proxy = CuttingProxy::round_robin(cluster.addrs()).await;
    let nats = publisher(&cluster).await;
    let client = Client::builder(proxy.url())
        .reconnect_policy(fast())
        .connect()
        .await
        .expect("connected through the proxy");
    let mut ticks = client.subscribe(path()).await.expect("subscribed");
    let before = holder(&cluster).await;
    publish(&nats, 1).await;
    nats.flush().await.expect("flushed");
    let first = match tokio::time::timeout(PATIENCE, ticks.next()).await {
        Ok(Some(Ok(event))) => event,
        other => panic!("expected event 1, got {other:?}"),
    };
    assert_eq!(counter(&first), 1);
    let resume_from = seq(&first);

    // Cut off, and kept off while more than the history is published.
    proxy.refuse(true);
    proxy.cut();
    wait_for_sessions(&cluster, 0.0).await;
    let last = 1 + LOST + kept;
    for n in 2..=last {
        publish(&nats, n).await;
    }
    nats.flush().await.expect("flushed");
    // Flushed means the NATS server has them; the nodes get them from it
    // at once, but say nothing when they have (hence a short wait).
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.refuse(false);

    // The lost numbers exactly, then the rest, each once, in order.
    match tokio::time::timeout(PATIENCE, ticks.next()).await {
        Ok(Some(Err(Gap::Missed {
            path: missed,
            first,
            last,
        }))) => {
            assert_eq!(missed.to_string(), format!("/on/{}", path()));
            assert_eq!(
                (first, last),
                (resume_from + 1, resume_from + LOST),
                "the events lost: 2..={} of the counters",
                LOST + 1
            );
        }
        other => panic!("expected the lost range, got {other:?}"),
    }
    let mut received = Received::default();
    receive(&mut ticks, &mut received, |r| {
        r.counters.last() == Some(&last)
    })
    .await;
    let expected: Vec<u64> = (LOST + 2..=last).collect();
    assert!(received.gaps.is_empty(), "more gaps: {:?}", received.gaps);
    assert!(
        received.counters == expected,
        "{}",
        differences(&received.counters, &expected)
    );
    let after = holder(&cluster).await;
    assert_ne!(after, before, "resumed on the same node {before}");
    let (gap, replayed) = resumes(node(&cluster, after), "gap").await;
    assert_eq!(gap, 1.0, "one resume with a gap on node {after}");
    assert_eq!(replayed, kept as f64, "node {after} replayed what is kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_serve_nodes_own_blocks_resume_at_an_edge_without_loss() {
    // Blocks every 200 ms, and a reconnect that waits longer than that:
    // blocks are made while the client is away, so the edge must replay
    // events the serve node made and numbered, not only relay new ones.
    const BEFORE: usize = 3;
    const AFTER: usize = 8;
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let proxy = CuttingProxy::round_robin(cluster.addrs()).await;
    let client = Client::builder(proxy.url())
        .reconnect_policy(
            ReconnectPolicy::default()
                .initial_delay(Duration::from_millis(700))
                .max_delay(Duration::from_millis(700)),
        )
        .connect()
        .await
        .expect("connected through the proxy");
    let mut blocks = client
        .subscribe("blocks/accepted")
        .await
        .expect("subscribed");
    // The first WebSocket is on the serve node (first in turn).
    assert_eq!(holder(&cluster).await, 0, "the first session's node");
    let height = |event: &Event| {
        let block: serde_json::Value = event.json().expect("a JSON block");
        block["header"]["height"]
            .as_u64()
            .unwrap_or_else(|| panic!("no height in {block}"))
    };
    let mut heights = Vec::new();
    let mut gaps = Vec::new();
    let mut take = async |count: usize, heights: &mut Vec<u64>| {
        let target = heights.len() + count;
        while heights.len() < target {
            match tokio::time::timeout(PATIENCE, blocks.next()).await {
                Ok(Some(Ok(event))) => heights.push(height(&event)),
                Ok(Some(Err(gap))) => gaps.push(format!("after {:?}: {gap}", heights.last())),
                Ok(None) | Err(_) => panic!("blocks stopped after {heights:?}"),
            }
        }
    };
    take(BEFORE, &mut heights).await;
    proxy.cut();
    take(AFTER, &mut heights).await;

    assert_eq!(
        holder(&cluster).await,
        1,
        "the session moved to the first edge"
    );
    assert!(
        gaps.is_empty(),
        "gaps across the cut: {gaps:?} ({heights:?})"
    );
    for pair in heights.windows(2) {
        assert_eq!(
            pair[1],
            pair[0] + 1,
            "each block once, in order: {heights:?}"
        );
    }
}
