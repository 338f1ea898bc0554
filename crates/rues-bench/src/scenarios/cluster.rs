//! One node against a cluster (rues only: cluster mode is rues's). The
//! same fan-out, `cluster_n` sessions subscribed to the one fan-out topic
//! getting `cluster_rate` events/s of `cluster_size` bytes, served two
//! ways, alternating run by run, each on fresh processes:
//!
//! - **one node**: `rues-bench server rues`, alone (no NATS), every
//!   session on it;
//! - **cluster**: a nats-server of the harness's own on a free loopback
//!   port and `cluster_nodes` nodes joined through it (`rues-bench server
//!   rues --nats URL`), the sessions spread evenly over them (session *i*
//!   on node *i* mod nodes, each connected to its node directly). Node 0
//!   publishes; the others deliver what reaches them through NATS.
//!
//! Measured over `cluster_secs` of publishing after a short warm-up: the
//! delivery latency (publish stamp to receipt) over every session, over
//! the publishing node's and over the others' (cross-node); the CPU of
//! the node processes, summed, per delivered event (one message to one
//! session), and nats-server's apart.
//!
//! Then, in the cluster only, `GET` latency: a session opened on node 0,
//! and `cluster_gets` subscribe+unsubscribe pairs, each to a path of its
//! own, sent to node 0 (local) and as many to node 1 (forwarded to node
//! 0 over NATS), alternating, closed loop, each side on one keep-alive
//! connection.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::client::{self, Fleet, HttpPool, Kind};
use crate::control::Order;
use crate::hist::Hist;
use crate::peers::{Broker, Peer};
use crate::plan::{ClusterRun, Gets, Latencies, Plan, Results, Topology, rotated};
use crate::procfs;
use crate::rig::{loadavg, progress};
use crate::scenarios::blocking::{Answer, summarize, timed};

/// How long the harness waits for the events still in flight.
const GRACE: Duration = Duration::from_secs(5);
/// Seconds of events before the measurement, unrecorded.
const WARM_SECS: f64 = 0.5;
/// How long one subscribe or unsubscribe may wait for its answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The GET comparison gives up after this many failed requests in a row.
const MAX_FAILURES_IN_A_ROW: usize = 10;
/// The GET comparison stops after this long, whatever is left.
const GETS_MAX: Duration = Duration::from_secs(300);
/// Unrecorded pairs on each side first, to open the connections and warm
/// the paths.
const GETS_WARM: usize = 20;
/// The GET session's own subscription (it receives nothing).
const GET_ENTITY: u32 = u32::MAX;

/// Every run: both topologies, in an order that alternates from run to run.
pub(super) async fn run(plan: &Plan, results: &mut Results) {
    if !plan.servers.contains(&Kind::Rues) {
        progress("cluster: cluster mode is rues's, and rues is not among the servers: skipped");
        return;
    }
    if plan.servers.len() > 1 {
        progress("cluster: rues only (cluster mode is rues's)");
    }
    for run in 0..plan.runs {
        for topology in rotated(&Topology::ALL, run) {
            if plan.out_of_time() {
                progress("deadline reached: skipping the rest of cluster");
                return;
            }
            let nodes = match topology {
                Topology::Single => 1,
                Topology::Cluster => plan.cluster_nodes,
            };
            let mut record = ClusterRun {
                topology,
                run,
                nodes,
                sessions: spread(plan.cluster_n, nodes),
                expected: 0,
                received: 0,
                sessions_closed: 0,
                publish_secs: 0.0,
                events: Latencies::default(),
                local_events: Latencies::default(),
                cross_events: None,
                node_cpu_s: Vec::new(),
                node_us_per_event: 0.0,
                broker_cpu_s: None,
                broker_us_per_event: None,
                gets: None,
                loadavg: f64::NAN,
                error: None,
            };
            if let Err(error) = cluster_one(plan, &mut record).await {
                record.error = Some(format!("{error:#}"));
            }
            progress(&line(&record));
            results.cluster.push(record);
        }
    }
}

/// The progress line of one run.
fn line(record: &ClusterRun) -> String {
    let cross = record.cross_events.as_ref().map_or(String::new(), |l| {
        format!(" (cross-node p50/p99 {:.2}/{:.2} ms)", l.p50_ms, l.p99_ms)
    });
    let broker = record
        .broker_us_per_event
        .map_or(String::new(), |us| format!(", nats-server {us:.2} us"));
    let gets = record.gets.as_ref().map_or(String::new(), |g| {
        format!(
            "; GET p50/p99 local {:.3}/{:.3} ms, forwarded {:.3}/{:.3} ms ({}+{} of {}+{} answered)",
            g.local_get.p50_ms,
            g.local_get.p99_ms,
            g.forwarded_get.p50_ms,
            g.forwarded_get.p99_ms,
            g.local_get.ok,
            g.forwarded_get.ok,
            g.local_get.sent,
            g.forwarded_get.sent,
        )
    });
    format!(
        "cluster run {} {:>8} ({} node{}): events p50/p99 {:.2}/{:.2} ms{cross}, {}/{} delivered, \
         {} closed; nodes {:.2} us CPU/event{broker}{gets}{}",
        record.run,
        record.topology.name(),
        record.nodes,
        if record.nodes == 1 { "" } else { "s" },
        record.events.p50_ms,
        record.events.p99_ms,
        record.received,
        record.expected,
        record.sessions_closed,
        record.node_us_per_event,
        record
            .error
            .as_deref()
            .map_or(String::new(), |e| format!(", error: {e}"))
    )
}

/// `n` sessions over `nodes` nodes, session `i` on node `i % nodes`: how
/// many each node gets.
pub(crate) fn spread(n: usize, nodes: usize) -> Vec<usize> {
    let nodes = nodes.max(1);
    (0..nodes)
        .map(|node| n / nodes + usize::from(node < n % nodes))
        .collect()
}

/// The processes of one run, stopped by [`Processes::stop`] (and killed
/// on drop, whatever happens).
#[derive(Default)]
struct Processes {
    broker: Option<Broker>,
    nodes: Vec<Peer>,
}

impl Processes {
    async fn stop(self) {
        let Processes { broker, nodes } = self;
        // The nodes first, so that none sees the broker go.
        for node in nodes {
            node.stop().await;
        }
        if let Some(mut broker) = broker {
            broker.stop().await;
        }
    }
}

/// One topology on fresh processes.
async fn cluster_one(plan: &Plan, record: &mut ClusterRun) -> Result<()> {
    let mut processes = Processes::default();
    let measured = async {
        start(plan, record, &mut processes).await?;
        measure(plan, &mut processes, record).await
    }
    .await;
    processes.stop().await;
    measured
}

/// Starts the broker (cluster only) and the nodes into `processes`.
async fn start(plan: &Plan, record: &ClusterRun, processes: &mut Processes) -> Result<()> {
    let url = match record.topology {
        Topology::Single => None,
        Topology::Cluster => {
            let broker = Broker::start(&plan.scratch)
                .await
                .context("starting nats-server")?;
            let url = broker.url();
            processes.broker = Some(broker);
            Some(url)
        }
    };
    let options: Vec<&str> = match &url {
        Some(url) if plan.cluster_shared_history => vec!["--nats", url],
        Some(url) => vec!["--nats", url, "--node-history"],
        None => Vec::new(),
    };
    for node in 0..record.nodes {
        let peer = Peer::start_with(Kind::Rues, &plan.scratch, &options)
            .await
            .with_context(|| format!("starting node {node}"))?;
        processes.nodes.push(peer);
    }
    Ok(())
}

/// Waits until `fleets` received `expected` messages (since their last
/// reset), or `grace` passed.
async fn settle(fleets: &[Fleet], expected: u64, grace: Duration) {
    let deadline = Instant::now() + grace;
    while received(fleets) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn received(fleets: &[Fleet]) -> u64 {
    fleets.iter().map(Fleet::received).sum()
}

fn merged<'a>(fleets: impl IntoIterator<Item = &'a Fleet>) -> Hist {
    let mut all = Hist::default();
    for fleet in fleets {
        all.merge(&fleet.latencies());
    }
    all
}

/// Publishes `count` events from node 0 and waits for them; returns the
/// publishing time node 0 measured.
async fn step(
    plan: &Plan,
    publisher: &mut Peer,
    fleets: &[Fleet],
    count: u64,
    seed: u64,
) -> Result<Duration> {
    for fleet in fleets {
        fleet.reset();
    }
    let order = Order {
        rate: plan.cluster_rate,
        count,
        size: plan.cluster_size,
        entities: 0,
        seed,
    };
    let timeout = Duration::from_secs_f64(count as f64 / order.rate * 3.0 + 30.0);
    let published = publisher.publish(order, timeout).await?;
    settle(fleets, count * plan.cluster_n as u64, GRACE).await;
    Ok(published)
}

async fn measure(plan: &Plan, processes: &mut Processes, record: &mut ClusterRun) -> Result<()> {
    let mut fleets = Vec::with_capacity(processes.nodes.len());
    for (node, (peer, &count)) in processes.nodes.iter().zip(&record.sessions).enumerate() {
        let fleet = Fleet::open(peer.endpoint(), count, |_| None, plan.parallel_opens)
            .await
            .with_context(|| format!("opening sessions on node {node}"))?;
        fleets.push(fleet);
    }
    let publisher = processes.nodes.first_mut().context("no node to publish")?;
    let warm = ((plan.cluster_rate * WARM_SECS).ceil() as u64).max(5);
    step(plan, publisher, &fleets, warm, 1).await?;

    let count = ((plan.cluster_rate * plan.cluster_secs).round() as u64).max(10);
    let pids = processes
        .nodes
        .iter()
        .map(Peer::server_pid)
        .collect::<Result<Vec<_>>>()?;
    let broker_pid = processes.broker.as_ref().map(Broker::pid).transpose()?;
    let cpu = |pid: u32| procfs::cpu_seconds(pid);
    let nodes_before = pids.iter().map(|&p| cpu(p)).collect::<Result<Vec<_>>>()?;
    let broker_before = broker_pid.map(cpu).transpose()?;
    let publisher = processes.nodes.first_mut().context("no node to publish")?;
    let published = step(plan, publisher, &fleets, count, 2).await?;
    let nodes_after = pids.iter().map(|&p| cpu(p)).collect::<Result<Vec<_>>>()?;
    let broker_after = broker_pid.map(cpu).transpose()?;

    let received = received(&fleets);
    let per_event = |cpu_s: f64| cpu_s / received.max(1) as f64 * 1e6;
    record.expected = count * plan.cluster_n as u64;
    record.received = received;
    record.sessions_closed = fleets.iter().map(|f| f.closed().0).sum();
    record.publish_secs = published.as_secs_f64();
    record.events = Latencies::of(&merged(&fleets), record.expected);
    record.local_events = Latencies::of(&fleets[0].latencies(), count * record.sessions[0] as u64);
    if fleets.len() > 1 {
        let cross: usize = record.sessions[1..].iter().sum();
        record.cross_events = Some(Latencies::of(&merged(&fleets[1..]), count * cross as u64));
    }
    record.node_cpu_s = nodes_after
        .iter()
        .zip(&nodes_before)
        .map(|(after, before)| after - before)
        .collect();
    record.node_us_per_event = per_event(record.node_cpu_s.iter().sum());
    if let (Some(after), Some(before)) = (broker_after, broker_before) {
        record.broker_cpu_s = Some(after - before);
        record.broker_us_per_event = Some(per_event(after - before));
    }
    record.loadavg = loadavg();
    if let [local, forwarded, ..] = &processes.nodes[..] {
        record.gets = Some(gets(plan, local, forwarded).await?);
    }
    Ok(())
}

/// Which node a GET comparison request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// The node that owns the session.
    Local,
    /// Another node, which forwards it to the owner over NATS.
    Forwarded,
}

impl Side {
    const ALL: [Side; 2] = [Side::Local, Side::Forwarded];
}

/// The requests of pair `index`, in the order they go out: a subscribe
/// then an unsubscribe of one path of its own on each side, the side that
/// goes first alternating from pair to pair.
fn pair_paths(index: usize) -> Vec<(Side, String)> {
    rotated(&Side::ALL, index)
        .into_iter()
        .map(|side| {
            let tag = match side {
                Side::Local => 'l',
                Side::Forwarded => 'f',
            };
            (side, format!("/on/bench:g{tag}{index}/tick"))
        })
        .collect()
}

/// A subscribe+unsubscribe pair on one side.
async fn pair(pool: &HttpPool, path: &str, session: &str) -> (Answer, Answer) {
    let get = timed(REQUEST_TIMEOUT, pool.get(path, session)).await;
    let delete = timed(REQUEST_TIMEOUT, pool.delete(path, session)).await;
    (get, delete)
}

/// The GET comparison: a session owned by `local`, its requests sent to
/// `local` and to `forwarded`.
async fn gets(plan: &Plan, local: &Peer, forwarded: &Peer) -> Result<Gets> {
    let owner = local.endpoint();
    // One connection each, so every request goes out on a warm keep-alive
    // connection, one at a time.
    let pools = [
        HttpPool::new(owner.addr, 1),
        HttpPool::new(forwarded.endpoint().addr, 1),
    ];
    let pool = |side: Side| &pools[side as usize];
    let opened = client::open(owner, Some(GET_ENTITY), 0, Some(pool(Side::Local)))
        .await
        .context("opening the GET comparison's session")?;
    let session = opened.id.clone().context("no session id")?;
    // Read (and so answer pings) for as long as the comparison lasts.
    let reader = opened.spawn_reader(Arc::default());
    let compared = async {
        for index in 0..GETS_WARM {
            for (side, path) in pair_paths(index) {
                let path = path.replace("/on/bench:g", "/on/bench:w");
                pair(pool(side), &path, &session).await;
            }
        }
        let mut answers: [[Vec<Answer>; 2]; 2] = Default::default();
        let started = Instant::now();
        let mut failures_in_a_row = 0;
        'pairs: for index in 0..plan.cluster_gets {
            if started.elapsed() > GETS_MAX || plan.out_of_time() {
                progress("cluster: GET comparison cut short (time)");
                break;
            }
            for (side, path) in pair_paths(index) {
                let (get, delete) = pair(pool(side), &path, &session).await;
                if get.0 == 200 && delete.0 == 200 {
                    failures_in_a_row = 0;
                } else {
                    failures_in_a_row += 1;
                }
                answers[side as usize][0].push(get);
                answers[side as usize][1].push(delete);
                if failures_in_a_row >= MAX_FAILURES_IN_A_ROW {
                    progress("cluster: GET comparison stopped: every request fails");
                    break 'pairs;
                }
            }
        }
        let [[local_get, local_delete], [forwarded_get, forwarded_delete]] = answers;
        Gets {
            local_get: summarize(&local_get),
            forwarded_get: summarize(&forwarded_get),
            local_delete: summarize(&local_delete),
            forwarded_delete: summarize(&forwarded_delete),
        }
    };
    let gets = compared.await;
    reader.abort();
    Ok(gets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_spread_evenly_with_the_first_nodes_taking_the_rest() {
        assert_eq!(spread(1000, 3), [334, 333, 333]);
        assert_eq!(spread(90, 3), [30, 30, 30]);
        assert_eq!(spread(1000, 1), [1000]);
        assert_eq!(spread(2, 3), [1, 1, 0]);
        assert_eq!(spread(5, 0), [5], "at least one node");
        for (n, nodes) in [(1000, 3), (7, 4), (100_000, 8)] {
            assert_eq!(spread(n, nodes).iter().sum::<usize>(), n);
        }
    }

    #[test]
    fn each_pair_visits_both_sides_on_paths_of_its_own_first_side_alternating() {
        let first = pair_paths(0);
        assert_eq!(
            first,
            [
                (Side::Local, "/on/bench:gl0/tick".to_owned()),
                (Side::Forwarded, "/on/bench:gf0/tick".to_owned())
            ]
        );
        assert_eq!(pair_paths(1)[0].0, Side::Forwarded);
        assert_eq!(pair_paths(2)[0].0, Side::Local);
        let mut paths: Vec<String> = (0..50).flat_map(pair_paths).map(|(_, p)| p).collect();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), 100, "every path distinct");
        for path in paths {
            rues_core::rues_target::EventPath::parse(&path).expect("a valid event path");
        }
    }

    #[test]
    fn the_scenario_is_named_bounded_and_small_with_quick() {
        let full =
            crate::tests::plan(&["--scenarios", "cluster", "--servers", "rues"]).expect("valid");
        assert_eq!(full.scenarios, ["cluster"]);
        assert_eq!(
            (full.cluster_n, full.cluster_rate, full.cluster_size),
            (1000, 100.0, 256)
        );
        assert_eq!(
            (full.cluster_secs, full.cluster_nodes, full.cluster_gets),
            (10.0, 3, 2000)
        );
        assert!(full.needs_broker());
        assert_eq!(full.servers_used(), [Kind::Rues]);
        let quick = crate::tests::plan(&["--quick", "--scenarios", "cluster"]).expect("valid");
        assert_eq!((quick.cluster_n, quick.cluster_gets), (90, 200));
        assert_eq!(
            quick.servers_used(),
            [Kind::Rues],
            "no other peer to install"
        );
        for default in [
            crate::tests::plan(&[]).expect("valid"),
            crate::tests::plan(&["--quick"]).expect("valid"),
        ] {
            assert!(!default.scenarios.iter().any(|s| s == "cluster"));
            assert!(!default.needs_broker());
            assert_eq!(default.servers_used(), Kind::ALL);
        }
        let set = crate::tests::plan(&[
            "--scenarios",
            "cluster",
            "--cluster-nodes",
            "100",
            "--cluster-size",
            "1",
            "--cluster-gets",
            "0",
            "--cluster-secs",
            "100000",
        ])
        .expect("valid");
        assert_eq!((set.cluster_nodes, set.cluster_size), (8, 16));
        assert_eq!((set.cluster_gets, set.cluster_secs), (1, 600.0));
        let without_rues =
            crate::tests::plan(&["--scenarios", "cluster", "--servers", "nats"]).expect("valid");
        assert!(!without_rues.needs_broker());
        assert!(without_rues.servers_used().is_empty());
    }
}
