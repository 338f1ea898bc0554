//! Parser for RUES event paths: `/on/<component>[:<entity>]/<topic>`.
//!
//! RUES (the Rusk Universal Event System) names every event and every
//! subscription by a path. This crate turns such a path into typed values
//! ([`EventPath`], [`Target`], [`Component`], [`Entity`], [`Topic`]), writes
//! them back in canonical form with `Display`, and implements the
//! subscription matching rule. It knows nothing of sessions, HTTP or sockets.
//!
//! # Grammar (docs/protocol.md §3)
//!
//! ```text
//! path      = "/on/" target "/" topic [ "/" ]         ; query string ignored
//! target    = component [ ":" entity ]                 ; split at the FIRST raw ":"
//! component = 1*( ALPHA / DIGIT / "-" / "_" / "." )
//! entity    = 1*pchar-encoded                          ; percent-decoded AFTER splitting
//! topic     = 1*pchar-encoded                          ; percent-decoded AFTER splitting; may contain ":"
//! ```
//!
//! - The raw path is split on `/`, and the target on its first raw `:`,
//!   **before** percent-decoding: `%3A` in an entity is data, and `%2F` can
//!   never forge a segment.
//! - Exactly two segments follow `/on/`; one trailing slash is tolerated and
//!   names the same event. Everything from the first `?` is ignored.
//! - Case is preserved and compared exactly.
//! - [`Limits`]: raw path ≤ 1024 bytes (query excluded), entity ≤ 256 bytes
//!   and topic ≤ 128 bytes after decoding, all configurable.
//! - A `%` must be followed by two hex digits, and decoded entities and
//!   topics must be UTF-8.
//!
//! # Raw characters
//!
//! Entities and topics may hold, unencoded, any printable ASCII character
//! and any non-ASCII UTF-8 character (clients and browsers do send raw
//! UTF-8). Raw whitespace and control characters are rejected with
//! [`Error::ForbiddenChar`]: well-behaved clients never send them, and they
//! are easy to confuse in logs. Percent-encoded, any byte sequence that
//! decodes to UTF-8 is accepted.
//!
//! # Canonical form
//!
//! `Display` percent-encodes every byte outside RFC 3986 `pchar` (so `%`,
//! `/`, `?`, `#`, whitespace, controls and non-ASCII bytes), and in an entity
//! also `:`. Hence `EventPath::parse(&path.to_string()) == Ok(path)` for every
//! parsed path whose display fits the path limit.
//!
//! # Example
//!
//! ```
//! use rues_target::{Error, EventPath, Segment};
//!
//! let event = EventPath::parse("/on/contracts:a%3Ab/Transfer:v2/")?;
//! assert_eq!(event.component().as_str(), "contracts");
//! assert_eq!(event.entity().map(|entity| entity.as_str()), Some("a:b"));
//! // Component and topic are lower-cased; the entity keeps its case.
//! assert_eq!(event.topic().as_str(), "transfer:v2");
//! assert_eq!(event.to_string(), "/on/contracts:a%3Ab/transfer:v2");
//!
//! // A subscription without entity receives the events of every entity.
//! let subscription: EventPath = "/on/contracts/Transfer:v2".parse()?;
//! assert!(subscription.matches(&event));
//!
//! // An encoded slash is data, never a segment split.
//! let forged = EventPath::parse("/on/blocks%2Fx/accepted");
//! assert_eq!(forged, Err(Error::InvalidComponentChar { ch: '%' }));
//! assert_eq!(
//!     EventPath::parse("/on/blocks:/accepted"),
//!     Err(Error::Empty { segment: Segment::Entity })
//! );
//! # Ok::<(), Error>(())
//! ```

mod encoding;
mod error;
mod limits;
mod name;
mod path;
mod target;

pub use error::{Error, Segment};
pub use limits::Limits;
pub use name::{Component, Entity, Topic};
pub use path::EventPath;
pub use target::Target;
