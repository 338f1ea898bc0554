//! The ways encoding and decoding can fail.
//!
//! Decoding errors are the peer's fault (a malformed message); encoding errors
//! are the caller's (a frame that cannot be put on the wire as built).

use thiserror::Error;

/// Why a message is not a valid event frame.
///
/// Each check of [`Frame::decode`](crate::Frame::decode) has its own variant,
/// listed here in the order the checks run; the first failing check answers.
#[non_exhaustive]
#[derive(Error, Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The message ends inside the 4-byte header length prefix.
    #[error("message is {len} bytes, too short for the 4-byte header length prefix")]
    TooShort {
        /// The length of the whole message.
        len: usize,
    },

    /// The header length prefix declares more than the configured maximum.
    ///
    /// Checked from the prefix alone, before the header block is looked at.
    #[error("header block of {len} bytes is over the maximum of {max} bytes")]
    HeaderTooLarge {
        /// The header length the prefix declares.
        len: usize,
        /// The configured maximum, [`Limits::max_header_len`](crate::Limits::max_header_len).
        max: usize,
    },

    /// The header length prefix points past the end of the message.
    #[error(
        "header length {declared} runs past the end of the message: only {available} bytes follow the length prefix"
    )]
    HeaderLenPastEnd {
        /// The header length the prefix declares.
        declared: usize,
        /// The bytes that follow the prefix.
        available: usize,
    },

    /// The header block is not valid UTF-8.
    #[error("header block is not valid UTF-8: invalid byte at offset {valid_up_to}")]
    HeaderNotUtf8 {
        /// The offset, in the header block, of the first byte that is not valid UTF-8.
        valid_up_to: usize,
    },

    /// The header block is not valid JSON.
    #[error("header block is not valid JSON: {reason}")]
    HeaderNotJson {
        /// What the JSON parser objected to, with line and column.
        reason: String,
    },

    /// The header block is valid JSON but not an object.
    #[error("header block is a JSON {found}, not an object")]
    HeaderNotObject {
        /// The kind of JSON value found: `array`, `string`, `number`, `boolean` or `null`.
        found: &'static str,
    },

    /// A header's value is not a JSON string.
    #[error("header {name:?} has a JSON {found} value, not a string")]
    HeaderValueNotString {
        /// The header's name.
        name: String,
        /// The kind of JSON value found: `object`, `array`, `number`, `boolean` or `null`.
        found: &'static str,
    },

    /// Two headers have the same name, compared ASCII case-insensitively.
    ///
    /// Rejected rather than resolved, because a reader that kept the first and
    /// one that kept the last would disagree about the same frame.
    #[error("header {name:?} appears more than once (header names are case-insensitive)")]
    DuplicateHeader {
        /// The name as spelled in its second occurrence.
        name: String,
    },

    /// `Content-Length` is not a decimal number that fits in a `u64`.
    #[error("Content-Length {value:?} is not a decimal number")]
    ContentLengthInvalid {
        /// The header's value.
        value: String,
    },

    /// `Content-Length` disagrees with the length of the payload.
    #[error("Content-Length says {declared} bytes but the payload is {actual} bytes")]
    ContentLengthMismatch {
        /// The length `Content-Length` declares.
        declared: u64,
        /// The length of the payload in the message.
        actual: u64,
    },
}

/// Why a frame cannot be encoded.
#[non_exhaustive]
#[derive(Error, Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// The compact JSON header block is over the configured maximum (or over
    /// `u32::MAX`, the most the length prefix can express).
    #[error("header block of {len} bytes is over the maximum of {max} bytes")]
    HeaderTooLarge {
        /// The length of the compact JSON header block.
        len: usize,
        /// The effective maximum: the configured one, capped at `u32::MAX`.
        max: usize,
    },

    /// The frame's `Content-Length` header is not a decimal number.
    #[error("Content-Length {value:?} is not a decimal number")]
    ContentLengthInvalid {
        /// The header's value.
        value: String,
    },

    /// The frame's `Content-Length` header disagrees with its payload.
    #[error("Content-Length says {declared} bytes but the payload is {actual} bytes")]
    ContentLengthMismatch {
        /// The length `Content-Length` declares.
        declared: u64,
        /// The length of the payload.
        actual: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Breaks the build when a variant is added, as a reminder: add it to the
    /// lists in `tests/it/vectors.rs` and give it a vector in `testdata/`,
    /// which `every_error_variant_is_reached_by_a_vector` then demands.
    fn decode_variant_name(error: &DecodeError) -> &'static str {
        match error {
            DecodeError::TooShort { .. } => "TooShort",
            DecodeError::HeaderTooLarge { .. } => "HeaderTooLarge",
            DecodeError::HeaderLenPastEnd { .. } => "HeaderLenPastEnd",
            DecodeError::HeaderNotUtf8 { .. } => "HeaderNotUtf8",
            DecodeError::HeaderNotJson { .. } => "HeaderNotJson",
            DecodeError::HeaderNotObject { .. } => "HeaderNotObject",
            DecodeError::HeaderValueNotString { .. } => "HeaderValueNotString",
            DecodeError::DuplicateHeader { .. } => "DuplicateHeader",
            DecodeError::ContentLengthInvalid { .. } => "ContentLengthInvalid",
            DecodeError::ContentLengthMismatch { .. } => "ContentLengthMismatch",
        }
    }

    /// As [`decode_variant_name`], for [`EncodeError`].
    fn encode_variant_name(error: &EncodeError) -> &'static str {
        match error {
            EncodeError::HeaderTooLarge { .. } => "HeaderTooLarge",
            EncodeError::ContentLengthInvalid { .. } => "ContentLengthInvalid",
            EncodeError::ContentLengthMismatch { .. } => "ContentLengthMismatch",
        }
    }

    #[test]
    fn every_variant_name_appears_in_the_vectors() {
        let decode_vectors = include_str!("../testdata/decode_err.txt");
        let encode_vectors = include_str!("../testdata/encode.txt");
        let decode_samples = [
            DecodeError::TooShort { len: 0 },
            DecodeError::HeaderTooLarge { len: 0, max: 0 },
            DecodeError::HeaderLenPastEnd {
                declared: 0,
                available: 0,
            },
            DecodeError::HeaderNotUtf8 { valid_up_to: 0 },
            DecodeError::HeaderNotJson {
                reason: String::new(),
            },
            DecodeError::HeaderNotObject { found: "null" },
            DecodeError::HeaderValueNotString {
                name: String::new(),
                found: "null",
            },
            DecodeError::DuplicateHeader {
                name: String::new(),
            },
            DecodeError::ContentLengthInvalid {
                value: String::new(),
            },
            DecodeError::ContentLengthMismatch {
                declared: 0,
                actual: 0,
            },
        ];
        for sample in &decode_samples {
            let name = decode_variant_name(sample);
            assert!(
                decode_vectors.contains(&format!("=> error {name}\n")),
                "{name}"
            );
        }
        let encode_samples = [
            EncodeError::HeaderTooLarge { len: 0, max: 0 },
            EncodeError::ContentLengthInvalid {
                value: String::new(),
            },
            EncodeError::ContentLengthMismatch {
                declared: 0,
                actual: 0,
            },
        ];
        for sample in &encode_samples {
            let name = encode_variant_name(sample);
            assert!(
                encode_vectors.contains(&format!("=> error {name}\n")),
                "{name}"
            );
        }
    }
}
