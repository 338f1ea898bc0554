//! The upstream session: opening it, holding the paths downstream sessions
//! want on it (the control task), and fanning its events out (the events
//! task).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use rues_client::{FeedControl, Gap};
use rues_core::http::StatusCode;
use rues_core::rues_target::{EventPath, Target};
use rues_core::{Change, Event};
use tokio::sync::mpsc;

use crate::interest::{Step, StreamKey, stream_of};
use crate::{Admission, Inner, Refusal, RelayConfig, RelayError};

/// What the control task is asked to do.
#[derive(Debug)]
pub(crate) enum Work {
    /// Interest the core recorded, in order.
    Changes(Vec<Change>),
    /// The upstream session is new: every stream is checked again (a path
    /// that could not be asked while it was down is asked now).
    Reconnected,
    /// The upstream refused to renew `path` on its new session.
    Dropped(EventPath, Refusal),
}

/// The delay before the next try of the start-up requests: 100 ms doubling
/// up to 2 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100u64 << attempt.min(4)).min(Duration::from_secs(2))
}

/// What one try at the upstream came to, for [`with_backoff`].
enum Try<T> {
    Done(T),
    /// Worth another try (the upstream is not there yet).
    Again(rues_client::Error),
    /// Another try would fail the same way.
    Fail(RelayError),
}

/// Tries `once` until it is done or fails for good, waiting [`backoff`]
/// between tries, for at most `wait`.
async fn with_backoff<T, F, Fut>(
    config: &RelayConfig,
    wait: Duration,
    mut once: F,
) -> Result<T, RelayError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Try<T>>,
{
    let deadline = tokio::time::Instant::now() + wait;
    let mut attempt = 0;
    loop {
        let source = match once().await {
            Try::Done(done) => return Ok(done),
            Try::Fail(error) => return Err(error),
            Try::Again(source) => source,
        };
        let next = tokio::time::Instant::now() + backoff(attempt);
        if next >= deadline {
            return Err(RelayError::Unreachable {
                url: config.upstream.clone(),
                waited: wait,
                source,
            });
        }
        tracing::info!(upstream = %config.upstream, error = %source, "upstream not answering yet");
        tokio::time::sleep_until(next).await;
        attempt += 1;
    }
}

/// The upstream's `Rusk-Version`, from its answer to `POST /on/node/info`.
pub(crate) async fn version(
    config: &RelayConfig,
    wait: Duration,
) -> Result<rues_core::semver::Version, RelayError> {
    let dispatcher = config.dispatcher()?;
    let timeout = config.request_timeout.min(wait.max(Duration::from_secs(1)));
    with_backoff(config, wait, || async {
        let answer = dispatcher
            .request("node/info")
            .timeout(timeout)
            .send_streamed()
            .await;
        match answer {
            Ok(reply) => {
                let found = reply
                    .headers()
                    .get(rues_core::RUSK_VERSION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .trim()
                    .to_owned();
                match found.parse() {
                    Ok(version) => Try::Done(version),
                    Err(_) => Try::Fail(RelayError::NoVersion {
                        url: config.upstream.clone(),
                        found: if found.is_empty() {
                            "no Rusk-Version header".to_owned()
                        } else {
                            format!("Rusk-Version: {found}")
                        },
                    }),
                }
            }
            // A certificate it does not trust will not become trusted.
            Err(source) if source.certificate_error().is_some() => Try::Fail(RelayError::Config {
                url: config.upstream.clone(),
                source,
            }),
            Err(source) => Try::Again(source),
        }
    })
    .await
}

/// The upstream session, opened within `wait`.
pub(crate) async fn connect(
    config: &RelayConfig,
    wait: Duration,
) -> Result<rues_client::Client, RelayError> {
    with_backoff(config, wait, || async {
        match config.client().reconnect(true).connect().await {
            Ok(client) => Try::Done(client),
            Err(source) if matches!(source, rues_client::Error::InvalidUrl { .. }) => {
                Try::Fail(RelayError::Config {
                    url: config.upstream.clone(),
                    source,
                })
            }
            Err(source) => Try::Again(source),
        }
    })
    .await
}

/// The control task: brings what the upstream holds in line with what the
/// downstream sessions want, one upstream request at a time, in the order
/// the core recorded the changes, and answers each path's admission.
pub(crate) async fn control(
    inner: Arc<Inner>,
    control: FeedControl,
    mut work: mpsc::UnboundedReceiver<Work>,
) {
    while let Some(item) = work.recv().await {
        let touched: BTreeSet<StreamKey> = {
            let mut state = inner.state();
            match item {
                Work::Changes(changes) => changes
                    .into_iter()
                    .filter_map(|change| match change {
                        Change::InterestAdded(path) => {
                            let key = stream_of(&path);
                            state.streams.want(path);
                            Some(key)
                        }
                        Change::InterestDropped(path) => {
                            state.streams.unwant(&path);
                            Some(stream_of(&path))
                        }
                        _ => None,
                    })
                    .collect(),
                Work::Reconnected => state.wanted_paths().map(stream_of).collect::<BTreeSet<_>>(),
                Work::Dropped(path, refusal) => {
                    state.streams.unsubscribed(&path);
                    state.streams.refused(&path);
                    if let Some(admission) = state.admissions.get(&path) {
                        admission.send_replace(Admission::Refused(Arc::new(refusal)));
                    }
                    BTreeSet::from([stream_of(&path)])
                }
            }
        };
        for key in touched {
            settle(&inner, &control, &key).await;
        }
    }
}

/// Runs `key`'s steps until the upstream holds what it should (or cannot
/// be asked now), then answers the admissions of the stream's paths.
async fn settle(inner: &Inner, control: &FeedControl, key: &StreamKey) {
    let mut unreachable = None;
    loop {
        let Some(step) = inner.state().streams.next_step(key) else {
            break;
        };
        match step {
            Step::Subscribe(path) => match control.subscribe(path.clone()).await {
                Ok(()) => inner.state().streams.subscribed(&path),
                Err(error) => match error.status() {
                    Some(status) => {
                        let refusal = Refusal {
                            status: StatusCode::from_u16(status.as_u16())
                                .unwrap_or(StatusCode::BAD_GATEWAY),
                            message: upstream_message(&error),
                        };
                        let mut state = inner.state();
                        state.streams.refused(&path);
                        if let Some(admission) = state.admissions.get(&path) {
                            admission.send_replace(Admission::Refused(Arc::new(refusal)));
                        }
                    }
                    None => {
                        // Not the upstream's answer (it is down, or slow):
                        // asked again when its session is back.
                        unreachable = Some(error.to_string());
                        break;
                    }
                },
            },
            Step::Unsubscribe(path) => {
                // Whatever the answer (a 404 means it was gone already),
                // the upstream no longer holds the path for the relay.
                if let Err(error) = control.unsubscribe(path.clone()).await {
                    tracing::debug!(%path, %error, "upstream unsubscribe");
                }
                inner.state().streams.unsubscribed(&path);
            }
        }
    }
    let state = inner.state();
    for path in state.streams.wanted(key) {
        let Some(admission) = state.admissions.get(&path) else {
            continue;
        };
        if state.streams.covered(&path) {
            admission.send_replace(Admission::Active);
        } else if let (Some(reason), false) = (&unreachable, state.streams.is_refused(&path)) {
            // Those waiting now are told; the path stays wanted, and is
            // asked again on the next session.
            if matches!(*admission.borrow(), Admission::Pending) {
                admission.send_replace(Admission::Refused(Arc::new(Refusal {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    message: format!("the relay's upstream is unavailable: {reason}"),
                })));
            }
        }
    }
}

/// The upstream's own message in a refusal (`Display` of a status error
/// starts with the status).
fn upstream_message(error: &rues_client::Error) -> String {
    match error {
        rues_client::Error::Status { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// The events task: each upstream event to the downstream sessions it
/// matches, and each gap to the sessions of its streams.
pub(crate) async fn events(inner: Arc<Inner>, mut feed: rues_client::Feed) {
    let registry = inner.port.registry();
    while let Some(item) = feed.next().await {
        match item {
            Ok(event) => {
                let path = match registry.canonical(event.path().clone()) {
                    Ok(path) => path,
                    Err(_) => event.path().clone(),
                };
                let event = relayed(path, &event);
                if inner.taken_by_cluster(&event) {
                    inner.counters.event();
                    continue;
                }
                match inner.port.deliver(&event) {
                    Ok(_) => {
                        inner.counters.event();
                        inner.to_cluster(&event);
                    }
                    Err(error) => {
                        tracing::warn!(location = %event.path, %error, "upstream event not relayed");
                    }
                }
            }
            Err(Gap::Reconnected { cause, .. }) => {
                let held = held_streams(&inner);
                tracing::warn!(%cause, "upstream session lost and renewed, its events in between lost");
                for stream in &held {
                    tell_gap(
                        &inner,
                        stream,
                        "the relay's upstream session was lost and renewed: events in between are lost",
                    );
                }
                let _ = inner.work.send(Work::Reconnected);
            }
            Err(Gap::Lagged { missed }) => {
                tracing::warn!(missed, "the relay fell behind its upstream");
                let reason =
                    format!("the relay fell behind its upstream and dropped {missed} events");
                for stream in &held_streams(&inner) {
                    tell_gap(&inner, stream, &reason);
                }
            }
            Err(Gap::Dropped { path, error }) => {
                let refusal = Refusal {
                    status: error
                        .status()
                        .and_then(|s| StatusCode::from_u16(s.as_u16()).ok())
                        .unwrap_or(StatusCode::BAD_GATEWAY),
                    message: upstream_message(&error),
                };
                tell_gap(
                    &inner,
                    &wildcard(&stream_of(&path)),
                    &format!("the relay's upstream refused {path} on its new session: {refusal:?}"),
                );
                let _ = inner.work.send(Work::Dropped(path, refusal));
            }
            Err(Gap::Missed { path, first, last }) => {
                // The upstream resumed the path but no longer had events
                // `first..=last` of its stream.
                tell_gap(
                    &inner,
                    &wildcard(&stream_of(&path)),
                    &format!(
                        "the relay's upstream session was renewed, and the upstream no longer had its events {first}-{last} of this stream"
                    ),
                );
            }
            Err(Gap::Lost { stream, reason }) => {
                tell_gap(&inner, &stream, &format!("upstream: {reason}"));
            }
            Err(other) => {
                tracing::warn!(gap = %other, "upstream gap");
                for stream in &held_streams(&inner) {
                    tell_gap(&inner, stream, &other.to_string());
                }
            }
        }
    }
}

/// Counts new upstream sessions: the upstream session's id changes with
/// each (a reconnect the upstream resumed completely yields no gap, so the
/// feed alone would not show it). Checked four times a second.
pub(crate) async fn watch_session(inner: Arc<Inner>) {
    let mut session = inner.client.session_id();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = inner.client.session_id();
        if now != session && inner.client.is_connected() {
            session = now;
            let renewed = inner.state().streams.upstream_count();
            inner.counters.reconnected(renewed);
            tracing::info!(%session, renewed, "upstream session renewed");
            // Also when the upstream resumed every path (no gap): a path
            // that could not be asked while it was down is asked now.
            let _ = inner.work.send(Work::Reconnected);
        }
    }
}

/// The wildcard path of a stream: how a stream is named to the core.
fn wildcard(key: &StreamKey) -> EventPath {
    EventPath::new(Target::new(key.0.clone(), None), key.1.clone())
}

/// The streams some downstream session wants (here or in the cluster),
/// as their wildcard paths.
fn held_streams(inner: &Inner) -> Vec<EventPath> {
    let keys: BTreeSet<StreamKey> = inner.state().wanted_paths().map(stream_of).collect();
    keys.iter().map(wildcard).collect()
}

/// The streams some session of another node of the cluster wants, as
/// their wildcard paths.
pub(crate) fn cluster_streams(inner: &Inner) -> Vec<EventPath> {
    let keys: BTreeSet<StreamKey> = inner.state().cluster_paths().map(stream_of).collect();
    keys.iter().map(wildcard).collect()
}

/// A gap notice as an event, for the cluster: the `Rues-Gap` header and no
/// payload, which every node of the cluster makes its own notice.
pub(crate) fn gap_event(stream: &EventPath, reason: &str) -> Event {
    Event::new(
        stream.clone(),
        "application/octet-stream",
        bytes::Bytes::new(),
    )
    .with_header(rues_core::rues_wire::RUES_GAP, reason)
}

/// Tells every downstream session subscribed on `stream` that events of
/// it may be missing; in a cluster, the other nodes' sessions too, by an
/// event with the notice's header and no payload, which each node
/// makes its own notice (rues-cluster's `deliver`).
fn tell_gap(inner: &Inner, stream: &EventPath, reason: &str) {
    let notice = gap_event(stream, reason);
    if inner.taken_by_cluster(&notice) {
        // Numbered by the cluster's shared history, and made a notice by
        // each node (this one included) when it comes back.
        return;
    }
    match inner.port.notify_gap(stream, reason) {
        Ok(told) => tracing::info!(%stream, sessions = told.receivers, reason, "gap notice sent"),
        Err(error) => tracing::warn!(%stream, %error, "gap notice not sent"),
    }
    inner.to_cluster(&notice);
}

/// An upstream event as the relay's core publishes it: the same path and
/// payload (shared, not copied), its `Content-Type` or the one rusk's
/// payloads have, and its other headers (`Rusk-Origin`, ...) but those the
/// core sets itself.
fn relayed(path: EventPath, event: &rues_client::Event) -> Event {
    let content_type = event
        .content_type()
        .map_or_else(|| crate::content_type_for(&path).to_owned(), str::to_owned);
    let mut relayed = Event::new(path, content_type, event.payload().clone());
    for (name, value) in event.headers().iter() {
        let own = [
            "content-location",
            "content-type",
            "content-length",
            "rues-seq",
            "rues-epoch",
        ]
        .iter()
        .any(|own| name.eq_ignore_ascii_case(own));
        if !own {
            relayed = relayed.with_header(name, value);
        }
    }
    relayed
}
