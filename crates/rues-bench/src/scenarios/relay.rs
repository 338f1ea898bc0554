//! Through a relay (rues only: `rues relay` is rues's). The same fan-out,
//! `relay_n` sessions subscribed to one path (`relay_path`) getting
//! `relay_rate` events/s of `relay_size` bytes from an upstream node
//! (`rues-bench server rues --fanout PATH`), served two ways, alternating
//! run by run, each on fresh processes:
//!
//! - **direct**: every session on the upstream node;
//! - **relay**: one `rues relay --upstream http://<upstream>` process in
//!   front of it, every session on the relay, which holds one session and
//!   one subscription on the upstream and fans each event out itself.
//!
//! Measured over `relay_secs` of publishing after a short warm-up: the
//! delivery latency (the upstream's publish stamp to receipt), the CPU of
//! the upstream process and of the relay's (per second of the measurement
//! and per delivered event, one message to one session), and the sessions
//! each one's `/metrics` counts once the sessions are subscribed (the
//! upstream's: N direct, 1 through the relay).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::client::{self, Endpoint, Fleet, Kind};
use crate::control::Order;
use crate::peers::{Peer, Relay};
use crate::plan::{Cpu, Latencies, Plan, RelayRun, Results, Route, rotated};
use crate::procfs;
use crate::rig::{Rig, loadavg, progress};

/// How long the harness waits for the events still in flight.
const GRACE: Duration = Duration::from_secs(5);
/// Seconds of events before the measurement, unrecorded.
const WARM_SECS: f64 = 0.5;

/// Every run: both routes, in an order that alternates from run to run.
pub(super) async fn run(plan: &Plan, results: &mut Results) {
    if !plan.servers.contains(&Kind::Rues) {
        progress("relay: `rues relay` is rues's, and rues is not among the servers: skipped");
        return;
    }
    if plan.servers.len() > 1 {
        progress("relay: rues only (`rues relay` is rues's)");
    }
    for run in 0..plan.runs {
        for route in rotated(&Route::ALL, run) {
            if plan.out_of_time() {
                progress("deadline reached: skipping the rest of relay");
                return;
            }
            let mut record = RelayRun {
                route,
                run,
                expected: 0,
                received: 0,
                sessions_closed: 0,
                publish_secs: 0.0,
                window_secs: 0.0,
                events: Latencies::default(),
                upstream_cpu: Cpu::default(),
                relay_cpu: None,
                upstream_sessions: None,
                relay_sessions: None,
                relay_upstream_subscriptions: None,
                loadavg: f64::NAN,
                error: None,
            };
            let measured = match &plan.rues_bin {
                Some(binary) => relay_one(plan, binary, &mut record).await,
                None => Err(anyhow::anyhow!("no rues binary to run `rues relay` with")),
            };
            if let Err(error) = measured {
                record.error = Some(format!("{error:#}"));
            }
            progress(&line(&record));
            results.relay.push(record);
        }
    }
}

/// The progress line of one run.
fn line(record: &RelayRun) -> String {
    let count = |n: Option<u64>| n.map_or("?".to_owned(), |n| n.to_string());
    let relay = record.relay_cpu.map_or(String::new(), |cpu| {
        format!(
            "; relay {:.2} CPU-s/s, {:.2} us/event, {} session(s), {} upstream subscription(s)",
            cpu.per_second,
            cpu.us_per_event,
            count(record.relay_sessions),
            count(record.relay_upstream_subscriptions),
        )
    });
    format!(
        "relay run {} {:>6}: events p50/p99 {:.2}/{:.2} ms, {}/{} delivered, {} closed; \
         upstream {:.2} CPU-s/s, {:.2} us/event, {} session(s){relay}{}",
        record.run,
        record.route.name(),
        record.events.p50_ms,
        record.events.p99_ms,
        record.received,
        record.expected,
        record.sessions_closed,
        record.upstream_cpu.per_second,
        record.upstream_cpu.us_per_event,
        count(record.upstream_sessions),
        record
            .error
            .as_deref()
            .map_or(String::new(), |e| format!(", error: {e}"))
    )
}

/// Stops what one run started, by their pids: the sessions first, then the
/// relay, then the upstream (so the relay never sees its upstream go).
async fn stop(fleet: Option<Fleet>, relay: Option<Relay>, upstream: Peer) {
    if let Some(mut fleet) = fleet {
        fleet.abort();
    }
    if let Some(mut relay) = relay {
        relay.stop().await;
    }
    upstream.stop().await;
}

/// One route on fresh processes.
async fn relay_one(plan: &Plan, binary: &Path, record: &mut RelayRun) -> Result<()> {
    let upstream = Peer::start_with(
        Kind::Rues,
        &plan.scratch,
        &["--fanout", plan.relay_path.as_str()],
    )
    .await
    .context("starting the upstream node")?;
    let relay = match record.route {
        Route::Direct => None,
        Route::Relay => match Relay::start(binary, upstream.addr, &plan.scratch).await {
            Ok(relay) => Some(relay),
            Err(error) => {
                stop(None, None, upstream).await;
                return Err(error.context("starting rues relay"));
            }
        },
    };
    let endpoint = match &relay {
        // The relay is a RUES node: its sessions are opened as rues's are.
        Some(relay) => Endpoint {
            kind: Kind::Rues,
            addr: relay.addr,
        },
        None => upstream.endpoint(),
    };
    let opened = Fleet::open_path(
        endpoint,
        plan.relay_n,
        &plan.relay_path,
        plan.parallel_opens,
    )
    .await
    .context("opening the sessions");
    let fleet = match opened {
        Ok(fleet) => fleet,
        Err(error) => {
            stop(None, relay, upstream).await;
            return Err(error);
        }
    };
    let mut rig = Rig {
        peer: upstream,
        fleet,
    };
    let measured = measure(plan, &mut rig, relay.as_ref(), record).await;
    let Rig { peer, fleet } = rig;
    stop(Some(fleet), relay, peer).await;
    measured
}

/// The publish order of `count` fan-out events.
fn order(plan: &Plan, count: u64, seed: u64) -> Order {
    Order {
        rate: plan.relay_rate,
        count,
        size: plan.relay_size,
        entities: 0,
        seed,
    }
}

fn cpu_of(pid: Option<u32>) -> Result<Option<f64>> {
    pid.map(procfs::cpu_seconds).transpose()
}

async fn measure(
    plan: &Plan,
    rig: &mut Rig,
    relay: Option<&Relay>,
    record: &mut RelayRun,
) -> Result<()> {
    let n = plan.relay_n as u64;
    let warm = ((plan.relay_rate * WARM_SECS).ceil() as u64).max(5);
    rig.step(order(plan, warm, 1), warm * n, GRACE).await?;
    // Every session is subscribed and has had events: what each node
    // holds now is what it holds while the measurement runs.
    record.upstream_sessions = Some(
        client::metric(rig.peer.addr, "rues_sessions_open")
            .await
            .context("the upstream's sessions")?,
    );
    if let Some(relay) = relay {
        record.relay_sessions = Some(
            client::metric(relay.addr, "rues_sessions_open")
                .await
                .context("the relay's sessions")?,
        );
        // A figure for the report only: a relay without the series still
        // measures.
        record.relay_upstream_subscriptions =
            client::metric(relay.addr, "rues_relay_upstream_subscriptions")
                .await
                .ok();
    }

    let count = ((plan.relay_rate * plan.relay_secs).round() as u64).max(10);
    let upstream_pid = rig.peer.server_pid()?;
    let relay_pid = relay.map(Relay::pid).transpose()?;
    let (upstream_before, relay_before) = (procfs::cpu_seconds(upstream_pid)?, cpu_of(relay_pid)?);
    let started = Instant::now();
    let (published, hist) = rig.step(order(plan, count, 2), count * n, GRACE).await?;
    let window = started.elapsed().as_secs_f64();
    let (upstream_after, relay_after) = (procfs::cpu_seconds(upstream_pid)?, cpu_of(relay_pid)?);

    record.expected = count * n;
    record.received = rig.fleet.received();
    record.sessions_closed = rig.fleet.closed().0;
    record.publish_secs = published.as_secs_f64();
    record.window_secs = window;
    record.events = Latencies::of(&hist, record.expected);
    record.upstream_cpu = Cpu::of(upstream_after - upstream_before, window, record.received);
    if let (Some(after), Some(before)) = (relay_after, relay_before) {
        record.relay_cpu = Some(Cpu::of(after - before, window, record.received));
    }
    record.loadavg = loadavg();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scenario_is_named_bounded_and_small_with_quick() {
        let full =
            crate::tests::plan(&["--scenarios", "relay", "--servers", "rues"]).expect("valid");
        assert_eq!(full.scenarios, ["relay"]);
        assert_eq!(
            (
                full.relay_n,
                full.relay_rate,
                full.relay_size,
                full.relay_secs
            ),
            (1000, 100.0, 256, 10.0)
        );
        assert_eq!(full.relay_path, "/on/blocks/accepted");
        assert!(full.needs_rues_binary());
        assert!(!full.needs_broker());
        assert_eq!(full.servers_used(), [Kind::Rues], "no peer to install");
        let quick = crate::tests::plan(&["--quick", "--scenarios", "relay"]).expect("valid");
        assert_eq!((quick.relay_n, quick.relay_secs), (100, 1.0));
        assert_eq!(
            quick.servers_used(),
            [Kind::Rues],
            "no other peer to install"
        );
        for default in [
            crate::tests::plan(&[]).expect("valid"),
            crate::tests::plan(&["--quick"]).expect("valid"),
        ] {
            assert!(!default.scenarios.iter().any(|s| s == "relay"));
            assert!(!default.needs_rues_binary());
        }
        let set = crate::tests::plan(&[
            "--scenarios",
            "relay",
            "--relay-n",
            "0",
            "--relay-size",
            "1",
            "--relay-secs",
            "100000",
            "--relay-rate",
            "0",
            "--relay-path",
            "/on/bench:all/tick",
            "--rues-bin",
            "/opt/rues",
        ])
        .expect("valid");
        assert_eq!((set.relay_n, set.relay_size), (1, 16));
        assert_eq!((set.relay_secs, set.relay_rate), (600.0, 1.0));
        assert_eq!(set.relay_path, "/on/bench:all/tick");
        assert_eq!(set.rues_bin.as_deref(), Some(Path::new("/opt/rues")));
        assert!(
            crate::tests::plan(&["--scenarios", "relay", "--relay-path", "/on/x"]).is_err(),
            "not an event path"
        );
        let without_rues =
            crate::tests::plan(&["--scenarios", "relay", "--servers", "nats"]).expect("valid");
        assert!(!without_rues.needs_rues_binary());
    }
}
