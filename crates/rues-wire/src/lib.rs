//! The event frame codec of RUES, the Rusk Universal Event System.
//!
//! A RUES node delivers each event to a client as one binary WebSocket
//! message laid out like this (docs/protocol.md §6):
//!
//! ```text
//! +-------------------+-------------------------------+------------------------+
//! | u32 little-endian | N bytes: UTF-8 JSON object,   | payload: the rest of   |
//! | N = header length | { String : String }           | the message, raw bytes |
//! +-------------------+-------------------------------+------------------------+
//! ```
//!
//! Every frame a node sends carries three headers: `Content-Location` (the
//! event's canonical location, e.g. `/on/blocks:ab12/accepted`),
//! `Content-Type` (the payload's format) and `Content-Length` (the payload
//! length as a decimal string). Others may follow, such as `Rusk-Origin`,
//! and, from a node that keeps a history for resume after reconnect,
//! `Rues-Seq` and `Rues-Epoch` (see [`Position`] and [`ResumeResult`]).
//! Readers compare header names ASCII case-insensitively.
//!
//! - [`Frame::encode`] writes the compact JSON header block in header order
//!   and returns one [`Bytes`] allocated at its exact size, so a node encodes
//!   an event once and clones the same buffer into every receiving session.
//! - [`Frame::decode`] checks every length before allocating or slicing,
//!   bounds the header block by [`Limits`], and returns a payload that is a
//!   slice of the input, not a copy. Malformed input yields a [`DecodeError`],
//!   never a panic.
//!
//! ```
//! use rues_wire::{Bytes, DecodeError, Frame};
//!
//! // The worked example of docs/protocol.md §6.
//! let frame = Frame::new("/on/blocks:ab12/accepted", "application/json", Bytes::from_static(b"{}"));
//! let message = frame.encode()?;
//! assert_eq!(message.len(), 108);
//! assert_eq!(&message[..4], &102u32.to_le_bytes());
//! assert!(message[4..].starts_with(br#"{"Content-Location":"/on/blocks:ab12/accepted","#));
//!
//! let decoded = Frame::decode(&message)?;
//! assert_eq!(decoded, frame);
//! assert_eq!(decoded.content_location(), Some("/on/blocks:ab12/accepted"));
//! assert_eq!(decoded.payload(), &b"{}"[..]);
//!
//! // A message cut short is an error value.
//! let cut = message.slice(..50);
//! assert!(matches!(Frame::decode(&cut), Err(DecodeError::HeaderLenPastEnd { declared: 102, available: 46 })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod frame;
mod headers;
mod json;
mod resume;
mod session;

pub use bytes::Bytes;

pub use crate::error::{DecodeError, EncodeError};
pub use crate::frame::{Frame, LENGTH_PREFIX_LEN, Limits};
pub use crate::headers::Headers;
pub use crate::resume::{
    Epoch, InvalidResume, Position, RUES_EPOCH, RUES_GAP, RUES_RESUME, RUES_RESUME_RESULT,
    RUES_SEQ, ResumeResult,
};
pub use crate::session::{
    InvalidSessionId, RUSK_FEEDER, RUSK_SESSION_ID, RUSK_VERSION, RUSK_VERSION_STRICT, SessionId,
};

/// The header naming the event's canonical, entity-specific location.
pub const CONTENT_LOCATION: &str = "Content-Location";

/// The header naming the payload's format, e.g. `application/json`.
pub const CONTENT_TYPE: &str = "Content-Type";

/// The header giving the payload length in bytes, as a decimal string.
pub const CONTENT_LENGTH: &str = "Content-Length";
