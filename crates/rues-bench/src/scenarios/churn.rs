//! Churn: sessions opened, subscribed and closed at a steady
//! offered rate, on a ladder of rates like fan-out's; the highest rate at
//! which every cycle succeeds with p99 of open-and-subscribe under the
//! bound is the result.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use tokio::sync::Semaphore;

use crate::client::{Endpoint, HttpPool, Kind};
use crate::hist::Hist;
use crate::peers::Peer;
use crate::plan::{ChurnRun, ChurnStep, Plan, Results};
use crate::rig::{Ladder, loadavg, ms, progress};

/// Every run and server: its churn ladder.
pub(super) async fn run(plan: &Plan, results: &mut Results) {
    for run in 0..plan.runs {
        for kind in plan.order(run) {
            if plan.out_of_time() {
                progress("deadline reached: skipping the rest of churn");
                return;
            }
            let mut record = ChurnRun {
                server: kind,
                run,
                steps: Vec::new(),
                max_rate: 0.0,
                error: None,
            };
            if let Err(error) = churn_ladder(plan, &mut record).await {
                record.error = Some(format!("{error:#}"));
            }
            progress(&format!(
                "churn run {run} {:>8}: max {:.0} opens/s{}",
                kind.name(),
                record.max_rate,
                record
                    .error
                    .as_deref()
                    .map_or(String::new(), |e| format!(", error: {e}"))
            ));
            results.churn.push(record);
        }
    }
}

/// Connection indices for source-address spreading, across rungs.
static CHURN_INDEX: AtomicU64 = AtomicU64::new(0);

async fn churn_ladder(plan: &Plan, record: &mut ChurnRun) -> Result<()> {
    let peer = Peer::start(record.server, &plan.scratch).await?;
    let endpoint = peer.endpoint();
    let http = (endpoint.kind == Kind::Rues).then(|| Arc::new(HttpPool::new(endpoint.addr, 32)));
    let mut rate = plan.churn_start;
    let mut ladder = Ladder::new(plan.churn_start, plan.refine);
    let mut outcome = Ok(());
    for _ in 0..plan.max_steps {
        if plan.out_of_time() {
            break;
        }
        let step = match churn_step(plan, endpoint, http.clone(), rate).await {
            Ok(step) => step,
            Err(error) => {
                outcome = Err(error);
                break;
            }
        };
        progress(&format!(
            "  {:>8} churn {:>6.0} opens/s -> {} achieved {:.0}/s, p50 {:.2} ms p99 {:.2} ms (subscribe p99 {:.2} ms), {} failed",
            endpoint.kind.name(),
            rate,
            if step.ok { "ok  " } else { "FAIL" },
            step.achieved,
            step.p50_ms,
            step.p99_ms,
            step.subscribe_p99_ms,
            step.failed
        ));
        let ok = step.ok;
        record.steps.push(step);
        if !ok {
            // Let the server settle after an overload.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        match ladder.next(rate, ok) {
            Some(next) => rate = next,
            None => break,
        }
    }
    peer.stop().await;
    record.max_rate = ladder.best();
    outcome
}

async fn churn_step(
    plan: &Plan,
    endpoint: Endpoint,
    http: Option<Arc<HttpPool>>,
    rate: f64,
) -> Result<ChurnStep> {
    let offered = ((rate * plan.churn_secs).round() as u64).max(1);
    let in_flight = Arc::new(Semaphore::new(2000));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(offered as usize);
    let mut refused = 0u64;
    let mut interval = tokio::time::interval(Duration::from_millis(1));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut launched = 0u64;
    while launched < offered {
        let due = ((started.elapsed().as_secs_f64() * rate) as u64 + 1).min(offered);
        while launched < due {
            launched += 1;
            let Ok(permit) = in_flight.clone().try_acquire_owned() else {
                refused += 1;
                continue;
            };
            let http = http.clone();
            let index = CHURN_INDEX.fetch_add(1, Ordering::Relaxed);
            let entity = (index % 1000) as u32;
            tasks.push(tokio::spawn(async move {
                let _permit = permit;
                let session =
                    crate::client::open(endpoint, Some(entity), index, http.as_deref()).await?;
                let opened = session.opened;
                session.close().await;
                anyhow::Ok(opened)
            }));
        }
        if launched < offered {
            interval.tick().await;
        }
    }
    let mut total = Hist::default();
    let mut subscribe = Hist::default();
    let mut failed = refused;
    let mut first_error = None;
    for task in tasks {
        match tokio::time::timeout(Duration::from_secs(30), task).await {
            Ok(Ok(Ok(opened))) => {
                total.record(opened.total.as_nanos() as u64);
                subscribe.record(opened.subscribe.as_nanos() as u64);
            }
            Ok(Ok(Err(error))) => {
                failed += 1;
                first_error.get_or_insert(error);
            }
            _ => failed += 1,
        }
    }
    if let Some(error) = first_error {
        progress(&format!("    first churn error: {error:#}"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let succeeded = total.count();
    let p99 = ms(total.quantile(0.99));
    let achieved = succeeded as f64 / elapsed;
    Ok(ChurnStep {
        rate,
        offered,
        succeeded,
        failed,
        achieved,
        p50_ms: ms(total.quantile(0.5)),
        p99_ms: p99,
        subscribe_p99_ms: ms(subscribe.quantile(0.99)),
        loadavg: loadavg(),
        ok: failed == 0 && p99 <= plan.churn_p99_ms,
    })
}
