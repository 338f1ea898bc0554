//! Resume after reconnect (docs/protocol.md, "Resume"): numbers and epoch
//! in every frame, the bounded history, and `Rues-Resume` on a subscribe.

use bytes::Bytes;
use http::{Method, StatusCode};
use rues_core::{
    Config, Event, HistoryLimits, Limits, Node, Position, Response, ResumeResult, SeededIds,
    SessionId, SocketEnd,
};
use rues_target::EventPath;
use rues_wire::Frame;

use crate::harness::{Harness, NODE_VERSION, assert_error, header, registry};

pub(crate) fn publish(h: &mut Harness, at: &str, payload: u64) -> u64 {
    let event = Event::new(
        EventPath::parse(at).expect("valid path"),
        "application/octet-stream",
        Bytes::copy_from_slice(&payload.to_le_bytes()),
    );
    h.node.publish(&event).expect("published").seq
}

/// A subscribe with `Rues-Resume: value`.
pub(crate) fn resume(h: &mut Harness, session: SessionId, path: &str, value: &str) -> Response {
    let id = session.to_string();
    h.request(
        Method::GET,
        path,
        &[("rusk-session-id", &id), ("rues-resume", value)],
        b"",
    )
}

/// The `Rues-Resume-Result` of a response, parsed.
pub(crate) fn result(response: &Response) -> ResumeResult {
    assert_eq!(response.status(), StatusCode::OK, "{response:?}");
    header(response, "rues-resume-result")
        .expect("a Rues-Resume-Result")
        .parse()
        .expect("well-formed")
}

/// (seq, payload) of every frame queued for `session`.
pub(crate) fn received(h: &Harness, session: SessionId) -> Vec<(u64, u64)> {
    h.frames(session)
        .iter()
        .map(|frame| {
            let position = frame.position().expect("valid").expect("numbered");
            let payload: [u8; 8] = frame.payload().as_ref().try_into().expect("8 bytes");
            (position.seq, u64::from_le_bytes(payload))
        })
        .collect()
}

fn at(h: &Harness, seq: u64) -> String {
    Position::new(h.node.epoch(), seq).to_string()
}

fn with_history(history: HistoryLimits) -> Harness {
    Harness::with_config(|config| config.with_history(history))
}

#[test]
fn every_frame_carries_its_streams_number_and_the_node_epoch() {
    let mut h = Harness::new();
    let s = h.open();
    for path in ["/on/blocks/accepted", "/on/blocks/statechange"] {
        assert_eq!(h.get(s, path).status(), StatusCode::OK);
    }
    publish(&mut h, "/on/blocks:a/accepted", 0);
    publish(&mut h, "/on/blocks/accepted", 1);
    publish(&mut h, "/on/blocks:b/statechange", 2);
    publish(&mut h, "/on/blocks:b/accepted", 3);
    let frames = h.frames(s);
    let numbers: Vec<(String, u64)> = frames
        .iter()
        .map(|f| {
            let position = f.position().expect("valid").expect("numbered");
            assert_eq!(position.epoch, h.node.epoch());
            (
                f.content_location().expect("located").to_owned(),
                position.seq,
            )
        })
        .collect();
    assert_eq!(
        numbers,
        [
            ("/on/blocks:a/accepted".to_owned(), 1),
            ("/on/blocks/accepted".to_owned(), 2),
            ("/on/blocks:b/statechange".to_owned(), 1),
            ("/on/blocks:b/accepted".to_owned(), 3),
        ]
    );
    // The headers as the wire carries them: 16 lowercase hex, decimal.
    let epoch = frames[0].headers().get("rues-epoch").expect("epoch");
    assert_eq!(epoch.len(), 16);
    assert!(
        epoch
            .bytes()
            .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
    );
    assert_eq!(frames[3].headers().get("rues-seq"), Some("3"));
}

#[test]
fn an_application_header_cannot_stand_in_for_the_number() {
    let mut h = Harness::new();
    let s = h.open();
    h.get(s, "/on/blocks/accepted");
    let event = Event::new(
        EventPath::parse("/on/blocks/accepted").expect("valid"),
        "text/plain",
        Bytes::from_static(b"x"),
    )
    .with_header("Rues-Seq", "99")
    .with_header("rues-epoch", "ffffffffffffffff");
    h.node.publish(&event).expect("published");
    let frame = h.frames(s).remove(0);
    assert_eq!(frame.position(), Ok(Some(Position::new(h.node.epoch(), 1))));
}

#[test]
fn each_node_has_its_own_epoch() {
    let config = || Config::new(NODE_VERSION.parse().expect("valid"));
    let one = Node::new(config(), registry(), SeededIds::new(1));
    let two = Node::new(config(), registry(), SeededIds::new(2));
    assert_ne!(one.epoch(), two.epoch());
}

#[test]
fn resume_within_the_history_replays_before_live_events_and_is_complete() {
    let mut h = Harness::new();
    let old = h.open();
    h.get(old, "/on/blocks/accepted");
    for payload in 0..3 {
        publish(&mut h, "/on/blocks:a/accepted", payload);
    }
    assert_eq!(received(&h, old), [(1, 0), (2, 1), (3, 2)]);
    h.node.handle_closed(old, SocketEnd::Vanished);
    publish(&mut h, "/on/blocks:b/accepted", 3);
    publish(&mut h, "/on/blocks/accepted", 4);

    let new = h.open();
    let from = at(&h, 3);
    let response = resume(&mut h, new, "/on/blocks/accepted", &from);
    assert_eq!(result(&response), ResumeResult::Complete { replayed: 2 });
    publish(&mut h, "/on/blocks:a/accepted", 5);
    assert_eq!(received(&h, new), [(4, 3), (5, 4), (6, 5)]);
    let stats = h.node.stats();
    assert_eq!((stats.frames_replayed, stats.resumes_complete), (2, 1));
}

#[test]
fn events_published_after_the_replay_is_queued_follow_it_once() {
    let mut h = Harness::new();
    for payload in 0..4 {
        publish(&mut h, "/on/blocks:a/accepted", payload);
    }
    let s = h.open();
    let from = at(&h, 1);
    let response = resume(&mut h, s, "/on/blocks:a/accepted", &from);
    assert_eq!(result(&response), ResumeResult::Complete { replayed: 3 });
    // Nothing drained yet: live events queue behind the replay.
    publish(&mut h, "/on/blocks:a/accepted", 4);
    let again = resume(&mut h, s, "/on/blocks:a/accepted", &from);
    assert_eq!(
        result(&again),
        ResumeResult::Complete { replayed: 0 },
        "held since 1: nothing missed, nothing queued twice"
    );
    publish(&mut h, "/on/blocks:a/accepted", 5);
    assert_eq!(received(&h, s), [(2, 1), (3, 2), (4, 3), (5, 4), (6, 5)]);
}

#[test]
fn resume_past_the_history_is_a_gap_with_the_lost_range() {
    let mut h = with_history(HistoryLimits::default().per_stream(3, 1 << 20));
    for payload in 0..10 {
        publish(&mut h, "/on/blocks/accepted", payload);
    }
    let s = h.open();
    let from = at(&h, 2);
    let response = resume(&mut h, s, "/on/blocks/accepted", &from);
    assert_eq!(
        result(&response),
        ResumeResult::Gap {
            replayed: 3,
            first_lost: 3,
            last_lost: 7
        }
    );
    assert_eq!(received(&h, s), [(8, 7), (9, 8), (10, 9)]);
    assert_eq!(h.node.stats().resumes_gap, 1);
}

#[test]
fn history_off_numbers_events_and_every_replay_is_a_gap() {
    let mut h = with_history(HistoryLimits::off());
    publish(&mut h, "/on/blocks/accepted", 0);
    publish(&mut h, "/on/blocks/accepted", 1);
    let s = h.open();
    let from = at(&h, 0);
    assert_eq!(
        result(&resume(&mut h, s, "/on/blocks/accepted", &from)),
        ResumeResult::Gap {
            replayed: 0,
            first_lost: 1,
            last_lost: 2
        }
    );
    let up_to_date = at(&h, 2);
    let t = h.open();
    assert_eq!(
        result(&resume(&mut h, t, "/on/blocks/accepted", &up_to_date)),
        ResumeResult::Complete { replayed: 0 }
    );
    assert_eq!(h.node.stats().history_events, 0);
}

#[test]
fn resume_on_an_entity_replays_only_that_entity() {
    let mut h = Harness::new();
    for (entity, payload) in [("a", 0), ("b", 1), ("a", 2), ("c", 3), ("a", 4)] {
        publish(&mut h, &format!("/on/blocks:{entity}/accepted"), payload);
    }
    let s = h.open();
    let from = at(&h, 1);
    let response = resume(&mut h, s, "/on/blocks:a/accepted", &from);
    assert_eq!(result(&response), ResumeResult::Complete { replayed: 2 });
    assert_eq!(received(&h, s), [(3, 2), (5, 4)]);
}

#[test]
fn a_gap_on_an_entity_names_the_streams_lost_numbers() {
    let mut h = with_history(HistoryLimits::default().per_stream(2, 1 << 20));
    for (entity, payload) in [("a", 0), ("b", 1), ("b", 2), ("a", 3), ("b", 4)] {
        publish(&mut h, &format!("/on/blocks:{entity}/accepted"), payload);
    }
    let s = h.open();
    let from = at(&h, 1);
    assert_eq!(
        result(&resume(&mut h, s, "/on/blocks:a/accepted", &from)),
        ResumeResult::Gap {
            replayed: 1,
            first_lost: 2,
            last_lost: 3
        }
    );
    assert_eq!(received(&h, s), [(4, 3)]);
}

#[test]
fn another_epoch_or_an_unknown_number_is_a_reset_that_replays_nothing() {
    let mut h = Harness::new();
    publish(&mut h, "/on/blocks/accepted", 0);
    let other = Position::new(rues_core::Epoch::new(h.node.epoch().get() ^ 1), 0).to_string();
    let ahead = at(&h, 100);
    for value in [other.as_str(), ahead.as_str()] {
        let s = h.open();
        let response = resume(&mut h, s, "/on/blocks/accepted", value);
        assert_eq!(result(&response), ResumeResult::Reset, "{value}");
        publish(&mut h, "/on/blocks/accepted", 1);
        let live = received(&h, s);
        assert_eq!(live.len(), 1, "subscribed, live only: {live:?}");
    }
    // A stream nothing was ever published on: only 0 is a position.
    let s = h.open();
    let zero = at(&h, 0);
    let one = at(&h, 1);
    assert_eq!(
        result(&resume(&mut h, s, "/on/blocks/statechange", &zero)),
        ResumeResult::Complete { replayed: 0 }
    );
    assert_eq!(
        result(&resume(&mut h, s, "/on/transactions/included", &one)),
        ResumeResult::Reset
    );
    assert_eq!(h.node.stats().resumes_reset, 3);
}

#[test]
fn a_malformed_resume_is_400_and_subscribes_nothing() {
    let mut h = Harness::new();
    let s = h.open();
    let epoch = h.node.epoch().to_string();
    let cases = [
        (String::new(), "empty"),
        ("12".to_owned(), "colon"),
        ("abc:1".to_owned(), "16 hexadecimal"),
        (format!("{}:1", "g".repeat(16)), "not hexadecimal"),
        (format!("{epoch}:"), "decimal"),
        (format!("{epoch}:-1"), "decimal"),
        (format!("{epoch}:1 2"), "decimal"),
        (format!("{epoch}:18446744073709551616"), "64 bits"),
    ];
    for (value, says) in &cases {
        let response = resume(&mut h, s, "/on/blocks/accepted", value);
        assert_error(&response, StatusCode::BAD_REQUEST, says);
        assert_error(&response, StatusCode::BAD_REQUEST, "Rues-Resume");
    }
    let id = s.to_string();
    let twice = h.request(
        Method::GET,
        "/on/blocks/accepted",
        &[
            ("rusk-session-id", &id),
            ("rues-resume", &format!("{epoch}:1")),
            ("rues-resume", &format!("{epoch}:2")),
        ],
        b"",
    );
    assert_error(&twice, StatusCode::BAD_REQUEST, "more than once");
    assert_eq!(h.node.subscriptions(s).count(), 0);
    // An unsubscribe ignores it.
    h.get(s, "/on/blocks/accepted");
    let response = h.request(
        Method::DELETE,
        "/on/blocks/accepted",
        &[("rusk-session-id", &id), ("rues-resume", "x")],
        b"",
    );
    assert_eq!(response.status(), StatusCode::OK);
}

#[test]
fn a_replay_over_the_queue_budget_is_a_gap_never_a_4008() {
    let mut h = Harness::with_config(|config| {
        let mut limits = Limits::default();
        limits.max_queue_bytes = 1000;
        config.with_limits(limits)
    });
    let mut frame_len = 0;
    for payload in 0..20 {
        let event = Event::new(
            EventPath::parse("/on/blocks/accepted").expect("valid"),
            "application/octet-stream",
            Bytes::copy_from_slice(&u64::to_le_bytes(payload)),
        );
        frame_len = h.node.publish(&event).expect("published").frame_len;
    }
    let fit = (1000 / frame_len) as u64;
    assert!(fit < 20, "the test needs a replay over the budget");
    let s = h.open();
    let from = at(&h, 0);
    assert_eq!(
        result(&resume(&mut h, s, "/on/blocks/accepted", &from)),
        ResumeResult::Gap {
            replayed: fit,
            first_lost: 1,
            last_lost: 20 - fit
        }
    );
    assert!(h.node.is_open(s));
    let seqs: Vec<u64> = received(&h, s).iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, (21 - fit..=20).collect::<Vec<_>>());
}

#[test]
fn a_replay_to_a_session_with_a_full_queue_takes_nothing_and_says_so() {
    let mut h = Harness::with_config(|config| {
        let mut limits = Limits::default();
        limits.max_queue_bytes = 200;
        config.with_limits(limits)
    });
    let s = h.open();
    h.get(s, "/on/blocks/statechange");
    publish(&mut h, "/on/blocks/accepted", 0);
    publish(&mut h, "/on/blocks/statechange", 1);
    let from = at(&h, 0);
    let queued = h.outbox(s).queued_bytes();
    assert!(
        queued > 0 && 2 * queued > 200,
        "one more frame does not fit"
    );
    let response = resume(&mut h, s, "/on/blocks/accepted", &from);
    assert_eq!(
        result(&response),
        ResumeResult::Gap {
            replayed: 0,
            first_lost: 1,
            last_lost: 1
        }
    );
    let replayed = 0;
    assert_eq!(received(&h, s).len() as u64, 1 + replayed);
    assert!(h.node.is_open(s));
}

#[test]
fn overlapping_subscriptions_never_queue_an_event_twice() {
    let mut h = Harness::new();
    for (entity, payload) in [("a", 0), ("b", 1), ("a", 2)] {
        publish(&mut h, &format!("/on/blocks:{entity}/accepted"), payload);
    }
    let s = h.open();
    let from = at(&h, 0);
    assert_eq!(
        result(&resume(&mut h, s, "/on/blocks/accepted", &from)),
        ResumeResult::Complete { replayed: 3 }
    );
    assert_eq!(
        result(&resume(&mut h, s, "/on/blocks:a/accepted", &from)),
        ResumeResult::Complete { replayed: 0 },
        "the wildcard delivered every event of a"
    );
    publish(&mut h, "/on/blocks:a/accepted", 3);
    assert_eq!(received(&h, s), [(1, 0), (2, 1), (3, 2), (4, 3)]);
}

#[test]
fn entities_of_one_stream_resume_side_by_side_while_numbers_grow() {
    let mut h = Harness::new();
    for (entity, payload) in [("b", 0), ("a", 1), ("b", 2), ("a", 3), ("b", 4)] {
        publish(&mut h, &format!("/on/blocks:{entity}/accepted"), payload);
    }
    let s = h.open();
    let from = at(&h, 0);
    assert_eq!(
        result(&resume(&mut h, s, "/on/blocks:a/accepted", &from)),
        ResumeResult::Complete { replayed: 2 }
    );
    // b's 1 and 3 lie under a's 4, already queued: replaying them would
    // make the stream's numbers go back, so they are reported lost; b's 5
    // follows.
    assert_eq!(
        result(&resume(&mut h, s, "/on/blocks:b/accepted", &from)),
        ResumeResult::Gap {
            replayed: 1,
            first_lost: 1,
            last_lost: 3
        }
    );
    assert_eq!(received(&h, s), [(2, 1), (4, 3), (5, 4)]);
}

#[test]
fn resume_on_a_held_subscription_reports_what_it_missed() {
    let mut h = Harness::new();
    for payload in 0..3 {
        publish(&mut h, "/on/blocks/accepted", payload);
    }
    let s = h.open();
    h.get(s, "/on/blocks/accepted");
    publish(&mut h, "/on/blocks/accepted", 3);
    let from = at(&h, 1);
    assert_eq!(
        result(&resume(&mut h, s, "/on/blocks/accepted", &from)),
        ResumeResult::Gap {
            replayed: 0,
            first_lost: 2,
            last_lost: 3
        }
    );
    assert_eq!(received(&h, s), [(4, 3)]);
}

#[test]
fn resubscribing_after_an_unsubscribe_never_queues_an_event_twice() {
    let mut h = Harness::new();
    let s = h.open();
    h.get(s, "/on/blocks/accepted");
    publish(&mut h, "/on/blocks/accepted", 0);
    publish(&mut h, "/on/blocks/accepted", 1);
    h.delete(s, "/on/blocks/accepted");
    publish(&mut h, "/on/blocks/accepted", 2);
    let from = at(&h, 0);
    let response = resume(&mut h, s, "/on/blocks/accepted", &from);
    // 1 and 2 may be in the queue already: not replayed, and reported
    // since the node cannot tell; 3 was missed and is replayed.
    assert_eq!(
        result(&response),
        ResumeResult::Gap {
            replayed: 1,
            first_lost: 1,
            last_lost: 2
        }
    );
    assert_eq!(received(&h, s), [(1, 0), (2, 1), (3, 2)]);
}

#[test]
fn the_history_is_accounted_and_bounded_node_wide() {
    let mut h = with_history(HistoryLimits::default().total(1000));
    let mut lens = Vec::new();
    for payload in 0..30 {
        let path = if payload % 2 == 0 {
            "/on/blocks:a/accepted"
        } else {
            "/on/transactions:t/included"
        };
        let event = Event::new(
            EventPath::parse(path).expect("valid"),
            "application/octet-stream",
            Bytes::copy_from_slice(&u64::to_le_bytes(payload)),
        );
        lens.push(h.node.publish(&event).expect("published").frame_len);
    }
    let stats = h.node.stats();
    assert!(stats.history_bytes <= 1000);
    // The newest events are kept, the oldest went first.
    let kept: usize = lens.iter().rev().take(stats.history_events).sum();
    assert_eq!(stats.history_bytes, kept);
    assert!(kept + lens[lens.len() - 1 - stats.history_events] > 1000);
    assert_eq!(stats.history_streams, 2);
}

#[test]
fn browsers_may_send_rues_resume_and_read_its_result() {
    let mut h = Harness::new();
    let preflight = h.request(
        Method::OPTIONS,
        "/on/blocks/accepted",
        &[
            ("origin", "https://wallet.example"),
            ("access-control-request-method", "GET"),
        ],
        b"",
    );
    let allowed = header(&preflight, "access-control-allow-headers").expect("allowed");
    assert!(allowed.contains("Rues-Resume"), "{allowed}");
    let s = h.open();
    let id = s.to_string();
    let from = at(&h, 0);
    let response = h.request(
        Method::GET,
        "/on/blocks/accepted",
        &[
            ("rusk-session-id", &id),
            ("rues-resume", &from),
            ("origin", "https://wallet.example"),
        ],
        b"",
    );
    let exposed = header(&response, "access-control-expose-headers").expect("exposed");
    assert_eq!(exposed, "Rusk-Version, Content-Type, Rues-Resume-Result");
}

#[test]
fn the_frame_position_parser_reports_a_broken_number() {
    // What the node sends round-trips; a frame of another sender may not.
    let broken =
        Frame::new("/on/blocks/accepted", "text/plain", Bytes::new()).with_header("Rues-Seq", "1");
    assert!(broken.position().is_err());
}
