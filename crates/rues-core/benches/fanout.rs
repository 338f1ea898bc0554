//! Publish cost against the number of unrelated subscriptions.
//!
//! One session subscribes to `blocks:target/accepted`; `others` sessions each
//! subscribe to a different entity of the same topic. Publishing to the one
//! subscriber must cost the same whether `others` is 10 or 100 000: the index
//! finds receivers without scanning (docs/protocol.md §6).
//!
//! Also: publishing one event to N wildcard subscribers, the cost that does
//! grow, linearly, with the receivers.

mod common;

use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use http::Method;
use rues_core::{Event, Node, Outbox};
use rues_target::EventPath;

/// A node for `sessions` sessions subscribed to `blocks/accepted` paths.
fn node(sessions: usize) -> Node {
    common::node("blocks", "accepted", sessions, |config| config)
}

/// Opens a session subscribed to `path`; returns its outbox.
fn subscribe(node: &mut Node, now: Instant, path: &str) -> Outbox {
    let (headers, session) = common::open(node, now);
    assert!(common::succeeded(node.handle_request(
        &Method::GET,
        path,
        &headers
    )));
    session.outbox
}

/// What a session's writer does with one event: takes it from the outbox.
fn take(outbox: &Outbox, frames: &mut Vec<Bytes>) {
    black_box(outbox.try_next(usize::MAX, frames));
    frames.clear();
}

fn publish_one_among_many(c: &mut Criterion) {
    let mut group = c.benchmark_group("publish_to_one_subscriber");
    let event = Event::new(
        EventPath::parse("/on/blocks:target/accepted").expect("valid"),
        "application/json",
        Bytes::from_static(br#"{"height":1}"#),
    );
    for others in [10usize, 10_000, 100_000] {
        let now = Instant::now();
        let mut node = node(others + 1);
        let receiver = subscribe(&mut node, now, "/on/blocks:target/accepted");
        for i in 0..others {
            subscribe(&mut node, now, &format!("/on/blocks:entity-{i}/accepted"));
        }
        let mut frames = Vec::new();
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::new("others", others), &others, |b, _| {
            b.iter(|| {
                let published = node.publish(black_box(&event)).expect("published");
                debug_assert_eq!(published.receivers, 1);
                take(&receiver, &mut frames);
            });
        });
    }
    group.finish();
}

fn publish_to_all(c: &mut Criterion) {
    let mut group = c.benchmark_group("publish_to_n_wildcard_subscribers");
    let event = Event::new(
        EventPath::parse("/on/blocks:ab12/accepted").expect("valid"),
        "application/json",
        Bytes::from(vec![b'x'; 256]),
    );
    for receivers in [100usize, 1_000, 10_000] {
        let now = Instant::now();
        let mut node = node(receivers);
        let sessions: Vec<_> = (0..receivers)
            .map(|_| subscribe(&mut node, now, "/on/blocks/accepted"))
            .collect();
        let mut frames = Vec::new();
        group.throughput(Throughput::Elements(receivers as u64));
        group.bench_with_input(
            BenchmarkId::new("receivers", receivers),
            &receivers,
            |b, _| {
                b.iter(|| {
                    node.publish(black_box(&event)).expect("published");
                    for outbox in &sessions {
                        take(outbox, &mut frames);
                    }
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, publish_one_among_many, publish_to_all);
criterion_main!(benches);
