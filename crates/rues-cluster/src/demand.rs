//! The cluster's demand: which event paths some node's sessions want, for
//! a process that must fetch them from elsewhere (a relay in front of an
//! upstream node, docs/relay.md).
//!
//! The event subjects alone cannot tell it: a node subscribes a whole
//! stream, and NATS does not say who is subscribed. So each node also
//! declares its exact paths (entity included: an upstream may refuse a
//! stream without entity, as rusk does for `contracts`):
//! - on `rues.want`, each path it first wants (`Rues-Want: add`) or no
//!   longer wants (`drop`), numbered per node (`Rues-Want-Seq`), from the
//!   same control task that applies the core's changes, so in order;
//! - on `rues.want.census`, its whole set with the number of the last
//!   change it includes, in parts of at most one chunk (`Rues-Census:
//!   more|end`), to whoever asks.
//!
//! A watcher ([`Demand`]) asks for a census when it starts and every
//! census interval (5 s by default), applies the changes in between, and forgets a node
//! that missed [`CENSUS_MISSES`] censuses in a row (it died without saying
//! so). It yields a [`Change::InterestAdded`] when the first node wants a
//! path and a [`Change::InterestDropped`] when the last one stops: the
//! shape the core's own changes have, so a relay treats the cluster's
//! demand as its own sessions'. Lost messages (an outage) are mended by
//! the next census.

use std::collections::{HashMap, HashSet};
use std::pin::Pin;
use std::sync::{Arc, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use async_nats::HeaderMap;
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use rues_core::Change;
use rues_core::rues_target::EventPath;
use tokio::sync::mpsc;

use crate::Inner;

/// Changes of one node's paths.
pub const WANT: &str = "rues.want";
/// Census requests.
pub const CENSUS: &str = "rues.want.census";
/// How often a watcher takes a census, by default
/// ([`ClusterConfig::census_interval`](crate::ClusterConfig::census_interval)).
pub const CENSUS_INTERVAL: Duration = Duration::from_secs(5);
/// Censuses a node may miss in a row before a watcher forgets it.
pub const CENSUS_MISSES: u64 = 2;

const NODE: &str = "Rues-Node";
const SEQ: &str = "Rues-Want-Seq";
const KIND: &str = "Rues-Want";
const PART: &str = "Rues-Census";

/// The most nodes, and distinct paths, a watcher keeps: NATS is the
/// operator's, but a misconfigured publisher must not grow it without end.
const MAX_NODES: usize = 4096;
const MAX_PATHS: usize = 1 << 20;

/// The paths this node's sessions want, and the number of the last change
/// to them: what a census answer sends, read in one piece.
#[derive(Debug, Default)]
pub(crate) struct Wanted {
    seq: u64,
    paths: HashSet<EventPath>,
}

/// Records `change` in the node's wanted paths; returns the message to
/// publish on [`WANT`], if the change is one of interest.
pub(crate) fn record(inner: &Inner, change: &Change) -> Option<(HeaderMap, Bytes)> {
    let (kind, path) = match change {
        Change::InterestAdded(path) => ("add", path),
        Change::InterestDropped(path) => ("drop", path),
        Change::SessionOpened(_) | Change::SessionClosed(_) => return None,
    };
    let seq = {
        let mut wanted = inner.wanted.lock().unwrap_or_else(PoisonError::into_inner);
        if kind == "add" {
            wanted.paths.insert(path.clone());
        } else {
            wanted.paths.remove(path);
        }
        wanted.seq += 1;
        wanted.seq
    };
    let mut headers = own_headers(inner, seq);
    headers.insert(KIND, kind);
    Some((headers, Bytes::from(path.to_string())))
}

fn own_headers(inner: &Inner, seq: u64) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(NODE, inner.node_id.as_str());
    headers.insert(SEQ, seq.to_string().as_str());
    headers
}

/// Answers census requests with the node's wanted paths.
pub(crate) async fn answer_censuses(inner: Arc<Inner>) {
    let mut requests = match inner.client.subscribe(CENSUS).await {
        Ok(requests) => requests,
        Err(error) => {
            tracing::warn!(%error, "cannot answer the cluster's demand census");
            return;
        }
    };
    while let Some(request) = requests.next().await {
        let Some(reply) = request.reply else {
            continue;
        };
        let (seq, lines) = {
            let wanted = inner.wanted.lock().unwrap_or_else(PoisonError::into_inner);
            let lines: Vec<String> = wanted.paths.iter().map(ToString::to_string).collect();
            (wanted.seq, lines)
        };
        let parts = parts(&lines, inner.config.chunk_bytes);
        let count = parts.len();
        for (n, part) in parts.into_iter().enumerate() {
            let mut headers = own_headers(&inner, seq);
            headers.insert(PART, if n + 1 == count { "end" } else { "more" });
            if let Err(error) = inner
                .client
                .publish_with_headers(reply.clone(), headers, part)
                .await
            {
                tracing::debug!(%error, "a census answer could not be sent");
                break;
            }
        }
    }
}

/// `lines` joined by newlines, cut into parts of at most `max` bytes
/// (a line longer than that goes alone); always at least one part.
fn parts(lines: &[String], max: usize) -> Vec<Bytes> {
    let mut parts = Vec::new();
    let mut part = BytesMut::new();
    for line in lines {
        if !part.is_empty() && part.len() + 1 + line.len() > max {
            parts.push(std::mem::take(&mut part).freeze());
        }
        if !part.is_empty() {
            part.put_u8(b'\n');
        }
        part.put_slice(line.as_bytes());
    }
    parts.push(part.freeze());
    parts
}

/// The cluster's demand, as changes: from [`Cluster::demand`](crate::Cluster::demand).
/// Ends when the cluster connection closes.
pub struct Demand {
    changes: mpsc::UnboundedReceiver<Change>,
}

impl Stream for Demand {
    type Item = Change;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Change>> {
        self.changes.poll_recv(cx)
    }
}

impl std::fmt::Debug for Demand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Demand").finish_non_exhaustive()
    }
}

/// Starts watching the cluster's demand.
pub(crate) async fn watch(inner: Arc<Inner>) -> Result<Demand, async_nats::SubscribeError> {
    let changes = inner.client.subscribe(WANT).await?;
    let inbox = inner.client.new_inbox();
    let answers = inner.client.subscribe(inbox.clone()).await?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run_watch(inner, changes, answers, inbox, tx));
    Ok(Demand { changes: rx })
}

async fn run_watch(
    inner: Arc<Inner>,
    mut changes: async_nats::Subscriber,
    mut answers: async_nats::Subscriber,
    inbox: String,
    out: mpsc::UnboundedSender<Change>,
) {
    let mut book = Book::default();
    let mut census = tokio::time::interval(inner.config.census_interval);
    census.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let emitted = tokio::select! {
            _ = census.tick() => {
                let emitted = book.new_round();
                let ask = inner.client.publish_with_reply(CENSUS, inbox.clone(), Bytes::new());
                if let Err(error) = ask.await {
                    tracing::debug!(%error, "the demand census could not be asked for");
                }
                emitted
            }
            message = changes.next() => match message {
                Some(message) => book.change(&message),
                None => return,
            },
            message = answers.next() => match message {
                Some(message) => book.answer(&message),
                None => return,
            },
        };
        for change in emitted {
            if out.send(change).is_err() {
                return;
            }
        }
    }
}

/// What a watcher knows: each node's paths, and how many nodes want each.
#[derive(Default)]
struct Book {
    nodes: HashMap<String, NodeBook>,
    counts: HashMap<EventPath, usize>,
    round: u64,
}

#[derive(Default)]
struct NodeBook {
    seq: u64,
    paths: HashSet<EventPath>,
    /// The last census round it answered (or the round it appeared in).
    seen: u64,
    /// Parts of a census answer being put together.
    pending: Vec<EventPath>,
}

impl Book {
    /// Starts a census round: forgets the nodes that missed too many.
    fn new_round(&mut self) -> Vec<Change> {
        self.round += 1;
        let round = self.round;
        let gone: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, node)| node.seen + CENSUS_MISSES < round)
            .map(|(id, _)| id.clone())
            .collect();
        let mut emitted = Vec::new();
        for id in gone {
            if let Some(node) = self.nodes.remove(&id) {
                for path in node.paths {
                    self.decrement(path, &mut emitted);
                }
            }
        }
        emitted
    }

    /// A change message from a node.
    fn change(&mut self, message: &async_nats::Message) -> Vec<Change> {
        let mut emitted = Vec::new();
        let Some((id, seq)) = sender(message) else {
            return emitted;
        };
        let Some(path) = path_of(&message.payload) else {
            return emitted;
        };
        let add = match header(message, KIND) {
            Some("add") => true,
            Some("drop") => false,
            _ => return emitted,
        };
        let round = self.round;
        if !self.nodes.contains_key(&id) && self.nodes.len() >= MAX_NODES {
            return emitted;
        }
        let node = self.nodes.entry(id).or_insert_with(|| NodeBook {
            seen: round,
            ..NodeBook::default()
        });
        if seq <= node.seq {
            return emitted;
        }
        node.seq = seq;
        if add {
            if node.paths.insert(path.clone()) {
                self.increment(path, &mut emitted);
            }
        } else if node.paths.remove(&path) {
            self.decrement(path, &mut emitted);
        }
        emitted
    }

    /// A part of a node's census answer; the last part replaces what is
    /// known of the node, unless a newer change arrived meanwhile.
    fn answer(&mut self, message: &async_nats::Message) -> Vec<Change> {
        let mut emitted = Vec::new();
        let Some((id, seq)) = sender(message) else {
            return emitted;
        };
        let round = self.round;
        if !self.nodes.contains_key(&id) && self.nodes.len() >= MAX_NODES {
            return emitted;
        }
        let node = self.nodes.entry(id).or_default();
        node.seen = round;
        node.pending.extend(
            message
                .payload
                .split(|&byte| byte == b'\n')
                .filter(|line| !line.is_empty())
                .filter_map(path_of),
        );
        if node.pending.len() > MAX_PATHS {
            node.pending.clear();
            return emitted;
        }
        if header(message, PART) != Some("end") {
            return emitted;
        }
        let paths: HashSet<EventPath> = std::mem::take(&mut node.pending).into_iter().collect();
        if seq < node.seq {
            // Changes newer than this census are already applied on top
            // of what was known; the next census settles the rest.
            return emitted;
        }
        node.seq = seq;
        let old = std::mem::replace(&mut node.paths, paths);
        let added: Vec<EventPath> = node.paths.difference(&old).cloned().collect();
        let dropped: Vec<EventPath> = old.difference(&node.paths).cloned().collect();
        for path in added {
            self.increment(path, &mut emitted);
        }
        for path in dropped {
            self.decrement(path, &mut emitted);
        }
        emitted
    }

    fn increment(&mut self, path: EventPath, emitted: &mut Vec<Change>) {
        if self.counts.len() >= MAX_PATHS && !self.counts.contains_key(&path) {
            tracing::warn!(%path, "the cluster's demand has too many paths: one is left out");
            return;
        }
        let count = self.counts.entry(path.clone()).or_insert(0);
        *count += 1;
        if *count == 1 {
            emitted.push(Change::InterestAdded(path));
        }
    }

    fn decrement(&mut self, path: EventPath, emitted: &mut Vec<Change>) {
        if let Some(count) = self.counts.get_mut(&path) {
            *count -= 1;
            if *count == 0 {
                self.counts.remove(&path);
                emitted.push(Change::InterestDropped(path));
            }
        }
    }
}

fn header<'a>(message: &'a async_nats::Message, name: &str) -> Option<&'a str> {
    message.headers.as_ref()?.get(name).map(|v| v.as_str())
}

/// The sending node's id and change number.
fn sender(message: &async_nats::Message) -> Option<(String, u64)> {
    let id = header(message, NODE)?;
    // Node ids are NATS unique ids: short and plain.
    if id.is_empty() || id.len() > 64 {
        return None;
    }
    let seq = header(message, SEQ)?.parse().ok()?;
    Some((id.to_owned(), seq))
}

fn path_of(bytes: &[u8]) -> Option<EventPath> {
    EventPath::parse(std::str::from_utf8(bytes).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(subject: &str, headers: &[(&str, &str)], payload: &str) -> async_nats::Message {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, *value);
        }
        async_nats::Message {
            subject: subject.into(),
            reply: None,
            payload: Bytes::from(payload.to_owned()),
            headers: Some(map),
            status: None,
            description: None,
            length: 0,
        }
    }

    fn change(node: &str, seq: &str, kind: &str, path: &str) -> async_nats::Message {
        message(WANT, &[(NODE, node), (SEQ, seq), (KIND, kind)], path)
    }

    fn answer(node: &str, seq: &str, part: &str, paths: &str) -> async_nats::Message {
        message("_INBOX.x", &[(NODE, node), (SEQ, seq), (PART, part)], paths)
    }

    fn names(changes: Vec<Change>) -> Vec<String> {
        changes
            .into_iter()
            .map(|change| match change {
                Change::InterestAdded(path) => format!("+{path}"),
                Change::InterestDropped(path) => format!("-{path}"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_path_is_wanted_from_the_first_node_to_the_last() {
        let mut book = Book::default();
        let a = "/on/blocks/accepted";
        assert_eq!(
            names(book.change(&change("n1", "1", "add", a))),
            [format!("+{a}")]
        );
        assert!(book.change(&change("n2", "1", "add", a)).is_empty());
        assert!(book.change(&change("n1", "2", "drop", a)).is_empty());
        assert_eq!(
            names(book.change(&change("n2", "2", "drop", a))),
            [format!("-{a}")]
        );
    }

    #[test]
    fn old_or_repeated_changes_and_garbage_change_nothing() {
        let mut book = Book::default();
        let a = "/on/contracts:ab/transfer";
        assert_eq!(book.change(&change("n1", "5", "add", a)).len(), 1);
        // Older, repeated, unknown kind, bad path, no node, huge node id.
        assert!(book.change(&change("n1", "4", "drop", a)).is_empty());
        assert!(book.change(&change("n1", "5", "drop", a)).is_empty());
        assert!(book.change(&change("n1", "6", "maybe", a)).is_empty());
        assert!(book.change(&change("n1", "7", "drop", "/off/x")).is_empty());
        assert!(
            book.change(&message(WANT, &[(SEQ, "8"), (KIND, "drop")], a))
                .is_empty()
        );
        let long = "n".repeat(65);
        assert!(
            book.change(&change(&long, "1", "add", "/on/x/y"))
                .is_empty()
        );
        assert!(book.counts.contains_key(&EventPath::parse(a).unwrap()));
    }

    #[test]
    fn a_census_in_parts_replaces_what_was_known_of_a_node() {
        let mut book = Book::default();
        book.change(&change("n1", "1", "add", "/on/blocks/accepted"));
        book.change(&change("n1", "2", "add", "/on/blocks/reverted"));
        assert!(
            book.answer(&answer("n1", "3", "more", "/on/blocks/accepted"))
                .is_empty()
        );
        let emitted = names(book.answer(&answer(
            "n1",
            "3",
            "end",
            "/on/transactions/included\n/on/contracts:ab/t",
        )));
        assert_eq!(emitted.len(), 3, "{emitted:?}");
        assert!(emitted.contains(&"+/on/transactions/included".to_owned()));
        assert!(emitted.contains(&"+/on/contracts:ab/t".to_owned()));
        assert!(emitted.contains(&"-/on/blocks/reverted".to_owned()));
        // A census older than the changes already applied is left aside.
        assert!(
            book.change(&change("n1", "4", "drop", "/on/blocks/accepted"))
                .len()
                == 1
        );
        assert!(
            book.answer(&answer("n1", "3", "end", "/on/blocks/accepted"))
                .is_empty()
        );
    }

    #[test]
    fn a_node_that_misses_censuses_is_forgotten() {
        let mut book = Book::default();
        book.new_round();
        book.change(&change("dead", "1", "add", "/on/blocks/accepted"));
        book.answer(&answer("alive", "1", "end", "/on/blocks/accepted"));
        for _ in 0..CENSUS_MISSES {
            book.new_round();
            book.answer(&answer("alive", "1", "end", "/on/blocks/accepted"));
        }
        assert!(book.nodes.contains_key("dead"));
        assert!(book.new_round().is_empty(), "still wanted by the live node");
        assert!(!book.nodes.contains_key("dead"));
        book.answer(&answer("alive", "1", "end", "/on/blocks/accepted"));
        for _ in 0..CENSUS_MISSES {
            book.new_round();
        }
        assert_eq!(names(book.new_round()), ["-/on/blocks/accepted"]);
    }

    #[test]
    fn census_answers_are_cut_into_parts_of_bounded_size() {
        let lines: Vec<String> = (0..100).map(|n| format!("/on/c:{n:04}/t")).collect();
        let parts = parts(&lines, 64);
        assert!(parts.len() > 1);
        assert!(parts.iter().all(|part| part.len() <= 64));
        let joined: Vec<&[u8]> = parts
            .iter()
            .flat_map(|part| part.split(|&b| b == b'\n'))
            .collect();
        assert_eq!(joined.len(), 100);
        assert_eq!(super::parts(&[], 64), [Bytes::new()]);
    }
}
