//! Events numbered elsewhere (a cluster's shared history, docs/cluster.md):
//! `Node::publish_at`, `Node::publish_gap_at` and `Node::backfill`, so that
//! every node gives an event the same number and epoch, and a session may
//! resume at a node other than the one it left.

use bytes::Bytes;
use rues_core::{Epoch, Event, HistoryLimits, Position, ResumeResult};
use rues_target::EventPath;

use crate::harness::Harness;
use crate::resume::{publish, received, result, resume};

/// The shared history's epoch: not any node's own.
const SHARED: Epoch = Epoch::new(0x5ead_0000_0000_0001);

fn event(at: &str, payload: u64) -> Event {
    Event::new(
        EventPath::parse(at).expect("valid path"),
        "application/octet-stream",
        Bytes::copy_from_slice(&payload.to_le_bytes()),
    )
}

/// Publishes `payload` as number `seq` of the shared history; the receivers.
fn publish_at(h: &mut Harness, at: &str, payload: u64, seq: u64) -> usize {
    h.node
        .publish_at(&event(at, payload), Position::new(SHARED, seq))
        .expect("published")
        .receivers
}

fn shared(seq: u64) -> String {
    Position::new(SHARED, seq).to_string()
}

#[test]
fn a_session_resumes_at_another_node_of_the_same_numbering() {
    let mut a = Harness::new();
    let mut b = Harness::new();
    let left = a.open();
    a.get(left, "/on/blocks/accepted");
    let watcher = b.open();
    b.get(watcher, "/on/blocks/accepted");
    for seq in 1..=5 {
        publish_at(&mut a, "/on/blocks/accepted", seq * 10, seq);
        publish_at(&mut b, "/on/blocks/accepted", seq * 10, seq);
    }
    let frames = a.frames(left);
    assert_eq!(frames.len(), 5);
    let position = frames[1].position().expect("valid").expect("numbered");
    assert_eq!(position, Position::new(SHARED, 2), "the shared numbers");

    // The client saw 2 at a, and comes back at b.
    let back = b.open();
    let response = resume(&mut b, back, "/on/blocks/accepted", &shared(2));
    assert_eq!(result(&response), ResumeResult::Complete { replayed: 3 });
    publish_at(&mut b, "/on/blocks/accepted", 60, 6);
    assert_eq!(received(&b, back), [(3, 30), (4, 40), (5, 50), (6, 60)]);
    // Another node's own epoch is not this history.
    let stranger = b.open();
    let own = Position::new(a.node.epoch(), 2).to_string();
    let response = resume(&mut b, stranger, "/on/blocks/accepted", &own);
    assert_eq!(result(&response), ResumeResult::Reset);
}

#[test]
fn a_number_had_already_is_not_queued_again_and_a_jump_is_a_gap_for_a_resume() {
    let mut h = Harness::new();
    let s = h.open();
    h.get(s, "/on/blocks/accepted");
    assert_eq!(publish_at(&mut h, "/on/blocks/accepted", 1, 1), 1);
    assert_eq!(publish_at(&mut h, "/on/blocks/accepted", 2, 2), 1);
    assert_eq!(
        publish_at(&mut h, "/on/blocks/accepted", 2, 2),
        0,
        "a duplicate"
    );
    assert_eq!(
        publish_at(&mut h, "/on/blocks/accepted", 1, 1),
        0,
        "an old one"
    );
    assert_eq!(publish_at(&mut h, "/on/blocks/accepted", 5, 5), 1, "a jump");
    assert_eq!(received(&h, s), [(1, 1), (2, 2), (5, 5)]);

    let back = h.open();
    let response = resume(&mut h, back, "/on/blocks/accepted", &shared(2));
    assert_eq!(
        result(&response),
        ResumeResult::Gap {
            replayed: 1,
            first_lost: 3,
            last_lost: 4
        },
        "3 and 4 never reached this node"
    );
}

#[test]
fn backfill_puts_older_events_in_front_and_publishes_newer_ones_live() {
    let mut h = Harness::new();
    let live = h.open();
    h.get(live, "/on/blocks/accepted");
    // This node started receiving the stream at 6.
    for seq in 6..=8 {
        publish_at(&mut h, "/on/blocks/accepted", seq, seq);
    }
    // The shared history has 3 to 10 (9 and 10 not delivered here yet).
    let events: Vec<Option<Event>> = (3..=10)
        .map(|seq| Some(event("/on/blocks/accepted", seq)))
        .collect();
    let path = EventPath::parse("/on/blocks/accepted").expect("valid path");
    h.node
        .backfill(&path, SHARED, 3, &events)
        .expect("backfilled");
    assert_eq!(
        received(&h, live),
        [(6, 6), (7, 7), (8, 8), (9, 9), (10, 10)],
        "the live session gets the newer ones once, in order"
    );
    assert_eq!(publish_at(&mut h, "/on/blocks/accepted", 9, 9), 0, "had");
    assert_eq!(
        h.node.stream_position(&path),
        Some(Position::new(SHARED, 10))
    );

    let back = h.open();
    let response = resume(&mut h, back, "/on/blocks/accepted", &shared(2));
    assert_eq!(result(&response), ResumeResult::Complete { replayed: 8 });
    let seqs: Vec<u64> = received(&h, back).iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, (3..=10).collect::<Vec<_>>());
}

#[test]
fn a_node_knows_whether_its_history_replays_everything_after_a_position() {
    let mut h = with_small_history();
    let path = EventPath::parse("/on/blocks/accepted").expect("valid path");
    assert!(
        !h.node.keeps_since(&path, Position::new(SHARED, 0)),
        "no stream"
    );
    for seq in 3..=8 {
        publish_at(&mut h, "/on/blocks/accepted", seq, seq);
    }
    // Four kept (5..=8): anything from 4 on is replayed here.
    assert!(h.node.keeps_since(&path, Position::new(SHARED, 4)));
    assert!(h.node.keeps_since(&path, Position::new(SHARED, 8)));
    assert!(
        !h.node.keeps_since(&path, Position::new(SHARED, 3)),
        "5 is the oldest kept"
    );
    assert!(
        !h.node.keeps_since(&path, Position::new(SHARED, 9)),
        "past the newest"
    );
    let other = Position::new(h.node.epoch(), 6);
    assert!(!h.node.keeps_since(&path, other), "another epoch");
}

#[test]
fn backfill_of_a_stream_new_here_makes_its_position_known() {
    let mut h = Harness::new();
    let path = EventPath::parse("/on/blocks/accepted").expect("valid path");
    // Nothing after 7 in the shared history: a resume from 7 is complete.
    h.node.backfill(&path, SHARED, 8, &[]).expect("backfilled");
    let back = h.open();
    let response = resume(&mut h, back, "/on/blocks/accepted", &shared(7));
    assert_eq!(result(&response), ResumeResult::Complete { replayed: 0 });
    publish_at(&mut h, "/on/blocks/accepted", 8, 8);
    assert_eq!(received(&h, back), [(8, 8)]);
}

#[test]
fn backfill_that_does_not_reach_the_kept_events_leaves_a_gap() {
    let mut h = Harness::new();
    for seq in 10..=12 {
        publish_at(&mut h, "/on/blocks/accepted", seq, seq);
    }
    let path = EventPath::parse("/on/blocks/accepted").expect("valid path");
    let events: Vec<Option<Event>> = (3..=5)
        .map(|seq| Some(event("/on/blocks/accepted", seq)))
        .collect();
    h.node
        .backfill(&path, SHARED, 3, &events)
        .expect("backfilled");
    let back = h.open();
    let response = resume(&mut h, back, "/on/blocks/accepted", &shared(2));
    assert_eq!(
        result(&response),
        ResumeResult::Gap {
            replayed: 3,
            first_lost: 3,
            last_lost: 9
        }
    );
}

#[test]
fn a_gap_number_of_the_shared_history_is_a_hole_and_a_notice() {
    let mut h = Harness::new();
    let live = h.open();
    h.get(live, "/on/blocks/accepted");
    publish_at(&mut h, "/on/blocks/accepted", 1, 1);
    let path = EventPath::parse("/on/blocks/accepted").expect("valid path");
    h.node
        .publish_gap_at(&path, "upstream lost", Position::new(SHARED, 2))
        .expect("notice");
    publish_at(&mut h, "/on/blocks/accepted", 3, 3);
    let frames = h.frames(live);
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[1].headers().get("rues-gap"), Some("upstream lost"));
    assert_eq!(
        frames[1].position().expect("valid"),
        Some(Position::new(SHARED, 2))
    );
    let back = h.open();
    let response = resume(&mut h, back, "/on/blocks/accepted", &shared(1));
    assert_eq!(
        result(&response),
        ResumeResult::Gap {
            replayed: 1,
            first_lost: 2,
            last_lost: 2
        }
    );
}

#[test]
fn a_local_publish_after_shared_numbers_goes_on_under_the_nodes_epoch() {
    let mut h = with_small_history();
    let s = h.open();
    h.get(s, "/on/blocks/accepted");
    publish_at(&mut h, "/on/blocks/accepted", 7, 7);
    assert_eq!(publish(&mut h, "/on/blocks/accepted", 8), 8);
    assert_eq!(received(&h, s), [(7, 7), (8, 8)]);
    let own = h
        .node
        .stream_position(&EventPath::parse("/on/blocks/accepted").expect("valid"));
    assert_eq!(own, Some(Position::new(h.node.epoch(), 8)));
    // Back to the shared numbering, lower numbers: the session that held 8
    // of the node's numbering gets 3 of the shared one, and a resume from
    // the shared 2 at the same session replays nothing twice.
    assert_eq!(publish_at(&mut h, "/on/blocks/accepted", 3, 3), 1);
    let response = resume(&mut h, s, "/on/blocks/accepted", &shared(2));
    assert_eq!(result(&response), ResumeResult::Complete { replayed: 0 });
    assert_eq!(received(&h, s), [(3, 3)]);
}

fn with_small_history() -> Harness {
    Harness::with_config(|config| {
        config.with_history(HistoryLimits::default().per_stream(4, 1 << 20))
    })
}
