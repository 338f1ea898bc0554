//! docs/protocol.md §6 delivery semantics: who receives an event, how often, in
//! which order, and in which frame.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use bytes::Bytes;
use http::StatusCode;
use rues_core::{CloseReason, Event, SocketEnd, Transmit};
use rues_target::EventPath;

use crate::harness::{Harness, assert_empty};

fn event(path: &str, payload: &'static [u8]) -> Event {
    Event::new(
        EventPath::parse(path).expect("valid path"),
        "application/json",
        Bytes::from_static(payload),
    )
}

#[test]
fn wildcard_receives_every_entity_and_entity_only_its_own() {
    let mut h = Harness::new();
    let (all, only_a, only_b) = (h.open(), h.open(), h.open());
    assert_empty(&h.get(all, "/on/blocks/accepted"), StatusCode::OK);
    assert_empty(&h.get(only_a, "/on/blocks:a/accepted"), StatusCode::OK);
    assert_empty(&h.get(only_b, "/on/blocks:b/accepted"), StatusCode::OK);

    assert_eq!(
        h.node
            .publish(&event("/on/blocks:a/accepted", b"1"))
            .expect("published")
            .receivers,
        2
    );
    assert_eq!(
        h.node
            .publish(&event("/on/blocks:b/accepted", b"2"))
            .expect("published")
            .receivers,
        2
    );
    assert_eq!(
        h.node
            .publish(&event("/on/blocks:c/accepted", b"3"))
            .expect("published")
            .receivers,
        1
    );
    // Another topic or component reaches nobody.
    assert_eq!(
        h.node
            .publish(&event("/on/blocks:a/statechange", b"4"))
            .expect("published")
            .receivers,
        0
    );
    assert_eq!(
        h.node
            .publish(&event("/on/transactions:a/included", b"5"))
            .expect("published")
            .receivers,
        0
    );

    let payloads = |h: &mut Harness, s| -> Vec<Bytes> {
        h.frames(s)
            .into_iter()
            .map(|f| f.payload().clone())
            .collect()
    };
    assert_eq!(payloads(&mut h, all), [&b"1"[..], b"2", b"3"]);
    assert_eq!(payloads(&mut h, only_a), [&b"1"[..]]);
    assert_eq!(payloads(&mut h, only_b), [&b"2"[..]]);
}

#[test]
fn session_with_wildcard_and_exact_subscription_receives_once() {
    let mut h = Harness::new();
    let session = h.open();
    assert_empty(&h.get(session, "/on/blocks/accepted"), StatusCode::OK);
    assert_empty(&h.get(session, "/on/blocks:a/accepted"), StatusCode::OK);
    assert_eq!(
        h.node
            .publish(&event("/on/blocks:a/accepted", b"x"))
            .expect("published")
            .receivers,
        1
    );
    assert_eq!(h.frames(session).len(), 1);
}

#[test]
fn event_without_entity_reaches_only_wildcard_subscriptions() {
    let mut h = Harness::new();
    let (all, only_a) = (h.open(), h.open());
    assert_empty(&h.get(all, "/on/blocks/accepted"), StatusCode::OK);
    assert_empty(&h.get(only_a, "/on/blocks:a/accepted"), StatusCode::OK);
    assert_eq!(
        h.node
            .publish(&event("/on/blocks/accepted", b"x"))
            .expect("published")
            .receivers,
        1
    );
    assert_eq!(h.frames(all).len(), 1);
    assert!(h.frames(only_a).is_empty());
}

#[test]
fn frame_carries_the_entity_specific_location_type_and_length() {
    let mut h = Harness::new();
    let session = h.open();
    assert_empty(
        &h.get(session, "/on/contracts:c%3A1/Transfer"),
        StatusCode::OK,
    );
    let published = Event::new(
        EventPath::parse("/on/contracts:c%3A1/Transfer").expect("valid"),
        "application/octet-stream",
        Bytes::from_static(&[1, 2, 3]),
    )
    .with_header("Rusk-Origin", "abcd");
    h.node.publish(&published).expect("published");
    let frames = h.frames(session);
    let [frame] = frames.as_slice() else {
        panic!("one frame, got {}", frames.len())
    };
    // The topic is lower-cased (docs/protocol.md §3); the entity keeps its case.
    assert_eq!(
        frame.content_location(),
        Some("/on/contracts:c%3A1/transfer")
    );
    assert_eq!(frame.content_type(), Some("application/octet-stream"));
    assert_eq!(frame.content_length(), Some(3));
    assert_eq!(frame.headers().get("rusk-origin"), Some("abcd"));
    assert_eq!(frame.payload().as_ref(), [1, 2, 3]);
}

#[test]
fn wildcard_subscriber_sees_the_entity_in_content_location() {
    let mut h = Harness::new();
    let session = h.open();
    assert_empty(&h.get(session, "/on/blocks/accepted"), StatusCode::OK);
    h.node
        .publish(&event("/on/blocks:ab12/accepted", b"{}"))
        .expect("published");
    let frames = h.frames(session);
    assert_eq!(
        frames[0].content_location(),
        Some("/on/blocks:ab12/accepted")
    );
}

#[test]
fn one_encoding_is_shared_by_every_receiver() {
    let mut h = Harness::new();
    let sessions: Vec<_> = (0..5).map(|_| h.open()).collect();
    for &s in &sessions {
        assert_empty(&h.get(s, "/on/blocks/accepted"), StatusCode::OK);
    }
    h.node
        .publish(&event("/on/blocks:a/accepted", b"{}"))
        .expect("published");
    let raw: Vec<Bytes> = sessions
        .iter()
        .map(|&s| h.raw_frames(s).pop().expect("a frame"))
        .collect();
    assert!(
        raw.windows(2)
            .all(|w| w[0].as_ptr() == w[1].as_ptr() && w[0].len() == w[1].len())
    );
}

/// Counts how often the core wakes a writer.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl CountingWaker {
    /// A counter and the waker that counts into it.
    fn new() -> (Arc<Self>, Waker) {
        let wakes = Arc::new(Self::default());
        let waker = Waker::from(wakes.clone());
        (wakes, waker)
    }

    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_waiting_writer_is_woken_once_per_empty_to_non_empty_transition() {
    let mut h = Harness::new();
    let session = h.open();
    assert_empty(&h.get(session, "/on/blocks/accepted"), StatusCode::OK);
    let outbox = h.outbox(session).clone();
    let (wakes, waker) = CountingWaker::new();
    let mut cx = Context::from_waker(&waker);
    let mut out = Vec::new();
    assert_eq!(
        outbox.poll_next(&mut cx, usize::MAX, &mut out),
        Poll::Pending
    );
    for _ in 0..3 {
        h.node
            .publish(&event("/on/blocks:a/accepted", b"{}"))
            .expect("published");
    }
    assert_eq!(wakes.count(), 1, "one wake for three frames");
    assert_eq!(
        outbox.poll_next(&mut cx, usize::MAX, &mut out),
        Poll::Ready(Transmit::Frames(3))
    );
    assert_eq!(h.node.stats().bytes_queued, 0);
    assert_eq!(h.node.stats().frames_delivered, 3);
    assert_eq!(
        outbox.poll_next(&mut cx, usize::MAX, &mut out),
        Poll::Pending
    );
    h.node
        .publish(&event("/on/blocks:a/accepted", b"{}"))
        .expect("published");
    assert_eq!(wakes.count(), 2);
}

#[test]
fn releasing_a_session_wakes_its_writer_and_empties_its_outbox() {
    let mut h = Harness::new();
    let session = h.open();
    assert_empty(&h.get(session, "/on/blocks/accepted"), StatusCode::OK);
    h.node
        .publish(&event("/on/blocks:a/accepted", b"{}"))
        .expect("published");
    let outbox = h.outbox(session).clone();
    let mut out = Vec::new();
    assert_eq!(
        outbox.try_next(usize::MAX, &mut out),
        Some(Transmit::Frames(1))
    );
    let (wakes, waker) = CountingWaker::new();
    let mut cx = Context::from_waker(&waker);
    assert_eq!(
        outbox.poll_next(&mut cx, usize::MAX, &mut out),
        Poll::Pending
    );
    h.node
        .publish(&event("/on/blocks:a/accepted", b"{}"))
        .expect("published");
    assert_eq!(outbox.queued_bytes(), out[0].len());
    h.node.handle_closed(session, SocketEnd::Vanished);
    assert_eq!(
        outbox.queued_bytes(),
        0,
        "frames are dropped with the session"
    );
    assert_eq!(h.node.stats().bytes_queued, 0);
    assert_eq!(h.node.stats().frames_delivered, 1);
    assert_eq!(wakes.count(), 1, "the release woke it");
    assert_eq!(
        outbox.poll_next(&mut cx, usize::MAX, &mut out),
        Poll::Ready(Transmit::Close(CloseReason::Disconnected))
    );
    // Publishing again reaches nobody and wakes nobody.
    let before = wakes.count();
    let published = h
        .node
        .publish(&event("/on/blocks:a/accepted", b"{}"))
        .expect("published");
    assert_eq!(published.receivers, 0);
    assert_eq!(wakes.count(), before);
}

#[test]
fn try_next_respects_the_byte_budget_but_always_moves_one_frame() {
    let mut h = Harness::new();
    let session = h.open();
    assert_empty(&h.get(session, "/on/blocks/accepted"), StatusCode::OK);
    for _ in 0..4 {
        h.node
            .publish(&event("/on/blocks:a/accepted", b"{}"))
            .expect("published");
    }
    let outbox = h.outbox(session);
    let mut out = Vec::new();
    assert_eq!(outbox.try_next(1, &mut out), Some(Transmit::Frames(1)));
    assert_eq!(
        outbox.try_next(2 * out[0].len(), &mut out),
        Some(Transmit::Frames(2))
    );
    assert_eq!(
        outbox.try_next(usize::MAX, &mut out),
        Some(Transmit::Frames(1))
    );
    assert_eq!(outbox.try_next(usize::MAX, &mut out), None);
    assert_eq!(h.node.stats().frames_delivered, 4);
}

#[test]
fn a_writer_waiting_only_for_the_close_is_not_woken_by_frames_or_pings() {
    let mut h = Harness::new();
    let session = h.open();
    assert_empty(&h.get(session, "/on/blocks/accepted"), StatusCode::OK);
    let outbox = h.outbox(session).clone();
    let (wakes, waker) = CountingWaker::new();
    let mut cx = Context::from_waker(&waker);
    // The writer is busy writing and races the write against the close.
    assert_eq!(outbox.poll_closed(&mut cx), Poll::Pending);
    h.node
        .publish(&event("/on/blocks:a/accepted", b"{}"))
        .expect("published");
    h.advance(std::time::Duration::from_secs(30));
    assert_eq!(wakes.count(), 0);
    // Both wait for it, in the order the core gives them: ping, then frames.
    let mut out = Vec::new();
    assert_eq!(outbox.try_next(usize::MAX, &mut out), Some(Transmit::Ping));
    assert_eq!(
        outbox.try_next(usize::MAX, &mut out),
        Some(Transmit::Frames(1))
    );
    assert_eq!(outbox.poll_closed(&mut cx), Poll::Pending);
    h.node.shutdown();
    assert_eq!(wakes.count(), 1);
    assert_eq!(
        outbox.poll_closed(&mut cx),
        Poll::Ready(CloseReason::Shutdown)
    );
}

#[test]
fn a_due_ping_wakes_a_waiting_writer() {
    let mut h = Harness::new();
    let session = h.open();
    let outbox = h.outbox(session).clone();
    let (wakes, waker) = CountingWaker::new();
    let mut cx = Context::from_waker(&waker);
    let mut out = Vec::new();
    assert_eq!(
        outbox.poll_next(&mut cx, usize::MAX, &mut out),
        Poll::Pending
    );
    h.advance(std::time::Duration::from_secs(30));
    assert_eq!(wakes.count(), 1);
    assert_eq!(
        outbox.poll_next(&mut cx, usize::MAX, &mut out),
        Poll::Ready(Transmit::Ping)
    );
    assert_eq!(
        outbox.poll_next(&mut cx, usize::MAX, &mut out),
        Poll::Pending
    );
}

#[test]
fn oversized_event_headers_are_an_encode_error_and_reach_nobody() {
    let mut h = Harness::with_config(|c| {
        let mut limits = rues_core::Limits::default();
        limits.max_event_header = 100;
        c.with_limits(limits)
    });
    let session = h.open();
    assert_empty(&h.get(session, "/on/blocks/accepted"), StatusCode::OK);
    let big = event("/on/blocks:a/accepted", b"{}").with_header("X-Big", "x".repeat(200));
    assert!(h.node.publish(&big).is_err());
    assert!(h.frames(session).is_empty());
    assert_eq!(h.node.stats().events_published, 0);
}
