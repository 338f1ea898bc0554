//! The node lock's ceiling: how many requests and publishes per second one
//! `Node` behind one mutex admits, with 1, 2 and 4 threads contending.
//!
//! rues-warp keeps its node in a `std::sync::Mutex` and takes it for each
//! call into the core, never across an `.await`: an HTTP subscribe or
//! unsubscribe is one `handle_request` under the lock, a publish one
//! `publish` under the lock, and each session's task drains its own outbox
//! without it. These benchmarks take the lock the same way, with the same
//! poison handling, from plain threads, so what they measure is the core's
//! work under the lock plus the lock's hand-over between threads: the
//! most the node admits whatever the runtime around it does.
//!
//! - `node_lock_requests/threads/T`: each thread subscribes one session of
//!   its own to an entity topic and unsubscribes it again, one request
//!   per lock, on a node that also holds 10 000 other subscriptions;
//! - `node_lock_publishes/threads/T`: each thread publishes 256-byte events
//!   to an entity topic that one session of its own subscribes, and takes
//!   each frame out of that session's outbox after the lock is released,
//!   as the session's writer would.
//!
//! Throughput is per operation over all threads together: the reported
//! elements/s is the node's aggregate rate. See docs/benchmarks.md, "The
//! node lock's ceiling".

mod common;

use std::hint::black_box;
use std::sync::{Arc, Barrier, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use http::{HeaderMap, Method};
use rues_core::{Event, Node, Outbox};
use rues_target::EventPath;

/// The thread counts contending for the lock.
const THREADS: [usize; 3] = [1, 2, 4];
/// Subscriptions of other sessions in the index, so lookups are not
/// measured on an empty map.
const OTHERS: usize = 10_000;

/// Locks the node as rues-warp's `Shared::node` does: a poisoned lock is
/// taken over.
fn lock(node: &Mutex<Node>) -> MutexGuard<'_, Node> {
    node.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A node for [`OTHERS`] sessions and the contending ones, any number
/// from one client.
fn node() -> Node {
    common::node("bench", "tick", OTHERS + 64, |mut config| {
        config.limits.max_sessions_per_client = 0;
        config
    })
}

/// Opens a session; returns the headers that name it and its outbox.
fn open(node: &mut Node, now: Instant) -> (HeaderMap, Outbox) {
    let (headers, session) = common::open(node, now);
    (headers, session.outbox)
}

/// One request under the lock, as rues-warp's route takes it; checks
/// (in debug builds, as `cargo test --benches` runs it) that it succeeded.
fn request(node: &Mutex<Node>, method: &Method, path: &str, headers: &HeaderMap) {
    let decision = lock(node).handle_request(method, path, headers);
    let succeeded = common::succeeded(decision);
    debug_assert!(succeeded);
}

/// A node with [`OTHERS`] subscriptions of other sessions, and a session
/// per contending thread.
fn shared_node(threads: usize) -> (Arc<Mutex<Node>>, Vec<(HeaderMap, Outbox)>) {
    let now = Instant::now();
    let mut node = node();
    for i in 0..OTHERS {
        let (headers, _outbox) = open(&mut node, now);
        let path = format!("/on/bench:other-{i}/tick");
        assert!(common::succeeded(node.handle_request(
            &Method::GET,
            &path,
            &headers
        )));
    }
    let sessions = (0..threads).map(|_| open(&mut node, now)).collect();
    (Arc::new(Mutex::new(node)), sessions)
}

/// Runs `work(thread, operations)` on `threads` threads started together,
/// at least `iters` operations in all, each thread's a multiple of `unit`;
/// returns the wall time from the start to the last thread's end, scaled
/// to `iters` operations.
fn contend<F>(threads: usize, iters: u64, unit: u64, work: F) -> Duration
where
    F: Fn(usize, u64) + Sync,
{
    let start = Barrier::new(threads + 1);
    let per_thread = iters.div_ceil(threads as u64).next_multiple_of(unit);
    let done = per_thread * threads as u64;
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let (start, work) = (&start, &work);
            scope.spawn(move || {
                start.wait();
                work(thread, per_thread);
            });
        }
        start.wait();
        let began = Instant::now();
        // The scope joins every thread before it returns.
        began
    })
    .elapsed()
    .mul_f64(iters as f64 / done as f64)
}

fn requests(c: &mut Criterion) {
    let mut group = c.benchmark_group("node_lock_requests");
    group.throughput(Throughput::Elements(1));
    for threads in THREADS {
        let (node, sessions) = shared_node(threads);
        let paths: Vec<String> = (0..threads)
            .map(|t| format!("/on/bench:thread-{t}/tick"))
            .collect();
        group.bench_with_input(BenchmarkId::new("threads", threads), &threads, |b, _| {
            b.iter_custom(|iters| {
                // Pairs, so each sample leaves the session unsubscribed.
                contend(threads, iters, 2, |thread, operations| {
                    let (headers, _) = &sessions[thread];
                    let path = &paths[thread];
                    for _ in 0..operations / 2 {
                        request(&node, &Method::GET, path, headers);
                        request(&node, &Method::DELETE, path, headers);
                    }
                })
            });
        });
    }
    group.finish();
}

fn publishes(c: &mut Criterion) {
    let mut group = c.benchmark_group("node_lock_publishes");
    group.throughput(Throughput::Elements(1));
    let payload = Bytes::from(vec![b'x'; 256]);
    for threads in THREADS {
        let (node, sessions) = shared_node(threads);
        let events: Vec<Event> = (0..threads)
            .map(|t| {
                let path = format!("/on/bench:publisher-{t}/tick");
                request(&node, &Method::GET, &path, &sessions[t].0);
                Event::new(
                    EventPath::parse(&path).expect("valid"),
                    "application/octet-stream",
                    payload.clone(),
                )
            })
            .collect();
        group.bench_with_input(BenchmarkId::new("threads", threads), &threads, |b, _| {
            b.iter_custom(|iters| {
                contend(threads, iters, 1, |thread, operations| {
                    let event = &events[thread];
                    let outbox = &sessions[thread].1;
                    let mut frames = Vec::new();
                    for _ in 0..operations {
                        let published = lock(&node).publish(black_box(event)).expect("published");
                        debug_assert_eq!(published.receivers, 1);
                        // The session's writer, off the lock.
                        black_box(outbox.try_next(usize::MAX, &mut frames));
                        frames.clear();
                    }
                })
            });
        });
    }
    group.finish();
}

criterion_group!(benches, requests, publishes);
criterion_main!(benches);
