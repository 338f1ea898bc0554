//! What the node declares to NATS, and the events that cross it.
//!
//! Two tasks apply the core's changes in order: one subscribes the subject
//! of each session opened here (the node answers for it) and drops it with
//! the session; the control task handles interest: a stream (component,
//! topic) that a local subscription first wants is
//! read from its JetStream stream ([`crate::history`]), or without
//! JetStream subscribed as `rues.ev.<component>.*.<topic>`, and both are
//! dropped with the last reason to hold them (a resume's pin is one too). A stream is one subscription
//! whatever entities are wanted, so its events come through one channel in
//! the order the broker sent them (publish order per stream), and the
//! core's index picks the sessions. After each batch the control task
//! flushes (the broker has the subscriptions), then says so to
//! [`Backplane::settled`](rues_warp::Backplane::settled).
//!
//! The async-nats client re-sends every subscription itself when it
//! reconnects, so interest is declared again after an outage with nothing
//! to do here.

use std::collections::HashMap;
use std::sync::Arc;

use async_nats::HeaderMap;
use futures_util::StreamExt;
use rues_core::rues_target::{Component, EventPath, Topic};
use rues_core::{Arrival, Change, Event, Position, SessionId};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::Inner;
use crate::subject;

/// Headers an event frame gets from the node itself: never taken from, or
/// sent as, a NATS header of the event.
const OWN_HEADERS: [&str; 3] = ["content-type", "content-length", "content-location"];

/// Work for the control task.
pub(crate) enum Control {
    /// A batch of the core's changes, numbered.
    Changes(u64, Vec<Change>),
    /// Receive the stream of this path, as a local subscription would, and
    /// say when it is received: a resume is about to read its history.
    Pin(EventPath, oneshot::Sender<()>),
    /// The pinned resume was answered.
    Unpin(EventPath),
}

/// The streams this node receives: how many reasons hold each (local
/// subscriptions' paths, pins), and the task that delivers its events.
type Received = HashMap<(Component, Topic), (usize, JoinHandle<()>)>;

/// Applies the core's interest changes as they come (see the module docs),
/// and the pins of resumes; says which batch is in effect in `confirmed`.
pub(crate) async fn control(
    inner: Arc<Inner>,
    mut work: mpsc::UnboundedReceiver<Control>,
    confirmed: watch::Sender<u64>,
) {
    let mut streams: Received = HashMap::new();
    while let Some(first) = work.recv().await {
        let mut last = None;
        let mut pinned = Vec::new();
        let mut next = Some(first);
        while let Some(item) = next.take() {
            match item {
                Control::Changes(number, batch) => {
                    last = Some(number);
                    for change in batch {
                        apply_interest(&inner, &mut streams, change).await;
                    }
                }
                Control::Pin(path, done) => {
                    add_stream(&inner, &mut streams, &path).await;
                    pinned.push(done);
                }
                Control::Unpin(path) => drop_stream(&inner, &mut streams, &path),
            }
            next = work.try_recv().ok();
        }
        flush(&inner).await;
        for done in pinned {
            let _ = done.send(());
        }
        if let Some(last) = last {
            confirmed.send_replace(last);
        }
    }
}

/// Applies the core's session changes as they come: a session opened here
/// subscribes its subject, apart from the streams (whose JetStream setup
/// may take a while), so that a new session's id waits for nothing else.
pub(crate) async fn owners(
    inner: Arc<Inner>,
    mut work: mpsc::UnboundedReceiver<(u64, Vec<Change>)>,
    confirmed: watch::Sender<u64>,
) {
    let mut sessions: HashMap<SessionId, JoinHandle<()>> = HashMap::new();
    while let Some((mut last, mut batch)) = work.recv().await {
        while let Ok((number, more)) = work.try_recv() {
            last = number;
            batch.extend(more);
        }
        for change in batch {
            match change {
                Change::SessionOpened(id) => {
                    if let Some(task) = owner(&inner, id).await {
                        inner.counters.sessions(1);
                        if let Some(old) = sessions.insert(id, task) {
                            old.abort();
                            inner.counters.sessions(-1);
                        }
                    }
                }
                Change::SessionClosed(id) => {
                    if let Some(task) = sessions.remove(&id) {
                        // Dropping the subscriber unsubscribes.
                        task.abort();
                        inner.counters.sessions(-1);
                    }
                }
                Change::InterestAdded(_) | Change::InterestDropped(_) => {}
            }
        }
        flush(&inner).await;
        confirmed.send_replace(last);
    }
}

/// Waits until the broker has what was sent (bounded: it may be going).
async fn flush(inner: &Inner) {
    if inner.is_up() {
        let flush = inner.client.flush();
        let _ = tokio::time::timeout(inner.config.settle_timeout, flush).await;
    }
}

/// Applies one of the core's interest changes.
async fn apply_interest(inner: &Arc<Inner>, streams: &mut Received, change: Change) {
    // Watchers of the cluster's demand (a relay) learn of each path.
    if let Some((headers, payload)) = crate::demand::record(inner, &change) {
        let publish = inner
            .client
            .publish_with_headers(crate::demand::WANT, headers, payload);
        if let Err(error) = publish.await {
            tracing::debug!(%error, "a change of demand could not be sent");
        }
    }
    match change {
        Change::InterestAdded(path) => add_stream(inner, streams, &path).await,
        Change::InterestDropped(path) => drop_stream(inner, streams, &path),
        Change::SessionOpened(_) | Change::SessionClosed(_) => {}
    }
}

/// One more reason to receive the stream of `path`: the first starts it.
async fn add_stream(inner: &Arc<Inner>, streams: &mut Received, path: &EventPath) {
    let key = (path.component().clone(), path.topic().clone());
    if let Some((count, _)) = streams.get_mut(&key) {
        *count += 1;
    } else if let Some(task) = stream(inner, path).await {
        inner.counters.streams(1);
        streams.insert(key, (1, task));
    }
}

/// One reason fewer: the last stops receiving the stream.
fn drop_stream(inner: &Inner, streams: &mut Received, path: &EventPath) {
    let key = (path.component().clone(), path.topic().clone());
    if let Some((count, _)) = streams.get_mut(&key) {
        *count -= 1;
        if *count == 0 {
            if let Some((_, task)) = streams.remove(&key) {
                task.abort();
                inner.counters.streams(-1);
            }
        }
    }
}

/// Subscribes the session's subject and answers what comes on it, as the
/// session's owner.
async fn owner(inner: &Arc<Inner>, id: SessionId) -> Option<JoinHandle<()>> {
    match inner.client.subscribe(subject::session_subject(id)).await {
        Ok(subscriber) => Some(tokio::spawn(crate::forward::answer_all(
            inner.clone(),
            subscriber,
            Arrival::ForOwner,
        ))),
        Err(error) => {
            tracing::warn!(session = %id, %error, "cannot declare the session to the cluster");
            None
        }
    }
}

/// Receives the stream of `path` and delivers its events here: from the
/// shared history when the cluster has one, else by a plain subscription.
async fn stream(inner: &Arc<Inner>, path: &EventPath) -> Option<JoinHandle<()>> {
    if inner.shares_history() {
        if let Some(task) = crate::history::consume(inner, path).await {
            return Some(task);
        }
    }
    let whole_stream = path.without_entity();
    match inner
        .client
        .subscribe(subject::interest_subject(&whole_stream))
        .await
    {
        Ok(mut subscriber) => {
            let inner = inner.clone();
            Some(tokio::spawn(async move {
                while let Some(message) = subscriber.next().await {
                    deliver(&inner, &message, None);
                }
            }))
        }
        Err(error) => {
            tracing::warn!(%path, %error, "cannot subscribe the stream in the cluster");
            None
        }
    }
}

/// What a message on an event subject is.
enum Message {
    Event(Event),
    /// A gap notice published into the cluster (a relay's: its upstream
    /// lost events): the stream, and the reason.
    Gap(EventPath, String),
    /// Not a RUES event (its subject is not in its one spelling).
    Invalid,
}

fn classify(message: &async_nats::Message) -> Message {
    let Some(event) = decode_event(message) else {
        return Message::Invalid;
    };
    let gap = event
        .extra_headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(rues_core::rues_wire::RUES_GAP))
        .filter(|_| event.payload.is_empty() && event.path.entity().is_none())
        .map(|(_, reason)| reason.clone());
    match gap {
        Some(reason) => Message::Gap(event.path, reason),
        None => Message::Event(event),
    }
}

/// The event of a message read back from the shared history; `None` for
/// a number that stands for no event (a gap notice, or not a RUES event).
pub(crate) fn decode(message: &async_nats::Message) -> Option<Event> {
    match classify(message) {
        Message::Event(event) => Some(event),
        Message::Gap(..) | Message::Invalid => None,
    }
}

/// An event from the cluster, delivered to the local sessions it matches,
/// at its number in the shared history when it has one.
pub(crate) fn deliver(inner: &Inner, message: &async_nats::Message, at: Option<Position>) {
    // A gap notice is this node's own notice too: a hole in its history
    // and a notice frame to the stream's sessions, as if made here.
    let delivered = match (classify(message), at) {
        (Message::Invalid, _) => {
            inner.counters.event_invalid();
            return;
        }
        (Message::Gap(stream, reason), None) => inner.port.notify_gap(&stream, &reason),
        (Message::Gap(stream, reason), Some(at)) => inner.port.notify_gap_at(&stream, &reason, at),
        (Message::Event(event), None) => inner.port.deliver(&event),
        (Message::Event(event), Some(at)) => inner.port.deliver_at(&event, at),
    };
    inner.counters.event_received();
    if let Err(error) = delivered {
        tracing::debug!(%error, "an event from the cluster cannot be framed here");
    }
}

/// The event a NATS message carries: the path from its subject, the
/// payload as it is, `Content-Type` and the other headers from its NATS
/// headers (docs/cluster.md, "Publishing into the cluster").
pub(crate) fn decode_event(message: &async_nats::Message) -> Option<Event> {
    let path = subject::parse_event_subject(message.subject.as_str()).ok()?;
    let mut content_type = "application/octet-stream".to_owned();
    let mut extra = Vec::new();
    if let Some(headers) = &message.headers {
        for (name, values) in headers.iter() {
            let name = name.to_string();
            if name.eq_ignore_ascii_case("content-type") {
                if let Some(value) = values.first() {
                    value.as_str().clone_into(&mut content_type);
                }
                continue;
            }
            if OWN_HEADERS.iter().any(|own| name.eq_ignore_ascii_case(own)) {
                continue;
            }
            for value in values {
                extra.push((name.clone(), value.as_str().to_owned()));
            }
        }
    }
    // Headers come out of a hash map: keep their order stable.
    extra.sort();
    let mut event = Event::new(path, content_type, message.payload.clone());
    event.extra_headers = extra;
    Some(event)
}

/// The NATS headers an event is published with.
pub(crate) fn event_headers(event: &Event) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("Content-Type", event.content_type.as_str());
    for (name, value) in &event.extra_headers {
        if OWN_HEADERS.iter().any(|own| name.eq_ignore_ascii_case(own)) {
            continue;
        }
        let (Ok(name), Ok(value)) = (
            name.parse::<async_nats::HeaderName>(),
            value.parse::<async_nats::HeaderValue>(),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    headers
}

/// An event published here, for the cluster.
pub(crate) struct Outgoing {
    pub(crate) event: Event,
    /// Taken by the backplane before local delivery, to be numbered by
    /// the shared history ([`Backplane::take`](rues_warp::Backplane::take)).
    pub(crate) taken: bool,
}

/// Delivers an event published here to the local sessions, numbered here.
fn deliver_here(inner: &Inner, event: &Event) {
    if let Err(error) = inner.port.deliver(event) {
        tracing::debug!(%error, "an event cannot be framed here");
    }
}

/// Sends the node's events to the cluster, in publish order. With a
/// shared history, an event the backplane took goes out once its stream
/// exists (it comes back numbered); if the stream cannot be had, it is
/// numbered and delivered here, as without one.
pub(crate) async fn publish(inner: Arc<Inner>, mut events: mpsc::Receiver<Outgoing>) {
    while let Some(Outgoing { event, taken }) = events.recv().await {
        if taken && !inner.known_stream(&event.path) {
            let ensure = inner.shared_stream(&event.path);
            let ensured = tokio::time::timeout(inner.config.settle_timeout, ensure).await;
            if !matches!(ensured, Ok(Ok(_))) {
                tracing::debug!(location = %event.path, "no shared history for the event: numbered here");
                deliver_here(&inner, &event);
                if inner.shares_history() {
                    // JetStream is there but did not answer: sent now, the
                    // event could come back here a second time, numbered.
                    inner.counters.event_dropped();
                    continue;
                }
                // No JetStream: the other nodes read plain subscriptions.
            }
        }
        let subject = subject::event_subject(&event.path);
        let headers = event_headers(&event);
        // The server closes a connection that sends a message over its
        // `max_payload`: such an event stays local, counted as dropped.
        let headers_len: usize = headers
            .iter()
            .map(|(name, values)| {
                values
                    .iter()
                    .map(|value| name.to_string().len() + value.as_str().len() + 4)
                    .sum::<usize>()
            })
            .sum();
        let max = inner.client.server_info().max_payload;
        if event.payload.len() + headers_len + 16 > max {
            inner.counters.event_dropped();
            tracing::warn!(
                location = %event.path,
                size = event.payload.len(),
                max,
                "an event over NATS's max_payload stays on this node"
            );
            if taken {
                // Taken from local delivery to be numbered: delivered here
                // now, numbered by this node.
                deliver_here(&inner, &event);
            }
            continue;
        }
        match inner
            .client
            .publish_with_headers(subject, headers, event.payload.clone())
            .await
        {
            Ok(()) => inner.counters.event_sent(),
            Err(error) => {
                inner.counters.event_dropped();
                tracing::debug!(%error, "an event could not be sent to the cluster");
            }
        }
    }
}
