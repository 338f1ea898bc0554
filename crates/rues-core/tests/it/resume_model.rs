//! Property: clients that lose their socket and reconnect with
//! `Rues-Resume` (docs/protocol.md, "Resume") against a naive model of the
//! streams. Random interleavings of publish, subscribe (wildcard and
//! entity), unsubscribe, drain, socket loss and reconnect, with a random
//! per-stream history bound:
//!
//! - every client sees each stream's numbers strictly growing over all its
//!   sessions (so never an event twice, never out of order);
//! - every event a client's subscriptions match, from when it subscribed,
//!   reaches it or lies in a `gap` the node reported on a resume of a
//!   subscription matching it: never a silent loss;
//! - a resume that is the first of its stream in the new session (or comes
//!   after the stream's wildcard) answers exactly what the model says:
//!   `complete` with the number of matching events after the client's last
//!   within the history, or `gap` with exactly the numbers the bound
//!   dropped; never `reset` (one node, one epoch).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::Bytes;
use proptest::prelude::*;
use rues_core::{Event, HistoryLimits, Position, ResumeResult, SessionId, SocketEnd};
use rues_target::EventPath;

use crate::harness::Harness;
use crate::resume::{result, resume};

/// Subscriptions: wildcard and per entity, three streams.
const SUBSCRIPTIONS: &[&str] = &[
    "/on/blocks/accepted",
    "/on/blocks:a/accepted",
    "/on/blocks:b/accepted",
    "/on/blocks/statechange",
    "/on/blocks:a/statechange",
    "/on/transactions:a/included",
];

const EVENTS: &[&str] = &[
    "/on/blocks:a/accepted",
    "/on/blocks:b/accepted",
    "/on/blocks:c/accepted",
    "/on/blocks/accepted",
    "/on/blocks:a/statechange",
    "/on/blocks/statechange",
    "/on/transactions:a/included",
    "/on/transactions:b/included",
];

const CLIENTS: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    Publish(usize),
    Subscribe(usize, usize),
    Unsubscribe(usize, usize),
    Drain(usize),
    Lose(usize),
    Reconnect(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..EVENTS.len()).prop_map(Op::Publish),
        3 => (0..CLIENTS, 0..SUBSCRIPTIONS.len()).prop_map(|(c, p)| Op::Subscribe(c, p)),
        1 => (0..CLIENTS, 0..SUBSCRIPTIONS.len()).prop_map(|(c, p)| Op::Unsubscribe(c, p)),
        3 => (0..CLIENTS).prop_map(Op::Drain),
        1 => (0..CLIENTS).prop_map(Op::Lose),
        2 => (0..CLIENTS).prop_map(Op::Reconnect),
    ]
}

/// A stream: (component, topic).
type Stream = (String, String);

fn stream_of(path: &EventPath) -> Stream {
    (path.component().to_string(), path.topic().to_string())
}

#[derive(Default)]
struct Client {
    session: Option<SessionId>,
    /// Wanted paths, each with the stream's last number when it was added.
    wanted: BTreeMap<usize, u64>,
    /// The last number seen per stream: what it resumes from.
    last: HashMap<Stream, u64>,
    /// Every (stream, number) received, over all sessions.
    received: BTreeSet<(Stream, u64)>,
    /// Gaps the node reported: subscription, first, last.
    gaps: Vec<(usize, u64, u64)>,
    /// Wanted events that were published while wanted: (path, stream, number).
    owed: Vec<(usize, Stream, u64)>,
}

fn paths(list: &[&str]) -> Vec<EventPath> {
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
        let mut clients: Vec<Client> = (0..CLIENTS).map(|_| Client::default()).collect();
        // The model's streams: every event's (entity, payload), by number - 1.
        let mut published: HashMap<Stream, Vec<(Option<String>, u64)>> = HashMap::new();
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
                    list.push((path.entity().map(ToString::to_string), payload));
                    prop_assert_eq!(seq, list.len() as u64);
                    for client in &mut clients {
                        for &p in client.wanted.keys() {
                            if subscriptions[p].matches(path) {
                                client.owed.push((p, stream.clone(), seq));
                            }
                        }
                    }
                }
                Op::Subscribe(c, p) => {
                    if clients[c].wanted.contains_key(&p) {
                        continue;
                    }
                    let stream = stream_of(&subscriptions[p]);
                    let last = published.get(&stream).map_or(0, |l| l.len() as u64);
                    clients[c].wanted.insert(p, last);
                    if let Some(session) = clients[c].session {
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
            for (p, stream, seq) in &client.owed {
                let received = client.received.contains(&(stream.clone(), *seq));
                let entity = published[stream][usize::try_from(seq - 1).expect("small")].0.as_deref();
                let reported = client.gaps.iter().any(|&(q, first, last)| {
                    let q = &subscriptions[q];
                    stream_of(q) == *stream
                        && q.entity().is_none_or(|e| Some(e.as_str()) == entity)
                        && (first..=last).contains(seq)
                });
                prop_assert!(
                    received || reported,
                    "client {} never got {} #{} and no gap says so", c, SUBSCRIPTIONS[*p], seq
                );
            }
        }
    }
}

/// Opens a new session for `client` and resumes each subscription it wants
/// from the last number it saw on the subscription's stream, checking each
/// answer against the model.
fn reconnect(
    h: &mut Harness,
    client: &mut Client,
    published: &HashMap<Stream, Vec<(Option<String>, u64)>>,
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
    let mut resumed: HashMap<Stream, bool> = HashMap::new();
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
        let previous = resumed.insert(stream.clone(), path.entity().is_none());
        let expected = match previous {
            // After the wildcard: it replayed everything, and
            // what it lost this one lost too.
            Some(true) if first > seen + 1 => Some(ResumeResult::Gap {
                replayed: 0,
                first_lost: seen + 1,
                last_lost: first - 1,
            }),
            Some(true) => Some(ResumeResult::Complete { replayed: 0 }),
            // After another entity: only the general rules hold.
            Some(false) => None,
            None => {
                let replayed = list
                    .iter()
                    .zip(1u64..)
                    .filter(|(_, seq)| *seq > seen && *seq >= first)
                    .filter(|((entity, _), _)| {
                        path.entity()
                            .is_none_or(|e| entity.as_deref() == Some(e.as_str()))
                    })
                    .count() as u64;
                Some(if first > seen + 1 {
                    ResumeResult::Gap {
                        replayed,
                        first_lost: seen + 1,
                        last_lost: first - 1,
                    }
                } else {
                    ResumeResult::Complete { replayed }
                })
            }
        };
        prop_assert_ne!(got, ResumeResult::Reset);
        if let Some(expected) = expected {
            prop_assert_eq!(
                got,
                expected,
                "resume of {} from {}",
                SUBSCRIPTIONS[p],
                seen
            );
        }
        if let ResumeResult::Gap {
            first_lost,
            last_lost,
            ..
        } = got
        {
            prop_assert!(first_lost == seen + 1 && last_lost <= last);
            client.gaps.push((p, first_lost, last_lost));
        }
    }
    Ok(())
}

/// Takes what `session` has queued as its client would: each frame's
/// number must be past the last the client saw on its stream, and its
/// payload the model's event of that number.
fn drain(
    h: &Harness,
    session: SessionId,
    client: &mut Client,
    published: &HashMap<Stream, Vec<(Option<String>, u64)>>,
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
        let payload: [u8; 8] = frame.payload().as_ref().try_into().expect("8 bytes");
        let index = usize::try_from(position.seq - 1).expect("small");
        prop_assert_eq!(published[&stream][index].1, u64::from_le_bytes(payload));
        client.received.insert((stream, position.seq));
    }
    Ok(())
}
