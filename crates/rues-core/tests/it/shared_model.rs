//! Property: the same clients as `resume_model`, but against several nodes
//! that share one numbering (a cluster's, docs/cluster.md "Resume at any
//! node"), driven as the cluster backplane drives them:
//!
//! - the shared history is the model's streams, of which the broker keeps
//!   the newest `kept` numbers;
//! - a node receives a stream (`Node::publish_at`, `publish_gap_at`) only
//!   while one of its sessions has a subscription on it, so a node that
//!   stops and starts again sees the numbers jump;
//! - before every subscribe that resumes, the node is given what it lacks
//!   of the shared history after the client's position (`Node::backfill`),
//!   as the backplane reads it back from the broker;
//! - a client's reconnect lands on any node.
//!
//! Whatever the interleaving: every client sees each stream's numbers
//! strictly grow over all its sessions and nodes (never a frame twice,
//! never out of order), every frame is the model's event of its number,
//! every event it was owed reaches it or lies in a `gap` some resume
//! reported, and no resume is a `reset` (one shared epoch).

use bytes::Bytes;
use proptest::prelude::*;
use rues_core::{Epoch, Event, HistoryLimits, Position, SessionId, SocketEnd};
use rues_target::EventPath;

use crate::harness::Harness;
use crate::resume::{result, resume};
use crate::resume_model::{
    CLIENTS, Client, EVENTS, Published, STREAMS, SUBSCRIPTIONS, Slot, Stream, answered, drain,
    nothing_lost_silently, paths, stream_of,
};

/// The shared numbering's epoch.
const SHARED: Epoch = Epoch::new(0xc105_7e40_0000_0001);

const NODES: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    Publish(usize),
    Gap(usize),
    /// Client, path, and whether the subscribe resumes.
    Subscribe(usize, usize, bool),
    Unsubscribe(usize, usize),
    Drain(usize),
    Lose(usize),
    /// Client, and the node its new session lands on.
    Reconnect(usize, usize),
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
        2 => (0..CLIENTS, 0..NODES).prop_map(|(c, n)| Op::Reconnect(c, n)),
    ]
}

/// A client of the cluster: the model's client, and the node its session
/// is on.
#[derive(Default)]
struct Remote {
    client: Client,
    node: usize,
}

/// The cluster: its nodes, the shared history, its bound.
struct Cluster {
    nodes: Vec<Harness>,
    published: Published,
    kept: usize,
}

impl Cluster {
    /// Whether `node` receives `stream`: one of its sessions is subscribed
    /// on it.
    fn receives(&self, remotes: &[Remote], node: usize, stream: &Stream) -> bool {
        let subscriptions = paths(SUBSCRIPTIONS);
        remotes.iter().any(|remote| {
            remote.node == node
                && remote.client.session.is_some()
                && remote
                    .client
                    .wanted
                    .keys()
                    .any(|&p| stream_of(&subscriptions[p]) == *stream)
        })
    }

    /// What the backplane does before a resume from `seen` on the stream
    /// of `path` at `node`: the shared history's numbers after the older of
    /// `seen` and the node's own newest, within the broker's bound.
    fn backfill(&mut self, node: usize, path: &EventPath, seen: u64) {
        let stream = stream_of(path);
        let list = self.published.get(&stream).cloned().unwrap_or_default();
        let last = list.len() as u64;
        let had = self.nodes[node]
            .node
            .stream_position(path)
            .filter(|at| at.epoch == SHARED)
            .map_or(seen, |at| at.seq.min(seen));
        let start = (had + 1).max((last + 1).saturating_sub(self.kept as u64));
        let events: Vec<Option<Event>> = (start..=last)
            .map(
                |seq| match &list[usize::try_from(seq - 1).expect("small")] {
                    Slot::Event(entity, payload) => {
                        Some(event(&stream, entity.as_deref(), *payload))
                    }
                    Slot::Hole => None,
                },
            )
            .collect();
        self.nodes[node]
            .node
            .backfill(path, SHARED, start, &events)
            .expect("backfilled");
    }
}

fn event(stream: &Stream, entity: Option<&str>, payload: u64) -> Event {
    let (component, topic) = stream;
    let path = match entity {
        Some(entity) => format!("/on/{component}:{entity}/{topic}"),
        None => format!("/on/{component}/{topic}"),
    };
    Event::new(
        EventPath::parse(&path).expect("valid path"),
        "application/octet-stream",
        Bytes::copy_from_slice(&payload.to_le_bytes()),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn resume_at_any_node_of_a_shared_history_agrees_with_the_model(
        ops in prop::collection::vec(op(), 1..160),
        kept in 1usize..12,
    ) {
        let limits = HistoryLimits::default().per_stream(kept, 1 << 30).total(1 << 30);
        let mut cluster = Cluster {
            nodes: (0..NODES)
                .map(|_| Harness::with_config(|config| config.with_history(limits)))
                .collect(),
            published: Published::new(),
            kept,
        };
        let subscriptions = paths(SUBSCRIPTIONS);
        let events = paths(EVENTS);
        let streams = paths(STREAMS);
        let mut remotes: Vec<Remote> = (0..CLIENTS).map(|_| Remote::default()).collect();
        let mut next_payload = 0u64;

        for op in ops {
            match op {
                Op::Publish(e) => {
                    let path = &events[e];
                    let payload = next_payload;
                    next_payload += 1;
                    let stream = stream_of(path);
                    let list = cluster.published.entry(stream.clone()).or_default();
                    list.push(Slot::Event(path.entity().map(ToString::to_string), payload));
                    let at = Position::new(SHARED, list.len() as u64);
                    let event = event(&stream, path.entity().map(|e| e.as_str()), payload);
                    for node in 0..NODES {
                        if cluster.receives(&remotes, node, &stream) {
                            cluster.nodes[node].node.publish_at(&event, at).expect("published");
                        }
                    }
                    owe(&mut remotes, &subscriptions, |q| q.matches(path), &stream, at.seq);
                }
                Op::Gap(g) => {
                    let path = &streams[g];
                    let stream = stream_of(path);
                    let list = cluster.published.entry(stream.clone()).or_default();
                    list.push(Slot::Hole);
                    let at = Position::new(SHARED, list.len() as u64);
                    for node in 0..NODES {
                        if cluster.receives(&remotes, node, &stream) {
                            cluster.nodes[node]
                                .node
                                .publish_gap_at(path, "upstream lost", at)
                                .expect("published");
                        }
                    }
                    owe(&mut remotes, &subscriptions, |q| stream_of(q) == stream, &stream, at.seq);
                }
                Op::Subscribe(c, p, resumes) => {
                    let remote = &mut remotes[c];
                    if remote.client.wanted.contains_key(&p) {
                        continue;
                    }
                    let stream = stream_of(&subscriptions[p]);
                    let last = cluster.published.get(&stream).map_or(0, |l| l.len() as u64);
                    remote.client.wanted.insert(p, last);
                    let Some(session) = remote.client.session else {
                        continue;
                    };
                    let node = remote.node;
                    if resumes {
                        let seen = remote.client.last.get(&stream).copied().unwrap_or(0);
                        cluster.backfill(node, &subscriptions[p], seen);
                        let from = Position::new(SHARED, seen).to_string();
                        let got = result(&resume(&mut cluster.nodes[node], session, SUBSCRIPTIONS[p], &from));
                        answered(&mut remote.client, p, seen, last, got)?;
                    } else {
                        let status = cluster.nodes[node].get(session, SUBSCRIPTIONS[p]).status();
                        prop_assert_eq!(status, http::StatusCode::OK);
                    }
                }
                Op::Unsubscribe(c, p) => {
                    let remote = &mut remotes[c];
                    if remote.client.wanted.remove(&p).is_none() {
                        continue;
                    }
                    remote.client.owed.retain(|(q, _, _)| *q != p);
                    if let Some(session) = remote.client.session {
                        let status = cluster.nodes[remote.node].delete(session, SUBSCRIPTIONS[p]).status();
                        prop_assert_eq!(status, http::StatusCode::OK);
                    }
                }
                Op::Drain(c) => {
                    let remote = &mut remotes[c];
                    if let Some(session) = remote.client.session {
                        drain(&cluster.nodes[remote.node], session, &mut remote.client, &cluster.published)?;
                    }
                }
                Op::Lose(c) => {
                    let remote = &mut remotes[c];
                    if let Some(session) = remote.client.session.take() {
                        cluster.nodes[remote.node].node.handle_closed(session, SocketEnd::Vanished);
                    }
                }
                Op::Reconnect(c, node) => {
                    if remotes[c].client.session.is_none() {
                        reconnect(&mut cluster, &mut remotes[c], node)?;
                    }
                }
            }
        }

        for (c, remote) in remotes.iter_mut().enumerate() {
            if remote.client.session.is_none() {
                let node = remote.node;
                reconnect(&mut cluster, remote, node)?;
            }
            if let Some(session) = remote.client.session {
                drain(&cluster.nodes[remote.node], session, &mut remote.client, &cluster.published)?;
            }
            nothing_lost_silently(c, &remote.client, &cluster.published)?;
        }
    }
}

/// Every client that wants a path `matching` owes the number `seq` of
/// `stream`.
fn owe(
    remotes: &mut [Remote],
    subscriptions: &[EventPath],
    matching: impl Fn(&EventPath) -> bool,
    stream: &Stream,
    seq: u64,
) {
    for remote in remotes {
        for &p in remote.client.wanted.keys() {
            if matching(&subscriptions[p]) {
                remote.client.owed.push((p, stream.clone(), seq));
            }
        }
    }
}

/// A new session for the client at `node`, every wanted path resumed
/// there (wildcards first), each after the backplane's backfill.
fn reconnect(cluster: &mut Cluster, remote: &mut Remote, node: usize) -> Result<(), TestCaseError> {
    let subscriptions = paths(SUBSCRIPTIONS);
    let session: SessionId = cluster.nodes[node].open();
    remote.node = node;
    remote.client.session = Some(session);
    let mut order: Vec<usize> = remote.client.wanted.keys().copied().collect();
    order.sort_by_key(|&p| subscriptions[p].entity().is_some());
    for p in order {
        let path = &subscriptions[p];
        let stream = stream_of(path);
        let seen = remote.client.last.get(&stream).copied().unwrap_or(0);
        let last = cluster.published.get(&stream).map_or(0, |l| l.len() as u64);
        cluster.backfill(node, path, seen);
        let from = Position::new(SHARED, seen).to_string();
        let got = result(&resume(
            &mut cluster.nodes[node],
            session,
            SUBSCRIPTIONS[p],
            &from,
        ));
        answered(&mut remote.client, p, seen, last, got)?;
    }
    Ok(())
}
