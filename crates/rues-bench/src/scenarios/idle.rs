//! Idle memory: the server's RSS per open session with one
//! subscription.

use std::time::Duration;

use anyhow::Result;

use crate::client::Fleet;
use crate::peers::Peer;
use crate::plan::{IdleRun, Plan, Results};
use crate::procfs;
use crate::rig::progress;

/// Every run and server: the idle memory of `plan.idle_n` sessions.
pub(super) async fn run(plan: &Plan, results: &mut Results) {
    let n = plan.idle_n;
    for run in 0..plan.runs {
        for kind in plan.order(run) {
            if plan.out_of_time() {
                progress("deadline reached: skipping the rest of idle");
                return;
            }
            let mut record = IdleRun {
                server: kind,
                n,
                run,
                rss_before_kib: 0,
                rss_after_kib: 0,
                kib_per_session: 0.0,
                error: None,
            };
            if let Err(error) = idle_one(plan, &mut record).await {
                record.error = Some(format!("{error:#}"));
            }
            progress(&format!(
                "idle run {run} {:>8} N={n}: {:.1} KiB RSS per session ({} -> {} KiB){}",
                kind.name(),
                record.kib_per_session,
                record.rss_before_kib,
                record.rss_after_kib,
                record
                    .error
                    .as_deref()
                    .map_or(String::new(), |e| format!(", error: {e}"))
            ));
            results.idle.push(record);
        }
    }
}

async fn idle_one(plan: &Plan, record: &mut IdleRun) -> Result<()> {
    let peer = Peer::start(record.server, &plan.scratch).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = peer.server_pid()?;
    record.rss_before_kib = procfs::rss_kib(pid)?;
    let opened = Fleet::open(
        peer.endpoint(),
        record.n,
        |i| Some(i as u32),
        plan.parallel_opens,
    )
    .await;
    let measured = async {
        let _fleet = opened?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        procfs::rss_kib(pid)
    }
    .await;
    peer.stop().await;
    record.rss_after_kib = measured?;
    record.kib_per_session =
        (record.rss_after_kib as f64 - record.rss_before_kib as f64) / record.n as f64;
    Ok(())
}
