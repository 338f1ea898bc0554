//! Publish cost against the number of unrelated subscriptions.
//!
//! One session subscribes to `blocks:target/accepted`; `others` sessions each
//! subscribe to a different entity of the same topic. Publishing to the one
//! subscriber must cost the same whether `others` is 10 or 100 000: the index
//! finds receivers without scanning (docs/protocol.md §6).
//!
//! Also: publishing one event to N wildcard subscribers, the cost that does
//! grow, linearly, with the receivers.

use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Method};
use rues_core::{
    ComponentSpec, Config, Decision, EntityRule, Event, Limits, Node, Outbox, Registry, SeededIds,
};
use rues_target::{Component, EventPath, Topic};

fn node(max_sessions: usize) -> Node {
    let registry = Registry::new().with(
        ComponentSpec::new(Component::new("blocks").expect("valid"))
            .entity(EntityRule::Optional)
            .topic(Topic::new("accepted").expect("valid")),
    );
    let mut limits = Limits::default();
    limits.max_sessions = max_sessions + 1;
    // One subscription per session here, more than the node-wide default.
    limits.max_total_subscriptions = max_sessions + 1;
    let config = Config::new("1.6.0".parse().expect("valid")).with_limits(limits);
    Node::new(config, registry, SeededIds::new(7))
}

/// Opens a session subscribed to `path`; returns its outbox.
fn subscribe(node: &mut Node, now: Instant, path: &str) -> Outbox {
    let session = node
        .handle_upgrade(now, "/on", &HeaderMap::new(), None)
        .expect("opened");
    let mut headers = HeaderMap::new();
    headers.insert(
        "rusk-session-id",
        HeaderValue::from_str(&session.id.to_string()).expect("hex"),
    );
    match node.handle_request(&Method::GET, path, &headers) {
        Decision::Respond(response) => assert!(response.status().is_success()),
        Decision::ReadBody(_) | Decision::Forward(_) => {
            unreachable!("a single node reads no body for GET")
        }
    }
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
