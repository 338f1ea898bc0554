//! [`Frame`], [`Limits`], and the codec itself.

use bytes::{BufMut, Bytes, BytesMut};

use crate::json;
use crate::{
    CONTENT_LENGTH, CONTENT_LOCATION, CONTENT_TYPE, DecodeError, EncodeError, Epoch, Headers,
    InvalidResume, Position, RUES_EPOCH, RUES_SEQ,
};

/// The length of the `u32` little-endian header length that starts every frame.
pub const LENGTH_PREFIX_LEN: usize = 4;

/// Bounds the codec enforces.
///
/// ```
/// use rues_wire::Limits;
///
/// assert_eq!(Limits::default().max_header_len(), Limits::DEFAULT_MAX_HEADER_LEN);
/// assert_eq!(Limits::new(1024).max_header_len(), 1024);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limits {
    max_header_len: usize,
}

impl Limits {
    /// The default bound on the JSON header block: 64 KiB (docs/protocol.md §7).
    pub const DEFAULT_MAX_HEADER_LEN: usize = 64 * 1024;

    /// Limits with a header block of at most `max_header_len` bytes.
    ///
    /// The length prefix is a `u32`, so encoding never produces a header block
    /// over `u32::MAX` bytes, whatever the limit.
    pub fn new(max_header_len: usize) -> Self {
        Self { max_header_len }
    }

    /// The most bytes the JSON header block may have.
    pub fn max_header_len(&self) -> usize {
        self.max_header_len
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::new(Self::DEFAULT_MAX_HEADER_LEN)
    }
}

/// One event frame: headers and a payload.
///
/// Build one with [`Frame::new`], put it on the wire with [`Frame::encode`],
/// read one with [`Frame::decode`].
///
/// ```
/// use rues_wire::{Bytes, Frame};
///
/// let frame = Frame::new("/on/contracts:0200/transfer", "application/octet-stream", Bytes::from_static(&[1, 2, 3]))
///     .with_header("Rusk-Origin", "0300");
/// assert_eq!(frame.content_length(), Some(3));
/// assert_eq!(frame.headers().get("rusk-origin"), Some("0300"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Frame {
    headers: Headers,
    payload: Bytes,
}

impl Frame {
    /// A frame with `Content-Location`, `Content-Type` and `Content-Length`
    /// (the decimal length of `payload`), in that order.
    pub fn new(
        content_location: impl Into<String>,
        content_type: impl Into<String>,
        payload: Bytes,
    ) -> Frame {
        let mut headers = Headers::new();
        headers.insert(CONTENT_LOCATION, content_location);
        headers.insert(CONTENT_TYPE, content_type);
        headers.insert(CONTENT_LENGTH, payload.len().to_string());
        Frame { headers, payload }
    }

    /// A frame with exactly these headers and payload.
    ///
    /// Nothing is added or checked here; [`Frame::encode`] checks
    /// `Content-Length` when there is one.
    pub fn from_parts(headers: Headers, payload: Bytes) -> Frame {
        Frame { headers, payload }
    }

    /// This frame with the header `name` set to `value`, replacing a header of
    /// the same name (ASCII case-insensitively) in place, or else appended.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Frame {
        self.headers.insert(name, value);
        self
    }

    /// The headers, in order.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The payload.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// The payload, without the headers.
    pub fn into_payload(self) -> Bytes {
        self.payload
    }

    /// The headers and the payload.
    pub fn into_parts(self) -> (Headers, Bytes) {
        (self.headers, self.payload)
    }

    /// The `Content-Location` header: the event's canonical location.
    pub fn content_location(&self) -> Option<&str> {
        self.headers.get(CONTENT_LOCATION)
    }

    /// The `Content-Type` header: the payload's format.
    pub fn content_type(&self) -> Option<&str> {
        self.headers.get(CONTENT_TYPE)
    }

    /// The `Content-Length` header as a number.
    ///
    /// `None` when the header is absent, or when it is not a decimal number
    /// (which [`Frame::decode`] never returns and [`Frame::encode`] refuses).
    pub fn content_length(&self) -> Option<u64> {
        self.headers
            .get(CONTENT_LENGTH)
            .and_then(parse_content_length)
    }

    /// The frame's place in its stream, from its `Rues-Seq` and
    /// `Rues-Epoch` headers: what a client stores to send back in
    /// `Rues-Resume` after a reconnect. `Ok(None)` when the frame carries
    /// neither (a node without resume); an error when one is malformed or
    /// comes without the other.
    ///
    /// ```
    /// use rues_wire::{Bytes, Epoch, Frame, Position};
    ///
    /// let frame = Frame::new("/on/blocks:ab12/accepted", "application/json", Bytes::from_static(b"{}"))
    ///     .with_header("Rues-Seq", "7")
    ///     .with_header("Rues-Epoch", "00000000000000aa");
    /// assert_eq!(frame.position(), Ok(Some(Position::new(Epoch::new(0xaa), 7))));
    /// ```
    pub fn position(&self) -> Result<Option<Position>, InvalidResume> {
        match (self.headers.get(RUES_SEQ), self.headers.get(RUES_EPOCH)) {
            (None, None) => Ok(None),
            (Some(seq), Some(epoch)) => {
                let epoch = Epoch::parse(epoch.as_bytes())?;
                // The same rule as the number of `Rues-Resume`.
                let seq = Position::parse(format!("{epoch}:{seq}").as_bytes())?.seq;
                Ok(Some(Position::new(epoch, seq)))
            }
            _ => Err(InvalidResume::Unpaired),
        }
    }

    /// The message, with [`Limits::default`].
    pub fn encode(&self) -> Result<Bytes, EncodeError> {
        self.encode_with(&Limits::default())
    }

    /// The message: the header length, the compact JSON header block with the
    /// headers in order, then the payload.
    ///
    /// The result is one buffer allocated at its exact final size; cloning it
    /// to send the same event to many sessions copies nothing.
    ///
    /// # Errors
    ///
    /// [`EncodeError::ContentLengthInvalid`] or
    /// [`EncodeError::ContentLengthMismatch`] when a `Content-Length` header
    /// is not the payload's length; [`EncodeError::HeaderTooLarge`] when the
    /// header block is over `limits`.
    pub fn encode_with(&self, limits: &Limits) -> Result<Bytes, EncodeError> {
        self.check_content_length()?;
        let header_len = json::header_block_len(&self.headers);
        let max = limits.max_header_len.min(u32::MAX as usize);
        let prefix = match u32::try_from(header_len) {
            Ok(prefix) if header_len <= max => prefix,
            _ => {
                return Err(EncodeError::HeaderTooLarge {
                    len: header_len,
                    max,
                });
            }
        };
        let total = LENGTH_PREFIX_LEN + header_len + self.payload.len();

        let mut message = BytesMut::with_capacity(total);
        let allocated = message.capacity();
        message.put_u32_le(prefix);
        json::put_header_block(&mut message, &self.headers);
        debug_assert_eq!(message.len(), LENGTH_PREFIX_LEN + header_len);
        message.put_slice(&self.payload);
        // Every test that encodes checks the single-allocation promise.
        debug_assert_eq!(message.len(), total);
        debug_assert_eq!(message.capacity(), allocated, "encode reallocated");
        Ok(message.freeze())
    }

    /// The exact length [`Frame::encode`] would produce, so callers can budget
    /// queue space before encoding.
    pub fn encoded_len(&self) -> usize {
        LENGTH_PREFIX_LEN + json::header_block_len(&self.headers) + self.payload.len()
    }

    /// Reads a message, with [`Limits::default`].
    pub fn decode(message: &Bytes) -> Result<Frame, DecodeError> {
        Self::decode_with(message, &Limits::default())
    }

    /// Reads a message.
    ///
    /// The payload of the returned frame is a slice of `message`: no payload
    /// byte is copied. Every length is checked before anything is allocated
    /// or sliced, and malformed input is an error, never a panic.
    ///
    /// Headers may come in any order and with any JSON whitespace. None is
    /// required (rusk omits `Content-Type` and `Content-Length`), but a
    /// `Content-Length` must be a decimal number equal to the payload length.
    ///
    /// # Errors
    ///
    /// The first failing check, in the order the [`DecodeError`] variants are
    /// listed. Two headers whose names differ only in ASCII case are rejected
    /// as [`DecodeError::DuplicateHeader`].
    pub fn decode_with(message: &Bytes, limits: &Limits) -> Result<Frame, DecodeError> {
        let Some((prefix, rest)) = message.split_first_chunk::<LENGTH_PREFIX_LEN>() else {
            return Err(DecodeError::TooShort { len: message.len() });
        };
        // On a 16-bit target a length that does not fit is simply too large.
        let declared = usize::try_from(u32::from_le_bytes(*prefix)).unwrap_or(usize::MAX);
        if declared > limits.max_header_len {
            return Err(DecodeError::HeaderTooLarge {
                len: declared,
                max: limits.max_header_len,
            });
        }
        let Some((header_block, payload)) = rest.split_at_checked(declared) else {
            return Err(DecodeError::HeaderLenPastEnd {
                declared,
                available: rest.len(),
            });
        };

        let text =
            std::str::from_utf8(header_block).map_err(|error| DecodeError::HeaderNotUtf8 {
                valid_up_to: error.valid_up_to(),
            })?;
        let headers = json::parse_header_block(text)?;
        if let Some(value) = headers.get(CONTENT_LENGTH) {
            let declared =
                parse_content_length(value).ok_or_else(|| DecodeError::ContentLengthInvalid {
                    value: value.to_owned(),
                })?;
            let actual = payload.len() as u64;
            if declared != actual {
                return Err(DecodeError::ContentLengthMismatch { declared, actual });
            }
        }

        let payload = message.slice(LENGTH_PREFIX_LEN + declared..);
        Ok(Frame { headers, payload })
    }

    fn check_content_length(&self) -> Result<(), EncodeError> {
        let Some(value) = self.headers.get(CONTENT_LENGTH) else {
            return Ok(());
        };
        let declared =
            parse_content_length(value).ok_or_else(|| EncodeError::ContentLengthInvalid {
                value: value.to_owned(),
            })?;
        let actual = self.payload.len() as u64;
        if declared != actual {
            return Err(EncodeError::ContentLengthMismatch { declared, actual });
        }
        Ok(())
    }
}

/// A `Content-Length` value: ASCII digits only (no sign, no space), fitting a `u64`.
fn parse_content_length(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_accepts_only_plain_digits() {
        assert_eq!(parse_content_length("0"), Some(0));
        assert_eq!(parse_content_length("007"), Some(7));
        assert_eq!(parse_content_length("18446744073709551615"), Some(u64::MAX));
        for bad in [
            "",
            "+1",
            "-1",
            " 1",
            "1 ",
            "1.0",
            "0x10",
            "18446744073709551616",
            "١",
        ] {
            assert_eq!(parse_content_length(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn encode_fills_a_buffer_of_exactly_encoded_len() {
        let frame = Frame::new(
            "/on/a/b",
            "application/octet-stream",
            Bytes::from(vec![7; 1000]),
        );
        let message = frame.encode().expect("frame is valid");
        // `encode` also asserts, in debug builds, that its buffer never grew.
        assert_eq!(message.len(), frame.encoded_len());
    }

    #[test]
    fn encode_caps_limit_at_u32_max() {
        let frame = Frame::new("/on/a/b", "text/plain", Bytes::new());
        let message = frame
            .encode_with(&Limits::new(usize::MAX))
            .expect("small header");
        assert_eq!(
            Frame::decode_with(&message, &Limits::new(usize::MAX)),
            Ok(frame)
        );
    }
}
