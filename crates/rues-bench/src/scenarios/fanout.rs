//! Fan-out: every subscriber gets every event. A ladder per
//! server, N and payload size: from the moderate rate up, doubling until a
//! rung misses its latency bound or loses events, then bisecting; the
//! highest passing rung is the result.

use std::time::Duration;

use anyhow::Result;

use crate::control::Order;
use crate::plan::{FanoutRun, Plan, Results, Step, fanout_bound_ms};
use crate::procfs;
use crate::rig::{Ladder, Rig, loadavg, ms, progress};

/// Every chosen N and payload size, run and server: its fan-out ladder.
pub(super) async fn run(plan: &Plan, results: &mut Results) {
    for &n in &plan.fanout_n {
        for &size in &plan.payloads {
            for run in 0..plan.runs {
                for kind in plan.order(run) {
                    if plan.out_of_time() {
                        progress("deadline reached: skipping the rest of fan-out");
                        return;
                    }
                    let mut record = FanoutRun {
                        server: kind,
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
                        kind.name(),
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

async fn fanout_ladder(plan: &Plan, record: &mut FanoutRun) -> Result<()> {
    let (kind, n, size) = (record.server, record.n, record.size);
    let bound = fanout_bound_ms(n);
    let moderate = if size <= 1024 {
        plan.moderate_small
    } else {
        plan.moderate_large
    };
    let first = moderate / n as f64;
    let grace = Duration::from_secs_f64(bound / 1000.0 + 2.0);
    let mut rig = Rig::start(kind, plan, n, |_| None).await?;
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
            kind.name(),
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
            rig = Rig::start(kind, plan, n, |_| None).await?;
            continue;
        }
        retry = false;
        step_index += 1;
        if !ok {
            // Start clean: the failed rung may have left backlogs or closed
            // sessions behind.
            rig.stop().await;
            rig = Rig::start(kind, plan, n, |_| None).await?;
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
