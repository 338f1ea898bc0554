//! The session id and the request header names that both ends of RUES
//! use: defined here, the lowest crate the node and the client share, so
//! that there is one definition of each (`rues-core` and `rues-client`
//! re-export them).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// The request header naming the session (docs/protocol.md §2).
pub const RUSK_SESSION_ID: &str = "rusk-session-id";

/// The version header: a semver requirement on requests, the node's version
/// on responses (docs/protocol.md §5).
pub const RUSK_VERSION: &str = "rusk-version";

/// The header that makes the version check strict (docs/protocol.md §5).
pub const RUSK_VERSION_STRICT: &str = "rusk-version-strict";

/// The header asking a dispatch handler for a streamed reply, a "feeder"
/// query (docs/protocol.md §5.2): its presence is enough, its value is
/// ignored.
pub const RUSK_FEEDER: &str = "rusk-feeder";

/// A session id: 16 random bytes, written as 32 lowercase hex characters
/// (docs/protocol.md §2). The node sends it as the session's first message;
/// requests name the session with it in the `Rusk-Session-Id` header.
///
/// Parsing accepts either case, as the header is case-insensitive; anything
/// that is not exactly 32 hex characters is rejected.
///
/// ```
/// use rues_wire::SessionId;
///
/// let id: SessionId = "00112233445566778899AABBCCDDEEFF".parse()?;
/// assert_eq!(id.to_string(), "00112233445566778899aabbccddeeff");
/// assert!("0011".parse::<SessionId>().is_err());
/// # Ok::<(), rues_wire::InvalidSessionId>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SessionId([u8; 16]);

impl Hash for SessionId {
    /// Feeds one `u64`, the two halves folded together: the bytes are
    /// random already, so a hasher keyed on session ids (rues-core's
    /// `IdHasher`) needs nothing more to spread them.
    fn hash<H: Hasher>(&self, state: &mut H) {
        let (low, high) = self.0.split_at(8);
        let half = |bytes: &[u8]| {
            let mut word = [0u8; 8];
            word.copy_from_slice(bytes);
            u64::from_le_bytes(word)
        };
        state.write_u64(half(low) ^ half(high).rotate_left(32));
    }
}

impl SessionId {
    /// The id's length in bytes.
    pub const LEN: usize = 16;

    /// Wraps raw bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Parses the 32-hex-character form, in either case.
    pub fn parse(text: &[u8]) -> Result<Self, InvalidSessionId> {
        if text.len() != 2 * Self::LEN {
            return Err(InvalidSessionId);
        }
        let mut bytes = [0u8; 16];
        for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
            *byte = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
        }
        Ok(Self(bytes))
    }
}

fn hex_digit(c: u8) -> Result<u8, InvalidSessionId> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(InvalidSessionId),
    }
}

impl From<[u8; 16]> for SessionId {
    fn from(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut buf = [0u8; 32];
        for (pair, byte) in buf.chunks_exact_mut(2).zip(self.0) {
            pair[0] = DIGITS[usize::from(byte >> 4)];
            pair[1] = DIGITS[usize::from(byte & 0xf)];
        }
        // Hex digits are ASCII, so this is valid UTF-8.
        f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
    }
}

impl FromStr for SessionId {
    type Err = InvalidSessionId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s.as_bytes())
    }
}

/// A session id that is not 32 hex characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a session id is 32 hexadecimal characters")]
pub struct InvalidSessionId;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_id_displays_as_32_lowercase_hex() {
        let id = SessionId::from_bytes([0xAB; 16]);
        assert_eq!(id.to_string(), "ab".repeat(16));
        assert_eq!(
            format!("{:?}", SessionId::from_bytes([0x01; 16])),
            format!("SessionId({})", "01".repeat(16))
        );
    }

    #[test]
    fn session_id_parses_either_case() {
        let lower = "0123456789abcdef0123456789abcdef";
        let upper = lower.to_uppercase();
        assert_eq!(
            SessionId::parse(lower.as_bytes()),
            SessionId::parse(upper.as_bytes())
        );
        assert_eq!(
            SessionId::parse(lower.as_bytes()).map(|id| id.to_string()),
            Ok(lower.to_owned())
        );
    }

    #[test]
    fn session_id_rejects_wrong_length_and_non_hex() {
        for bad in ["", "abc", &"a".repeat(31), &"a".repeat(33), &"g".repeat(32)] {
            assert_eq!(
                SessionId::parse(bad.as_bytes()),
                Err(InvalidSessionId),
                "{bad:?}"
            );
        }
        assert_eq!(
            SessionId::parse("é".repeat(16).as_bytes()),
            Err(InvalidSessionId)
        );
    }

    #[test]
    fn every_byte_round_trips() {
        let mut bytes = [0u8; 16];
        for value in 0..=255u8 {
            bytes[usize::from(value % 16)] = value;
            let id = SessionId::from_bytes(bytes);
            assert_eq!(id.to_string().parse::<SessionId>(), Ok(id));
        }
    }
}
