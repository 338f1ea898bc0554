//! Gap notices (docs/protocol.md §10, "Gap notices"): a number a node
//! takes for events it never had, told live to every session on the
//! stream and reported by a resume across it.

use http::StatusCode;
use rues_core::{CloseReason, HistoryLimits, Limits, PublishError, ResumeResult};
use rues_target::EventPath;

use crate::harness::Harness;
use crate::resume::{publish, received, result, resume};

fn stream(text: &str) -> EventPath {
    EventPath::parse(text).expect("valid path")
}

fn at(h: &Harness, seq: u64) -> String {
    rues_core::Position::new(h.node.epoch(), seq).to_string()
}

/// The numbers of the frames queued for `session`, a notice as `(n, true)`.
fn numbers(h: &Harness, session: rues_core::SessionId) -> Vec<(u64, bool)> {
    h.frames(session)
        .iter()
        .map(|frame| {
            let seq = frame.position().expect("valid").expect("numbered").seq;
            (seq, frame.headers().contains("rues-gap"))
        })
        .collect()
}

#[test]
fn a_notice_reaches_every_session_on_the_stream_once_and_nobody_else() {
    let mut h = Harness::new();
    // Wildcard and two entities: one notice all the same.
    let all = h.open();
    for path in [
        "/on/blocks/accepted",
        "/on/blocks:a/accepted",
        "/on/blocks:b/accepted",
    ] {
        assert_eq!(h.get(all, path).status(), StatusCode::OK);
    }
    let entity = h.open();
    assert_eq!(
        h.get(entity, "/on/blocks:c/accepted").status(),
        StatusCode::OK
    );
    let other_stream = h.open();
    assert_eq!(
        h.get(other_stream, "/on/blocks/statechange").status(),
        StatusCode::OK
    );
    let gone = h.open();
    assert_eq!(
        h.get(gone, "/on/blocks:a/accepted").status(),
        StatusCode::OK
    );
    assert_eq!(
        h.delete(gone, "/on/blocks:a/accepted").status(),
        StatusCode::OK
    );
    let nothing = h.open();

    publish(&mut h, "/on/blocks:c/accepted", 0);
    // An entity in the path names the same stream.
    let published = h
        .node
        .publish_gap(&stream("/on/blocks:z/accepted"), "upstream lost")
        .expect("published");
    assert_eq!((published.receivers, published.seq), (2, 2));
    assert_eq!(published.slow_consumers_closed, 0);
    publish(&mut h, "/on/blocks:c/accepted", 1);

    let all_raw = h.raw_frames(all);
    let entity_raw = h.raw_frames(entity);
    assert_eq!(all_raw.len(), 3, "event 1, the notice once, event 3");
    assert_eq!(entity_raw.len(), 3);
    // Encoded once: both sessions hold the same buffer.
    assert_eq!(all_raw[1].as_ptr(), entity_raw[1].as_ptr());
    assert_eq!(all_raw[1].len(), published.frame_len);
    let notice = rues_wire::Frame::decode(&all_raw[1]).expect("valid frame");
    let epoch = h.node.epoch().to_string();
    assert_eq!(
        notice.headers().iter().collect::<Vec<_>>(),
        [
            ("Content-Location", "/on/blocks/accepted"),
            ("Content-Length", "0"),
            ("Rues-Seq", "2"),
            ("Rues-Epoch", epoch.as_str()),
            ("Rues-Gap", "upstream lost"),
        ]
    );
    assert!(notice.payload().is_empty());
    for session in [other_stream, gone, nothing] {
        assert!(h.frames(session).is_empty());
    }
    let stats = h.node.stats();
    assert_eq!((stats.gaps_published, stats.events_published), (1, 2));
    assert_eq!(stats.frames_queued, 3 + 3);
}

#[test]
fn a_resume_across_a_hole_is_a_gap_of_exactly_it() {
    let mut h = Harness::new();
    publish(&mut h, "/on/blocks:a/accepted", 1);
    publish(&mut h, "/on/blocks:b/accepted", 2);
    h.node
        .publish_gap(&stream("/on/blocks/accepted"), "upstream lost")
        .expect("published");
    publish(&mut h, "/on/blocks:a/accepted", 4);
    publish(&mut h, "/on/blocks:b/accepted", 5);

    let s = h.open();
    let from = at(&h, 1);
    assert_eq!(
        result(&resume(&mut h, s, "/on/blocks/accepted", &from)),
        ResumeResult::Gap {
            replayed: 3,
            first_lost: 3,
            last_lost: 3
        }
    );
    // Events before and after the hole, in order; the notice is not replayed.
    assert_eq!(received(&h, s), [(2, 2), (4, 4), (5, 5)]);

    let s = h.open();
    let from = at(&h, 0);
    assert_eq!(
        result(&resume(&mut h, s, "/on/blocks:a/accepted", &from)),
        ResumeResult::Gap {
            replayed: 2,
            first_lost: 3,
            last_lost: 3
        },
        "a hole matches every entity"
    );
    assert_eq!(received(&h, s), [(1, 1), (4, 4)]);

    let s = h.open();
    let from = at(&h, 3);
    assert_eq!(
        result(&resume(&mut h, s, "/on/blocks/accepted", &from)),
        ResumeResult::Complete { replayed: 2 },
        "from the notice's number on nothing is lost"
    );
    // Another stream is not affected.
    publish(&mut h, "/on/blocks/statechange", 0);
    let s = h.open();
    let from = at(&h, 0);
    assert_eq!(
        result(&resume(&mut h, s, "/on/blocks/statechange", &from)),
        ResumeResult::Complete { replayed: 1 }
    );
}

#[test]
fn holes_apart_and_older_losses_widen_the_range() {
    let mut h = Harness::with_config(|config| {
        config.with_history(HistoryLimits::default().per_stream(4, 1 << 20))
    });
    let path = stream("/on/blocks/accepted");
    publish(&mut h, "/on/blocks:a/accepted", 1);
    h.node.publish_gap(&path, "a").expect("published");
    publish(&mut h, "/on/blocks:a/accepted", 3);
    h.node.publish_gap(&path, "b").expect("published");
    publish(&mut h, "/on/blocks:a/accepted", 5);

    // Kept: 2 (hole) to 5. Two holes apart: the range spans both.
    let s = h.open();
    let from = at(&h, 1);
    assert_eq!(
        result(&resume(&mut h, s, "/on/blocks/accepted", &from)),
        ResumeResult::Gap {
            replayed: 2,
            first_lost: 2,
            last_lost: 4
        }
    );
    assert_eq!(received(&h, s), [(3, 3), (5, 5)]);
    // The history no longer reaches 1: lost from 1 on, to the last hole.
    let s = h.open();
    let from = at(&h, 0);
    assert_eq!(
        result(&resume(&mut h, s, "/on/blocks/accepted", &from)),
        ResumeResult::Gap {
            replayed: 2,
            first_lost: 1,
            last_lost: 4
        }
    );
    // Past the last hole: complete.
    let s = h.open();
    let from = at(&h, 4);
    assert_eq!(
        result(&resume(&mut h, s, "/on/blocks/accepted", &from)),
        ResumeResult::Complete { replayed: 1 }
    );
}

#[test]
fn a_session_sent_the_notice_live_replays_nothing_behind_it() {
    let mut h = Harness::new();
    let s = h.open();
    assert_eq!(h.get(s, "/on/blocks:a/accepted").status(), StatusCode::OK);
    publish(&mut h, "/on/blocks:b/accepted", 1);
    h.node
        .publish_gap(&stream("/on/blocks/accepted"), "upstream lost")
        .expect("published");
    // The session holds notice 2: event 1 cannot be queued behind it, so
    // it is lost, and the hole, told live, is not.
    let from = at(&h, 0);
    assert_eq!(
        result(&resume(&mut h, s, "/on/blocks/accepted", &from)),
        ResumeResult::Gap {
            replayed: 0,
            first_lost: 1,
            last_lost: 1
        }
    );
    assert_eq!(numbers(&h, s), [(2, true)]);

    // After a wildcard resume that lost the hole, an entity resume of the
    // same stream in that session reports it too (no notice was sent).
    let mut h = Harness::new();
    publish(&mut h, "/on/blocks:a/accepted", 1);
    h.node
        .publish_gap(&stream("/on/blocks/accepted"), "upstream lost")
        .expect("published");
    publish(&mut h, "/on/blocks:a/accepted", 3);
    let s = h.open();
    let from = at(&h, 0);
    let lost_2 = ResumeResult::Gap {
        replayed: 2,
        first_lost: 2,
        last_lost: 2,
    };
    assert_eq!(
        result(&resume(&mut h, s, "/on/blocks/accepted", &from)),
        lost_2
    );
    assert_eq!(
        result(&resume(&mut h, s, "/on/blocks:a/accepted", &from)),
        ResumeResult::Gap {
            replayed: 0,
            first_lost: 2,
            last_lost: 2
        }
    );
    assert_eq!(numbers(&h, s), [(1, false), (3, false)]);
}

#[test]
fn a_notice_over_a_full_queue_is_a_4008() {
    let mut h = Harness::with_config(|config| {
        let mut limits = Limits::default();
        limits.max_queue_bytes = 200;
        config.with_limits(limits)
    });
    let s = h.open();
    assert_eq!(h.get(s, "/on/blocks/accepted").status(), StatusCode::OK);
    publish(&mut h, "/on/blocks:a/accepted", 0);
    assert!(h.outbox(s).queued_bytes() > 100);
    let published = h
        .node
        .publish_gap(&stream("/on/blocks/accepted"), "upstream lost")
        .expect("published");
    assert_eq!(
        (published.receivers, published.slow_consumers_closed),
        (0, 1)
    );
    assert!(!h.node.is_open(s));
    assert_eq!(h.close_reason(s), Some(CloseReason::SlowConsumer));
}

#[test]
fn a_reason_over_the_header_limit_takes_no_number_and_reaches_nobody() {
    let mut h = Harness::with_config(|config| {
        let mut limits = Limits::default();
        limits.max_event_header = 200;
        config.with_limits(limits)
    });
    let s = h.open();
    assert_eq!(h.get(s, "/on/blocks/accepted").status(), StatusCode::OK);
    let error = h
        .node
        .publish_gap(&stream("/on/blocks/accepted"), &"x".repeat(300))
        .expect_err("over the limit");
    assert!(matches!(error, PublishError::Encode(_)), "{error:?}");
    assert!(h.frames(s).is_empty());
    assert_eq!(h.node.stats().gaps_published, 0);
    assert_eq!(publish(&mut h, "/on/blocks:a/accepted", 0), 1);
}

#[test]
fn without_history_a_gap_is_still_numbered_and_reported() {
    let mut h = Harness::with_config(|config| config.with_history(HistoryLimits::off()));
    let s = h.open();
    assert_eq!(h.get(s, "/on/blocks/accepted").status(), StatusCode::OK);
    let published = h
        .node
        .publish_gap(&stream("/on/blocks/accepted"), "upstream lost")
        .expect("published");
    assert_eq!((published.seq, published.receivers), (1, 1));
    let s = h.open();
    let from = at(&h, 0);
    assert_eq!(
        result(&resume(&mut h, s, "/on/blocks/accepted", &from)),
        ResumeResult::Gap {
            replayed: 0,
            first_lost: 1,
            last_lost: 1
        }
    );
    assert_eq!(h.node.stats().history_events, 0);
}

#[test]
fn a_hole_the_history_dropped_is_reported_where_no_notice_was_sent() {
    for with_hole in [true, false] {
        let mut h = Harness::with_config(|config| {
            config.with_history(HistoryLimits::default().per_stream(3, 1 << 20))
        });
        publish(&mut h, "/on/blocks:a/accepted", 1);
        if with_hole {
            h.node
                .publish_gap(&stream("/on/blocks/accepted"), "upstream lost")
                .expect("published");
        } else {
            publish(&mut h, "/on/blocks:a/accepted", 2);
        }
        publish(&mut h, "/on/blocks:a/accepted", 3);
        // The wildcard replays 1 and 3 (and reports the hole), then holds
        // 4 to 6 live, which push 1 to 3 out of the history.
        let s = h.open();
        let from = at(&h, 0);
        let replayed = if with_hole { 2 } else { 3 };
        let wildcard = result(&resume(&mut h, s, "/on/blocks/accepted", &from));
        assert_eq!(wildcard.to_string().starts_with("gap"), with_hole);
        for payload in 4..=6 {
            publish(&mut h, "/on/blocks:a/accepted", payload);
        }
        assert_eq!(received(&h, s).len(), replayed + 3);
        // Every event of `a` is held through the wildcard, but the hole's
        // notice never was: the entity's resume reports up to the hole,
        // and no further, and nothing when there was no hole.
        let expected = if with_hole {
            ResumeResult::Gap {
                replayed: 0,
                first_lost: 1,
                last_lost: 2,
            }
        } else {
            ResumeResult::Complete { replayed: 0 }
        };
        assert_eq!(
            result(&resume(&mut h, s, "/on/blocks:a/accepted", &from)),
            expected,
            "with a hole: {with_hole}"
        );
    }
}
