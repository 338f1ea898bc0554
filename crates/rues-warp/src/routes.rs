//! How requests reach the core: WebSocket upgrades answered at the hyper
//! level ([`upgrade`]), every other request through [`request`] (dispatch
//! bodies read up to the limit), and the warp filters a
//! [`Server`](crate::Server) adds: `/metrics`, the application's routes,
//! the core's 404.

use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use rues_core::http::header::{
    CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use rues_core::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Version};
use rues_core::{Answer, Arrival, BodyLimit, Decision, DispatchTicket, Forward, Job};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::path::FullPath;
use warp::reply::Response;

use crate::backplane::{Forwarded, ForwardedBody, ForwardedRequest};
use crate::health::{self, HealthCheck};
pub(crate) use crate::reply::into_warp;
use crate::session::{self, SessionGuard};
use crate::state::{BodyDeadlines, Shared};

/// The routes a [`Server`](crate::Server) serves beside the endpoint (which
/// the listener calls directly for `/on` and `/on/...`): `/metrics` and
/// `/health` unless an admin listener serves them (`admin`), then `extra`
/// (the application's own routes, e.g. a web page), then the core's 404 for
/// everything else.
pub(crate) fn routes(
    shared: Arc<Shared>,
    admin: Option<BoxedFilter<(Response,)>>,
    extra: Option<BoxedFilter<(Response,)>>,
) -> BoxedFilter<(Response,)> {
    let public = match (admin, extra) {
        (Some(admin), Some(extra)) => admin.or(extra).unify().boxed(),
        (Some(routes), None) | (None, Some(routes)) => routes,
        (None, None) => return core(shared).boxed(),
    };
    public.or(core(shared)).unify().boxed()
}

/// `/metrics` and `/health`: on the public listener, or on an admin
/// listener of their own.
pub(crate) fn admin(
    shared: Arc<Shared>,
    checks: Arc<[(String, HealthCheck)]>,
) -> BoxedFilter<(Response,)> {
    let health = {
        let shared = shared.clone();
        warp::path("health")
            .and(warp::path::end())
            .and(warp::get())
            .map(move || health::answer(&shared, &checks))
    };
    let metrics = {
        let shared = shared.clone();
        warp::path("metrics")
            .and(warp::path::end())
            .and(warp::get())
            .map(move || {
                let mut response = Response::new(shared.render_metrics().into());
                response.headers_mut().insert(
                    "content-type",
                    warp::http::HeaderValue::from_static(
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    ),
                );
                response
            })
    };
    metrics.or(health).unify().boxed()
}

/// What an admin listener serves: [`admin`], and a 404 for anything else
/// (never RUES: sessions and requests are the public listener's).
pub(crate) fn admin_only(
    shared: Arc<Shared>,
    checks: Arc<[(String, HealthCheck)]>,
) -> BoxedFilter<(Response,)> {
    let version = shared.node().config().version.to_string();
    let not_found = warp::any().map(move || {
        let mut response = Response::new(
            "{\"error\":\"the admin listener serves /metrics and /health only\"}".into(),
        );
        *response.status_mut() = StatusCode::NOT_FOUND;
        let headers = response.headers_mut();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        if let Ok(version) = HeaderValue::from_str(&version) {
            headers.insert(rues_core::RUSK_VERSION, version);
        }
        response
    });
    admin(shared, checks).or(not_found).unify().boxed()
}

/// Whether a request belongs to the endpoint: `/on` and everything under
/// `/on/` (not `/online`).
pub(crate) fn is_endpoint_path(path: &str) -> bool {
    path == "/on" || path.starts_with("/on/")
}

/// Whatever the other routes leave, answered by the core (its 404); the
/// warp filter mounts it under `/on`.
pub(crate) fn core(
    shared: Arc<Shared>,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    warp::path::full()
        .and(warp::method())
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .then(
            move |path: FullPath, method: Method, headers: HeaderMap, body| {
                let shared = shared.clone();
                async move { request(&shared, path.as_str(), method, headers, body).await }
            },
        )
}

/// The key of a WebSocket upgrade request, when it is one: `GET` with
/// `Connection: upgrade`, `Upgrade: websocket`, `Sec-WebSocket-Version: 13`
/// and a `Sec-WebSocket-Key` (the checks of warp's `ws()` filter), over
/// HTTP/1.1 or later. Anything else is an ordinary request. Whether the key
/// and the other headers are well formed is the core's decision.
pub(crate) fn websocket_key<B>(request: &Request<B>) -> Option<HeaderValue> {
    // RFC 6455 §4.1: the upgrade is an HTTP/1.1 request. An HTTP/1.0 one is
    // not an upgrade at all, so it gets the core's 426 (an HTTP refusal),
    // never a 101 on a connection HTTP/1.0 cannot keep.
    if request.method() != Method::GET || request.version() < Version::HTTP_11 {
        return None;
    }
    upgrade_key(request.method(), request.headers())
}

/// The key of a WebSocket upgrade, from the request's method and headers
/// (the version is the caller's to check, when it knows it).
pub(crate) fn upgrade_key(method: &Method, headers: &HeaderMap) -> Option<HeaderValue> {
    if method != Method::GET {
        return None;
    }
    let connection_upgrade = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    let websocket = headers
        .get(UPGRADE)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"websocket"));
    let version = headers
        .get(SEC_WEBSOCKET_VERSION)
        .is_some_and(|value| value.as_bytes() == b"13");
    let key = headers.get(SEC_WEBSOCKET_KEY)?;
    (connection_upgrade && websocket && version).then(|| key.clone())
}

/// A WebSocket upgrade, answered at the hyper level: only on `/on` (fix:
/// the reference node accepts any path starting with `/on`); the core
/// decides (403, 503); then 101, and the session task runs on the upgraded
/// socket once hyper hands it over.
pub(crate) fn upgrade<B>(
    shared: &Arc<Shared>,
    mut request: Request<B>,
    key: &HeaderValue,
) -> Response {
    // The TCP peer, when whoever accepted the connection recorded it (our
    // listener does; axum's `ConnectInfo` and others can insert it too).
    let peer = request
        .extensions()
        .get::<std::net::SocketAddr>()
        .map(std::net::SocketAddr::ip);
    let upgrading = hyper::upgrade::on(&mut request);
    let path = request.uri().path();
    start_session(shared, path, request.headers(), peer, key, upgrading)
}

/// The one way a session starts, whichever way the upgrade came (the
/// listener, [`EndpointService`](crate::EndpointService), the warp
/// filter): the core opens the session or refuses it; on 101, the session
/// task takes the upgraded connection's bytes as they are, once hyper
/// hands them over.
pub(crate) fn start_session(
    shared: &Arc<Shared>,
    path: &str,
    headers: &HeaderMap,
    peer: Option<std::net::IpAddr>,
    key: &HeaderValue,
    upgrading: OnUpgrade,
) -> Response {
    // If the upgrade never completes, the guard is dropped, which releases
    // the session.
    let guard = match SessionGuard::open(shared, path, headers, peer) {
        Ok(guard) => guard,
        Err(refusal) => return into_warp(refusal),
    };
    let id = guard.id;
    shared.session_tasks.spawn(async move {
        match upgrading.await {
            Ok(upgraded) => session::run(guard, TokioIo::new(upgraded)).await,
            Err(error) => {
                tracing::debug!(session = %id, %error, "WebSocket upgrade did not complete");
                drop(guard);
            }
        }
    });
    let mut response = Response::default();
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

/// Any request on `/on/...` that is not an upgrade.
pub(crate) async fn request<S, B, E>(
    shared: &Arc<Shared>,
    path: &str,
    method: Method,
    headers: HeaderMap,
    body: S,
) -> Response
where
    S: Stream<Item = Result<B, E>>,
    B: Buf,
    E: std::fmt::Display,
{
    request_from(shared, Arrival::Client, path, method, headers, body).await
}

/// [`request`], for a request that may come from another node of the
/// cluster (`arrival`). In a cluster, a subscribe is answered only once
/// the backplane has settled (the cluster sends the path's events here
/// from then on), and a request the core leaves to another node is
/// forwarded, with the core's own answer when nobody takes it.
pub(crate) async fn request_from<S, B, E>(
    shared: &Arc<Shared>,
    arrival: Arrival,
    path: &str,
    method: Method,
    headers: HeaderMap,
    body: S,
) -> Response
where
    S: Stream<Item = Result<B, E>>,
    B: Buf,
    E: std::fmt::Display,
{
    let started = Instant::now();
    // A resume in a cluster may need the shared history first; held until
    // the subscribe is answered.
    let _resuming = match shared.backplane() {
        Some(backplane) if method == Method::GET => match resume_point(shared, path, &headers) {
            Some((canonical, from)) => Some(backplane.prepare_resume(&canonical, from).await),
            None => None,
        },
        _ => None,
    };
    let decision = shared
        .node()
        .handle_request_from(arrival, &method, path, &headers);
    let response = match decision {
        Decision::Respond(response) => match shared.backplane() {
            Some(backplane) if method == Method::GET && response.status().is_success() => {
                into_warp(admit(shared, &**backplane, arrival, path, &headers, response).await)
            }
            _ => into_warp(response),
        },
        Decision::ReadBody(ticket) => into_warp(dispatch(shared, ticket, body).await),
        Decision::Forward(forward) => {
            forward_request(shared, forward, path, method.clone(), headers, body).await
        }
    };
    shared.metrics.request(
        method.as_str(),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// The canonical event path of a request path (query left out), as the
/// core holds it; `None` for a path it would refuse.
fn canonical_path(shared: &Shared, path: &str) -> Option<rues_core::rues_target::EventPath> {
    let node = shared.node();
    let raw = path.split_once('?').map_or(path, |(path, _query)| path);
    rues_core::rues_target::EventPath::parse_with(raw, &node.config().limits.path)
        .ok()
        .and_then(|parsed| node.registry().canonical(parsed).ok())
}

/// Where a subscribe of a session of this node asks to resume from: its
/// path and its well-formed `Rues-Resume` (a malformed one is the core's
/// 400, and needs nothing; another node's session resumes there).
fn resume_point(
    shared: &Shared,
    path: &str,
    headers: &HeaderMap,
) -> Option<(rues_core::rues_target::EventPath, rues_core::Position)> {
    // Most subscribes do not resume: nothing more is looked at for them.
    let from = headers
        .get(rues_core::RUES_RESUME)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let session = headers
        .get(rues_core::RUSK_SESSION_ID)?
        .to_str()
        .ok()?
        .parse()
        .ok()?;
    if !shared.node().is_open(session) {
        return None;
    }
    Some((canonical_path(shared, path)?, from))
}

/// A subscribe the core accepted, answered once the backplane admits it;
/// when it refuses, the session's subscription is taken back (as a
/// `DELETE` with the same headers would: a subscription the session held
/// before goes too, since the backplane cannot serve its path) and the
/// refusal is the answer.
async fn admit(
    shared: &Shared,
    backplane: &dyn crate::Backplane,
    arrival: Arrival,
    path: &str,
    headers: &HeaderMap,
    accepted: rues_core::Response,
) -> rues_core::Response {
    let canonical = canonical_path(shared, path);
    // The core accepted the path, so it parses; a path that does not is
    // answered as before, after the backplane settled.
    let Some(canonical) = canonical else {
        backplane.settled().await;
        return accepted;
    };
    match backplane.admit(&canonical).await {
        Ok(()) => accepted,
        Err(refusal) => {
            // The DELETE's own answer (200, or 404 when a concurrent
            // refusal took it back already) is not the client's.
            let _ = shared
                .node()
                .handle_request_from(arrival, &Method::DELETE, path, headers);
            // The headers every answer of this node carries (Rusk-Version,
            // CORS, the echoed X-*), as the accepted answer had them, so
            // that a browser can read the refusal.
            let mut refusal = refusal;
            for (name, value) in accepted.headers() {
                if name.as_str() != rues_core::RUES_RESUME_RESULT
                    && !refusal.headers().contains_key(name)
                {
                    refusal.headers_mut().append(name.clone(), value.clone());
                }
            }
            refusal
        }
    }
}

/// A request another node must answer: its body read (under the same
/// limits and deadlines as a dispatch's), then handed to the backplane;
/// the core's fallback when there is none or nobody took it.
async fn forward_request<S, B, E>(
    shared: &Shared,
    forward: Forward,
    path: &str,
    method: Method,
    headers: HeaderMap,
    body: S,
) -> Response
where
    S: Stream<Item = Result<B, E>>,
    B: Buf,
    E: std::fmt::Display,
{
    let Some(backplane) = shared.backplane() else {
        return into_warp(forward.fallback);
    };
    let body = match &forward.body {
        Some(limit) => match read_body(shared, limit, body).await {
            Ok(body) => body,
            Err(refusal) => return into_warp(refusal),
        },
        None => Bytes::new(),
    };
    let request = ForwardedRequest {
        method,
        path: path.to_owned(),
        headers,
        body,
    };
    match backplane.forward(forward.to.clone(), request).await {
        Forwarded::Answer(answer) => {
            let (parts, body) = answer.into_parts();
            let body = match body {
                ForwardedBody::Whole(bytes) => bytes.into(),
                ForwardedBody::Chunks(chunks) => {
                    let stream = warp::reply::stream(crate::reply::SyncStream::new(chunks));
                    warp::Reply::into_response(stream).into_body()
                }
            };
            Response::from_parts(parts, body)
        }
        Forwarded::Nobody => into_warp(forward.fallback),
        Forwarded::Failed(status, message) => into_warp(forward.failed(status, &message)),
    }
}

/// Reads the body up to the limit (refusing as soon as it is passed, without
/// reading the rest), then runs the handler without holding the node: an
/// async one on this task, a blocking one on the blocking pool. A streamed
/// answer is returned as soon as the handler has given its stream; hyper
/// polls the stream as it writes the body (see [`into_warp`]).
async fn dispatch<S, B, E>(shared: &Shared, ticket: DispatchTicket, body: S) -> Answer
where
    S: Stream<Item = Result<B, E>>,
    B: Buf,
    E: std::fmt::Display,
{
    let body = match read_body(shared, ticket.body_limit(), body).await {
        Ok(body) => body,
        Err(refusal) => return refusal.into(),
    };
    match ticket.with_body(body) {
        Ok(call) => match call.into_job() {
            Job::Async(answer) => answer.await,
            Job::Blocking(job) => shared.blocking.run(job).await.into(),
        },
        Err(response) => response.into(),
    }
}

/// A request body, read whole up to `limit` (refused as soon as it passes
/// it) within the endpoint's body deadlines.
async fn read_body<S, B, E>(
    shared: &Shared,
    limit: &BodyLimit,
    body: S,
) -> Result<Bytes, rues_core::Response>
where
    S: Stream<Item = Result<B, E>>,
    B: Buf,
    E: std::fmt::Display,
{
    let mut body = std::pin::pin!(body);
    let max = limit.max();
    let deadlines = shared.body_deadlines;
    let deadline = tokio::time::Instant::now() + deadlines.total;
    let mut buffer = BytesMut::new();
    loop {
        // The next piece must come within the idle timeout and before the
        // whole body's deadline: a body left open, cut short of its
        // Content-Length or dripped byte by byte ends here, not never.
        let wait = deadline.min(tokio::time::Instant::now() + deadlines.idle);
        let chunk = match tokio::time::timeout_at(wait, body.next()).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(_) => return Err(body_late(limit, deadlines)),
        };
        let mut chunk = match chunk {
            Ok(chunk) => chunk,
            Err(error) => return Err(limit.unreadable(&error.to_string())),
        };
        if buffer.len() + chunk.remaining() > max {
            return Err(limit.too_large());
        }
        while chunk.has_remaining() {
            let piece = chunk.chunk();
            buffer.extend_from_slice(piece);
            let len = piece.len();
            chunk.advance(len);
        }
    }
    Ok(buffer.freeze())
}

/// The 408 for a body that missed its deadlines: the core's error for an
/// unreadable body (JSON, `Rusk-Version`, CORS) with the status that says
/// why, and `Connection: close`, since the rest of the body may still be
/// on its way and the connection cannot be reused.
fn body_late(limit: &BodyLimit, deadlines: BodyDeadlines) -> rues_core::Response {
    let mut response = limit.unreadable(&format!(
        "it did not arrive in time (whole within {} ms, no pause over {} ms)",
        deadlines.total.as_millis(),
        deadlines.idle.as_millis()
    ));
    *response.status_mut() = StatusCode::REQUEST_TIMEOUT;
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}
