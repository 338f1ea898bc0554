//! Requests that cross the cluster: sending one to the node that must
//! answer it ([`forward`]), and answering those sent here
//! ([`answer_all`]), in the envelope of [`crate::wire`].

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{FutureExt, StreamExt};
use rues_core::http::{Response, StatusCode};
use rues_core::{Arrival, Destination};
use rues_warp::{BodyChunks, BoxError, Forwarded, ForwardedBody, ForwardedRequest};

use crate::Inner;
use crate::metrics::{Outcome, Route};
use crate::subject;
use crate::wire::{self, ChunkState, Head};

/// Room left in a message for its headers, below the server's
/// `max_payload`.
const HEADER_ROOM: usize = 16 * 1024;

/// The queue group every service subscribes in, so that NATS gives each
/// dispatch to one of them.
const SERVICE_GROUP: &str = "rues";

/// Sends `request` to whoever must answer it and gives back what came of it.
pub(crate) async fn forward(
    inner: Arc<Inner>,
    to: Destination,
    request: ForwardedRequest,
) -> Forwarded {
    let (route, subject) = match &to {
        Destination::Owner(id) => (Route::Owner, subject::session_subject(*id)),
        Destination::Service(path) => (
            Route::Service,
            subject::service_subject(path.component(), path.topic()),
        ),
    };
    let outcome = send(&inner, route, subject, request).await;
    let counted = match &outcome {
        Forwarded::Answer(_) => Outcome::Answered,
        Forwarded::Nobody => Outcome::Nobody,
        Forwarded::Failed(..) => Outcome::Failed,
    };
    inner.counters.forwarded(route, counted);
    outcome
}

async fn send(
    inner: &Arc<Inner>,
    route: Route,
    subject: String,
    request: ForwardedRequest,
) -> Forwarded {
    if !inner.is_up() {
        return match route {
            // No owner can be reached: to the client, the session is gone
            // (it reconnects, and its new session is local).
            Route::Owner => Forwarded::Nobody,
            Route::Service => Forwarded::Failed(
                StatusCode::SERVICE_UNAVAILABLE,
                "the cluster backplane is down: no node that serves this topic can be reached"
                    .into(),
            ),
        };
    }
    let room = max_payload(inner);
    if request.body.len() > room {
        return Forwarded::Failed(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "request body exceeds {room} bytes, the most that can cross this cluster (NATS max_payload)"
            ),
        );
    }
    let headers = wire::request_headers(&request);
    let timeout = inner.config.request_timeout;
    let sent = inner
        .client
        .send_request(
            subject,
            async_nats::Request::new()
                .headers(headers)
                .payload(request.body)
                .timeout(Some(timeout)),
        )
        .await;
    let message = match sent {
        Ok(message) => message,
        Err(error) => {
            return match error.kind() {
                async_nats::RequestErrorKind::NoResponders => Forwarded::Nobody,
                async_nats::RequestErrorKind::TimedOut => Forwarded::Failed(
                    StatusCode::GATEWAY_TIMEOUT,
                    format!(
                        "the node that took the request gave no answer within {} s",
                        timeout.as_secs()
                    ),
                ),
                async_nats::RequestErrorKind::Other => Forwarded::Failed(
                    StatusCode::BAD_GATEWAY,
                    "the request could not cross the cluster".into(),
                ),
            };
        }
    };
    match wire::decode_head(&message) {
        Ok(Head::Refused(status, reason)) => Forwarded::Failed(status, reason),
        Ok(Head::Answer {
            status,
            headers,
            whole,
            first,
            state,
            pull,
        }) => {
            let chunks = match (state, pull) {
                (ChunkState::End, _) if whole => {
                    return answered(status, headers, ForwardedBody::Whole(first));
                }
                (ChunkState::End, _) => {
                    Box::pin(futures_util::stream::iter([Ok(first)]).filter(non_empty))
                }
                (ChunkState::More, Some(pull)) => pulled(inner, first, pull),
                (ChunkState::Error, _) | (ChunkState::More, None) => cut_short(first),
            };
            let body = if whole {
                // Gathered here, so that it goes out with its length as the
                // node that made it would send it; it was whole in that
                // node's memory already.
                match gather(chunks, inner.config.max_whole_answer).await {
                    Ok(bytes) => ForwardedBody::Whole(bytes),
                    Err(error) => {
                        return Forwarded::Failed(StatusCode::BAD_GATEWAY, error.to_string());
                    }
                }
            } else {
                ForwardedBody::Chunks(chunks)
            };
            answered(status, headers, body)
        }
        Err(error) => {
            tracing::debug!(%error, "a malformed answer came back from the cluster");
            Forwarded::Failed(
                StatusCode::BAD_GATEWAY,
                "the node that took the request answered something malformed".into(),
            )
        }
    }
}

/// The other node's answer, as the transport sends it.
fn answered(
    status: StatusCode,
    headers: rues_core::http::HeaderMap,
    body: ForwardedBody,
) -> Forwarded {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Forwarded::Answer(response)
}

/// A whole body from its chunks, at most `max` bytes: whoever answers on
/// NATS cannot make this node hold more.
async fn gather(mut chunks: BodyChunks, max: usize) -> Result<Bytes, BoxError> {
    let mut whole = BytesMut::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        if whole.len() + chunk.len() > max {
            return Err(Box::from(format!(
                "the answer from the cluster is larger than {max} bytes, the most this node gathers"
            )));
        }
        whole.extend_from_slice(&chunk);
    }
    Ok(whole.freeze())
}

/// The most body bytes one message may carry.
fn max_payload(inner: &Inner) -> usize {
    inner
        .client
        .server_info()
        .max_payload
        .saturating_sub(HEADER_ROOM)
        .max(1024)
}

fn failure(text: &'static str) -> BoxError {
    Box::from(text)
}

/// A body that failed after `first`.
fn cut_short(first: Bytes) -> BodyChunks {
    Box::pin(
        futures_util::stream::iter([Ok(first)])
            .chain(futures_util::stream::once(async {
                Err(failure("the answer failed at the node that gave it"))
            }))
            .filter(non_empty),
    )
}

/// A body whose first chunk came with the head; the rest is pulled from
/// `pull`, one chunk per request.
fn pulled(inner: &Arc<Inner>, first: Bytes, pull: String) -> BodyChunks {
    let client = inner.client.clone();
    let timeout = inner.config.pull_timeout;
    let rest = futures_util::stream::unfold(Some(pull), move |pull| {
        let client = client.clone();
        async move {
            let pull = pull?;
            let reply =
                tokio::time::timeout(timeout, client.request(pull.clone(), Bytes::new())).await;
            let Ok(Ok(message)) = reply else {
                return Some((
                    Err(failure(
                        "the rest of the answer did not come from the node that gave it",
                    )),
                    None,
                ));
            };
            match wire::chunk_state(&message) {
                Ok(ChunkState::More) => Some((Ok(message.payload), Some(pull))),
                Ok(ChunkState::End) => Some((Ok(message.payload), None)),
                Ok(ChunkState::Error) | Err(_) => Some((
                    Err(failure("the answer failed at the node that gave it")),
                    None,
                )),
            }
        }
    });
    Box::pin(
        futures_util::stream::iter([Ok(first)])
            .chain(rest)
            .filter(non_empty),
    )
}

/// Empty data chunks are left out: they say nothing, and HTTP/1.1 chunked
/// framing has no empty chunk but the last.
fn non_empty(item: &Result<Bytes, BoxError>) -> std::future::Ready<bool> {
    std::future::ready(item.as_ref().map_or(true, |bytes| !bytes.is_empty()))
}

/// Subscribes, in the service queue group, every topic this node has a
/// handler for (a component's every topic when it has a fallback handler).
pub(crate) async fn serve_registry(inner: &Arc<Inner>) {
    let registry = inner.port.registry();
    let mut subjects = Vec::new();
    for spec in registry.components() {
        if spec.has_fallback_handler() {
            subjects.push(subject::service_wildcard(spec.name()));
        }
        for topic in spec.handler_topics() {
            subjects.push(subject::service_subject(spec.name(), topic));
        }
    }
    for subject in subjects {
        match inner
            .client
            .queue_subscribe(subject.clone(), SERVICE_GROUP.to_owned())
            .await
        {
            Ok(subscriber) => {
                tokio::spawn(answer_all(inner.clone(), subscriber, Arrival::ForService));
            }
            Err(error) => tracing::warn!(%subject, %error, "cannot serve a topic to the cluster"),
        }
    }
}

/// Answers every request that comes on `subscriber`, each on a task of its
/// own (at most `max_answering` at once over the node; past that, 503).
pub(crate) async fn answer_all(
    inner: Arc<Inner>,
    mut subscriber: async_nats::Subscriber,
    arrival: Arrival,
) {
    while let Some(message) = subscriber.next().await {
        let Some(reply) = message.reply.clone() else {
            continue;
        };
        let Ok(permit) = inner.answering.clone().try_acquire_owned() else {
            let refusal = wire::refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "the node is answering as many forwarded requests as it may; try again later",
            );
            let _ = inner
                .client
                .publish_with_headers(reply, refusal, Bytes::new())
                .await;
            continue;
        };
        let inner = inner.clone();
        tokio::spawn(async move {
            answer_one(&inner, message, reply, arrival).await;
            drop(permit);
        });
    }
}

async fn answer_one(
    inner: &Arc<Inner>,
    message: async_nats::Message,
    reply: async_nats::Subject,
    arrival: Arrival,
) {
    let request = match wire::decode_request(&message) {
        Ok(request) => request,
        Err(error) => {
            let refusal = wire::refusal(StatusCode::BAD_REQUEST, &error.to_string());
            let _ = inner
                .client
                .publish_with_headers(reply, refusal, Bytes::new())
                .await;
            return;
        }
    };
    inner.counters.answered(match arrival {
        Arrival::ForService => Route::Service,
        Arrival::Client | Arrival::ForOwner => Route::Owner,
    });
    let response = inner.port.answer(arrival, request).await;
    send_answer(inner, reply, response).await;
}

/// Sends an answer: the head with the first chunk, then a chunk per pull
/// until the body ends, fails, or the requester stops pulling.
async fn send_answer(
    inner: &Arc<Inner>,
    reply: async_nats::Subject,
    response: Response<ForwardedBody>,
) {
    let (parts, body) = response.into_parts();
    let (whole, mut body): (bool, BodyChunks) = match body {
        ForwardedBody::Whole(bytes) => (
            true,
            Box::pin(futures_util::stream::iter([Ok::<_, BoxError>(bytes)])),
        ),
        ForwardedBody::Chunks(chunks) => (false, chunks),
    };
    let limit = inner.config.chunk_bytes.min(max_payload(inner)).max(1);
    let wait = inner.config.pull_timeout;
    let mut left = Bytes::new();
    let (first, mut state) = next_chunk(&mut body, &mut left, limit, wait).await;
    let mut pulls = None;
    if state == ChunkState::More {
        let inbox = inner.client.new_inbox();
        match inner.client.subscribe(inbox.clone()).await {
            Ok(subscriber) => pulls = Some((inbox, subscriber)),
            Err(_) => state = ChunkState::Error,
        }
    }
    let pull_subject = pulls.as_ref().map(|(inbox, _)| inbox.as_str());
    let head = wire::answer_head(parts.status, &parts.headers, whole, state, pull_subject);
    if inner
        .client
        .publish_with_headers(reply, head, first)
        .await
        .is_err()
    {
        return;
    }
    let Some((_, mut pulls)) = pulls else { return };
    while state == ChunkState::More {
        let Ok(Some(pull)) = tokio::time::timeout(wait, pulls.next()).await else {
            // The requester went away (its client did): drop the body.
            return;
        };
        let Some(reply) = pull.reply else { continue };
        let (chunk, next) = next_chunk(&mut body, &mut left, limit, wait).await;
        state = next;
        let headers = wire::chunk_headers(state);
        if inner
            .client
            .publish_with_headers(reply, headers, chunk)
            .await
            .is_err()
        {
            return;
        }
    }
}

/// The next chunk of `body`, at most `limit` bytes: whatever is ready
/// (waiting, at most `wait`, only for its first bytes), with what a
/// larger piece left over in `left`.
async fn next_chunk(
    body: &mut BodyChunks,
    left: &mut Bytes,
    limit: usize,
    wait: Duration,
) -> (Bytes, ChunkState) {
    let mut out = BytesMut::new();
    if !left.is_empty() {
        let take = left.len().min(limit);
        out.extend_from_slice(&left.split_to(take));
        if out.len() == limit {
            return (out.freeze(), ChunkState::More);
        }
    }
    loop {
        let item = if out.is_empty() {
            match tokio::time::timeout(wait, body.next()).await {
                Ok(item) => item,
                Err(_) => return (out.freeze(), ChunkState::Error),
            }
        } else {
            match body.next().now_or_never() {
                Some(item) => item,
                None => return (out.freeze(), ChunkState::More),
            }
        };
        match item {
            None => return (out.freeze(), ChunkState::End),
            Some(Err(_)) => return (out.freeze(), ChunkState::Error),
            Some(Ok(mut bytes)) => {
                if out.is_empty() && bytes.len() <= limit {
                    // The common case, a whole answer in one piece: no copy.
                    if let Some(next) = body.next().now_or_never() {
                        return match next {
                            None => (bytes, ChunkState::End),
                            Some(Err(_)) => (bytes, ChunkState::Error),
                            Some(Ok(more)) => {
                                *left = more;
                                (bytes, ChunkState::More)
                            }
                        };
                    }
                    return (bytes, ChunkState::More);
                }
                let take = bytes.len().min(limit - out.len());
                out.extend_from_slice(&bytes.split_to(take));
                if !bytes.is_empty() {
                    *left = bytes;
                    return (out.freeze(), ChunkState::More);
                }
                if out.len() == limit {
                    return (out.freeze(), ChunkState::More);
                }
            }
        }
    }
}
