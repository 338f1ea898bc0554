//! The sans-IO core of RUES, the Rusk Universal Event System.
//!
//! [`Node`] holds everything RUES means: sessions, subscriptions, the
//! registry of components and dispatch handlers, the check order and status
//! codes of every request, keep-alive, and event fan-out with per-session
//! bounded queues. It performs no I/O: it never reads a clock, spawns, sleeps
//! or touches a socket. Time comes in as a `now: Instant` argument, session
//! ids from an injected [`IdSource`] ([`OsIds`] in production, [`SeededIds`]
//! in tests), and everything a session's socket must carry comes out of its
//! [`Outbox`]. Any transport (our `rues-warp` adapter, or yours) gets identical
//! semantics by driving it.
//!
//! Building a node on it (registry, async and blocking handlers,
//! publishing, serving with `rues-warp`) is explained in
//! `docs/embedding.md` in the repository; the protocol itself is
//! `docs/protocol.md`.
//!
//! # The drive loop
//!
//! An adapter owns one [`Node`] (behind a mutex if several tasks share it).
//! Its methods come in three kinds:
//!
//! - **inputs**, `handle_*` and [`Node::publish`], which take the current
//!   time where they need it;
//! - **the timer**, [`Node::next_timeout`];
//! - **queries**, [`Node::stats`], [`Node::is_open`], [`Node::config`], ...
//!
//! and each session's output leaves through one place, its [`Outbox`].
//! The adapter repeats:
//!
//! 1. **Feed one input**:
//!    - a WebSocket upgrade request: [`Node::handle_upgrade`] with its path
//!      and the TCP peer's address gives a [`NewSession`] (send
//!      [`NewSession::id`] as the first Text frame, hand
//!      [`NewSession::outbox`] to the session's writer) or the refusal to
//!      send (404 off `/on`, 403, 503, 429 past the per-client limit);
//!    - any other HTTP request it does not serve itself:
//!      [`Node::handle_request`] gives a [`Decision`]: a response to send
//!      (426 on `/on`, 404 off `/on/...`, every RUES status on `/on/...`),
//!      or a [`DispatchTicket`] for a `POST`: read at most
//!      [`BodyLimit::max`] bytes, turn them into a [`Call`] with
//!      [`DispatchTicket::with_body`], and run [`Call::into_job`] *without
//!      holding the node*: await a [`Job::Async`] on the runtime, and run a
//!      [`Job::Blocking`] (a [`BlockingHandler`]: a prover, a VM query) on
//!      a bounded pool of threads kept apart from the ones that serve
//!      sessions, answering [`BlockingJob::busy`] when it stays full. The
//!      job gives the [`Answer`] to send: [`Answer::Whole`], or
//!      [`Answer::Stream`] for a handler that streams its reply
//!      ([`Reply::Stream`], typically asked for with `Rusk-Feeder`): send
//!      its head at once, then poll its [`ReplyBody`] on the runtime and
//!      write each chunk as it comes (a chunked body), never gathering the
//!      whole. An `Err` chunk means cut the body short (no clean end);
//!      when the client goes away, drop the body, which stops the
//!      handler's producer. A stream belongs to no session and counts
//!      against no outbox;
//!    - a frame from a client: [`Node::handle_inbound`]; a socket that
//!      closed or vanished, or a frame the WebSocket layer refused:
//!      [`Node::handle_closed`] with the [`SocketEnd`] it saw;
//!    - an event from the application: [`Node::publish`];
//!    - the timer firing: [`Node::handle_timeout`].
//! 2. **Write each session's output**: its writer takes the next
//!    [`Transmit`] from its [`Outbox`] — [`Transmit::Frames`] to send,
//!    [`Transmit::Ping`], or [`Transmit::Close`] (send the reason's code, if
//!    any, and stop: the core has already released the session).
//!    [`Outbox::poll_next`] waits for it with a [`std::task::Waker`], which
//!    the core wakes when output arrives; [`Outbox::try_next`] takes it
//!    without waiting, for adapters that have no tasks. A writer blocked on
//!    a socket races the write against [`Outbox::poll_closed`].
//! 3. **Re-arm the timer** to [`Node::next_timeout`] after
//!    [`Node::handle_upgrade`] and [`Node::handle_timeout`] (no other input
//!    moves it earlier), and wait for the next input or the timer.
//!
//! Writers never take the node's lock: [`Node::publish`] pushes the one
//! shared encoding of an event into each receiver's outbox, and the writer
//! empties its own.
//!
//! Every frame carries its number in its stream (component, topic) and
//! the node's [`Epoch`] (`Rues-Seq`, `Rues-Epoch`), and the node keeps the
//! same encoded `Bytes` in a bounded history per stream
//! ([`HistoryLimits`]). A subscribe `GET` with `Rues-Resume` queues the
//! events the client missed into its outbox, before any live one, within
//! the same [`Node::handle_request`] call, and its 200 says what it could
//! do ([`ResumeResult`], docs/protocol.md §10). When the application
//! knows a stream's events were lost before they reached it (a relay that
//! lost its upstream), [`Node::publish_gap`] takes the stream's next number
//! for them: every session on the stream gets a `Rues-Gap` notice frame,
//! and a later resume from before it answers a `gap`. Publishing never waits on a client: a session whose
//! queue would pass [`Limits::max_queue_bytes`] is closed with 4008 and
//! the others carry on.
//!
//! Session-scoped inputs ([`Node::handle_inbound`], [`Node::handle_closed`])
//! on a session the node does not know, never opened or already released,
//! do nothing. The core releases sessions on its own (4008, 4001,
//! shutdown), so an adapter's report can always cross that; the adapter
//! learns of it from the outbox.
//!
//! # Example: driving the core by hand
//!
//! ```
//! use std::time::{Duration, Instant};
//! use bytes::Bytes;
//! use http::{HeaderMap, Method, StatusCode};
//! use rues_core::{
//!     ComponentSpec, Config, Decision, EntityRule, Event, NewSession, Node, Registry, SeededIds,
//!     Transmit,
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
//! // 1. A client opens a session (a WebSocket upgrade on `/on`).
//! let NewSession { id, outbox, .. } =
//!     node.handle_upgrade(start, "/on", &HeaderMap::new(), None).expect("accepted");
//!
//! // 1. It subscribes to every accepted block.
//! let mut headers = HeaderMap::new();
//! headers.insert("rusk-session-id", id.to_string().parse()?);
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
//! // 2. The session's writer finds one frame to send, then nothing.
//! let mut frames = Vec::new();
//! assert_eq!(outbox.try_next(64 * 1024, &mut frames), Some(Transmit::Frames(1)));
//! // docs/protocol.md §6's worked example, numbered in its stream (resume).
//! let frame = rues_wire::Frame::decode(&frames[0])?;
//! assert_eq!(frame.content_location(), Some("/on/blocks:ab12/accepted"));
//! let position = frame.position()?.expect("numbered");
//! assert_eq!((position.epoch, position.seq), (node.epoch(), 1));
//! assert_eq!(outbox.try_next(64 * 1024, &mut frames), None);
//!
//! // 3. Re-arm the timer: the first ping is due after `ping_interval`.
//! let due = node.next_timeout().expect("a session is open");
//! assert_eq!(due, start + Duration::from_secs(30));
//! node.handle_timeout(due);
//! assert_eq!(outbox.try_next(64 * 1024, &mut frames), Some(Transmit::Ping));
//!
//! // Shutting down closes every session with 1001.
//! node.shutdown();
//! let Some(Transmit::Close(reason)) = outbox.try_next(64 * 1024, &mut frames) else {
//!     unreachable!("closed")
//! };
//! assert_eq!(reason.code(), Some(1001));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// A refused request is an `Err(Response)`: built once per request, moved once
// to the adapter. Boxing it would add an allocation to every refusal for no gain.
#![allow(clippy::result_large_err)]

mod access;
mod close;
mod cluster;
mod config;
mod cors;
mod handshake;
mod history;
mod id;
mod index;
mod node;
mod outbox;
mod quote;
mod registry;
mod reply;
mod request;
mod response;
mod resume;
mod stream;

pub use access::{AccessRule, AccessRules, InvalidAccessRule, Operation};
pub use close::{CloseReason, SocketEnd};
pub use cluster::{Arrival, Change, Destination, Forward};
pub use config::{Config, Limits};
pub use cors::OriginPolicy;
pub use history::HistoryLimits;
pub use id::{
    BuildIdHasher, IdHasher, IdSource, IdSourceError, OsIds, SeededIds, SessionMap, SessionSet,
};
pub use node::{Event, Node, PublishError, Published, Stats};
pub use outbox::{Outbox, Transmit};
pub use quote::{QUOTE_MAX_CHARS, quote};
pub use registry::{
    BlockingHandler, Canonicalise, ComponentSpec, DispatchRequest, EntityRule, Handler,
    HandlerFuture, Registry, RequestBody,
};
pub use reply::{HandlerError, Reply, ReplyStream};
pub use request::{BlockingJob, BodyLimit, Call, Decision, DispatchTicket, Job, NewSession};
pub use response::{Answer, Response};
pub use rues_wire::{
    Epoch, InvalidSessionId, Position, RUES_GAP, RUES_RESUME, RUES_RESUME_RESULT, RUSK_FEEDER,
    RUSK_SESSION_ID, RUSK_VERSION, RUSK_VERSION_STRICT, ResumeResult, SessionId,
};
pub use stream::ReplyBody;

// The crates this one's API is made of, so users need not name them twice.
pub use {bytes, futures_core, http, rues_target, rues_wire, semver};
