//! Soak test for a rues node.
//!
//! Starts `rues serve` (a release build, path given with `--rues`) on a
//! loopback port and runs, for `--minutes`, a mixed load:
//! - **churn**: sessions opened, subscribed to one to three targets, held a
//!   little, then closed (half with a Close frame, half with a TCP reset);
//! - **readers**: long-lived sessions reading every block and transaction;
//! - **dispatches**: `node/info`, `blocks/gas-price`, GraphQL, `network/peers`
//!   and propagated demo transactions (from a fixed pool of senders);
//! - **slow clients**: sessions subscribed to busy topics that never read,
//!   which the node must close with 4008, replaced as they go.
//!
//! Every few seconds it samples the node's RSS, open descriptors, sessions
//! and subscriptions. At the end it stops the load, waits for the node to
//! release everything, writes the samples as CSV, and fails if memory or
//! descriptors grew without bound or anything leaked.
//!
//! Everything targets 127.0.0.1 and is bounded in time.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hyper::Method;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

const SAMPLE_EVERY: Duration = Duration::from_secs(5);
const READERS: usize = 20;
const SLOW_CLIENTS: usize = 3;
const CHURN_EVERY: Duration = Duration::from_millis(20);
const DISPATCH_EVERY: Duration = Duration::from_millis(25);
/// Accounts the dispatched transactions are sent from, in turn.
const SENDERS: u64 = 64;

struct Args {
    rues: PathBuf,
    minutes: f64,
    out: PathBuf,
}

fn parse_args() -> Result<Args> {
    let mut rues = None;
    let mut minutes = 10.0;
    let mut out = PathBuf::from("target/soak");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--rues" => rues = Some(PathBuf::from(value()?)),
            "--minutes" => minutes = value()?.parse().context("--minutes: a number")?,
            "--out" => out = PathBuf::from(value()?),
            other => bail!(
                "unknown argument {other}; usage: rues-soak --rues PATH [--minutes N] [--out DIR]"
            ),
        }
    }
    Ok(Args {
        rues: rues.context("--rues PATH (a release build of the rues binary) is required")?,
        minutes,
        out,
    })
}

#[derive(Default)]
struct Counters {
    sessions: AtomicU64,
    events: AtomicU64,
    dispatches: AtomicU64,
    dispatch_errors: AtomicU64,
    slow_closed_4008: AtomicU64,
    failures: AtomicU64,
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    seconds: f64,
    rss_kib: u64,
    fds: u64,
    sessions: u64,
    subscriptions: u64,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = parse_args()?;
    std::fs::create_dir_all(&args.out)?;
    let mut node = start_node(&args.rues)?;
    let addr = node.addr;
    let pid = node.child.id();
    eprintln!("soak: node pid {pid} on {addr}, {} minutes", args.minutes);

    let stop = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(Counters::default());
    let mut tasks = Vec::new();
    for _ in 0..READERS {
        tasks.push(tokio::spawn(reader(addr, stop.clone(), counters.clone())));
    }
    for _ in 0..SLOW_CLIENTS {
        tasks.push(tokio::spawn(slow_client(
            addr,
            stop.clone(),
            counters.clone(),
        )));
    }
    tasks.push(tokio::spawn(churn(addr, stop.clone(), counters.clone())));
    tasks.push(tokio::spawn(dispatcher(
        addr,
        stop.clone(),
        counters.clone(),
    )));

    let started = Instant::now();
    let duration = Duration::from_secs_f64(args.minutes * 60.0);
    let mut samples = Vec::new();
    while started.elapsed() < duration {
        tokio::time::sleep(SAMPLE_EVERY.min(duration.saturating_sub(started.elapsed()))).await;
        let sample = sample(addr, pid, started).await?;
        eprintln!(
            "soak: t={:>6.0}s rss={:>7} KiB fds={:>5} sessions={:>5} subscriptions={:>5} events={} dispatches={} 4008s={}",
            sample.seconds,
            sample.rss_kib,
            sample.fds,
            sample.sessions,
            sample.subscriptions,
            counters.events.load(Ordering::Relaxed),
            counters.dispatches.load(Ordering::Relaxed),
            counters.slow_closed_4008.load(Ordering::Relaxed),
        );
        samples.push(sample);
    }
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
    }
    // Everything the clients held must be released.
    let deadline = Instant::now() + Duration::from_secs(30);
    let last = loop {
        let sample = sample(addr, pid, started).await?;
        if (sample.sessions == 0 && sample.subscriptions == 0) || Instant::now() > deadline {
            break sample;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    samples.push(last);
    let csv = args.out.join("soak.csv");
    let mut file = std::fs::File::create(&csv)?;
    writeln!(file, "seconds,rss_kib,fds,sessions,subscriptions")?;
    for s in &samples {
        writeln!(
            file,
            "{:.0},{},{},{},{}",
            s.seconds, s.rss_kib, s.fds, s.sessions, s.subscriptions
        )?;
    }
    node.stop();

    let verdict = judge(&samples, &counters);
    let summary = format!(
        "soak: {:.1} min, {} sessions opened by the soak, {} events received, {} dispatches ({} refused), {} slow clients closed with 4008; RSS {} KiB after warm-up, {} KiB peak, {} KiB at the end; descriptors {} -> {}; samples in {}",
        started.elapsed().as_secs_f64() / 60.0,
        counters.sessions.load(Ordering::Relaxed),
        counters.events.load(Ordering::Relaxed),
        counters.dispatches.load(Ordering::Relaxed),
        counters.dispatch_errors.load(Ordering::Relaxed),
        counters.slow_closed_4008.load(Ordering::Relaxed),
        warm_rss(&samples),
        samples.iter().map(|s| s.rss_kib).max().unwrap_or(0),
        last.rss_kib,
        samples.first().map_or(0, |s| s.fds),
        last.fds,
        csv.display(),
    );
    println!("{summary}");
    verdict
}

/// After the first fifth (warm-up: allocator pools, chain history filling),
/// the highest RSS of the next fifth.
fn warm_rss(samples: &[Sample]) -> u64 {
    let fifth = (samples.len() / 5).max(1);
    samples
        .iter()
        .skip(fifth)
        .take(fifth)
        .map(|s| s.rss_kib)
        .max()
        .unwrap_or(0)
}

fn judge(samples: &[Sample], counters: &Counters) -> Result<()> {
    let Some(last) = samples.last() else {
        bail!("no samples");
    };
    if last.sessions != 0 || last.subscriptions != 0 {
        bail!(
            "leak: {} sessions and {} subscriptions left after the load stopped",
            last.sessions,
            last.subscriptions
        );
    }
    let fifth = (samples.len() / 5).max(1);
    let warm = warm_rss(samples);
    let late = samples
        .iter()
        .rev()
        .skip(1)
        .take(fifth)
        .map(|s| s.rss_kib)
        .max()
        .unwrap_or(0);
    // Bounded: the last fifth may not sit far above the second fifth. The
    // chain keeps `history` blocks, so some growth is expected early; a leak
    // keeps growing.
    if late > warm + warm / 2 + 16 * 1024 {
        bail!(
            "RSS grew from {warm} KiB (after warm-up) to {late} KiB (last fifth): unbounded growth"
        );
    }
    let first_fds = samples.first().map_or(0, |s| s.fds);
    if last.fds > first_fds + 16 {
        bail!("descriptors grew from {first_fds} to {}", last.fds);
    }
    if counters.failures.load(Ordering::Relaxed) > 0 {
        bail!(
            "{} client operations failed unexpectedly",
            counters.failures.load(Ordering::Relaxed)
        );
    }
    if counters.slow_closed_4008.load(Ordering::Relaxed) == 0 {
        bail!("no slow client was ever closed with 4008: the slow-consumer path was not exercised");
    }
    Ok(())
}

struct Node {
    child: Child,
    addr: SocketAddr,
}

impl Node {
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_node(rues: &PathBuf) -> Result<Node> {
    let mut child = Command::new(rues)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--block-time-ms",
            "250",
            "--set",
            "chain.tx_per_second=200",
            "--set",
            "chain.history=240",
            "--set",
            "limits.max_queue_bytes=262144",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", rues.display()))?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut banner = String::new();
    BufReader::new(stdout).read_line(&mut banner)?;
    let addr = banner
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .and_then(|u| u.trim_end_matches("/on").parse().ok())
        .with_context(|| format!("no address in {banner:?}"))?;
    Ok(Node { child, addr })
}

async fn sample(addr: SocketAddr, pid: u32, started: Instant) -> Result<Sample> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).context("the node exited")?;
    let rss_kib = rues_testkit::vm_rss_kib(&status).unwrap_or(0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64);
    let metrics = http(addr, Method::GET, "/metrics", &[], Bytes::new())
        .await
        .map(|(_, body)| body)
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&metrics);
    let metric = |name: &str| rues_testkit::metric(&text, name).unwrap_or(0);
    Ok(Sample {
        seconds: started.elapsed().as_secs_f64(),
        rss_kib,
        fds,
        sessions: metric("rues_sessions_open "),
        subscriptions: metric("rues_subscriptions "),
    })
}

async fn http(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<(u16, Bytes)> {
    let answer = rues_testkit::try_http(addr, method, path, headers, &body).await?;
    Ok((answer.status.as_u16(), answer.body))
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

async fn open(addr: SocketAddr, counters: &Counters) -> Result<(Ws, String)> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/on")).await?;
    let first = tokio::time::timeout(Duration::from_secs(10), ws.next()).await?;
    let Some(Ok(Message::Text(id))) = first else {
        bail!("no session id");
    };
    counters.sessions.fetch_add(1, Ordering::Relaxed);
    Ok((ws, id.to_string()))
}

async fn subscribe(addr: SocketAddr, id: &str, path: &str) -> Result<()> {
    let (status, _) = http(
        addr,
        Method::GET,
        path,
        &[("rusk-session-id", id)],
        Bytes::new(),
    )
    .await?;
    if status != 200 {
        bail!("GET {path}: {status}");
    }
    Ok(())
}

fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    u64::from_le_bytes(bytes)
}

async fn reader(addr: SocketAddr, stop: Arc<AtomicBool>, counters: Arc<Counters>) {
    while !stop.load(Ordering::Relaxed) {
        let result: Result<()> = async {
            let (mut ws, id) = open(addr, &counters).await?;
            subscribe(addr, &id, "/on/blocks/accepted").await?;
            subscribe(addr, &id, "/on/blocks/statechange").await?;
            // Hold a while, reading, then reconnect: long-lived churn.
            let until = Instant::now() + Duration::from_secs(20 + random_u64() % 40);
            while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                match tokio::time::timeout(Duration::from_secs(1), ws.next()).await {
                    Ok(Some(Ok(Message::Binary(_)))) => {
                        counters.events.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Some(Ok(_))) | Err(_) => {}
                    Ok(Some(Err(e))) => bail!("reader socket: {e}"),
                    Ok(None) => bail!("reader socket closed"),
                }
            }
            let _ = ws.close(None).await;
            Ok(())
        }
        .await;
        if let Err(error) = result {
            if !stop.load(Ordering::Relaxed) {
                eprintln!("soak: reader: {error:#}");
                counters.failures.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

async fn slow_client(addr: SocketAddr, stop: Arc<AtomicBool>, counters: Arc<Counters>) {
    while !stop.load(Ordering::Relaxed) {
        let result: Result<()> = async {
            let (mut ws, id) = open(addr, &counters).await?;
            subscribe(addr, &id, "/on/transactions/included").await?;
            subscribe(addr, &id, "/on/transactions/executed").await?;
            subscribe(addr, &id, "/on/blocks/accepted").await?;
            // Never read until the node must have given up on us, then read
            // what is left: the end is a Close with 4008.
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
                    return Ok(());
                }
                if queue_gone(addr, &id).await {
                    break;
                }
            }
            while let Ok(Some(Ok(message))) =
                tokio::time::timeout(Duration::from_secs(10), ws.next()).await
            {
                if let Message::Close(Some(frame)) = message {
                    if u16::from(frame.code) == 4008 {
                        counters.slow_closed_4008.fetch_add(1, Ordering::Relaxed);
                    }
                    break;
                }
            }
            Ok(())
        }
        .await;
        if let Err(error) = result {
            if !stop.load(Ordering::Relaxed) {
                eprintln!("soak: slow client: {error:#}");
                counters.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Whether the node no longer knows the session (it closed it).
async fn queue_gone(addr: SocketAddr, id: &str) -> bool {
    matches!(
        http(
            addr,
            Method::GET,
            "/on/blocks/accepted",
            &[("rusk-session-id", id)],
            Bytes::new()
        )
        .await,
        Ok((424, _))
    )
}

async fn churn(addr: SocketAddr, stop: Arc<AtomicBool>, counters: Arc<Counters>) {
    let targets = [
        "/on/blocks/accepted",
        "/on/transactions/included",
        "/on/contracts:0100000000000000000000000000000000000000000000000000000000000000/moonlight",
        "/on/blocks/reverted",
    ];
    let mut interval = tokio::time::interval(CHURN_EVERY);
    let mut running = tokio::task::JoinSet::new();
    while !stop.load(Ordering::Relaxed) {
        interval.tick().await;
        // Bound the concurrent churners.
        while running.len() >= 200 {
            let _ = running.join_next().await;
        }
        let counters = counters.clone();
        running.spawn(async move {
            let result: Result<()> = async {
                let tcp = TcpStream::connect(addr).await?;
                let abort = random_u64() % 2 == 0;
                if abort {
                    tcp.set_zero_linger()?;
                }
                let (mut ws, _) = tokio_tungstenite::client_async(
                    format!("ws://{addr}/on"),
                    tokio_tungstenite::MaybeTlsStream::Plain(tcp),
                )
                .await?;
                let Some(Ok(Message::Text(id))) = ws.next().await else {
                    bail!("no session id");
                };
                counters.sessions.fetch_add(1, Ordering::Relaxed);
                for target in targets.iter().take(1 + (random_u64() % 3) as usize) {
                    subscribe(addr, &id, target).await?;
                }
                tokio::time::sleep(Duration::from_millis(100 + random_u64() % 2000)).await;
                if !abort {
                    let _ = ws.send(Message::Close(None)).await;
                    let _ = tokio::time::timeout(Duration::from_secs(5), async {
                        while let Some(Ok(_)) = ws.next().await {}
                    })
                    .await;
                }
                Ok(())
            }
            .await;
            if let Err(error) = result {
                eprintln!("soak: churn: {error:#}");
                counters.failures.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    while running.join_next().await.is_some() {}
}

async fn dispatcher(addr: SocketAddr, stop: Arc<AtomicBool>, counters: Arc<Counters>) {
    let mut interval = tokio::time::interval(DISPATCH_EVERY);
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        interval.tick().await;
        n += 1;
        let (path, body, binary): (&str, Bytes, bool) = match n % 6 {
            0 => ("/on/node/info", Bytes::new(), false),
            1 => ("/on/blocks/gas-price", Bytes::new(), false),
            2 => (
                "/on/graphql/query",
                Bytes::from_static(b"query { block(height: -1) { header { height hash } } }"),
                false,
            ),
            3 => ("/on/network/peers", Bytes::from_static(b"5"), false),
            4 => {
                // A fixed pool of senders, so the chain's account state stays
                // the same size and the soak measures the node, not the
                // chain growing with every fresh account.
                let mut sender = [0x5a_u8; 32];
                sender[..8].copy_from_slice(&(n % SENDERS).to_le_bytes());
                let tx = rues_demo::Transaction::builder()
                    .sender(
                        rues_demo::Account::from_slice(&sender).unwrap_or(rues_demo::Account::ZERO),
                    )
                    .nonce(n)
                    .value(1 + n)
                    .build();
                match tx {
                    Ok(tx) => ("/on/transactions/propagate", Bytes::from(tx.encode()), true),
                    Err(_) => continue,
                }
            }
            _ => (
                "/on/transactions/propagate",
                Bytes::from_static(b"garbage"),
                true,
            ),
        };
        let headers: &[(&str, &str)] = if binary {
            &[("content-type", "application/octet-stream")]
        } else {
            &[]
        };
        match http(addr, Method::POST, path, headers, body).await {
            Ok((status, _)) => {
                counters.dispatches.fetch_add(1, Ordering::Relaxed);
                if status >= 400 {
                    counters.dispatch_errors.fetch_add(1, Ordering::Relaxed);
                }
                // Only the garbage propagation may be refused.
                let expected_refusal = n % 6 == 5;
                if (status >= 400) != expected_refusal {
                    eprintln!("soak: POST {path}: unexpected {status}");
                    counters.failures.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(error) => {
                eprintln!("soak: POST {path}: {error:#}");
                counters.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
