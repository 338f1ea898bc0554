//! Selective delivery: every session subscribes to its own
//! entity and each event goes to one of them; measured as the server's
//! CPU per delivered event.

use std::time::Duration;

use anyhow::Result;

use crate::control::Order;
use crate::plan::{Plan, Results, SelectiveRun};
use crate::procfs;
use crate::rig::{Rig, loadavg, ms, progress};

/// Every chosen N, run and server: one selective step.
pub(super) async fn run(plan: &Plan, results: &mut Results) {
    for &n in &plan.selective_n {
        for run in 0..plan.runs {
            for kind in plan.order(run) {
                if plan.out_of_time() {
                    progress("deadline reached: skipping the rest of selective");
                    return;
                }
                let mut record = SelectiveRun {
                    server: kind,
                    n,
                    run,
                    rate: plan.selective_rate,
                    expected: 0,
                    received: 0,
                    server_cpu_s: 0.0,
                    us_per_event: 0.0,
                    publisher_us_per_event: None,
                    p99_ms: 0.0,
                    loadavg: f64::NAN,
                    error: None,
                };
                if let Err(error) = selective_one(plan, &mut record).await {
                    record.error = Some(format!("{error:#}"));
                }
                progress(&format!(
                    "selective run {run} {:>8} N={n:>5}: {:.2} us CPU per delivered event{}, {}/{} delivered, p99 {:.2} ms{}",
                    kind.name(),
                    record.us_per_event,
                    record
                        .publisher_us_per_event
                        .map_or(String::new(), |p| format!(" (+{p:.2} us in the publisher)")),
                    record.received,
                    record.expected,
                    record.p99_ms,
                    record
                        .error
                        .as_deref()
                        .map_or(String::new(), |e| format!(", error: {e}"))
                ));
                results.selective.push(record);
            }
        }
    }
}

async fn selective_one(plan: &Plan, record: &mut SelectiveRun) -> Result<()> {
    let n = record.n;
    let mut rig = Rig::start(record.server, plan, n, |i| Some(i as u32)).await?;
    let grace = Duration::from_secs(5);
    let rate = plan.selective_rate;
    let warm = ((rate * 0.5) as u64).max(10);
    let _ = rig
        .step(
            Order {
                rate,
                count: warm,
                size: 256,
                entities: n as u32,
                seed: 1,
            },
            warm,
            grace,
        )
        .await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let count = ((rate * plan.step_secs) as u64).max(10);
    let pid = rig.peer.server_pid()?;
    let publisher = rig.peer.publisher_pid();
    let cpu0 = procfs::cpu_seconds(pid)?;
    let pub0 = publisher.map(procfs::cpu_seconds).transpose()?;
    let result = rig
        .step(
            Order {
                rate,
                count,
                size: 256,
                entities: n as u32,
                seed: 7,
            },
            count,
            grace,
        )
        .await;
    let cpu1 = procfs::cpu_seconds(pid)?;
    let pub1 = publisher.map(procfs::cpu_seconds).transpose()?;
    let (_, hist) = result?;
    record.expected = count;
    record.received = rig.fleet.received();
    record.server_cpu_s = cpu1 - cpu0;
    let delivered = record.received.max(1) as f64;
    record.us_per_event = record.server_cpu_s / delivered * 1e6;
    if let (Some(a), Some(b)) = (pub0, pub1) {
        record.publisher_us_per_event = Some((b - a) / delivered * 1e6);
    }
    record.p99_ms = ms(hist.quantile(0.99));
    record.loadavg = loadavg();
    rig.stop().await;
    Ok(())
}
