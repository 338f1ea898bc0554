//! What a run of the harness is asked to do ([`Plan`]) and what it
//! measured ([`Results`]: the record of every run of every scenario). The
//! scenarios write these records, the report reads them, and both go to
//! `results.json`.

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use crate::client::Kind;
use crate::hist::Hist;
use crate::rig::ms;

/// Everything a run of the harness was asked to do.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Plan {
    pub(crate) quick: bool,
    pub(crate) scenarios: Vec<String>,
    pub(crate) servers: Vec<Kind>,
    pub(crate) runs: usize,
    /// Seconds of publishing per fan-out or selective step.
    pub(crate) step_secs: f64,
    pub(crate) fanout_n: Vec<usize>,
    pub(crate) payloads: Vec<usize>,
    /// A second rues fan-out ladder with this slow-consumer budget
    /// (`max_queue_bytes`), beside the normative one.
    pub(crate) rues_budget: Option<usize>,
    /// The fan-out ladder's first rung, in delivered messages per second
    /// (events per second times N), for 256-byte and 16 KiB payloads: the
    /// "common moderate rate" at which p99 latencies are compared.
    pub(crate) moderate_small: f64,
    pub(crate) moderate_large: f64,
    /// Bisections between the last passing and the first failing rung.
    pub(crate) refine: usize,
    /// A failed fan-out rung is measured again this many times (0 or 1)
    /// before it counts as failed.
    pub(crate) retries: usize,
    pub(crate) max_steps: usize,
    pub(crate) selective_n: Vec<usize>,
    /// Events per second in the selective scenario.
    pub(crate) selective_rate: f64,
    pub(crate) idle_n: usize,
    /// The churn ladder's first rung, in opened sessions per second.
    pub(crate) churn_start: f64,
    pub(crate) churn_secs: f64,
    /// A churn rung passes when every session opened and subscribed, with
    /// p99 of open-and-subscribe under this.
    pub(crate) churn_p99_ms: f64,
    /// Slow consumer: readers, stalled clients, events per second, payload
    /// bytes and seconds of publishing.
    pub(crate) slow_n: usize,
    pub(crate) slow_stalled: usize,
    pub(crate) slow_rate: f64,
    pub(crate) slow_size: usize,
    pub(crate) slow_secs: f64,
    /// Blocking dispatches beside fan-out (rues only): sessions, events per
    /// second, concurrent blocking calls, milliseconds each holds its
    /// thread, payload bytes, the probes' period in milliseconds, and the
    /// seconds of fan-out before the calls.
    pub(crate) blocking_n: usize,
    pub(crate) blocking_rate: f64,
    pub(crate) blocking_calls: usize,
    pub(crate) blocking_ms: u64,
    pub(crate) blocking_size: usize,
    pub(crate) blocking_probe_ms: u64,
    pub(crate) blocking_warm_secs: f64,
    /// Hostile GraphQL beside fan-out (rues only): sessions, events per
    /// second, payload bytes, seconds per phase, attacker clients, demo
    /// transactions propagated before each phase, and the node/info
    /// probes' period in milliseconds.
    pub(crate) graphql_n: usize,
    pub(crate) graphql_rate: f64,
    pub(crate) graphql_size: usize,
    pub(crate) graphql_secs: f64,
    pub(crate) graphql_attackers: usize,
    pub(crate) graphql_mempool: usize,
    pub(crate) graphql_probe_ms: u64,
    /// One node against a cluster (rues only): sessions, events per second,
    /// payload bytes, seconds of publishing per measurement, nodes of the
    /// cluster, and subscribe+unsubscribe pairs sent to each side of the
    /// GET comparison (local, forwarded).
    pub(crate) cluster_n: usize,
    pub(crate) cluster_rate: f64,
    pub(crate) cluster_size: usize,
    pub(crate) cluster_secs: f64,
    pub(crate) cluster_nodes: usize,
    pub(crate) cluster_gets: usize,
    /// Whether the cluster's nodes share the resume history (JetStream).
    pub(crate) cluster_shared_history: bool,
    /// Through a relay (rues only): sessions, events per second, payload
    /// bytes, seconds of publishing per measurement, and the event path
    /// the upstream publishes to and the sessions subscribe to.
    pub(crate) relay_n: usize,
    pub(crate) relay_rate: f64,
    pub(crate) relay_size: usize,
    pub(crate) relay_secs: f64,
    pub(crate) relay_path: String,
    /// The `rues` binary that runs `rues relay` (`None`: the harness builds
    /// it next to itself).
    pub(crate) rues_bin: Option<PathBuf>,
    /// Sessions opening at once when a scenario sets up its subscribers.
    pub(crate) parallel_opens: usize,
    #[serde(skip)]
    pub(crate) deadline: Option<Instant>,
    #[serde(skip)]
    pub(crate) scratch: PathBuf,
}

impl Plan {
    pub(crate) fn out_of_time(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() > d)
    }

    pub(crate) fn order(&self, run: usize) -> Vec<Kind> {
        rotated(&self.servers, run)
    }

    /// The servers the chosen scenarios start: none but rues when every
    /// one of them is rues only (so `--scenarios cluster` installs no
    /// Node.js peer).
    pub(crate) fn servers_used(&self) -> Vec<Kind> {
        if self
            .scenarios
            .iter()
            .all(|s| RUES_ONLY.contains(&s.as_str()))
        {
            self.servers
                .iter()
                .copied()
                .filter(|&k| k == Kind::Rues)
                .collect()
        } else {
            self.servers.clone()
        }
    }

    /// Whether a scenario starts a nats-server of its own (the cluster's).
    pub(crate) fn needs_broker(&self) -> bool {
        self.scenarios.iter().any(|s| s == "cluster") && self.servers.contains(&Kind::Rues)
    }

    /// Whether a scenario runs the `rues` binary (the relay's).
    pub(crate) fn needs_rues_binary(&self) -> bool {
        self.scenarios.iter().any(|s| s == "relay") && self.servers.contains(&Kind::Rues)
    }
}

/// The scenarios that measure rues alone, whatever `--servers` says.
pub(crate) const RUES_ONLY: [&str; 4] = ["blocking", "graphql", "cluster", "relay"];

/// `items` rotated left by `run`: the order in which run `run` visits what
/// it compares (servers, variants), so machine noise hits them alike.
pub(crate) fn rotated<T: Clone>(items: &[T], run: usize) -> Vec<T> {
    let mut items = items.to_vec();
    let len = items.len().max(1);
    items.rotate_left(run % len);
    items
}

/// The latency bound of a fan-out rung: 50 ms, 500 ms from 5 000 subscribers.
pub(crate) fn fanout_bound_ms(n: usize) -> f64 {
    if n >= 5000 { 500.0 } else { 50.0 }
}

/// One rung of a fan-out ladder.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Step {
    /// Offered events per second.
    pub(crate) rate: f64,
    /// Offered messages per second: `rate` times the subscribers.
    pub(crate) msgs_per_sec: f64,
    pub(crate) expected: u64,
    pub(crate) received: u64,
    pub(crate) closed: usize,
    pub(crate) close_codes: Vec<u64>,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
    /// How long the server took to publish the rung's events.
    pub(crate) publish_secs: f64,
    /// CPU time of the process serving the sessions over the rung, per
    /// delivered message, in microseconds.
    pub(crate) server_us_per_msg: f64,
    /// The 1-minute load average when the rung ended.
    pub(crate) loadavg: f64,
    /// Whether this was the retry of a failed rung.
    pub(crate) retry: bool,
    pub(crate) ok: bool,
}

/// One server's fan-out ladder for one N and payload size.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FanoutRun {
    pub(crate) server: Kind,
    /// rues's slow-consumer budget when raised past the normative 1 MiB
    /// (`None`: the server's default).
    pub(crate) budget: Option<usize>,
    pub(crate) n: usize,
    pub(crate) size: usize,
    pub(crate) run: usize,
    pub(crate) steps: Vec<Step>,
    /// The highest passing rung, in events per second (0: none passed).
    pub(crate) max_rate: f64,
    /// p99 at the first rung (the moderate rate), if it delivered everything.
    pub(crate) moderate_p99_ms: Option<f64>,
    /// Server CPU per delivered message at the first rung, in microseconds.
    pub(crate) moderate_us_per_msg: Option<f64>,
    pub(crate) error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct SelectiveRun {
    pub(crate) server: Kind,
    pub(crate) n: usize,
    pub(crate) run: usize,
    pub(crate) rate: f64,
    pub(crate) expected: u64,
    pub(crate) received: u64,
    /// CPU seconds of the process serving the sessions during the step.
    pub(crate) server_cpu_s: f64,
    /// Server CPU per delivered event, in microseconds.
    pub(crate) us_per_event: f64,
    /// For NATS, the separate publisher's CPU per event, in microseconds.
    pub(crate) publisher_us_per_event: Option<f64>,
    pub(crate) p99_ms: f64,
    pub(crate) loadavg: f64,
    pub(crate) error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct IdleRun {
    pub(crate) server: Kind,
    pub(crate) n: usize,
    pub(crate) run: usize,
    pub(crate) rss_before_kib: u64,
    pub(crate) rss_after_kib: u64,
    pub(crate) kib_per_session: f64,
    pub(crate) error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ChurnStep {
    /// Offered opens per second.
    pub(crate) rate: f64,
    pub(crate) offered: u64,
    pub(crate) succeeded: u64,
    pub(crate) failed: u64,
    /// Completed open-subscribe-close cycles per second over the rung.
    pub(crate) achieved: f64,
    /// Open and subscribe, from the TCP connect to the confirmed subscription.
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    /// The subscribe request alone (rues: the GET; NATS: SUB+PING).
    pub(crate) subscribe_p99_ms: f64,
    pub(crate) loadavg: f64,
    pub(crate) ok: bool,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ChurnRun {
    pub(crate) server: Kind,
    pub(crate) run: usize,
    pub(crate) steps: Vec<ChurnStep>,
    /// The highest passing rung, in opens per second (0: none passed).
    pub(crate) max_rate: f64,
    pub(crate) error: Option<String>,
}

/// One side of the comparison: the readers' view and the server's memory.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct SlowSide {
    pub(crate) expected: u64,
    pub(crate) received: u64,
    /// Readers the server closed (should be none).
    pub(crate) readers_closed: usize,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) rss_start_kib: u64,
    pub(crate) rss_max_kib: u64,
    /// rues only: sessions the server closed with 4008 (its
    /// `rues_sessions_closed_total{reason="slow_consumer"}`).
    pub(crate) slow_consumers_closed: Option<u64>,
    pub(crate) loadavg: f64,
}

/// How a stalled client ended.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Stalled {
    /// Messages it found queued when it finally read.
    pub(crate) messages: u64,
    /// The Close code it found (1006: the socket ended without one; `None`:
    /// still open when the harness gave up reading).
    pub(crate) close_code: Option<u16>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct SlowRun {
    pub(crate) server: Kind,
    pub(crate) run: usize,
    pub(crate) without: SlowSide,
    pub(crate) with: SlowSide,
    pub(crate) stalled: Vec<Stalled>,
    /// `with.p99_ms / without.p99_ms`.
    pub(crate) p99_ratio: f64,
    pub(crate) error: Option<String>,
}

/// Where the blocking scenario's slow work runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Variant {
    /// A blocking handler, on rues-warp's bounded blocking pool.
    Pool,
    /// An ordinary async handler that sleeps its thread, a runtime worker:
    /// the behaviour before blocking handlers.
    Runtime,
}

impl Variant {
    pub(crate) const ALL: [Variant; 2] = [Variant::Pool, Variant::Runtime];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Variant::Pool => "pool",
            Variant::Runtime => "runtime",
        }
    }

    /// The dispatch topic of the benchmark's rues server that does the work.
    pub(crate) fn topic(self) -> &'static str {
        match self {
            Variant::Pool => crate::server::rues::BLOCK_ON_POOL,
            Variant::Runtime => crate::server::rues::BLOCK_ON_RUNTIME,
        }
    }
}

/// Latencies of one kind of request, in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Latencies {
    pub(crate) sent: u64,
    /// Requests answered 200 (the latencies are theirs).
    pub(crate) ok: u64,
    /// Requests answered otherwise, or not in time.
    pub(crate) failed: u64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
}

impl Latencies {
    /// The summary of `hist` (nanoseconds) for `sent` requests, of which
    /// those not in `hist` failed.
    pub(crate) fn of(hist: &Hist, sent: u64) -> Self {
        Latencies {
            sent,
            ok: hist.count(),
            failed: sent.saturating_sub(hist.count()),
            p50_ms: ms(hist.quantile(0.5)),
            p99_ms: ms(hist.quantile(0.99)),
            max_ms: ms(hist.max()),
        }
    }
}

/// One run of one variant of the blocking scenario, on a fresh server.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct BlockingRun {
    pub(crate) variant: Variant,
    pub(crate) run: usize,
    /// Seconds from sending the blocking dispatches to the last answer.
    pub(crate) window_secs: f64,
    /// Events published from the window's start until the publisher saw
    /// the last answer (it publishes in 0.2-s chunks), times the sessions.
    pub(crate) expected: u64,
    pub(crate) received: u64,
    pub(crate) sessions_closed: usize,
    /// Delivery latency of those events (publish stamp to receipt).
    pub(crate) events: Latencies,
    /// The ordinary async dispatch probe, and the subscribe probe.
    pub(crate) dispatch_probe: Latencies,
    pub(crate) subscribe_probe: Latencies,
    /// The blocking dispatches themselves: each one's time to its answer
    /// (ms) and status (0: no answer in time).
    pub(crate) blocking_ms: Vec<f64>,
    pub(crate) blocking_status: Vec<u16>,
    pub(crate) loadavg: f64,
    pub(crate) error: Option<String>,
}

/// The two phases of the graphql scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Phase {
    /// Fan-out and probes only.
    Alone,
    /// The same, with the attackers sending hostile GraphQL queries.
    Attack,
}

impl Phase {
    pub(crate) const ALL: [Phase; 2] = [Phase::Alone, Phase::Attack];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Phase::Alone => "alone",
            Phase::Attack => "under attack",
        }
    }
}

/// One hostile GraphQL request and its answer.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AttackAnswer {
    /// The query's name in the scenario's list.
    pub(crate) query: &'static str,
    /// The status (0: no answer within the attacker's timeout, or the
    /// connection failed).
    pub(crate) status: u16,
    /// Send to the end of the answer.
    pub(crate) ms: f64,
    /// Bytes of the answer, head included.
    pub(crate) bytes: u64,
}

/// One phase of one run of the graphql scenario, on a fresh server.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct GraphqlRun {
    pub(crate) phase: Phase,
    pub(crate) run: usize,
    /// Demo transactions the mempool accepted before the phase.
    pub(crate) propagated: usize,
    pub(crate) phase_secs: f64,
    pub(crate) expected: u64,
    pub(crate) received: u64,
    pub(crate) sessions_closed: usize,
    /// Delivery latency of the phase's events.
    pub(crate) events: Latencies,
    /// `node/info` dispatches, every `graphql_probe_ms`, open loop.
    pub(crate) info_probe: Latencies,
    pub(crate) attacks: Vec<AttackAnswer>,
    /// The server's VmRSS when the phase began, and its peak in the phase.
    pub(crate) rss_start_kib: u64,
    pub(crate) rss_max_kib: u64,
    pub(crate) loadavg: f64,
    pub(crate) error: Option<String>,
}

/// The two sides of the cluster scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Topology {
    /// One node, alone (no NATS).
    Single,
    /// `cluster_nodes` nodes joined through one nats-server.
    Cluster,
}

impl Topology {
    pub(crate) const ALL: [Topology; 2] = [Topology::Single, Topology::Cluster];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Topology::Single => "one node",
            Topology::Cluster => "cluster",
        }
    }
}

/// GET latency in the cluster: subscribe and unsubscribe requests for a
/// session on node A, sent to node A (local) and to node B (forwarded to
/// A over NATS).
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Gets {
    pub(crate) local_get: Latencies,
    pub(crate) forwarded_get: Latencies,
    pub(crate) local_delete: Latencies,
    pub(crate) forwarded_delete: Latencies,
}

/// One run of one side of the cluster scenario, on fresh processes.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ClusterRun {
    pub(crate) topology: Topology,
    pub(crate) run: usize,
    /// Node processes (1 for [`Topology::Single`]).
    pub(crate) nodes: usize,
    /// Sessions on each node; node 0 publishes.
    pub(crate) sessions: Vec<usize>,
    pub(crate) expected: u64,
    pub(crate) received: u64,
    pub(crate) sessions_closed: usize,
    /// How long the publishing node took to publish the measurement's events.
    pub(crate) publish_secs: f64,
    /// Delivery latency over every session.
    pub(crate) events: Latencies,
    /// Over the sessions of the publishing node.
    pub(crate) local_events: Latencies,
    /// Over the sessions of the other nodes (cross-node; none alone).
    pub(crate) cross_events: Option<Latencies>,
    /// CPU seconds of each node process over the measurement.
    pub(crate) node_cpu_s: Vec<f64>,
    /// Their sum per delivered event (one message to one session), in
    /// microseconds.
    pub(crate) node_us_per_event: f64,
    /// nats-server's CPU seconds, and per delivered event (cluster only).
    pub(crate) broker_cpu_s: Option<f64>,
    pub(crate) broker_us_per_event: Option<f64>,
    /// Local against forwarded GET (cluster only).
    pub(crate) gets: Option<Gets>,
    pub(crate) loadavg: f64,
    pub(crate) error: Option<String>,
}

/// The two ways the relay scenario serves its sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Route {
    /// Every session on the upstream node.
    Direct,
    /// Every session on one `rues relay` in front of the upstream node.
    Relay,
}

impl Route {
    pub(crate) const ALL: [Route; 2] = [Route::Direct, Route::Relay];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Route::Direct => "direct",
            Route::Relay => "relay",
        }
    }
}

/// CPU time of one process over a measurement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub(crate) struct Cpu {
    /// User plus system seconds.
    pub(crate) seconds: f64,
    /// Per second of the measurement's wall time (1.0: one core busy).
    pub(crate) per_second: f64,
    /// Per delivered event (one message to one session), in microseconds.
    pub(crate) us_per_event: f64,
}

impl Cpu {
    /// `seconds` of CPU over `wall_secs`, for `delivered` messages.
    pub(crate) fn of(seconds: f64, wall_secs: f64, delivered: u64) -> Self {
        Cpu {
            seconds,
            per_second: if wall_secs > 0.0 {
                seconds / wall_secs
            } else {
                0.0
            },
            us_per_event: seconds / delivered.max(1) as f64 * 1e6,
        }
    }
}

/// One run of one route of the relay scenario, on fresh processes.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RelayRun {
    pub(crate) route: Route,
    pub(crate) run: usize,
    pub(crate) expected: u64,
    pub(crate) received: u64,
    pub(crate) sessions_closed: usize,
    /// How long the upstream took to publish the measurement's events.
    pub(crate) publish_secs: f64,
    /// From just before the publish order to the last event received (or
    /// the grace's end): the wall time the CPU figures are over.
    pub(crate) window_secs: f64,
    /// Delivery latency, publish stamp (on the upstream) to receipt.
    pub(crate) events: Latencies,
    pub(crate) upstream_cpu: Cpu,
    /// The relay process's (relay only).
    pub(crate) relay_cpu: Option<Cpu>,
    /// `rues_sessions_open` on the upstream's `/metrics` once the sessions
    /// were subscribed (N direct, 1 through the relay).
    pub(crate) upstream_sessions: Option<u64>,
    /// The same on the relay's `/metrics` (relay only).
    pub(crate) relay_sessions: Option<u64>,
    /// `rues_relay_upstream_subscriptions` on the relay's `/metrics`
    /// (relay only; 1: the one path).
    pub(crate) relay_upstream_subscriptions: Option<u64>,
    pub(crate) loadavg: f64,
    pub(crate) error: Option<String>,
}

/// Everything measured.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Results {
    pub(crate) fanout: Vec<FanoutRun>,
    pub(crate) selective: Vec<SelectiveRun>,
    pub(crate) idle: Vec<IdleRun>,
    pub(crate) churn: Vec<ChurnRun>,
    pub(crate) slow: Vec<SlowRun>,
    pub(crate) blocking: Vec<BlockingRun>,
    pub(crate) graphql: Vec<GraphqlRun>,
    pub(crate) cluster: Vec<ClusterRun>,
    pub(crate) relay: Vec<RelayRun>,
}

impl Results {
    /// How many measurements ended in an error (a server that would not
    /// start, sessions that would not open, ...), as opposed to a rung that
    /// merely failed its bounds.
    pub(crate) fn errors(&self) -> usize {
        self.fanout.iter().filter(|r| r.error.is_some()).count()
            + self.selective.iter().filter(|r| r.error.is_some()).count()
            + self.idle.iter().filter(|r| r.error.is_some()).count()
            + self.churn.iter().filter(|r| r.error.is_some()).count()
            + self.slow.iter().filter(|r| r.error.is_some()).count()
            + self.blocking.iter().filter(|r| r.error.is_some()).count()
            + self.graphql.iter().filter(|r| r.error.is_some()).count()
            + self.cluster.iter().filter(|r| r.error.is_some()).count()
            + self.relay.iter().filter(|r| r.error.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_run_rotates_the_order_by_one() {
        let items = ["a", "b", "c"];
        assert_eq!(rotated(&items, 0), ["a", "b", "c"]);
        assert_eq!(rotated(&items, 1), ["b", "c", "a"]);
        assert_eq!(rotated(&items, 4), ["b", "c", "a"]);
        assert_eq!(rotated(&Variant::ALL, 1), [Variant::Runtime, Variant::Pool]);
        assert!(rotated::<u8>(&[], 3).is_empty());
    }

    #[test]
    fn latencies_count_what_is_missing_from_the_histogram_as_failed() {
        let mut hist = Hist::default();
        for ms in [1u64, 2, 3, 4, 100] {
            hist.record(ms * 1_000_000);
        }
        let latencies = Latencies::of(&hist, 8);
        assert_eq!((latencies.sent, latencies.ok, latencies.failed), (8, 5, 3));
        assert!((latencies.p50_ms - 3.0).abs() < 0.1, "{latencies:?}");
        assert_eq!(latencies.p99_ms, 100.0);
        assert_eq!(latencies.max_ms, 100.0);
        let empty = Latencies::of(&Hist::default(), 0);
        assert_eq!((empty.ok, empty.failed, empty.p99_ms), (0, 0, 0.0));
    }

    #[test]
    fn cpu_is_shared_out_over_wall_time_and_delivered_events() {
        let cpu = Cpu::of(1.5, 3.0, 500_000);
        assert_eq!(cpu.per_second, 0.5);
        assert!((cpu.us_per_event - 3.0).abs() < 1e-9, "{cpu:?}");
        let idle = Cpu::of(0.2, 0.0, 0);
        assert_eq!(idle.per_second, 0.0, "no wall time: no rate");
        assert!(
            (idle.us_per_event - 200_000.0).abs() < 1e-6,
            "none delivered counts as one"
        );
    }
}
