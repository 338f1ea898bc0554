//! Slow handlers never stall anything else (docs/protocol.md §5.2): a
//! blocking handler runs on the bounded blocking pool, not on the threads
//! that serve sessions and requests.
//!
//! The node runs on a runtime of its own with as many workers as the machine
//! has cores, so that handlers which blocked those workers would delay
//! everything by their full 2 s; the clients measure from another runtime.
//! The 1 s bound tells the two apart on a noisy machine; the precise
//! latencies are a benchmark's business, not this test's.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use rues_core::http::{Method, StatusCode};
use rues_core::rues_target::{Component, EventPath, Topic};
use rues_core::rues_wire::Frame;
use rues_core::{ComponentSpec, Config, EntityRule, Event, Registry, Reply};
use rues_warp::{Publisher, Server, TransportConfig};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{Client, TestServer, http};

const SESSIONS: usize = 100;
const EVENTS_PER_SECOND: u64 = 50;
const BLOCKING_FOR: Duration = Duration::from_secs(2);

fn registry() -> Registry {
    let name = |s: &str| Component::new(s).expect("valid");
    let topic = |s: &str| Topic::new(s).expect("valid");
    Registry::new()
        .with(
            ComponentSpec::new(name("blocks"))
                .entity(EntityRule::Optional)
                .topic(topic("accepted")),
        )
        .with(
            ComponentSpec::new(name("prover"))
                .entity(EntityRule::Forbidden)
                // A thread sleep, not an async one: what a prover does to
                // the thread it runs on.
                .blocking_handler(topic("prove"), |_request| {
                    std::thread::sleep(BLOCKING_FOR);
                    Ok(Reply::Text("proof".into()))
                }),
        )
        .with(
            ComponentSpec::new(name("node"))
                .entity(EntityRule::Forbidden)
                .handler(topic("info"), |_request| async {
                    Ok(Reply::Text("info".into()))
                }),
        )
}

/// The node on a runtime of its own, with one worker per core.
struct Node {
    addr: SocketAddr,
    publisher: Publisher,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Node {
    fn start() -> Self {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (ready, bound) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let server = Server::bind(
                    Config::new("1.6.0".parse().expect("valid")),
                    registry(),
                    TransportConfig::new("127.0.0.1:0".parse().expect("valid")),
                )
                .await
                .expect("bound");
                ready
                    .send((server.local_addr(), server.publisher()))
                    .expect("the test waits");
                server
                    .run(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        let (addr, publisher) = bound.recv().expect("the node started");
        Self {
            addr,
            publisher,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Microseconds since `base`.
fn micros(base: Instant) -> u64 {
    u64::try_from(base.elapsed().as_micros()).unwrap_or(u64::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_handlers_delay_no_event_and_no_other_request() {
    let node = Node::start();
    let addr = node.addr;
    let base = Instant::now();

    // 100 sessions, each subscribed to every accepted block.
    let mut clients = Vec::with_capacity(SESSIONS);
    for _ in 0..SESSIONS {
        let client = Client::connect(&format!("ws://{addr}/on")).await;
        let answer = http(
            addr,
            Method::GET,
            "/on/blocks/accepted",
            &[("rusk-session-id", &client.session_text)],
            b"",
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK);
        clients.push(client);
    }

    // Each reader records the worst delay between publish and receipt.
    let worst_delay = Arc::new(AtomicU64::new(0));
    let received = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = clients
        .into_iter()
        .map(|client| {
            let worst_delay = worst_delay.clone();
            let received = received.clone();
            tokio::spawn(async move {
                let mut ws = client.ws;
                while let Some(Ok(message)) = ws.next().await {
                    let Message::Binary(bytes) = message else {
                        continue;
                    };
                    let frame = Frame::decode(&bytes).expect("a valid frame");
                    let sent: [u8; 8] = frame.payload().as_ref().try_into().expect("8 bytes");
                    let delay = micros(base).saturating_sub(u64::from_le_bytes(sent));
                    worst_delay.fetch_max(delay, Ordering::Relaxed);
                    received.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    // Events at 50/s from a thread of their own, for the whole test.
    let publishing = Arc::new(AtomicBool::new(true));
    let publisher = {
        let publisher = node.publisher.clone();
        let publishing = publishing.clone();
        std::thread::spawn(move || {
            let path = EventPath::parse("/on/blocks:b/accepted").expect("valid");
            let mut published = 0u64;
            while publishing.load(Ordering::Relaxed) {
                let event = Event::new(
                    path.clone(),
                    "application/octet-stream",
                    Bytes::copy_from_slice(&micros(base).to_le_bytes()),
                );
                published += publisher.publish(&event).expect("published").receivers as u64;
                std::thread::sleep(Duration::from_millis(1000 / EVENTS_PER_SECOND));
            }
            published
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    // More blocking dispatches at once than the machine has cores.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let proofs: Vec<_> = (0..cores + 2)
        .map(|_| {
            tokio::spawn(async move {
                let started = Instant::now();
                let answer = http(addr, Method::POST, "/on/prover/prove", &[], b"").await;
                (answer, started.elapsed())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // While they block: other dispatches and subscribes answer at once.
    let late = Client::connect(&format!("ws://{addr}/on")).await;
    for _ in 0..5 {
        let started = Instant::now();
        let info = http(addr, Method::POST, "/on/node/info", &[], b"").await;
        assert_eq!(info.status, StatusCode::OK);
        let subscribe = http(
            addr,
            Method::GET,
            "/on/blocks:other/accepted",
            &[("rusk-session-id", &late.session_text)],
            b"",
        )
        .await;
        assert_eq!(subscribe.status, StatusCode::OK);
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(1),
            "a dispatch and a subscribe took {took:?} beside blocking handlers"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    for proof in proofs {
        let (answer, took) = proof.await.expect("no panic");
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body.as_ref(), b"proof");
        assert!(took >= BLOCKING_FOR, "a proof took only {took:?}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    publishing.store(false, Ordering::Relaxed);
    let published = publisher.join().expect("no panic");
    let deadline = Instant::now() + Duration::from_secs(5);
    while received.load(Ordering::Relaxed) < published && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        received.load(Ordering::Relaxed),
        published,
        "every event reached every session"
    );
    let worst = Duration::from_micros(worst_delay.load(Ordering::Relaxed));
    assert!(
        worst < Duration::from_secs(1),
        "an event was delayed by {worst:?} beside blocking handlers"
    );
    drop(late);
    drop(node);
    for reader in readers {
        let _ = reader.await;
    }
}

#[tokio::test]
async fn a_blocking_call_beyond_the_bound_waits_then_gets_503() {
    let server = TestServer::builder()
        .registry(registry())
        .transport(|transport| transport.with_blocking_calls(1, Duration::from_millis(200)))
        .start()
        .await;
    let addr = server.addr;
    let first =
        tokio::spawn(async move { http(addr, Method::POST, "/on/prover/prove", &[], b"").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = http(addr, Method::POST, "/on/prover/prove", &[], b"").await;
    second.assert_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "all 1 slots for slow handlers",
    );
    assert_eq!(first.await.expect("no panic").status, StatusCode::OK);
}

/// The `nice` value of the calling thread, from `/proc/thread-self/stat`
/// (field 19, counted past the parenthesised command name, which may hold
/// spaces).
#[cfg(target_os = "linux")]
fn thread_nice() -> i32 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("procfs");
    let after_name = &stat[stat.rfind(')').expect("a command name") + 1..];
    after_name
        .split_whitespace()
        .nth(16)
        .and_then(|nice| nice.parse().ok())
        .expect("a nice field")
}

/// Blocking handlers run 10 `nice` steps below the node's threads by
/// default (so CPU-heavy handlers leave the CPU to event delivery), and at
/// the node's level when configured so.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn blocking_handlers_run_below_the_node_priority() {
    let registry = || {
        Registry::new().with(
            ComponentSpec::new(Component::new("thread").expect("valid"))
                .entity(EntityRule::Forbidden)
                .blocking_handler(Topic::new("nice").expect("valid"), |_request| {
                    Ok(Reply::Text(thread_nice().to_string()))
                }),
        )
    };
    let own = thread_nice();
    for (nice, expected) in [(None, (own + 10).min(19)), (Some(0), own)] {
        let server = TestServer::builder()
            .registry(registry())
            .transport(|transport| match nice {
                Some(nice) => transport.with_blocking_nice(nice),
                None => transport,
            })
            .start()
            .await;
        let answer = server.http(Method::POST, "/on/thread/nice", &[], b"").await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(String::from_utf8_lossy(&answer.body), expected.to_string());
    }
}

/// A handler registered with a bound of its own runs at most that many
/// calls at once (the next waits, then gets 503), while the pool's other
/// slots still serve every other blocking handler.
#[tokio::test]
async fn a_handler_with_its_own_bound_runs_that_many_at_once() {
    let topic = |s: &str| Topic::new(s).expect("valid");
    let registry = Registry::new().with(
        ComponentSpec::new(Component::new("work").expect("valid"))
            .entity(EntityRule::Forbidden)
            .blocking_handler_at_most(topic("heavy"), 1, |_request| {
                std::thread::sleep(Duration::from_secs(1));
                Ok(Reply::Text("done".into()))
            })
            .blocking_handler(topic("light"), |_request| Ok(Reply::Text("done".into()))),
    );
    let server = TestServer::builder()
        .registry(registry)
        .transport(|transport| transport.with_blocking_calls(16, Duration::from_millis(300)))
        .start()
        .await;
    let addr = server.addr;
    let first =
        tokio::spawn(async move { http(addr, Method::POST, "/on/work/heavy", &[], b"").await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = http(addr, Method::POST, "/on/work/heavy", &[], b"").await;
    second.assert_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "all 1 slots for slow handlers",
    );
    let light = http(addr, Method::POST, "/on/work/light", &[], b"").await;
    assert_eq!(light.status, StatusCode::OK);
    assert_eq!(first.await.expect("no panic").status, StatusCode::OK);
    // Its slot is free again.
    let third = http(addr, Method::POST, "/on/work/heavy", &[], b"").await;
    assert_eq!(third.status, StatusCode::OK);
}
