//! An async (tokio) client for RUES, the Rusk Universal Event System of
//! Dusk nodes.
//!
//! - [`Client`] opens a **session** (a WebSocket at `<node>/on`; the node's
//!   first message is the session id), **subscribes** to event paths and
//!   returns each subscription as a [`Subscription`] stream of decoded
//!   [`Event`]s, **unsubscribes** (explicitly, or when a subscription is
//!   dropped), and **dispatches** to the node's handlers.
//! - [`Dispatcher`] dispatches over HTTP alone, with no session;
//!   [`DispatchRequest::send_streamed`] gives any answer (4xx and 5xx
//!   included) with its body to read as it comes, for a program that passes
//!   answers on (a relay).
//! - [`Client::feed`] gives one stream ([`Feed`]) for the events of many
//!   paths, each event once, with paths added and removed as it goes
//!   ([`FeedControl`]).
//! - Failures are typed: [`Error::Status`] carries the node's status and
//!   its own message (`{"error": "..."}`), [`Error::SessionClosed`] the
//!   close code (1001 shutting down, 4008 slow consumer...).
//!
//! # Example
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use rues_client::Client;
//!
//! # async fn run() -> Result<(), rues_client::Error> {
//! let client = Client::builder("http://127.0.0.1:8080")
//!     .reconnect(true)
//!     .connect()
//!     .await?;
//! println!("session {}", client.session_id());
//!
//! // Ask the node something (a JSON reply)...
//! let info: serde_json::Value = client.dispatch("node/info", ()).await?.json()?;
//! println!("node {}", info["version"]);
//!
//! // ...and watch blocks: no entity, so every block.
//! let mut blocks = client.subscribe("blocks/accepted").await?;
//! while let Some(item) = blocks.next().await {
//!     match item {
//!         Ok(event) => {
//!             let block: serde_json::Value = event.json()?;
//!             println!("{} height {}", event.content_location(), block["header"]["height"]);
//!         }
//!         // Events the node could not replay after a reconnect; we are told.
//!         Err(gap) => eprintln!("{gap}"),
//!     }
//! }
//! if let Some(error) = blocks.error() {
//!     eprintln!("subscription ended: {error}");
//! }
//! # Ok(())
//! # }
//! ```
//!
//! `examples/watch_blocks.rs` and `examples/dispatch.rs` run against
//! `rues serve`.
//!
//! # What it does differently from Dusk's own clients
//!
//! - The node URL's base path is kept (w3sper drops it), and the address
//!   `rues serve` prints (`http://host:port/on`) works as given.
//! - Every request sends `Rusk-Version` (w3sper sends none on dispatch);
//!   a version mismatch is a 400 [`Error::Status`], recognized by status
//!   ([`Error::is_version_mismatch`]), not by a message prefix.
//! - Payloads are decoded by their `Content-Type`, never guessed; binary
//!   dispatch replies always come raw (`Accept: application/octet-stream`).
//! - A dropped [`Subscription`] is unsubscribed; nothing is sent for a
//!   session that is already gone (w3sper's always fails with 424).
//! - HTTP requests have timeouts (rusk-wallet's have none), and the client
//!   pings a silent node so a dead connection is noticed.
//! - With [`ClientBuilder::reconnect`], a lost session is replaced and
//!   every subscription **resumed** from the last event that arrived on its
//!   stream (`Rues-Resume`, docs/protocol.md §10): the node replays what
//!   was missed, and nothing arrives twice. A stream is told of a gap only
//!   when the node says events were lost: [`Gap::Missed`] with the lost
//!   numbers, or [`Gap::Reconnected`] when the node cannot say (another
//!   history, a node without resume, nothing received yet to resume from).
//!
//! # Delivery
//!
//! The node sends each event once per session, whatever the number of
//! matching subscriptions; the client routes it to every [`Subscription`]
//! whose path matches by the protocol's rule: equal component and topic,
//! and an equal entity unless the subscription has none. A subscription
//! buffers up to [`ClientBuilder::buffer`] events; the client never stops
//! reading the socket for a slow stream, it drops that stream's events and
//! reports [`Gap::Lagged`].

mod builder;
mod client;
mod endpoint;
mod error;
mod event;
mod feed;
mod http;
mod queue;
mod session;
mod subscription;
mod tls;

pub use crate::builder::{ClientBuilder, DEFAULT_RUSK_VERSION, ReconnectPolicy};
pub use crate::client::Client;
pub use crate::endpoint::IntoEventPath;
pub use crate::error::Error;
pub use crate::event::Event;
pub use crate::feed::{Feed, FeedControl};
pub use crate::http::{Body, DispatchRequest, Dispatcher, Reply, StreamedReply};
pub use crate::queue::Gap;
pub use crate::subscription::Subscription;

pub use ::http::{HeaderMap, StatusCode};
pub use bytes::Bytes;
pub use rues_target::EventPath;
pub use rues_wire::{
    Headers, InvalidSessionId, RUSK_FEEDER, RUSK_SESSION_ID, RUSK_VERSION, RUSK_VERSION_STRICT,
    SessionId,
};
pub use tokio_rustls::rustls;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_32_hex_characters() {
        assert!(
            "g0112233445566778899aabbccddeeff"
                .parse::<SessionId>()
                .is_err()
        );
        assert!(
            "00112233445566778899aabbccddeeff0"
                .parse::<SessionId>()
                .is_err()
        );
        assert!(
            "é0112233445566778899aabbccddeef"
                .parse::<SessionId>()
                .is_err()
        );
        let id: SessionId = "00112233445566778899aabbccddeeff".parse().unwrap();
        assert_eq!(id.as_bytes()[15], 0xff);
        assert_eq!(
            format!("{id:?}"),
            "SessionId(00112233445566778899aabbccddeeff)"
        );
    }
}
