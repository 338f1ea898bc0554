//! Fan-out: every subscriber gets every event. A ladder per
//! server, N and payload size: from the moderate rate up, doubling until a
//! rung misses its latency bound or loses events, then bisecting; the
//! highest passing rung is the result.
//!
//! With [`Plan::rues_budget`], rues climbs a second ladder with its
//! slow-consumer budget raised, right after its normative one: at 1 MiB a
//! receiver that falls behind is closed with 4008, which fails the rung
//! whatever the write path could have sent; the raised ladder shows the
//! write path alone.

use std::time::Duration;

use anyhow::Result;

use crate::client::Kind;
use crate::control::Order;
use crate::plan::{FanoutRun, Plan, Results, Step, fanout_bound_ms};
use crate::procfs;
use crate::rig::{Ladder, Rig, loadavg, ms, progress};

/// Every chosen N and payload size, run and server: its fan-out ladder.
pub(super) async fn run(plan: &Plan, results: &mut Results) {
    for &n in &plan.fanout_n {
        for &size in &plan.payloads {
            for run in 0..plan.runs {
                for (kind, budget) in ladders(plan, run) {
                    if plan.out_of_time() {
                        progress("deadline reached: skipping the rest of fan-out");
                        return;
                    }
                    let mut record = FanoutRun {
                        server: kind,
                        budget,
                        n,
                        size,
                        run,
                        steps: Vec::new(),
                        max_rate: 0.0,
                        moderate_p99_ms: None,
                        moderate_us_per_msg: None,
                        error: None,
                    };
                    if let Err(error) = fanout_ladder(plan, &mut record).await {
                        progress(&format!(
                            "fan-out {} N={n} {size} B: {error:#}",
                            kind.name()
                        ));
                        record.error = Some(format!("{error:#}"));
                    }
                    progress(&format!(
                        "fan-out run {run} {:>8} N={n:>5} {size:>5} B: max {:.0} events/s = {:.0} msgs/s; p99 at moderate {}",
                        label(kind, budget),
                        record.max_rate,
                        record.max_rate * n as f64,
                        record
                            .moderate_p99_ms
                            .map_or("-".to_owned(), |p| format!("{p:.2} ms"))
                    ));
                    results.fanout.push(record);
                }
            }
        }
    }
}

/// The ladders of one run, in the run's server order: each server's, and
/// rues's with the raised budget right after its normative one.
fn ladders(plan: &Plan, run: usize) -> Vec<(Kind, Option<usize>)> {
    let mut ladders = Vec::new();
    for kind in plan.order(run) {
        ladders.push((kind, None));
        if kind == Kind::Rues && plan.rues_budget.is_some() {
            ladders.push((kind, plan.rues_budget));
        }
    }
    ladders
}

/// The name of a ladder in progress lines: the server's, with the budget
/// when raised.
pub(crate) fn label(kind: Kind, budget: Option<usize>) -> String {
    match budget {
        None => kind.name().to_owned(),
        Some(bytes) => format!("{}@{}", kind.name(), budget_name(bytes)),
    }
}

/// A budget in the report's words: `64 MiB`, `1.5 MiB`, `300 KiB`.
pub(crate) fn budget_name(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

async fn fanout_ladder(plan: &Plan, record: &mut FanoutRun) -> Result<()> {
    let (kind, n, size) = (record.server, record.n, record.size);
    let budget = record.budget.map(|bytes| bytes.to_string());
    let options: Vec<&str> = match &budget {
        Some(bytes) => vec!["--budget", bytes],
        None => Vec::new(),
    };
    let name = label(kind, record.budget);
    let bound = fanout_bound_ms(n);
    let moderate = if size <= 1024 {
        plan.moderate_small
    } else {
        plan.moderate_large
    };
    let first = moderate / n as f64;
    let grace = Duration::from_secs_f64(bound / 1000.0 + 2.0);
    let mut rig = Rig::start_with(kind, &options, plan, n, |_| None).await?;
    // Warm up (connections, allocator, JIT), unrecorded.
    let warm = ((first * 0.5).ceil() as u64).max(5);
    let _ = rig
        .step(
            Order {
                rate: first,
                count: warm,
                size,
                entities: 0,
                seed: 1,
            },
            warm * n as u64,
            grace,
        )
        .await?;
    let mut rate = first;
    let mut ladder = Ladder::new(first, plan.refine);
    let mut retry = false;
    let mut step_index = 0;
    while step_index < plan.max_steps {
        if plan.out_of_time() {
            break;
        }
        let count = ((rate * plan.step_secs).round() as u64).max(10);
        let expected = count * n as u64;
        let pid = rig.peer.server_pid()?;
        let cpu_before = procfs::cpu_seconds(pid)?;
        let (published, hist) = rig
            .step(
                Order {
                    rate,
                    count,
                    size,
                    entities: 0,
                    seed: step_index as u64 + 2,
                },
                expected,
                grace,
            )
            .await?;
        let received = rig.fleet.received();
        let server_us_per_msg =
            (procfs::cpu_seconds(pid)? - cpu_before) / received.max(1) as f64 * 1e6;
        let (closed, close_codes) = rig.fleet.closed();
        let p99 = ms(hist.quantile(0.99));
        // A publisher that could not keep the offered rate did not offer it.
        let kept_pace = published.as_secs_f64() <= count as f64 / rate * 1.1 + 0.05;
        let ok = received >= expected && closed == 0 && p99 <= bound && kept_pace;
        let step = Step {
            rate,
            msgs_per_sec: rate * n as f64,
            expected,
            received,
            closed,
            close_codes,
            p50_ms: ms(hist.quantile(0.5)),
            p99_ms: p99,
            max_ms: ms(hist.max()),
            publish_secs: published.as_secs_f64(),
            server_us_per_msg,
            loadavg: loadavg(),
            retry,
            ok,
        };
        progress(&format!(
            "  {:>8} N={n} {size} B: {:>9.0} msgs/s -> {} p50 {:.2} ms p99 {:.2} ms, {:.2} us CPU/msg, {}/{} delivered, {} closed{}",
            name,
            step.msgs_per_sec,
            if ok { "ok  " } else { "FAIL" },
            step.p50_ms,
            step.p99_ms,
            step.server_us_per_msg,
            received,
            expected,
            closed,
            if kept_pace {
                ""
            } else {
                ", publisher fell behind"
            }
        ));
        if step_index == 0 && received >= expected && closed == 0 {
            record.moderate_p99_ms = Some(p99);
            record.moderate_us_per_msg = Some(server_us_per_msg);
        }
        record.steps.push(step);
        if !ok && !retry && plan.retries > 0 {
            // One more try before the rung counts as failed: on a shared
            // machine a single stall of another process fails a p99.
            retry = true;
            rig.stop().await;
            rig = Rig::start_with(kind, &options, plan, n, |_| None).await?;
            continue;
        }
        retry = false;
        step_index += 1;
        if !ok {
            // Start clean: the failed rung may have left backlogs or closed
            // sessions behind.
            rig.stop().await;
            rig = Rig::start_with(kind, &options, plan, n, |_| None).await?;
        }
        match ladder.next(rate, ok) {
            Some(next) => rate = next,
            None => break,
        }
    }
    rig.stop().await;
    record.max_rate = ladder.best();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rues_climbs_again_with_the_raised_budget_right_after_its_own_ladder() {
        let plan = crate::tests::plan(&["--servers", "baseline,rues,limit"]).expect("valid");
        let raised = Some(64 << 20);
        assert_eq!(
            ladders(&plan, 0),
            [
                (Kind::Baseline, None),
                (Kind::Rues, None),
                (Kind::Rues, raised),
                (Kind::Limit, None)
            ]
        );
        assert_eq!(
            ladders(&plan, 1),
            [
                (Kind::Rues, None),
                (Kind::Rues, raised),
                (Kind::Limit, None),
                (Kind::Baseline, None)
            ]
        );
        let quick = crate::tests::plan(&["--quick", "--servers", "rues,limit"]).expect("valid");
        assert_eq!(
            ladders(&quick, 0),
            [(Kind::Rues, None), (Kind::Limit, None)]
        );
        assert_eq!(label(Kind::Rues, raised), "rues@64 MiB");
        assert_eq!(label(Kind::Rues, Some(1536 * 1024)), "rues@1.5 MiB");
        assert_eq!(label(Kind::Limit, None), "limit");
        assert_eq!(budget_name(300 * 1024), "300 KiB");
    }
}
