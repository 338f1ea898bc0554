//! Property: random interleavings of open / subscribe / unsubscribe /
//! publish / drain / close keep the subscription index consistent with a
//! naive model (same receivers, each once, in publish order), and nothing is
//! left behind once every session has closed.

use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;
use proptest::prelude::*;
use rues_core::{Event, SessionId, SocketEnd};
use rues_target::EventPath;

use crate::harness::Harness;

/// Paths a session may subscribe to: wildcard and per-entity, two topics.
const SUBSCRIPTIONS: &[&str] = &[
    "/on/blocks/accepted",
    "/on/blocks:a/accepted",
    "/on/blocks:b/accepted",
    "/on/blocks/statechange",
    "/on/blocks:a/statechange",
    "/on/transactions/included",
    "/on/transactions:a/included",
];

/// Where events are published.
const EVENTS: &[&str] = &[
    "/on/blocks:a/accepted",
    "/on/blocks:b/accepted",
    "/on/blocks:c/accepted",
    "/on/blocks/accepted",
    "/on/blocks:a/statechange",
    "/on/transactions:a/included",
    "/on/transactions:b/included",
];

#[derive(Debug, Clone)]
enum Op {
    Open,
    Close(usize),
    Subscribe(usize, usize),
    Unsubscribe(usize, usize),
    Publish(usize),
    Drain(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => Just(Op::Open),
        1 => any::<usize>().prop_map(Op::Close),
        4 => (any::<usize>(), 0..SUBSCRIPTIONS.len()).prop_map(|(s, p)| Op::Subscribe(s, p)),
        2 => (any::<usize>(), 0..SUBSCRIPTIONS.len()).prop_map(|(s, p)| Op::Unsubscribe(s, p)),
        4 => (0..EVENTS.len()).prop_map(Op::Publish),
        2 => any::<usize>().prop_map(Op::Drain),
    ]
}

/// The naive model: per session, its subscriptions and the payloads it should
/// have queued, in order.
#[derive(Default)]
struct ModelSession {
    subscriptions: BTreeSet<usize>,
    expected: Vec<u64>,
}

fn path(p: &str) -> EventPath {
    EventPath::parse(p).expect("valid path")
}

fn queued_payloads(h: &mut Harness, session: SessionId) -> Vec<u64> {
    h.frames(session)
        .iter()
        .map(|f| {
            let bytes: [u8; 8] = f.payload().as_ref().try_into().expect("8-byte payload");
            u64::from_le_bytes(bytes)
        })
        .collect()
}

proptest! {
    #[test]
    fn index_agrees_with_naive_model(ops in prop::collection::vec(op(), 1..120)) {
        let mut h = Harness::new();
        let subscription_paths: Vec<EventPath> = SUBSCRIPTIONS.iter().map(|p| path(p)).collect();
        let event_paths: Vec<EventPath> = EVENTS.iter().map(|p| path(p)).collect();
        let mut order: Vec<SessionId> = Vec::new();
        let mut model: HashMap<SessionId, ModelSession> = HashMap::new();
        let mut next_payload = 0u64;

        for op in ops {
            match op {
                Op::Open => {
                    let id = h.open();
                    order.push(id);
                    model.insert(id, ModelSession::default());
                }
                Op::Close(i) if !order.is_empty() => {
                    let id = order.remove(i % order.len());
                    model.remove(&id);
                    h.node.handle_closed(id, SocketEnd::ClientClose);
                    prop_assert!(!h.node.is_open(id));
                }
                Op::Subscribe(i, p) if !order.is_empty() => {
                    let id = order[i % order.len()];
                    let status = h.get(id, SUBSCRIPTIONS[p]).status();
                    prop_assert_eq!(status, http::StatusCode::OK);
                    model.get_mut(&id).expect("modelled").subscriptions.insert(p);
                }
                Op::Unsubscribe(i, p) if !order.is_empty() => {
                    let id = order[i % order.len()];
                    let held = model.get_mut(&id).expect("modelled").subscriptions.remove(&p);
                    let status = h.delete(id, SUBSCRIPTIONS[p]).status();
                    let expected = if held { http::StatusCode::OK } else { http::StatusCode::NOT_FOUND };
                    prop_assert_eq!(status, expected);
                }
                Op::Publish(e) => {
                    let payload = next_payload;
                    next_payload += 1;
                    let event = Event::new(
                        event_paths[e].clone(),
                        "application/octet-stream",
                        Bytes::copy_from_slice(&payload.to_le_bytes()),
                    );
                    let mut receivers = 0;
                    for session in model.values_mut() {
                        let matches = session
                            .subscriptions
                            .iter()
                            .any(|&s| subscription_paths[s].matches(&event_paths[e]));
                        if matches {
                            session.expected.push(payload);
                            receivers += 1;
                        }
                    }
                    let published = h.node.publish(&event).expect("published");
                    prop_assert_eq!(published.receivers, receivers);
                }
                Op::Drain(i) if !order.is_empty() => {
                    let id = order[i % order.len()];
                    let expected = std::mem::take(&mut model.get_mut(&id).expect("modelled").expected);
                    prop_assert_eq!(queued_payloads(&mut h, id), expected);
                }
                _ => {}
            }
            let stats = h.node.stats();
            prop_assert_eq!(stats.sessions_open, model.len());
            prop_assert_eq!(stats.subscriptions, model.values().map(|s| s.subscriptions.len()).sum::<usize>());
        }

        // Every queue holds exactly what the model says, in order.
        for &id in &order {
            let expected = std::mem::take(&mut model.get_mut(&id).expect("modelled").expected);
            prop_assert_eq!(queued_payloads(&mut h, id), expected);
        }
        for id in order {
            h.node.handle_closed(id, SocketEnd::Vanished);
        }
        let stats = h.node.stats();
        prop_assert_eq!(stats.sessions_open, 0);
        prop_assert_eq!(stats.subscriptions, 0);
        prop_assert_eq!(stats.bytes_queued, 0);
        prop_assert_eq!(stats.index_topics, 0);
        prop_assert_eq!(h.node.next_timeout(), None);
    }
}
