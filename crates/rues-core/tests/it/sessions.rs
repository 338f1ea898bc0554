//! docs/protocol.md §2 and §7: session lifetime, keep-alive, limits, slow
//! consumers, shutdown.

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use rues_core::{CloseReason, Event, Limits, SocketEnd, Transmit};
use rues_target::EventPath;
use rues_testkit::assert_holds_nothing;

use crate::harness::{Harness, assert_empty, assert_error};

fn block_event(payload_len: usize) -> Event {
    Event::new(
        EventPath::parse("/on/blocks:a/accepted").expect("valid"),
        "application/octet-stream",
        Bytes::from(vec![7u8; payload_len]),
    )
}

#[test]
fn session_ids_are_distinct_32_hex_and_die_with_the_socket() {
    let mut h = Harness::new();
    let ids: HashSet<_> = (0..1000).map(|_| h.open()).collect();
    assert_eq!(ids.len(), 1000);
    for id in &ids {
        let text = id.to_string();
        assert_eq!(text.len(), 32);
        assert!(
            text.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }
    let id = *ids.iter().next().expect("an id");
    h.node.handle_closed(id, SocketEnd::ClientClose);
    assert!(!h.node.is_open(id));
    assert_error(
        &h.get(id, "/on/blocks/accepted"),
        StatusCode::FAILED_DEPENDENCY,
        "unknown or closed",
    );
}

#[test]
fn closing_releases_subscriptions_queue_and_index_at_once() {
    let mut h = Harness::new();
    let session = h.open();
    assert_empty(&h.get(session, "/on/blocks/accepted"), StatusCode::OK);
    assert_empty(&h.get(session, "/on/blocks:a/accepted"), StatusCode::OK);
    h.node.publish(&block_event(10)).expect("published");
    assert!(h.node.stats().bytes_queued > 0);
    h.node.handle_closed(session, SocketEnd::Vanished);
    let stats = h.node.stats();
    assert_holds_nothing(&stats);
    assert_eq!(stats.closed(CloseReason::Disconnected), 1);
    assert_eq!(h.node.next_timeout(), None);
    // Closing twice is harmless and not counted twice.
    h.node.handle_closed(session, SocketEnd::Vanished);
    assert_eq!(h.node.stats().closed(CloseReason::Disconnected), 1);
    assert!(h.raw_frames(session).is_empty());
}

#[test]
fn session_limit_is_503_and_recovers_when_a_session_closes() {
    let mut h = Harness::with_config(|c| {
        let mut limits = Limits::default();
        limits.max_sessions = 2;
        c.with_limits(limits)
    });
    let first = h.open();
    h.open();
    let refused = h
        .node
        .handle_upgrade(h.now, "/on", &HeaderMap::new(), None)
        .expect_err("limit");
    assert_error(
        &refused,
        StatusCode::SERVICE_UNAVAILABLE,
        "session limit reached (2 sessions)",
    );
    h.node.handle_closed(first, SocketEnd::ClientClose);
    h.open();
}

#[test]
fn pings_every_interval_and_closes_silent_sessions_with_4001() {
    let mut h = Harness::new();
    let session = h.open();
    assert_eq!(
        h.node.next_timeout(),
        Some(h.start + Duration::from_secs(30))
    );
    h.advance(Duration::from_secs(29));
    assert_eq!(h.next(session), None);
    h.advance(Duration::from_secs(1));
    assert_eq!(h.next(session), Some(Transmit::Ping));
    h.advance(Duration::from_secs(30));
    assert_eq!(h.next(session), Some(Transmit::Ping));
    h.advance(Duration::from_secs(30));
    assert_eq!(
        h.next(session),
        Some(Transmit::Close(CloseReason::IdleTimeout))
    );
    assert_eq!(CloseReason::IdleTimeout.code(), Some(4001));
    assert!(!h.node.is_open(session));
    assert_eq!(h.node.stats().closed(CloseReason::IdleTimeout), 1);
}

#[test]
fn any_inbound_frame_keeps_a_session_alive() {
    let mut h = Harness::new();
    let (talkative, silent) = (h.open(), h.open());
    for _ in 0..10 {
        h.advance(Duration::from_secs(20));
        h.node.handle_inbound(talkative, h.now);
    }
    assert!(h.node.is_open(talkative));
    assert!(!h.node.is_open(silent));
    assert_eq!(h.close_reason(talkative), None);
    assert_eq!(h.close_reason(silent), Some(CloseReason::IdleTimeout));
}

#[test]
fn a_frame_the_websocket_layer_refuses_closes_with_the_cores_code() {
    let mut h = Harness::new();
    let cases = [
        (
            SocketEnd::FrameTooBig,
            CloseReason::MessageTooBig,
            Some(1009),
        ),
        (
            SocketEnd::ProtocolViolation,
            CloseReason::ProtocolError,
            Some(1002),
        ),
        (SocketEnd::ClientClose, CloseReason::ClientClosed, None),
        (SocketEnd::Vanished, CloseReason::Disconnected, None),
    ];
    for (end, reason, code) in cases {
        let session = h.open();
        assert_empty(&h.get(session, "/on/blocks/accepted"), StatusCode::OK);
        h.node.publish(&block_event(10)).expect("published");
        h.node.handle_closed(session, end);
        assert!(!h.node.is_open(session), "{end:?}");
        // Queued frames are dropped: the writer's next output is the close.
        assert_eq!(h.next(session), Some(Transmit::Close(reason)), "{end:?}");
        assert_eq!(reason.code(), code, "{end:?}");
        assert_eq!(h.node.stats().closed(reason), 1, "{end:?}");
    }
    assert_eq!(h.node.stats().subscriptions, 0);
}

#[test]
fn session_scoped_inputs_on_an_unknown_session_do_nothing() {
    let mut h = Harness::new();
    let session = h.open();
    h.node.handle_closed(session, SocketEnd::ClientClose);
    let before = h.node.stats();
    // The core released it; the adapter's reports can still arrive.
    h.node.handle_inbound(session, h.now);
    h.node.handle_closed(session, SocketEnd::FrameTooBig);
    let never_opened = rues_core::SessionId::from_bytes([9; 16]);
    h.node.handle_inbound(never_opened, h.now);
    h.node.handle_closed(never_opened, SocketEnd::Vanished);
    assert_eq!(h.node.stats(), before);
    // The first reason stands.
    assert_eq!(h.close_reason(session), Some(CloseReason::ClientClosed));
}

#[test]
fn slow_consumer_is_closed_with_4008_within_its_budget_and_others_keep_receiving() {
    let mut h = Harness::new();
    let (slow, fast) = (h.open(), h.open());
    assert_empty(&h.get(slow, "/on/blocks/accepted"), StatusCode::OK);
    assert_empty(&h.get(fast, "/on/blocks/accepted"), StatusCode::OK);
    let mut max_queued = 0;
    let mut published = 0;
    while h.node.is_open(slow) {
        let report = h.node.publish(&block_event(10_000)).expect("published");
        published += 1;
        max_queued = max_queued.max(h.outbox(slow).queued_bytes());
        // The fast session reads everything as it arrives.
        h.raw_frames(fast);
        assert_eq!(report.receivers + report.slow_consumers_closed, 2);
        assert!(published < 1000, "the slow consumer was never closed");
    }
    assert!(
        max_queued <= 1024 * 1024,
        "queued {max_queued} bytes, over the 1 MiB budget"
    );
    assert!(
        max_queued > 1024 * 1024 - 10_100,
        "closed early at {max_queued} bytes"
    );
    assert_eq!(
        h.next(slow),
        Some(Transmit::Close(CloseReason::SlowConsumer))
    );
    assert_eq!(CloseReason::SlowConsumer.code(), Some(4008));
    assert_eq!(h.node.stats().closed(CloseReason::SlowConsumer), 1);
    assert_eq!(h.node.stats().bytes_queued, 0);
    // The fast session is unaffected.
    assert_eq!(
        h.node
            .publish(&block_event(10))
            .expect("published")
            .receivers,
        1
    );
}

#[test]
fn an_event_larger_than_the_budget_still_reaches_an_empty_queue() {
    let mut h = Harness::new();
    let session = h.open();
    assert_empty(&h.get(session, "/on/blocks/accepted"), StatusCode::OK);
    assert_eq!(
        h.node
            .publish(&block_event(2 * 1024 * 1024))
            .expect("published")
            .receivers,
        1
    );
    assert!(h.node.is_open(session));
    // A second one while the first is unsent overflows.
    assert_eq!(
        h.node
            .publish(&block_event(10))
            .expect("published")
            .slow_consumers_closed,
        1
    );
}

#[test]
fn shutdown_closes_every_session_with_1001() {
    let mut h = Harness::new();
    let sessions: HashSet<_> = (0..3).map(|_| h.open()).collect();
    h.node.shutdown();
    for &session in &sessions {
        assert_eq!(
            h.next(session),
            Some(Transmit::Close(CloseReason::Shutdown))
        );
    }
    assert_eq!(CloseReason::Shutdown.code(), Some(1001));
    assert_eq!(h.node.stats().sessions_open, 0);
}

#[test]
fn after_shutdown_upgrades_are_503() {
    let mut h = Harness::new();
    h.node.shutdown();
    let refused = h
        .node
        .handle_upgrade(h.now, "/on", &HeaderMap::new(), None)
        .expect_err("shutting down");
    assert_error(
        &refused,
        StatusCode::SERVICE_UNAVAILABLE,
        "the node is shutting down",
    );
    assert_eq!(h.node.stats().sessions_opened, 0);
}

#[test]
fn close_reasons_have_distinct_labels_and_the_documented_codes() {
    let labels: HashSet<_> = CloseReason::ALL.iter().map(|r| r.label()).collect();
    assert_eq!(labels.len(), CloseReason::ALL.len());
    let codes: Vec<_> = CloseReason::ALL.iter().map(|r| r.code()).collect();
    assert_eq!(
        codes,
        [
            None,
            None,
            Some(1001),
            Some(1002),
            Some(1009),
            Some(1011),
            Some(4001),
            Some(4008)
        ]
    );
}
