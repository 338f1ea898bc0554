//! Slow handlers beside fan-out (rues only: the other servers have no
//! dispatch). `blocking_n` sessions get `blocking_rate` events/s; after a
//! warm-up, `blocking_calls` dispatches go out at once, each holding a
//! thread for `blocking_ms`, and until the last of them answers, an
//! ordinary async dispatch and a subscribe go out every
//! `blocking_probe_ms`.
//!
//! The same work runs in two variants, alternating run by run, each on a
//! fresh server: a blocking handler (`bench/block`, on rues-warp's bounded
//! blocking pool) and an ordinary async handler that sleeps its thread
//! (`bench/block-on-runtime`, a runtime worker: the behaviour before
//! blocking handlers). The server publishes from a thread of its own
//! (`rues-bench server rues --publish-thread`), so the events keep their
//! times even when every runtime worker is asleep.
//!
//! Measured over the blocking window (from sending the calls to the last
//! answer): the delivery latency of every event published in it (the
//! harness orders them in 0.2-s chunks until it sees the last answer), the
//! probes' latencies, and each blocking call's own. The probes are open
//! loop: each goes out on time, on a connection of its own when the open
//! ones are busy, whether or not the earlier ones have answered.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::client::{self, HttpPool, Kind};
use crate::control::Order;
use crate::hist::Hist;
use crate::peers::Peer;
use crate::plan::{BlockingRun, Latencies, Plan, Results, Variant, rotated};
use crate::rig::{Rig, loadavg, progress};
use crate::server::rues::PROBE;

/// The probe session's own subscription (it receives nothing).
const PROBE_ENTITY: u32 = u32::MAX;
/// How long a probe may wait for its answer before it counts as failed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);
/// Connections the probes may hold at once.
const PROBE_CONNECTIONS: usize = 256;
/// Probes of each kind per window at the most (a session may hold 1 024
/// subscriptions).
const MAX_PROBES: usize = 1000;
/// Seconds of events per publish order during the window.
const CHUNK_SECS: f64 = 0.2;
/// How long the harness waits for the events still in flight.
const GRACE: Duration = Duration::from_secs(5);

/// Every run: both variants, in an order that alternates from run to run.
pub(super) async fn run(plan: &Plan, results: &mut Results) {
    if !plan.servers.contains(&Kind::Rues) {
        progress("blocking: only rues has dispatch, and rues is not among the servers: skipped");
        return;
    }
    if plan.servers.len() > 1 {
        progress("blocking: rues only (the other servers have no dispatch)");
    }
    for run in 0..plan.runs {
        for variant in rotated(&Variant::ALL, run) {
            if plan.out_of_time() {
                progress("deadline reached: skipping the rest of blocking");
                return;
            }
            let mut record = BlockingRun {
                variant,
                run,
                window_secs: 0.0,
                expected: 0,
                received: 0,
                sessions_closed: 0,
                events: Latencies::default(),
                dispatch_probe: Latencies::default(),
                subscribe_probe: Latencies::default(),
                blocking_ms: Vec::new(),
                blocking_status: Vec::new(),
                loadavg: f64::NAN,
                error: None,
            };
            if let Err(error) = blocking_one(plan, &mut record).await {
                record.error = Some(format!("{error:#}"));
            }
            let slowest = record.blocking_ms.iter().copied().fold(0.0, f64::max);
            progress(&format!(
                "blocking run {run} {:>7}: events p50/p99/max {:.2}/{:.2}/{:.2} ms ({}/{}); \
                 dispatch probe p99/max {:.2}/{:.2} ms; subscribe probe p99/max {:.2}/{:.2} ms; \
                 slowest blocking call {slowest:.0} ms, window {:.2} s{}",
                variant.name(),
                record.events.p50_ms,
                record.events.p99_ms,
                record.events.max_ms,
                record.received,
                record.expected,
                record.dispatch_probe.p99_ms,
                record.dispatch_probe.max_ms,
                record.subscribe_probe.p99_ms,
                record.subscribe_probe.max_ms,
                record.window_secs,
                record
                    .error
                    .as_deref()
                    .map_or(String::new(), |e| format!(", error: {e}"))
            ));
            results.blocking.push(record);
        }
    }
}

/// One variant on a fresh server.
async fn blocking_one(plan: &Plan, record: &mut BlockingRun) -> Result<()> {
    let peer = Peer::start_with(Kind::Rues, &plan.scratch, &["--publish-thread"]).await?;
    let mut rig = Rig::open(peer, plan, plan.blocking_n, |_| None).await?;
    let measured = measure(plan, &mut rig, record).await;
    rig.stop().await;
    measured
}

async fn measure(plan: &Plan, rig: &mut Rig, record: &mut BlockingRun) -> Result<()> {
    let n = plan.blocking_n as u64;
    let endpoint = rig.peer.endpoint();
    let probes = Arc::new(HttpPool::new(endpoint.addr, PROBE_CONNECTIONS));
    let probe_session = client::open(endpoint, Some(PROBE_ENTITY), n, Some(&probes))
        .await
        .context("opening the probe session")?;
    let session = probe_session.id.clone().context("no session id")?;
    // Read (and so answer pings) for as long as the measurement lasts.
    let probe_reader = probe_session.spawn_reader(Arc::default());

    let order = |count| Order {
        rate: plan.blocking_rate,
        count,
        size: plan.blocking_size,
        entities: 0,
        seed: 1,
    };
    let warm = ((plan.blocking_rate * plan.blocking_warm_secs).ceil() as u64).max(1);
    rig.step(order(warm), warm * n, GRACE).await?;

    rig.fleet.reset();
    let calls = Arc::new(HttpPool::new(endpoint.addr, plan.blocking_calls));
    let path = format!("/on/bench/{}", record.variant.topic());
    let body = plan.blocking_ms.to_string();
    // Every call may have to wait for all the others, one at a time.
    let call_timeout =
        Duration::from_millis(plan.blocking_ms) * (plan.blocking_calls as u32 + 1) + PROBE_TIMEOUT;
    let started = Instant::now();
    let sent: Vec<_> = (0..plan.blocking_calls)
        .map(|_| {
            let (calls, path, body) = (calls.clone(), path.clone(), body.clone());
            tokio::spawn(
                async move { timed(call_timeout, calls.post(&path, body.as_bytes())).await },
            )
        })
        .collect();
    let done = AtomicBool::new(false);
    let answered = async {
        let answers = gather(sent).await;
        done.store(true, Ordering::Relaxed);
        (answers, started.elapsed())
    };
    let (published, (dispatches, subscribes), (answers, window)) = tokio::join!(
        publish_until(rig, order, CHUNK_SECS, &done),
        probe_until(plan, &probes, &session, &done),
        answered,
    );
    probe_reader.abort();
    let expected = published? * n;
    rig.settle(expected, GRACE).await;

    record.window_secs = window.as_secs_f64();
    record.expected = expected;
    record.received = rig.fleet.received();
    record.sessions_closed = rig.fleet.closed().0;
    record.events = Latencies::of(&rig.fleet.latencies(), expected);
    record.dispatch_probe = summarize(&dispatches);
    record.subscribe_probe = summarize(&subscribes);
    record.blocking_ms = answers
        .iter()
        .map(|(_, took)| took.as_secs_f64() * 1e3)
        .collect();
    record.blocking_status = answers.iter().map(|(status, _)| *status).collect();
    record.loadavg = loadavg();
    Ok(())
}

/// An answer's status (0: none in time, or the request failed) and how
/// long it took.
pub(super) type Answer = (u16, Duration);

pub(super) async fn timed(timeout: Duration, request: impl Future<Output = Result<u16>>) -> Answer {
    let started = Instant::now();
    let status = tokio::time::timeout(timeout, request)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or(0);
    (status, started.elapsed())
}

pub(super) async fn gather(tasks: Vec<tokio::task::JoinHandle<Answer>>) -> Vec<Answer> {
    let mut answers = Vec::with_capacity(tasks.len());
    for task in tasks {
        answers.push(task.await.unwrap_or((0, Duration::ZERO)));
    }
    answers
}

/// Orders events in chunks of `chunk_secs`, one chunk every `chunk_secs`,
/// until `done`; returns how many were published.
pub(super) async fn publish_until(
    rig: &mut Rig,
    order: impl Fn(u64) -> Order,
    chunk_secs: f64,
    done: &AtomicBool,
) -> Result<u64> {
    let rate = order(1).rate;
    let chunk = ((rate * chunk_secs).round() as u64).max(1);
    let period = Duration::from_secs_f64(chunk as f64 / rate);
    let mut next = tokio::time::Instant::now();
    let mut published = 0;
    while !done.load(Ordering::Relaxed) {
        tokio::time::sleep_until(next).await;
        next += period;
        rig.publish(order(chunk)).await?;
        published += chunk;
    }
    Ok(published)
}

/// Sends a dispatch probe and a subscribe probe (each to an entity of its
/// own) every `plan.blocking_probe_ms` until `done`; returns their answers.
async fn probe_until(
    plan: &Plan,
    pool: &Arc<HttpPool>,
    session: &str,
    done: &AtomicBool,
) -> (Vec<Answer>, Vec<Answer>) {
    let mut tick = tokio::time::interval(Duration::from_millis(plan.blocking_probe_ms.max(1)));
    let (mut dispatches, mut subscribes) = (Vec::new(), Vec::new());
    while !done.load(Ordering::Relaxed) && dispatches.len() < MAX_PROBES {
        tick.tick().await;
        let dispatcher = pool.clone();
        dispatches.push(tokio::spawn(async move {
            timed(
                PROBE_TIMEOUT,
                dispatcher.post(&format!("/on/bench/{PROBE}"), b""),
            )
            .await
        }));
        let (pool, session) = (pool.clone(), session.to_owned());
        let path = format!("/on/bench:p{}/tick", subscribes.len());
        subscribes.push(tokio::spawn(async move {
            timed(PROBE_TIMEOUT, pool.get(&path, &session)).await
        }));
    }
    (gather(dispatches).await, gather(subscribes).await)
}

/// The latencies of the requests answered 200; the others count as failed.
pub(super) fn summarize(answers: &[Answer]) -> Latencies {
    let mut hist = Hist::default();
    for (_, took) in answers.iter().filter(|(status, _)| *status == 200) {
        hist.record(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX));
    }
    Latencies::of(&hist, answers.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_answers_200_count_toward_the_latencies() {
        let answers: Vec<Answer> = [(200, 10), (200, 20), (200, 30), (503, 5000), (0, 15000)]
            .into_iter()
            .map(|(status, ms)| (status, Duration::from_millis(ms)))
            .collect();
        let latencies = summarize(&answers);
        assert_eq!((latencies.sent, latencies.ok, latencies.failed), (5, 3, 2));
        assert!(
            (latencies.p50_ms - 20.0).abs() < 20.0 * 0.04,
            "{latencies:?}"
        );
        assert_eq!(latencies.max_ms, 30.0);
        let none = summarize(&[]);
        assert_eq!(
            (none.sent, none.ok, none.failed, none.max_ms),
            (0, 0, 0, 0.0)
        );
    }

    #[tokio::test]
    async fn a_request_without_an_answer_in_time_is_status_0() {
        let never = std::future::pending::<Result<u16>>();
        let (status, took) = timed(Duration::from_millis(20), never).await;
        assert_eq!(status, 0);
        assert!(took >= Duration::from_millis(20));
        let refused = async { anyhow::bail!("refused") };
        assert_eq!(timed(Duration::from_secs(1), refused).await.0, 0);
        assert_eq!(
            timed(Duration::from_secs(1), async { Ok(200) }).await.0,
            200
        );
    }
}
