//! The warp filters: the WebSocket session at `/on`, requests on `/on/...`,
//! and `/metrics`.

use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use rues_core::http::{HeaderMap, Method, StatusCode};
use rues_core::{Decision, DispatchTicket};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::path::FullPath;
use warp::reply::Response;

use crate::session::{self, SessionGuard};
use crate::state::{SessionSignal, Shared};

/// Converts the core's response into warp's.
pub(crate) fn into_warp(response: rues_core::Response) -> Response {
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, body.into())
}

/// Every route of the transport, with `extra` (the application's own
/// routes, e.g. a web page) tried after RUES's and before the 404.
pub(crate) fn routes(
    shared: Arc<Shared>,
    extra: Option<BoxedFilter<(Response,)>>,
) -> BoxedFilter<(Response,)> {
    let upgrade = {
        let shared = shared.clone();
        warp::path::full()
            .and(warp::ws())
            .and(warp::header::headers_cloned())
            .map(
                move |path: FullPath, ws: warp::ws::Ws, headers: HeaderMap| {
                    upgrade(&shared, path.as_str(), ws, &headers)
                },
            )
    };
    let on = {
        let shared = shared.clone();
        warp::path("on")
            .and(warp::path::full())
            .and(warp::method())
            .and(warp::header::headers_cloned())
            .and(warp::body::stream())
            .then(
                move |path: FullPath, method: Method, headers: HeaderMap, body| {
                    let shared = shared.clone();
                    async move { request(&shared, path.as_str(), method, headers, body).await }
                },
            )
    };
    let metrics = {
        let shared = shared.clone();
        warp::path("metrics")
            .and(warp::path::end())
            .and(warp::get())
            .map(move || {
                let stats = shared.core().node.stats();
                let mut response = Response::new(shared.metrics.render(&stats).into());
                response.headers_mut().insert(
                    "content-type",
                    warp::http::HeaderValue::from_static(
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    ),
                );
                response
            })
    };
    let not_found = {
        let shared = shared.clone();
        warp::header::headers_cloned().map(move |headers: HeaderMap| {
            into_warp(shared.core().node.error_response(
                &headers,
                StatusCode::NOT_FOUND,
                "no such route: RUES lives under /on",
            ))
        })
    };
    let rues = upgrade.or(on).unify().or(metrics).unify();
    match extra {
        Some(extra) => rues.or(extra).unify().or(not_found).unify().boxed(),
        None => rues.or(not_found).unify().boxed(),
    }
}

fn is_session_path(path: &str) -> bool {
    path == "/on" || path == "/on/"
}

/// A WebSocket upgrade: only on `/on` (fix: the reference node accepts any
/// path starting with `/on`).
fn upgrade(shared: &Arc<Shared>, path: &str, ws: warp::ws::Ws, headers: &HeaderMap) -> Response {
    let mut core = shared.core();
    if !is_session_path(path) {
        return into_warp(core.node.error_response(
            headers,
            StatusCode::NOT_FOUND,
            &format!("sessions are opened on /on, not on {path}"),
        ));
    }
    let limit = core.node.config().limits.max_inbound_frame;
    let id = match core.node.handle_upgrade(Shared::now(), headers) {
        Ok(id) => id,
        Err(refusal) => return into_warp(refusal),
    };
    let signal = Arc::new(SessionSignal::default());
    core.signals.insert(id, signal.clone());
    drop(core);
    // The new session's keep-alive deadline may be the earliest.
    shared.timer_changed.notify_one();
    // If the upgrade never completes, warp drops the callback and the guard
    // with it, which releases the session.
    let guard = SessionGuard::new(shared.clone(), id, signal);
    let reply = ws
        .max_frame_size(limit)
        .max_message_size(limit)
        .on_upgrade(move |socket| session::run(guard, socket));
    warp::Reply::into_response(reply)
}

/// Any request on `/on/...` that is not an upgrade.
async fn request<S, B>(
    shared: &Arc<Shared>,
    path: &str,
    method: Method,
    headers: HeaderMap,
    body: S,
) -> Response
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let started = Instant::now();
    let response = if is_session_path(path) {
        shared.core().node.error_response(
            &headers,
            StatusCode::UPGRADE_REQUIRED,
            "open a session with a WebSocket upgrade on /on",
        )
    } else {
        let decision = shared.with_core(|node| node.handle_request(&method, path, &headers));
        match decision {
            Decision::Respond(response) => response,
            Decision::ReadBody(ticket) => dispatch(ticket, body).await,
        }
    };
    shared.metrics.request(
        method.as_str(),
        response.status().as_u16(),
        started.elapsed(),
    );
    into_warp(response)
}

/// Reads the body up to the limit (refusing as soon as it is passed, without
/// reading the rest), then runs the handler without holding the node.
async fn dispatch<S, B>(ticket: DispatchTicket, body: S) -> rues_core::Response
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let mut body = std::pin::pin!(body);
    let max = ticket.max_body();
    let mut buffer = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let mut chunk = match chunk {
            Ok(chunk) => chunk,
            Err(error) => return ticket.body_unreadable(&error.to_string()),
        };
        if buffer.len() + chunk.remaining() > max {
            return ticket.body_too_large();
        }
        while chunk.has_remaining() {
            let piece = chunk.chunk();
            buffer.extend_from_slice(piece);
            let len = piece.len();
            chunk.advance(len);
        }
    }
    match ticket.with_body(Bytes::from(buffer)) {
        Ok(call) => call.run().await,
        Err(response) => response,
    }
}
