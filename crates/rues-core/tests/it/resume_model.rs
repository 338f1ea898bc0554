//! Property: clients that lose their socket and reconnect with
//! `Rues-Resume` (docs/protocol.md, "Resume") against a naive model of the
//! streams. Random interleavings of publish, gap notice, subscribe
//! (wildcard and entity, resuming or not), unsubscribe, drain, socket loss and reconnect,
//! with a random per-stream history bound:
//!
//! - every client sees each stream's numbers strictly growing over all its
//!   sessions, events and gap notices alike (so never a frame twice, never
//!   out of order), and a notice only where the model has a hole;
//! - every event a client's subscriptions match, from when it subscribed,
//!   and every gap notice of a stream it subscribed to, reaches it or lies
//!   in a `gap` the node reported on a resume of a subscription matching
//!   it: never a silent loss;
//! - a resume that is the first of its stream in the new session answers
//!   exactly what the model says: `complete` with the number of matching
//!   events after the client's last within the history, or `gap` from the
//!   first number the bound dropped or the first hole after the client's
//!   last, whichever comes first, to the last of either; one after the
//!   stream's wildcard answers the wildcard's range with nothing replayed;
//!   never `reset` (one node, one epoch).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::Bytes;
use proptest::prelude::*;
use rues_core::{Event, HistoryLimits, Position, ResumeResult, SessionId, SocketEnd};
use rues_target::EventPath;

use crate::harness::Harness;
use crate::resume::{result, resume};

/// Subscriptions: wildcard and per entity, three streams.
pub(crate) const SUBSCRIPTIONS: &[&str] = &[
    "/on/blocks/accepted",
    "/on/blocks:a/accepted",
    "/on/blocks:b/accepted",
    "/on/blocks/statechange",
    "/on/blocks:a/statechange",
    "/on/transactions:a/included",
];

pub(crate) const EVENTS: &[&str] = &[
    "/on/blocks:a/accepted",
    "/on/blocks:b/accepted",
    "/on/blocks:c/accepted",
    "/on/blocks/accepted",
    "/on/blocks:a/statechange",
    "/on/blocks/statechange",
    "/on/transactions:a/included",
    "/on/transactions:b/included",
];

/// The streams a gap notice may be for.
pub(crate) const STREAMS: &[&str] = &[
    "/on/blocks/accepted",
    "/on/blocks/statechange",
    "/on/transactions/included",
];

pub(crate) const CLIENTS: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    Publish(usize),
    Gap(usize),
    /// Client, path, and whether a live session's subscribe resumes from
    /// the client's last number on the stream.
    Subscribe(usize, usize, bool),
    Unsubscribe(usize, usize),
    Drain(usize),
    Lose(usize),
    Reconnect(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..EVENTS.len()).prop_map(Op::Publish),
        1 => (0..STREAMS.len()).prop_map(Op::Gap),
        3 => (0..CLIENTS, 0..SUBSCRIPTIONS.len(), any::<bool>())
            .prop_map(|(c, p, resume)| Op::Subscribe(c, p, resume)),
        1 => (0..CLIENTS, 0..SUBSCRIPTIONS.len()).prop_map(|(c, p)| Op::Unsubscribe(c, p)),
        3 => (0..CLIENTS).prop_map(Op::Drain),
        1 => (0..CLIENTS).prop_map(Op::Lose),
        2 => (0..CLIENTS).prop_map(Op::Reconnect),
    ]
}

/// A stream: (component, topic).
pub(crate) type Stream = (String, String);

/// What the model holds of one number of a stream.
#[derive(Debug, Clone)]
pub(crate) enum Slot {
    /// An event: its entity and payload.
    Event(Option<String>, u64),
    /// A gap notice's number.
    Hole,
}

impl Slot {
    /// Whether a subscription to `path` matches it.
    pub(crate) fn matched_by(&self, path: &EventPath) -> bool {
        match self {
            Slot::Event(entity, _) => path
                .entity()
                .is_none_or(|e| entity.as_deref() == Some(e.as_str())),
            Slot::Hole => true,
        }
    }
}

pub(crate) type Published = HashMap<Stream, Vec<Slot>>;

pub(crate) fn stream_of(path: &EventPath) -> Stream {
    (path.component().to_string(), path.topic().to_string())
}

#[derive(Default)]
pub(crate) struct Client {
    pub(crate) session: Option<SessionId>,
    /// Wanted paths, each with the stream's last number when it was added.
    pub(crate) wanted: BTreeMap<usize, u64>,
    /// The last number seen per stream: what it resumes from.
    pub(crate) last: HashMap<Stream, u64>,
    /// Every (stream, number) received, over all sessions.
    pub(crate) received: BTreeSet<(Stream, u64)>,
    /// Gaps the node reported: subscription, first, last.
    pub(crate) gaps: Vec<(usize, u64, u64)>,
    /// Wanted events, and notices of a wanted path's stream, that were
    /// published while wanted: (path, stream, number).
    pub(crate) owed: Vec<(usize, Stream, u64)>,
}

pub(crate) fn paths(list: &[&str]) -> Vec<EventPath> {
    list.iter()
        .map(|p| EventPath::parse(p).expect("valid path"))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn resume_agrees_with_the_model(
        ops in prop::collection::vec(op(), 1..160),
        kept in 1usize..12,
    ) {
        let mut h = Harness::with_config(|config| {
            config.with_history(HistoryLimits::default().per_stream(kept, 1 << 30).total(1 << 30))
        });
        let subscriptions = paths(SUBSCRIPTIONS);
        let events = paths(EVENTS);
        let streams = paths(STREAMS);
        let mut clients: Vec<Client> = (0..CLIENTS).map(|_| Client::default()).collect();
        // The model's streams: every number's slot, by number - 1.
        let mut published: Published = HashMap::new();
        let mut next_payload = 0u64;

        for op in ops {
            match op {
                Op::Publish(e) => {
                    let path = &events[e];
                    let payload = next_payload;
                    next_payload += 1;
                    let event = Event::new(
                        path.clone(),
                        "application/octet-stream",
                        Bytes::copy_from_slice(&payload.to_le_bytes()),
                    );
                    let seq = h.node.publish(&event).expect("published").seq;
                    let stream = stream_of(path);
                    let list = published.entry(stream.clone()).or_default();
                    list.push(Slot::Event(path.entity().map(ToString::to_string), payload));
                    prop_assert_eq!(seq, list.len() as u64);
                    for client in &mut clients {
                        for &p in client.wanted.keys() {
                            if subscriptions[p].matches(path) {
                                client.owed.push((p, stream.clone(), seq));
                            }
                        }
                    }
                }
                Op::Gap(g) => {
                    let path = &streams[g];
                    let seq = h.node.publish_gap(path, "upstream lost").expect("published").seq;
                    let stream = stream_of(path);
                    let list = published.entry(stream.clone()).or_default();
                    list.push(Slot::Hole);
                    prop_assert_eq!(seq, list.len() as u64);
                    for client in &mut clients {
                        for &p in client.wanted.keys() {
                            if stream_of(&subscriptions[p]) == stream {
                                client.owed.push((p, stream.clone(), seq));
                            }
                        }
                    }
                }
                Op::Subscribe(c, p, resumes) => {
                    if clients[c].wanted.contains_key(&p) {
                        continue;
                    }
                    let stream = stream_of(&subscriptions[p]);
                    let last = published.get(&stream).map_or(0, |l| l.len() as u64);
                    clients[c].wanted.insert(p, last);
                    let Some(session) = clients[c].session else {
                        continue;
                    };
                    if resumes {
                        // Only the general rules hold for a resume in a
                        // session that may hold frames of the stream.
                        let seen = clients[c].last.get(&stream).copied().unwrap_or(0);
                        let from = Position::new(h.node.epoch(), seen).to_string();
                        let got = result(&resume(&mut h, session, SUBSCRIPTIONS[p], &from));
                        answered(&mut clients[c], p, seen, last, got)?;
                    } else {
                        let status = h.get(session, SUBSCRIPTIONS[p]).status();
                        prop_assert_eq!(status, http::StatusCode::OK);
                    }
                }
                Op::Unsubscribe(c, p) => {
                    if clients[c].wanted.remove(&p).is_none() {
                        continue;
                    }
                    // The client no longer asks for what it had not got.
                    clients[c].owed.retain(|(q, _, _)| *q != p);
                    if let Some(session) = clients[c].session {
                        let status = h.delete(session, SUBSCRIPTIONS[p]).status();
                        prop_assert_eq!(status, http::StatusCode::OK);
                    }
                }
                Op::Drain(c) => {
                    if let Some(session) = clients[c].session {
                        drain(&h, session, &mut clients[c], &published)?;
                    }
                }
                Op::Lose(c) => {
                    // What was queued and not drained is gone with the socket.
                    if let Some(session) = clients[c].session.take() {
                        h.node.handle_closed(session, SocketEnd::Vanished);
                    }
                }
                Op::Reconnect(c) => {
                    if clients[c].session.is_none() {
                        reconnect(&mut h, &mut clients[c], &published, kept)?;
                    }
                }
            }
        }

        // Every client ends connected, with what it was queued taken.
        for (c, client) in clients.iter_mut().enumerate() {
            if client.session.is_none() {
                reconnect(&mut h, client, &published, kept)?;
            }
            if let Some(session) = client.session {
                drain(&h, session, client, &published)?;
            }
            nothing_lost_silently(c, client, &published)?;
        }
    }
}

/// Every event `client` (number `c`) was owed reached it or lies in a gap
/// a resume of a subscription matching it reported.
pub(crate) fn nothing_lost_silently(
    c: usize,
    client: &Client,
    published: &Published,
) -> Result<(), TestCaseError> {
    let subscriptions = paths(SUBSCRIPTIONS);
    for (p, stream, seq) in &client.owed {
        let received = client.received.contains(&(stream.clone(), *seq));
        let slot = &published[stream][usize::try_from(seq - 1).expect("small")];
        let reported = client.gaps.iter().any(|&(q, first, last)| {
            let q = &subscriptions[q];
            stream_of(q) == *stream && slot.matched_by(q) && (first..=last).contains(seq)
        });
        prop_assert!(
            received || reported,
            "client {} never got {} #{} and no gap says so",
            c,
            SUBSCRIPTIONS[*p],
            seq
        );
    }
    Ok(())
}

/// Opens a new session for `client` and resumes each subscription it wants
/// from the last number it saw on the subscription's stream, checking each
/// answer against the model.
fn reconnect(
    h: &mut Harness,
    client: &mut Client,
    published: &Published,
    kept: usize,
) -> Result<(), TestCaseError> {
    let subscriptions = paths(SUBSCRIPTIONS);
    let epoch = h.node.epoch();
    let session = h.open();
    client.session = Some(session);
    // Wildcards first: an entity resumed after its stream's
    // wildcard is fully covered by it.
    let mut order: Vec<usize> = client.wanted.keys().copied().collect();
    order.sort_by_key(|&p| subscriptions[p].entity().is_some());
    // Per stream, the last resume: whether of the wildcard, and its result.
    let mut resumed: HashMap<Stream, (bool, ResumeResult)> = HashMap::new();
    for p in order {
        let path = &subscriptions[p];
        let stream = stream_of(path);
        let seen = client.last.get(&stream).copied().unwrap_or(0);
        let from = Position::new(epoch, seen).to_string();
        let got = result(&resume(h, session, SUBSCRIPTIONS[p], &from));
        let list = published
            .get(&stream)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let last = list.len() as u64;
        let first = (last + 1).saturating_sub(kept as u64).max(1);
        let previous = resumed.insert(stream.clone(), (path.entity().is_none(), got));
        let expected = match previous {
            // After the wildcard: it replayed everything, and what it
            // lost this one lost too (no notice was sent for a hole).
            Some((
                true,
                ResumeResult::Gap {
                    first_lost,
                    last_lost,
                    ..
                },
            )) => Some(ResumeResult::Gap {
                replayed: 0,
                first_lost,
                last_lost,
            }),
            Some((true, _)) => Some(ResumeResult::Complete { replayed: 0 }),
            // After another entity: only the general rules hold.
            Some((false, _)) => None,
            None => {
                let after = |seq: u64| seq > seen && seq >= first;
                let replayed = list
                    .iter()
                    .zip(1u64..)
                    .filter(|(slot, seq)| {
                        after(*seq) && matches!(slot, Slot::Event(..)) && slot.matched_by(path)
                    })
                    .count() as u64;
                // The numbers the bound dropped, then the holes kept.
                let mut lost = (first > seen + 1).then(|| (seen + 1, first - 1));
                for (_, seq) in list
                    .iter()
                    .zip(1u64..)
                    .filter(|(slot, seq)| after(*seq) && matches!(slot, Slot::Hole))
                {
                    lost = Some(lost.map_or((seq, seq), |(a, b)| (a.min(seq), b.max(seq))));
                }
                Some(match lost {
                    Some((first_lost, last_lost)) => ResumeResult::Gap {
                        replayed,
                        first_lost,
                        last_lost,
                    },
                    None => ResumeResult::Complete { replayed },
                })
            }
        };
        if let Some(expected) = expected {
            prop_assert_eq!(
                got,
                expected,
                "resume of {} from {}",
                SUBSCRIPTIONS[p],
                seen
            );
        }
        answered(client, p, seen, last, got)?;
    }
    Ok(())
}

/// The general rules of a resume's answer, and its gap recorded for the
/// client: never `reset` (one epoch); a gap lies after what the client saw
/// and within the stream's `last` numbers.
pub(crate) fn answered(
    client: &mut Client,
    p: usize,
    seen: u64,
    last: u64,
    got: ResumeResult,
) -> Result<(), TestCaseError> {
    prop_assert_ne!(got, ResumeResult::Reset);
    if let ResumeResult::Gap {
        first_lost,
        last_lost,
        ..
    } = got
    {
        prop_assert!(first_lost > seen && first_lost <= last_lost && last_lost <= last);
        client.gaps.push((p, first_lost, last_lost));
    }
    Ok(())
}

/// Takes what `session` has queued as its client would: each frame's
/// number must be past the last the client saw on its stream, and the
/// frame the model's event of that number (its payload), or a gap notice
/// where the model has a hole.
pub(crate) fn drain(
    h: &Harness,
    session: SessionId,
    client: &mut Client,
    published: &Published,
) -> Result<(), TestCaseError> {
    for frame in h.frames(session) {
        let position = frame.position().expect("valid").expect("numbered");
        let path = EventPath::parse(frame.content_location().expect("located")).expect("valid");
        let stream = stream_of(&path);
        let last = client.last.entry(stream.clone()).or_default();
        prop_assert!(
            position.seq > *last,
            "#{} after #{} on {:?}",
            position.seq,
            *last,
            stream
        );
        *last = position.seq;
        let index = usize::try_from(position.seq - 1).expect("small");
        match &published[&stream][index] {
            Slot::Event(_, payload) => {
                prop_assert!(!frame.headers().contains("rues-gap"));
                let got: [u8; 8] = frame.payload().as_ref().try_into().expect("8 bytes");
                prop_assert_eq!(*payload, u64::from_le_bytes(got));
            }
            Slot::Hole => {
                prop_assert!(frame.headers().contains("rues-gap"));
                prop_assert!(path.entity().is_none() && frame.payload().is_empty());
            }
        }
        client.received.insert((stream, position.seq));
    }
    Ok(())
}
