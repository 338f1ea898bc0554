//! The endpoint as a warp filter, for applications built on warp: upgrades
//! through warp's own `ws()` filter, every other request on `/on` and
//! `/on/...` through the core.
//!
//! warp's `ws()` cannot set tungstenite's read buffer, so a session served
//! through this filter keeps tungstenite's default 128 KiB buffer; an
//! application that serves many idle sessions does better with the
//! [`EndpointService`](crate::EndpointService) or [`Server`](crate::Server),
//! which upgrade at the hyper level with a 4 KiB one.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt, future};
use rues_core::SocketEnd;
use rues_core::http::HeaderMap;
use tokio_tungstenite::tungstenite::{Message, protocol::CloseFrame};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::path::FullPath;
use warp::reply::{Reply, Response};
use warp::ws::{Message as WarpMessage, WebSocket, Ws};

use crate::routes;
use crate::session::{self, ReadError, SessionGuard};
use crate::state::Shared;

/// `/on` and `/on/...`: upgrades first (only `/on` opens a session; the core
/// answers 404 elsewhere), then every other request through the core.
pub(crate) fn filter(shared: Arc<Shared>) -> BoxedFilter<(Response,)> {
    let upgrade = {
        let shared = shared.clone();
        warp::path("on")
            .and(warp::path::full())
            .and(warp::header::headers_cloned())
            .and(warp::addr::remote())
            .and(warp::ws())
            .map(
                move |path: FullPath, headers: HeaderMap, peer: Option<SocketAddr>, ws: Ws| {
                    upgrade(&shared, path.as_str(), &headers, peer.map(|p| p.ip()), ws)
                },
            )
    };
    let request = warp::path("on").and(routes::core(shared));
    upgrade.or(request).unify().boxed()
}

fn upgrade(
    shared: &Arc<Shared>,
    path: &str,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    ws: Ws,
) -> Response {
    // Dropped (releasing the session) if warp never completes the upgrade.
    let (guard, limit) = match SessionGuard::open(shared, path, headers, peer) {
        Ok(opened) => opened,
        Err(refusal) => return routes::into_warp(refusal),
    };
    let tasks = shared.session_tasks.clone();
    // warp's write buffer is tungstenite's default, 128 KiB; beyond it, the
    // same cap as the hyper-level upgrade's (see `routes::pong_budget`).
    ws.max_frame_size(limit)
        .max_write_buffer_size(128 * 1024 + routes::pong_budget(shared))
        .max_message_size(limit)
        .on_upgrade(move |socket| tasks.track_future(session::run(guard, adapt(socket))))
        .into_response()
}

/// warp's socket as the session task's: tungstenite messages in and out.
fn adapt(socket: WebSocket) -> impl session::Socket {
    socket
        .map(|read| read.map(from_warp))
        .with(|message: Message| future::ready(Ok::<_, warp::Error>(into_warp(message))))
}

fn from_warp(message: WarpMessage) -> Message {
    if let Some((code, reason)) = message.close_frame() {
        return Message::Close(Some(CloseFrame {
            code: code.into(),
            reason: reason.to_owned().into(),
        }));
    }
    if message.is_close() {
        Message::Close(None)
    } else if message.is_ping() {
        Message::Ping(message.into_bytes())
    } else if message.is_pong() {
        Message::Pong(message.into_bytes())
    } else if message.is_text() {
        Message::text(message.to_str().unwrap_or_default())
    } else {
        Message::Binary(message.into_bytes())
    }
}

fn into_warp(message: Message) -> WarpMessage {
    match message {
        Message::Text(text) => WarpMessage::text(text.as_str()),
        Message::Binary(bytes) => WarpMessage::binary(bytes),
        Message::Ping(bytes) => WarpMessage::ping(bytes),
        Message::Pong(bytes) => WarpMessage::pong(bytes),
        Message::Close(Some(frame)) => {
            WarpMessage::close_with(u16::from(frame.code), frame.reason.to_string())
        }
        // The session task never sends raw frames.
        Message::Close(None) | Message::Frame(_) => WarpMessage::close(),
    }
}

impl ReadError for warp::Error {
    /// warp wraps tungstenite's error: read the same facts from it.
    fn socket_end(&self) -> SocketEnd {
        std::error::Error::source(self)
            .and_then(|source| source.downcast_ref::<tokio_tungstenite::tungstenite::Error>())
            .map_or(SocketEnd::Vanished, ReadError::socket_end)
    }
}
