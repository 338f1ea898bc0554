//! The sans-IO core of RUES, the Rusk Universal Event System.
//!
//! [`Node`] holds everything RUES means: sessions, subscriptions, the
//! registry of components and dispatch handlers, the check order and status
//! codes of every request, keep-alive, and event fan-out with per-session
//! bounded queues. It performs no I/O: it never reads a clock, spawns, sleeps
//! or touches a socket. Time comes in as a `now: Instant` argument, session
//! ids from an injected [`IdSource`] ([`OsIds`] in production, [`SeededIds`]
//! in tests), and everything the transport must do comes out of `poll_*`
//! calls. Any transport (our `rues-warp` adapter, or yours) gets identical
//! semantics by driving it.
//!
//! # The drive loop
//!
//! An adapter owns one [`Node`] (behind a mutex if several tasks share it)
//! and repeats:
//!
//! 1. **Feed one input**, with the current time where asked:
//!    - a WebSocket upgrade on `/on`: [`Node::handle_upgrade`] gives the new
//!      [`SessionId`] (send it as the first Text frame) or the refusal
//!      response (403, 503);
//!    - an HTTP request on `/on/...`: [`Node::handle_request`] gives a
//!      [`Decision`]: a response to send, or a [`DispatchTicket`] for a
//!      `POST`: read at most [`DispatchTicket::max_body`] bytes, turn it into
//!      a [`Call`] with [`DispatchTicket::with_body`] and await
//!      [`Call::run`] *without holding the node*;
//!    - a frame from a client: [`Node::handle_inbound`]; a socket that
//!      closed or vanished: [`Node::handle_closed`];
//!    - an event from the application: [`Node::publish`];
//!    - the timer firing: [`Node::handle_timeout`].
//! 2. **Drain the outputs** with [`Node::poll_output`] until it returns
//!    `None`: [`Output::Ping`], and [`Output::Close`] (close that socket
//!    with the reason's code; the core has already released the session).
//! 3. **Re-arm the timer** to [`Node::poll_timeout`], and wait for the next
//!    input or the timer.
//!
//! Frames do not go through the outputs. Each session has an [`Outbox`]
//! ([`Node::outbox`]), a queue with its own lock that [`Node::publish`]
//! fills: the task writing the session's socket drains it with
//! [`Outbox::poll_drain`] as fast as the socket takes frames, without
//! locking the node, and is woken through its [`std::task::Waker`] when the
//! outbox goes from empty to non-empty. (An adapter without async tasks can
//! pass a waker of its own making, e.g. from [`std::task::Wake`], or just
//! call [`Node::poll_transmit`].)
//!
//! Publishing never waits on a client: a session whose queue would pass
//! [`Limits::max_queue_bytes`] is closed with 4008 and the others carry on.
//!
//! # Example: driving the core by hand
//!
//! ```
//! use std::time::{Duration, Instant};
//! use bytes::Bytes;
//! use http::{HeaderMap, Method, StatusCode};
//! use rues_core::{
//!     ComponentSpec, Config, Decision, EntityRule, Event, Node, Output, Registry, SeededIds,
//! };
//! use rues_target::{Component, EventPath, Topic};
//!
//! let registry = Registry::new().with(
//!     ComponentSpec::new(Component::new("blocks")?)
//!         .entity(EntityRule::Optional)
//!         .topic(Topic::new("accepted")?),
//! );
//! let config = Config::new("1.6.0".parse()?);
//! let mut node = Node::new(config, registry, SeededIds::new(1));
//! let start = Instant::now();
//!
//! // 1. A client opens a session (the adapter upgraded `/on`).
//! let session = node.handle_upgrade(start, &HeaderMap::new()).expect("accepted");
//!
//! // 1. It subscribes to every accepted block.
//! let mut headers = HeaderMap::new();
//! headers.insert("rusk-session-id", session.to_string().parse()?);
//! let Decision::Respond(response) =
//!     node.handle_request(&Method::GET, "/on/blocks/accepted", &headers)
//! else {
//!     unreachable!("GET never reads a body")
//! };
//! assert_eq!(response.status(), StatusCode::OK);
//!
//! // 1. The application publishes an event at its entity-specific location.
//! let event = Event::new(
//!     EventPath::parse("/on/blocks:ab12/accepted")?,
//!     "application/json",
//!     Bytes::from_static(b"{}"),
//! );
//! assert_eq!(node.publish(&event)?.receivers, 1);
//!
//! // 2. The session's outbox has one frame to send; no output is pending.
//! let frame = node.poll_transmit(session).expect("one frame");
//! assert_eq!(frame.len(), 108); // PROTOCOL.md §6's worked example
//! assert_eq!(node.poll_output(), None);
//!
//! // 3. Re-arm the timer: the first ping is due after `ping_interval`.
//! let due = node.poll_timeout().expect("a session is open");
//! assert_eq!(due, start + Duration::from_secs(30));
//! node.handle_timeout(due);
//! assert_eq!(node.poll_output(), Some(Output::Ping(session)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// A refused request is an `Err(Response)`: built once per request, moved once
// to the adapter. Boxing it would add an allocation to every refusal for no gain.
#![allow(clippy::result_large_err)]

mod access;
mod config;
mod cors;
mod id;
mod index;
mod node;
mod outbox;
mod registry;
mod request;
mod response;

pub use access::{AccessRule, AccessRules, InvalidAccessRule, Operation};
pub use config::{Config, Limits};
pub use cors::OriginPolicy;
pub use id::{
    BuildIdHasher, IdHasher, IdSource, IdSourceError, OsIds, SeededIds, SessionMap, SessionSet,
};
pub use node::{CloseReason, Event, Node, Output, PublishError, Published, SessionError, Stats};
pub use outbox::Outbox;
pub use registry::{
    ComponentSpec, DispatchRequest, EntityRule, Handler, HandlerError, HandlerFuture, Registry,
    Reply, RequestBody,
};
pub use request::{Call, Decision, DispatchTicket};
pub use response::Response;
pub use rues_wire::{
    InvalidSessionId, RUSK_SESSION_ID, RUSK_VERSION, RUSK_VERSION_STRICT, SessionId,
};

// The crates this one's API is made of, so users need not name them twice.
pub use {bytes, http, rues_target, rues_wire, semver};
