//! What resume after reconnect costs (docs/protocol.md, "Resume").
//!
//! - `publish_history`: one event to 1 and to 1 000 wildcard subscribers,
//!   with the default history (the frame is kept, the stream's oldest
//!   dropped once it is full) and with history off (numbers only). The
//!   target is history on within 1.2x of off: keeping a frame is one
//!   reference and, at the bound, one eviction, whatever the receivers.
//! - `replay_1000`: a fresh session subscribing with `Rues-Resume` from the
//!   start of a full history of 1 000 events: the replay queued into its
//!   outbox, then taken by its writer.

mod common;

use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use http::{HeaderValue, Method};
use rues_core::{Event, HistoryLimits, NewSession, Node, Position};
use rues_target::EventPath;

fn node(history: HistoryLimits, sessions: usize) -> Node {
    common::node("blocks", "accepted", sessions, |mut config| {
        // A replay of 1 000 frames of ~400 bytes fits the queue: the bench
        // measures the replay, not the budget cut.
        config.limits.max_queue_bytes = 4 * 1024 * 1024;
        config.with_history(history)
    })
}

/// A new session, subscribed to `path` (resuming from `resume`).
fn subscribed(node: &mut Node, now: Instant, path: &str, resume: Option<&str>) -> NewSession {
    let (mut headers, session) = common::open(node, now);
    if let Some(resume) = resume {
        headers.insert("rues-resume", HeaderValue::from_str(resume).expect("text"));
    }
    assert!(common::succeeded(node.handle_request(
        &Method::GET,
        path,
        &headers
    )));
    session
}

fn event() -> Event {
    Event::new(
        EventPath::parse("/on/blocks:ab12/accepted").expect("valid"),
        "application/json",
        Bytes::from(vec![b'x'; 256]),
    )
}

fn publish_history(c: &mut Criterion) {
    let mut group = c.benchmark_group("publish_history");
    let event = event();
    for receivers in [1usize, 1_000] {
        for (name, history) in [
            ("on", HistoryLimits::default()),
            ("off", HistoryLimits::off()),
        ] {
            let now = Instant::now();
            let mut node = node(history, receivers);
            let sessions: Vec<_> = (0..receivers)
                .map(|_| subscribed(&mut node, now, "/on/blocks/accepted", None).outbox)
                .collect();
            // Fill the history first: the steady state evicts one per event.
            for _ in 0..1_000 {
                node.publish(&event).expect("published");
            }
            let mut frames = Vec::new();
            for outbox in &sessions {
                while outbox.try_next(usize::MAX, &mut frames).is_some() {}
            }
            group.throughput(Throughput::Elements(receivers as u64));
            group.bench_with_input(BenchmarkId::new(name, receivers), &receivers, |b, _| {
                b.iter(|| {
                    node.publish(black_box(&event)).expect("published");
                    for outbox in &sessions {
                        black_box(outbox.try_next(usize::MAX, &mut frames));
                        frames.clear();
                    }
                });
            });
        }
    }
    group.finish();
}

fn replay_1000(c: &mut Criterion) {
    let mut group = c.benchmark_group("replay_1000");
    let event = event();
    let mut node = node(HistoryLimits::default(), 1);
    for _ in 0..1_000 {
        node.publish(&event).expect("published");
    }
    let from = Position::new(node.epoch(), 0).to_string();
    let now = Instant::now();
    let mut frames = Vec::with_capacity(1_000);
    group.throughput(Throughput::Elements(1_000));
    group.bench_function("fresh_session", |b| {
        b.iter(|| {
            let session = subscribed(&mut node, now, "/on/blocks/accepted", Some(&from));
            black_box(session.outbox.try_next(usize::MAX, &mut frames));
            assert_eq!(frames.len(), 1_000);
            frames.clear();
            node.handle_closed(session.id, rues_core::SocketEnd::ClientClose);
        });
    });
    group.finish();
}

criterion_group!(benches, publish_history, replay_1000);
criterion_main!(benches);
