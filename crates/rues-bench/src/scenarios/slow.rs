//! The slow-consumer scenario: what a client that stops reading
//! costs everyone else.
//!
//! The same fan-out is measured twice on a fresh server each time: `n`
//! readers alone, then `n` readers plus `stalled` clients that subscribe and
//! never read again (with a small kernel receive buffer, so the backlog
//! builds at the server, not in the client's socket). Reported per server:
//! the readers' p99 latency in both runs and its ratio (the target: at
//! most 2×), how each stalled client ended (rues closes it with 4008 once
//! its 1 MiB budget is spent, counted by its `/metrics`; the client itself
//! mostly sees the socket end, since a Close frame cannot get past a backlog
//! nobody reads), and the server's RSS growth during each run, sampled every
//! 50 ms.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Result;

use crate::client::{self, HttpPool, Kind};
use crate::control::Order;
use crate::plan::{Plan, Results, SlowRun, SlowSide, Stalled};
use crate::procfs;
use crate::rig::{Rig, loadavg, ms, progress};

/// How long the harness reads a stalled client's backlog before it decides
/// the server never closed it.
const READ_STALLED_FOR: Duration = Duration::from_secs(5);

/// Every run and server: readers alone, then beside stalled clients.
pub(super) async fn run(plan: &Plan, results: &mut Results) {
    for run in 0..plan.runs {
        for kind in plan.order(run) {
            if plan.out_of_time() {
                progress("deadline reached: skipping the rest of slow");
                return;
            }
            let mut record = SlowRun {
                server: kind,
                run,
                without: SlowSide::default(),
                with: SlowSide::default(),
                stalled: Vec::new(),
                p99_ratio: f64::NAN,
                error: None,
            };
            let outcome = async {
                record.without = side(plan, kind, 0).await?.0;
                let (with, stalled) = side(plan, kind, plan.slow_stalled).await?;
                record.with = with;
                record.stalled = stalled;
                anyhow::Ok(())
            }
            .await;
            if let Err(error) = outcome {
                record.error = Some(format!("{error:#}"));
            }
            record.p99_ratio = record.with.p99_ms / record.without.p99_ms;
            let codes: Vec<String> = record
                .stalled
                .iter()
                .map(|s| s.close_code.map_or("open".to_owned(), |c| c.to_string()))
                .collect();
            progress(&format!(
                "slow run {run} {:>8}: readers' p99 {:.2} ms alone, {:.2} ms beside {} stalled ({:.2}×); \
                 stalled ended with [{}]; RSS +{} KiB alone, +{} KiB beside them{}",
                kind.name(),
                record.without.p99_ms,
                record.with.p99_ms,
                plan.slow_stalled,
                record.p99_ratio,
                codes.join(", "),
                record
                    .without
                    .rss_max_kib
                    .saturating_sub(record.without.rss_start_kib),
                record
                    .with
                    .rss_max_kib
                    .saturating_sub(record.with.rss_start_kib),
                record
                    .error
                    .as_deref()
                    .map_or(String::new(), |e| format!(", error: {e}"))
            ));
            results.slow.push(record);
        }
    }
}

/// One measurement on a fresh server: `plan.slow_n` readers, `stalled`
/// clients that never read, `plan.slow_secs` of fan-out.
async fn side(plan: &Plan, kind: Kind, stalled: usize) -> Result<(SlowSide, Vec<Stalled>)> {
    let n = plan.slow_n;
    let mut rig = Rig::start(kind, plan, n, |_| None).await?;
    let endpoint = rig.peer.endpoint();
    let http = (kind == Kind::Rues).then(|| HttpPool::new(endpoint.addr, 4));
    let mut stalled_sessions = Vec::with_capacity(stalled);
    for i in 0..stalled {
        // Indices past the readers', so they come from other source ports.
        let index = (n + i) as u64;
        match client::open_stalled(endpoint, index, http.as_ref()).await {
            Ok(session) => stalled_sessions.push(session),
            Err(error) => {
                rig.stop().await;
                return Err(error.context("opening a stalled client"));
            }
        }
    }
    let rate = plan.slow_rate;
    let size = plan.slow_size;
    let grace = Duration::from_secs(3);
    // Warm up (the stalled clients already stop reading here).
    let warm = ((rate * 0.5).ceil() as u64).max(5);
    let warm_order = Order {
        rate,
        count: warm,
        size,
        entities: 0,
        seed: 1,
    };
    if let Err(error) = rig.step(warm_order, warm * n as u64, grace).await {
        rig.stop().await;
        return Err(error);
    }
    let pid = rig.peer.server_pid()?;
    let rss_start = procfs::rss_kib(pid)?;
    let rss_max = Arc::new(AtomicU64::new(rss_start));
    let sampler = {
        let rss_max = rss_max.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            loop {
                tick.tick().await;
                match procfs::rss_kib(pid) {
                    Ok(rss) => rss_max.fetch_max(rss, Ordering::Relaxed),
                    Err(_) => break,
                };
            }
        })
    };
    let count = ((rate * plan.slow_secs).round() as u64).max(10);
    let expected = count * n as u64;
    let order = Order {
        rate,
        count,
        size,
        entities: 0,
        seed: 3,
    };
    let measured = rig.step(order, expected, grace).await;
    sampler.abort();
    let (_, hist) = match measured {
        Ok(measured) => measured,
        Err(error) => {
            rig.stop().await;
            return Err(error);
        }
    };
    let slow_consumers_closed = if kind == Kind::Rues {
        Some(slow_consumer_closes(endpoint.addr).await?)
    } else {
        None
    };
    let side = SlowSide {
        slow_consumers_closed,
        expected,
        received: rig.fleet.received(),
        readers_closed: rig.fleet.closed().0,
        p50_ms: ms(hist.quantile(0.5)),
        p99_ms: ms(hist.quantile(0.99)),
        rss_start_kib: rss_start,
        rss_max_kib: rss_max.load(Ordering::Relaxed),
        loadavg: loadavg(),
    };
    // Only now read the stalled clients: each either finds the server's
    // Close behind its backlog or is still open.
    let reads: Vec<_> = stalled_sessions
        .into_iter()
        .map(|session| tokio::spawn(session.read_to_close(READ_STALLED_FOR)))
        .collect();
    let mut ended = Vec::with_capacity(reads.len());
    for read in reads {
        let (messages, close_code) = read.await.unwrap_or((0, None));
        ended.push(Stalled {
            messages,
            close_code,
        });
    }
    rig.stop().await;
    Ok((side, ended))
}

/// Reads `rues_sessions_closed_total{reason="slow_consumer"}` from a rues
/// server's `/metrics`.
async fn slow_consumer_closes(addr: std::net::SocketAddr) -> Result<u64> {
    crate::client::metric(addr, "rues_sessions_closed_total{reason=\"slow_consumer\"}").await
}
