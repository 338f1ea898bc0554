//! `rues-bench`: the load harness of rues.
//!
//! It measures rues side by side with three other ways to push events to
//! WebSocket clients, each started and stopped by the harness as a child
//! process on loopback, all publishing the same events at the same offered
//! rate:
//!
//! - **rues**: the rues-warp adapter with the publisher inside the process,
//!   the same code path as the demo node (`rues-bench server rues`);
//! - **baseline**: a minimal broadcast server on plain tokio-tungstenite with
//!   no protocol logic, the limit of this stack (`rues-bench server baseline`);
//! - **nats**: Debian's `nats-server` with its WebSocket listener; the
//!   publisher is a NATS client over TCP (`rues-bench server nats-pub`), the
//!   subscribers speak NATS over WebSocket;
//! - **node-ws**: a broadcast server on the npm package `ws`
//!   (`peers/node-ws/server.js`, with its lock file);
//! - **limit**: no protocol, each event framed once and written to every
//!   socket with vectored writes of many frames per syscall: how fast this
//!   machine's sockets take a broadcast (`rues-bench server limit`).
//!
//! The client side opens every session from this one process, subscribes
//! each the way its server expects, and records the latency of every event
//! (the publish time travels in the payload, on `CLOCK_MONOTONIC`) and what
//! was delivered. Scenarios: `fanout`, `selective`, `idle`, `churn` (see
//! docs/benchmarks.md), `slow` (stalled clients beside readers;
//! see docs/reliability.md), `blocking` (rues only: slow dispatch
//! handlers beside fan-out, on the blocking pool and on the runtime), and
//! `graphql` (rues only, asked for by name: hostile GraphQL queries beside
//! fan-out on the demo node's registry and chain), and `cluster` (rues
//! only, asked for by name: the same fan-out through three nodes joined by
//! a nats-server against one node, and forwarded against local `GET`s),
//! and `relay` (rues only, asked for by name: the same fan-out through a
//! `rues relay` process against directly on its upstream; the harness
//! builds the `rues` binary for it).
//! The harness installs
//! nats-server (apt-get) and the `ws` package (`npm ci`) when they are
//! missing, and bounds every run in time.
//!
//! Usage: `cargo xtask bench load [--quick] [OPTIONS]`, which runs
//! `cargo run --release -p rues-bench -- load [--quick] [OPTIONS]`;
//! `rues-bench load --help` lists the options.

mod client;
mod clock;
mod control;
mod hist;
mod payload;
mod peers;
mod plan;
mod procfs;
mod report;
mod rig;
mod scenarios;
mod server;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::client::Kind;
use crate::plan::Plan;

#[derive(Parser)]
#[command(
    name = "rues-bench",
    about = "Load harness: rues against a bare tokio-tungstenite broadcast, nats-server, Node.js ws and a frame-once vectored-write limit"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the benchmarks (the harness).
    Load(Box<LoadArgs>),
    /// Runs one server (started by the harness; speaks its control protocol
    /// on stdin and stdout).
    Server {
        /// `rues`, `baseline`, `limit` or `nats-pub`.
        kind: String,
        /// nats-pub: the nats-server client address.
        #[arg(long)]
        addr: Option<String>,
        /// rues: publish from a thread of its own, with its own timer, so
        /// that a runtime blocked by a handler cannot hold the publisher
        /// back (the blocking scenario).
        #[arg(long)]
        publish_thread: bool,
        /// rues: serve the demo node's registry (GraphQL included) and run
        /// its chain beside the bench component, publishing the harness's
        /// orders from a thread of its own (the graphql scenario).
        #[arg(long)]
        demo: bool,
        /// rues: the slow-consumer budget in bytes (the node's
        /// `max_queue_bytes`; default the normative 1 MiB).
        #[arg(long)]
        budget: Option<usize>,
        /// rues: join the cluster through the NATS server at this URL
        /// (`rues_cluster::Cluster::join`, as `rues serve --nats` does; the
        /// cluster scenario).
        #[arg(long)]
        nats: Option<String>,
        /// rues, with `--nats`: number each stream on this node instead of
        /// through the cluster's shared JetStream history.
        #[arg(long)]
        node_history: bool,
        /// rues: publish the fan-out events to this event path instead of
        /// `/on/bench:all/tick`, its component served beside the bench one
        /// (the relay scenario).
        #[arg(long)]
        fanout: Option<String>,
    },
}

#[derive(Args, Debug)]
struct LoadArgs {
    /// A small run for CI (well under a minute once built): N = 100 fan-out
    /// with 256 B payloads, 500 sessions for selective and idle, a short
    /// churn, 1-s blocking calls.
    #[arg(long)]
    quick: bool,
    /// Comma-separated scenarios: fanout, selective, idle, churn, slow,
    /// blocking, graphql, cluster, relay (graphql, cluster and relay are
    /// not in the default set nor in `--quick`: they are asked for by name).
    #[arg(long, value_delimiter = ',')]
    scenarios: Option<Vec<String>>,
    /// Comma-separated servers: rues, baseline, nats, node-ws, limit.
    #[arg(long, value_delimiter = ',')]
    servers: Option<Vec<String>>,
    /// Runs of every measurement (figures are medians over runs).
    #[arg(long)]
    runs: Option<usize>,
    /// Seconds of publishing per fan-out or selective step.
    #[arg(long)]
    step_secs: Option<f64>,
    /// Fan-out subscriber counts.
    #[arg(long, value_delimiter = ',')]
    fanout_n: Option<Vec<usize>>,
    /// Fan-out payload sizes in bytes.
    #[arg(long, value_delimiter = ',')]
    payloads: Option<Vec<usize>>,
    /// Fan-out: also climb rues's ladder with this slow-consumer budget in
    /// bytes, beside the normative 1 MiB, to tell the write path's speed
    /// from the policy's effect (default 64 MiB in full runs, none with
    /// `--quick`; 0: none).
    #[arg(long)]
    rues_budget: Option<usize>,
    /// Bisections after the fan-out and churn ladders first fail.
    #[arg(long)]
    refine: Option<usize>,
    /// Retry a failed fan-out rung once before it counts (1, the default)
    /// or not (0).
    #[arg(long)]
    retries: Option<usize>,
    /// Session counts for the selective scenario.
    #[arg(long, value_delimiter = ',')]
    selective_n: Option<Vec<usize>>,
    /// Events per second in the selective scenario.
    #[arg(long)]
    selective_rate: Option<f64>,
    /// Sessions in the idle-memory scenario.
    #[arg(long)]
    idle_n: Option<usize>,
    /// Seconds per churn rung.
    #[arg(long)]
    churn_secs: Option<f64>,
    /// First churn rung, opens per second.
    #[arg(long)]
    churn_start: Option<f64>,
    /// Readers in the slow-consumer scenario.
    #[arg(long)]
    slow_n: Option<usize>,
    /// Clients that stop reading, in the slow-consumer scenario.
    #[arg(long)]
    stalled: Option<usize>,
    /// Events per second (16 KiB each) in the slow-consumer scenario.
    /// The default, 100 to 500 readers, is 50 000 messages (800 MB) a
    /// second: well into this machine's range, short of its limit.
    #[arg(long)]
    slow_rate: Option<f64>,
    /// Seconds of publishing per slow-consumer measurement.
    #[arg(long)]
    slow_secs: Option<f64>,
    /// Sessions receiving the fan-out in the blocking scenario.
    #[arg(long)]
    blocking_n: Option<usize>,
    /// Events per second in the blocking scenario.
    #[arg(long)]
    blocking_rate: Option<f64>,
    /// Concurrent blocking dispatches (default: the machine's cores + 2).
    #[arg(long)]
    blocking_calls: Option<usize>,
    /// Milliseconds each blocking dispatch holds its thread (at most 10 000).
    #[arg(long)]
    blocking_ms: Option<u64>,
    /// Sessions receiving the fan-out in the graphql scenario.
    #[arg(long)]
    graphql_n: Option<usize>,
    /// Events per second in the graphql scenario.
    #[arg(long)]
    graphql_rate: Option<f64>,
    /// Seconds of each graphql phase (alone, under attack).
    #[arg(long)]
    graphql_secs: Option<f64>,
    /// Clients sending hostile GraphQL queries in the graphql scenario.
    #[arg(long)]
    graphql_attackers: Option<usize>,
    /// Sessions in the cluster scenario (spread evenly over the nodes).
    #[arg(long)]
    cluster_n: Option<usize>,
    /// Events per second in the cluster scenario (default 100: with 1 000
    /// sessions, the fan-out's common moderate rate of 100 000 delivered
    /// messages per second).
    #[arg(long)]
    cluster_rate: Option<f64>,
    /// Payload bytes in the cluster scenario.
    #[arg(long)]
    cluster_size: Option<usize>,
    /// Seconds of publishing per cluster measurement.
    #[arg(long)]
    cluster_secs: Option<f64>,
    /// Nodes of the cluster (2 to 8; node 0 publishes).
    #[arg(long)]
    cluster_nodes: Option<usize>,
    /// Subscribe+unsubscribe pairs sent to each side (local, forwarded)
    /// in the cluster scenario's GET comparison.
    #[arg(long)]
    cluster_gets: Option<usize>,
    /// The cluster's resume history: `shared` (through JetStream, the
    /// default, as `rues serve --nats` runs) or `node` (each node numbers
    /// its streams itself).
    #[arg(long, value_parser = ["shared", "node"])]
    cluster_history: Option<String>,
    /// Sessions in the relay scenario (all on the upstream, or all on the
    /// relay).
    #[arg(long)]
    relay_n: Option<usize>,
    /// Events per second in the relay scenario (default 100: with 1 000
    /// sessions, the fan-out's common moderate rate of 100 000 delivered
    /// messages per second).
    #[arg(long)]
    relay_rate: Option<f64>,
    /// Payload bytes in the relay scenario.
    #[arg(long)]
    relay_size: Option<usize>,
    /// Seconds of publishing per relay measurement.
    #[arg(long)]
    relay_secs: Option<f64>,
    /// The event path the upstream publishes to and the sessions subscribe
    /// to in the relay scenario; its component must be one the relay knows
    /// (the relay serves the Dusk API's shape).
    #[arg(long, default_value = DEFAULT_RELAY_PATH)]
    relay_path: String,
    /// The `rues` binary whose `rues relay` the relay scenario runs
    /// (default: `cargo build --release -p rues` into the harness's own
    /// target directory, then that).
    #[arg(long, value_name = "FILE")]
    rues_bin: Option<PathBuf>,
    /// Stop starting new measurements after this many minutes.
    #[arg(long)]
    deadline_mins: Option<f64>,
    /// Where results go (report.md, results.json, fanout-p99.svg).
    #[arg(long, default_value = "target/rues-bench")]
    out: PathBuf,
}

impl LoadArgs {
    fn plan(&self) -> Result<Plan> {
        let quick = self.quick;
        let servers = match &self.servers {
            Some(names) => names
                .iter()
                .map(|n| Kind::parse(n))
                .collect::<Result<_>>()?,
            None => Kind::ALL.to_vec(),
        };
        const SCENARIOS: [&str; 9] = [
            "fanout",
            "selective",
            "idle",
            "churn",
            "slow",
            "blocking",
            "graphql",
            "cluster",
            "relay",
        ];
        // The default set: all but graphql, cluster and relay, which are
        // asked for by name.
        let scenarios = self
            .scenarios
            .clone()
            .unwrap_or_else(|| SCENARIOS[..6].iter().map(|s| (*s).to_owned()).collect());
        for s in &scenarios {
            anyhow::ensure!(
                SCENARIOS.contains(&s.as_str()),
                "unknown scenario `{s}` ({})",
                SCENARIOS.join(", ")
            );
        }
        let deadline_mins = self
            .deadline_mins
            .unwrap_or(if quick { 0.75 } else { 240.0 });
        Ok(Plan {
            quick,
            scenarios,
            servers,
            runs: self.runs.unwrap_or(if quick { 1 } else { 3 }).max(1),
            step_secs: self.step_secs.unwrap_or(if quick { 0.5 } else { 3.0 }),
            fanout_n: self.fanout_n.clone().unwrap_or_else(|| {
                if quick {
                    vec![100]
                } else {
                    vec![100, 1000, 5000]
                }
            }),
            payloads: self.payloads.clone().unwrap_or_else(|| {
                if quick {
                    vec![256]
                } else {
                    vec![256, 16 * 1024]
                }
            }),
            rues_budget: match self.rues_budget {
                Some(0) => None,
                Some(bytes) => Some(bytes),
                None => (!quick).then_some(RAISED_BUDGET),
            },
            moderate_small: 100_000.0,
            moderate_large: 20_000.0,
            refine: self.refine.unwrap_or(if quick { 0 } else { 2 }),
            retries: self.retries.unwrap_or(if quick { 0 } else { 1 }).min(1),
            max_steps: if quick { 2 } else { 14 },
            selective_n: self
                .selective_n
                .clone()
                .unwrap_or_else(|| if quick { vec![500] } else { vec![1000, 10_000] }),
            selective_rate: self
                .selective_rate
                .unwrap_or(if quick { 2000.0 } else { 10_000.0 }),
            idle_n: self.idle_n.unwrap_or(if quick { 500 } else { 10_000 }),
            churn_start: self
                .churn_start
                .unwrap_or(if quick { 200.0 } else { 250.0 }),
            churn_secs: self.churn_secs.unwrap_or(if quick { 0.5 } else { 3.0 }),
            churn_p99_ms: 50.0,
            slow_n: self.slow_n.unwrap_or(if quick { 100 } else { 500 }),
            slow_stalled: self.stalled.unwrap_or(if quick { 2 } else { 10 }),
            slow_rate: self.slow_rate.unwrap_or(100.0),
            slow_size: 16 * 1024,
            slow_secs: self.slow_secs.unwrap_or(if quick { 3.0 } else { 10.0 }),
            blocking_n: self.blocking_n.unwrap_or(100).max(1),
            blocking_rate: self.blocking_rate.unwrap_or(50.0),
            blocking_calls: self
                .blocking_calls
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from) + 2)
                .max(1),
            blocking_ms: self
                .blocking_ms
                .unwrap_or(if quick { 1000 } else { 2000 })
                .min(10_000),
            blocking_size: 256,
            blocking_probe_ms: 100,
            blocking_warm_secs: if quick { 0.5 } else { 1.0 },
            graphql_n: self.graphql_n.unwrap_or(100).max(1),
            graphql_rate: self.graphql_rate.unwrap_or(50.0).max(1.0),
            graphql_size: 256,
            graphql_secs: self.graphql_secs.unwrap_or(5.0).clamp(0.5, 600.0),
            graphql_attackers: self.graphql_attackers.unwrap_or(2).min(64),
            graphql_mempool: 2000,
            graphql_probe_ms: 100,
            cluster_n: self
                .cluster_n
                .unwrap_or(if quick { 90 } else { 1000 })
                .clamp(1, 100_000),
            cluster_rate: self
                .cluster_rate
                .unwrap_or(if quick { 200.0 } else { 100.0 })
                .clamp(1.0, 1_000_000.0),
            cluster_size: self
                .cluster_size
                .unwrap_or(256)
                .clamp(crate::payload::MIN_SIZE, 512 * 1024),
            cluster_secs: self
                .cluster_secs
                .unwrap_or(if quick { 1.0 } else { 10.0 })
                .clamp(0.2, 600.0),
            cluster_nodes: self.cluster_nodes.unwrap_or(3).clamp(2, 8),
            cluster_shared_history: self.cluster_history.as_deref() != Some("node"),
            cluster_gets: self
                .cluster_gets
                .unwrap_or(if quick { 200 } else { 2000 })
                .clamp(1, 100_000),
            relay_n: self
                .relay_n
                .unwrap_or(if quick { 100 } else { 1000 })
                .clamp(1, 100_000),
            relay_rate: self
                .relay_rate
                .unwrap_or(if quick { 200.0 } else { 100.0 })
                .clamp(1.0, 1_000_000.0),
            relay_size: self
                .relay_size
                .unwrap_or(256)
                .clamp(crate::payload::MIN_SIZE, 512 * 1024),
            relay_secs: self
                .relay_secs
                .unwrap_or(if quick { 1.0 } else { 10.0 })
                .clamp(0.2, 600.0),
            relay_path: {
                let path = rues_core::rues_target::EventPath::parse(&self.relay_path)
                    .map_err(|e| anyhow::anyhow!("--relay-path `{}`: {e}", self.relay_path))?;
                path.to_string()
            },
            rues_bin: self.rues_bin.clone(),
            parallel_opens: 128,
            deadline: Some(Instant::now() + Duration::from_secs_f64(deadline_mins * 60.0)),
            scratch: self.out.join("scratch"),
        })
    }
}

/// The relay scenario's event path: a topic of the Dusk API's `blocks`
/// component, which the relay's registry shape has (and whose entity is
/// optional, as the bench component's is).
const DEFAULT_RELAY_PATH: &str = "/on/blocks/accepted";

/// The raised slow-consumer budget of full runs' second rues ladder: 64
/// times the normative 1 MiB, more than any passing rung queues.
const RAISED_BUDGET: usize = 64 * 1024 * 1024;

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .and_then(|r| r.split_once(':'))
                    .map(|(_, m)| m.trim().to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")
                    .and_then(|r| r.split_whitespace().next())
                    .and_then(|kib| kib.parse::<f64>().ok())
            })
        })
        .map_or("unknown".into(), |kib| {
            format!("{:.1} GiB", kib / 1024.0 / 1024.0)
        });
    format!("{cores} cores ({cpu}), {memory} of memory")
}

async fn load(args: Box<LoadArgs>) -> Result<()> {
    let mut plan = args.plan()?;
    std::fs::create_dir_all(&plan.scratch)
        .with_context(|| format!("cannot create {}", plan.scratch.display()))?;
    let (used, broker) = (plan.servers_used(), plan.needs_broker());
    peers::ensure_installed(&used, broker).await?;
    if plan.needs_rues_binary() {
        let building = Instant::now();
        plan.rues_bin = Some(peers::rues_binary(plan.rues_bin.as_deref()).await?);
        // A first release build of rues takes minutes: they are not the
        // measurements' time.
        plan.deadline = plan.deadline.map(|d| d + building.elapsed());
    }
    let started = Instant::now();
    eprintln!("rues-bench: {}", machine());
    for (name, version) in peers::versions(&used, broker) {
        eprintln!("rues-bench: {name} {version}");
    }
    let results = tokio::select! {
        results = scenarios::run_all(&plan) => results?,
        // Dropping the scenarios stops every server they started.
        _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted"),
    };
    let peers: Vec<String> = peers::versions(&used, broker)
        .iter()
        .map(|(n, v)| format!("{n} {v}"))
        .collect();
    let mut report = format!(
        "## rues-bench results\n\nMachine: {}. Peers: {}. Mode: {}. Wall time {:.0} s.\n\n",
        machine(),
        if peers.is_empty() {
            "none".to_owned()
        } else {
            peers.join(", ")
        },
        if plan.quick { "quick" } else { "full" },
        started.elapsed().as_secs_f64()
    );
    report.push_str(&report::markdown(&plan, &results));
    std::fs::write(args.out.join("report.md"), &report)?;
    std::fs::write(
        args.out.join("results.json"),
        serde_json::to_string_pretty(&{
            let mut json = serde_json::json!({ "plan": plan, "results": results });
            if !results.cluster.is_empty() {
                // The cluster scenario's three target figures, from its runs.
                json["cluster_targets"] = serde_json::to_value(report::cluster::targets(&results))?;
            }
            if !results.relay.is_empty() {
                // The relay scenario's comparison figures, from its runs.
                json["relay_summary"] = serde_json::to_value(report::relay::summary(&results))?;
            }
            json
        })?,
    )?;
    let svg = args.out.join("fanout-p99.svg");
    report::svg::plot(&plan, &results, &svg)?;
    println!("{report}");
    eprintln!(
        "rues-bench: wrote {}, {} and {}",
        args.out.join("report.md").display(),
        args.out.join("results.json").display(),
        svg.display()
    );
    let errors = results.errors();
    anyhow::ensure!(
        errors == 0,
        "{errors} measurement(s) ended in an error (listed at the end of the report)"
    );
    Ok(())
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("rues-bench: cannot start the runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Load(args) => load(args).await,
            Command::Server {
                kind,
                addr,
                publish_thread,
                demo,
                budget,
                nats,
                node_history,
                fanout,
            } => match kind.as_str() {
                "rues" => {
                    let cluster = nats.map(|url| (url, !node_history));
                    server::rues::run(publish_thread, demo, budget, cluster, fanout).await
                }
                "baseline" => server::baseline::run().await,
                "limit" => server::limit::run().await,
                "nats-pub" => {
                    let addr = addr.context("nats-pub needs --addr")?;
                    server::nats_pub::run(&addr).await
                }
                other => {
                    anyhow::bail!("unknown server `{other}` (rues, baseline, limit, nats-pub)")
                }
            },
        }
    });
    // Sessions still open in reader tasks must not delay the exit.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("rues-bench: error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn plan(args: &[&str]) -> Result<Plan> {
        let cli = Cli::try_parse_from(["rues-bench", "load"].iter().chain(args))?;
        let Command::Load(args) = cli.command else {
            unreachable!("a load command")
        };
        args.plan()
    }

    #[test]
    fn the_blocking_scenario_is_named_and_defaults_to_cores_plus_two_calls() {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let full = plan(&["--scenarios", "blocking", "--servers", "rues"]).expect("valid");
        assert_eq!(full.scenarios, ["blocking"]);
        assert_eq!(full.servers, [Kind::Rues]);
        assert_eq!(
            (full.blocking_n, full.blocking_rate, full.blocking_calls),
            (100, 50.0, cores + 2)
        );
        assert_eq!((full.blocking_ms, full.blocking_probe_ms), (2000, 100));
        let quick = plan(&["--quick"]).expect("valid");
        assert!(quick.scenarios.iter().any(|s| s == "blocking"));
        assert_eq!(quick.blocking_ms, 1000);
        let set = plan(&[
            "--blocking-n",
            "10",
            "--blocking-rate",
            "20",
            "--blocking-calls",
            "3",
            "--blocking-ms",
            "60000",
        ])
        .expect("valid");
        assert_eq!(
            (set.blocking_n, set.blocking_rate, set.blocking_calls),
            (10, 20.0, 3)
        );
        assert_eq!(set.blocking_ms, 10_000, "capped as the handler caps it");
        assert!(plan(&["--scenarios", "blocked"]).is_err());
    }

    #[test]
    fn limit_is_a_default_server_and_the_raised_budget_is_on_in_full_runs() {
        let full = plan(&[]).expect("valid");
        assert!(full.servers.contains(&Kind::Limit));
        assert_eq!(full.rues_budget, Some(64 * 1024 * 1024));
        assert_eq!(plan(&["--quick"]).expect("valid").rues_budget, None);
        let set = plan(&["--quick", "--rues-budget", "4194304"]).expect("valid");
        assert_eq!(set.rues_budget, Some(4 << 20));
        assert_eq!(
            plan(&["--rues-budget", "0"]).expect("valid").rues_budget,
            None
        );
        assert_eq!(
            plan(&["--servers", "limit,rues"]).expect("valid").servers,
            [Kind::Limit, Kind::Rues]
        );
    }

    #[test]
    fn the_graphql_scenario_runs_only_when_named() {
        let named = plan(&["--scenarios", "graphql", "--servers", "rues"]).expect("valid");
        assert_eq!(named.scenarios, ["graphql"]);
        assert_eq!(
            (named.graphql_n, named.graphql_rate, named.graphql_secs),
            (100, 50.0, 5.0)
        );
        assert_eq!(
            (
                named.graphql_attackers,
                named.graphql_mempool,
                named.graphql_probe_ms
            ),
            (2, 2000, 100)
        );
        for default in [
            plan(&[]).expect("valid"),
            plan(&["--quick"]).expect("valid"),
        ] {
            assert!(!default.scenarios.iter().any(|s| s == "graphql"));
            assert!(default.scenarios.iter().any(|s| s == "blocking"));
        }
        let set = plan(&["--graphql-secs", "0", "--graphql-attackers", "1000"]).expect("valid");
        assert_eq!((set.graphql_secs, set.graphql_attackers), (0.5, 64));
    }
}
