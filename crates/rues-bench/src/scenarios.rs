//! The four scenarios of issue 6 (and, in `slow.rs`, the slow-consumer
//! scenario of issue 7), each run against every chosen server in
//! one invocation, the servers' order rotating from run to run so machine
//! noise hits them alike.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::client::{Endpoint, Fleet, HttpPool, Kind};
use crate::control::Order;
use crate::hist::Hist;
use crate::peers::Peer;
use crate::procfs;

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
        let mut servers = self.servers.clone();
        let len = servers.len().max(1);
        servers.rotate_left(run % len);
        servers
    }
}

/// The latency bound of a fan-out rung: 50 ms, 500 ms from 5 000 subscribers.
pub(crate) fn fanout_bound_ms(n: usize) -> f64 {
    if n >= 5000 { 500.0 } else { 50.0 }
}

/// The 1-minute load average, to show how busy the machine was.
pub(crate) fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().and_then(|l| l.parse().ok()))
        .unwrap_or(f64::NAN)
}

pub(crate) fn ms(nanos: u64) -> f64 {
    nanos as f64 / 1e6
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

/// Everything measured.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Results {
    pub(crate) fanout: Vec<FanoutRun>,
    pub(crate) selective: Vec<SelectiveRun>,
    pub(crate) idle: Vec<IdleRun>,
    pub(crate) churn: Vec<ChurnRun>,
    pub(crate) slow: Vec<crate::slow::SlowRun>,
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
    }
}

/// A server with its subscribers.
pub(crate) struct Rig {
    pub(crate) peer: Peer,
    pub(crate) fleet: Fleet,
}

impl Rig {
    pub(crate) async fn start(
        kind: Kind,
        plan: &Plan,
        n: usize,
        entity: impl Fn(usize) -> Option<u32>,
    ) -> Result<Rig> {
        let peer = Peer::start(kind, &plan.scratch).await?;
        let fleet = match Fleet::open(peer.endpoint(), n, entity, plan.parallel_opens).await {
            Ok(fleet) => fleet,
            Err(error) => {
                peer.stop().await;
                return Err(error);
            }
        };
        Ok(Rig { peer, fleet })
    }

    pub(crate) async fn stop(self) {
        let Rig { peer, mut fleet } = self;
        peer.stop().await;
        fleet.abort();
    }

    /// Publishes `order` and waits until `expected` messages arrived or
    /// `grace` passed after the publisher finished.
    pub(crate) async fn step(
        &mut self,
        order: Order,
        expected: u64,
        grace: Duration,
    ) -> Result<(Duration, Hist)> {
        self.fleet.reset();
        let timeout = Duration::from_secs_f64(order.count as f64 / order.rate * 3.0 + 30.0);
        let published = self.peer.publish(order, timeout).await?;
        let deadline = Instant::now() + grace;
        while self.fleet.received() < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok((published, self.fleet.latencies()))
    }
}

pub(crate) fn progress(text: &str) {
    eprintln!("rues-bench: {text}");
}

pub(crate) async fn fanout(plan: &Plan, results: &mut Results) {
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
    let mut best: Option<f64> = None;
    let mut worst: Option<f64> = None;
    let mut refined = 0;
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
        if ok {
            best = Some(best.map_or(rate, |b: f64| b.max(rate)));
        } else {
            worst = Some(worst.map_or(rate, |w: f64| w.min(rate)));
            // Start clean: the failed rung may have left backlogs or closed
            // sessions behind.
            rig.stop().await;
            rig = Rig::start(kind, plan, n, |_| None).await?;
        }
        rate = match (best, worst) {
            (Some(_), None) => rate * 2.0,
            (None, Some(w)) => {
                if w < first / 16.0 {
                    break;
                }
                w / 2.0
            }
            (Some(b), Some(w)) => {
                if refined >= plan.refine || w / b < 1.1 {
                    break;
                }
                refined += 1;
                (b * w).sqrt()
            }
            (None, None) => break,
        };
    }
    rig.stop().await;
    record.max_rate = best.unwrap_or(0.0);
    Ok(())
}

pub(crate) async fn selective(plan: &Plan, results: &mut Results) {
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

pub(crate) async fn idle(plan: &Plan, results: &mut Results) {
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

pub(crate) async fn churn(plan: &Plan, results: &mut Results) {
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
    let mut best: Option<f64> = None;
    let mut worst: Option<f64> = None;
    let mut refined = 0;
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
        if ok {
            best = Some(best.map_or(rate, |b: f64| b.max(rate)));
        } else {
            worst = Some(worst.map_or(rate, |w: f64| w.min(rate)));
            // Let the server settle after an overload.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        rate = match (best, worst) {
            (Some(_), None) => rate * 2.0,
            (None, Some(w)) => {
                if w < plan.churn_start / 16.0 {
                    break;
                }
                w / 2.0
            }
            (Some(b), Some(w)) => {
                if refined >= plan.refine || w / b < 1.1 {
                    break;
                }
                refined += 1;
                (b * w).sqrt()
            }
            (None, None) => break,
        };
    }
    peer.stop().await;
    record.max_rate = best.unwrap_or(0.0);
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

/// Runs the chosen scenarios.
pub(crate) async fn run_all(plan: &Plan) -> Result<Results> {
    let mut results = Results::default();
    for scenario in &plan.scenarios {
        match scenario.as_str() {
            "fanout" => fanout(plan, &mut results).await,
            "selective" => selective(plan, &mut results).await,
            "idle" => idle(plan, &mut results).await,
            "churn" => churn(plan, &mut results).await,
            "slow" => crate::slow::slow(plan, &mut results).await,
            other => anyhow::bail!("unknown scenario `{other}`"),
        }
    }
    Ok(results)
}
