//! Resume after reconnect (docs/protocol.md, "Resume"): the stream
//! position every event frame carries (`Rues-Seq`, `Rues-Epoch`), the
//! `Rues-Resume` request header that names the last event a client saw, and
//! the `Rues-Resume-Result` a node answers with.
//!
//! Defined here, below both the node and the client, so that both parse and
//! print these values one way. Every parser takes untrusted text and answers
//! a [`InvalidResume`] saying what is wrong, never a panic.

use std::fmt;
use std::str::FromStr;

/// The frame header numbering the event within its stream (component,
/// topic): 1 for the stream's first event, then one more per event.
pub const RUES_SEQ: &str = "Rues-Seq";

/// The frame header naming the history the `Rues-Seq` numbers belong to.
pub const RUES_EPOCH: &str = "Rues-Epoch";

/// The frame header of a gap notice: a frame with no payload and no
/// entity whose `Rues-Seq` stands for events of its stream that the node
/// could not get (its upstream was lost, for a relay); the value says why.
/// A resume from before that number answers a `gap` covering it.
pub const RUES_GAP: &str = "Rues-Gap";

/// The request header of a subscribe `GET` naming the last event the client
/// saw on the stream, as `<epoch>:<seq>`.
pub const RUES_RESUME: &str = "rues-resume";

/// The response header saying what a `Rues-Resume` achieved.
pub const RUES_RESUME_RESULT: &str = "rues-resume-result";

/// Names one node's history of events: 64 bits, written as 16 lowercase hex
/// characters. A node draws a new one when it starts, so numbers of
/// different lives of a node are never confused.
///
/// ```
/// use rues_wire::Epoch;
///
/// let epoch: Epoch = "00000000DEADBEEF".parse()?;
/// assert_eq!(epoch.to_string(), "00000000deadbeef");
/// assert!("deadbeef".parse::<Epoch>().is_err());
/// # Ok::<(), rues_wire::InvalidResume>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Epoch(u64);

impl Epoch {
    /// The number of characters of an epoch's text form.
    pub const TEXT_LEN: usize = 16;

    /// Wraps a number.
    pub const fn new(value: u64) -> Self {
        Self(value)
    }

    /// The number.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// Parses the 16-hex-character form, in either case.
    pub fn parse(text: &[u8]) -> Result<Self, InvalidResume> {
        if text.len() != Self::TEXT_LEN {
            return Err(InvalidResume::EpochLength { len: text.len() });
        }
        let mut value = 0u64;
        for &c in text {
            let digit = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return Err(InvalidResume::EpochNotHex),
            };
            value = (value << 4) | u64::from(digit);
        }
        Ok(Self(value))
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl FromStr for Epoch {
    type Err = InvalidResume;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s.as_bytes())
    }
}

/// A position in a stream: an event's number and the history it belongs
/// to. What a frame carries ([`Frame::position`](crate::Frame::position))
/// is what a client sends back in `Rues-Resume`, written `<epoch>:<seq>`.
///
/// ```
/// use rues_wire::{Epoch, Position};
///
/// let at: Position = "00000000000000ff:42".parse()?;
/// assert_eq!(at, Position::new(Epoch::new(255), 42));
/// assert_eq!(at.to_string(), "00000000000000ff:42");
/// assert!("00000000000000ff:-1".parse::<Position>().is_err());
/// # Ok::<(), rues_wire::InvalidResume>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Position {
    /// The history.
    pub epoch: Epoch,
    /// The event's number in its stream; 0 names the point before the first.
    pub seq: u64,
}

impl Position {
    /// A position.
    pub const fn new(epoch: Epoch, seq: u64) -> Self {
        Self { epoch, seq }
    }

    /// Parses `<epoch>:<seq>`: 16 hex characters, a colon, a decimal number
    /// (digits only) that fits a `u64`. Spaces around the whole are
    /// allowed, as HTTP allows them around a header value; inside, none.
    pub fn parse(text: &[u8]) -> Result<Self, InvalidResume> {
        let text = text.trim_ascii();
        if text.is_empty() {
            return Err(InvalidResume::Empty);
        }
        let Some(colon) = text.iter().position(|&c| c == b':') else {
            return Err(InvalidResume::NoColon);
        };
        let (epoch, seq) = (&text[..colon], &text[colon + 1..]);
        Ok(Self {
            epoch: Epoch::parse(epoch)?,
            seq: parse_decimal(seq)?,
        })
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.epoch, self.seq)
    }
}

impl FromStr for Position {
    type Err = InvalidResume;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s.as_bytes())
    }
}

/// What a `Rues-Resume` achieved, as the node says in `Rues-Resume-Result`.
///
/// ```
/// use rues_wire::ResumeResult;
///
/// let gap = ResumeResult::Gap { replayed: 3, first_lost: 5, last_lost: 9 };
/// assert_eq!(gap.to_string(), "gap; replayed=3; lost=5-9");
/// assert_eq!("gap; replayed=3; lost=5-9".parse(), Ok(gap));
/// assert_eq!("complete; replayed=0".parse(), Ok(ResumeResult::Complete { replayed: 0 }));
/// assert_eq!("reset".parse(), Ok(ResumeResult::Reset));
/// # Ok::<(), rues_wire::InvalidResume>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum ResumeResult {
    /// Nothing was missed: `replayed` events were queued before the live ones.
    Complete {
        /// Events queued from the history.
        replayed: u64,
    },
    /// The events numbered `first_lost..=last_lost` may have matched and
    /// cannot be delivered; every other matching event after the resume
    /// point was replayed (or was queued already). `first_lost` is the
    /// number after the resume point unless the only losses are numbers of
    /// gap notices ([`RUES_GAP`]); then it is the first of those.
    Gap {
        /// Events queued from the history.
        replayed: u64,
        /// The first event number lost.
        first_lost: u64,
        /// The last event number lost.
        last_lost: u64,
    },
    /// The epoch is not this node's history: nothing was replayed, and the
    /// client must assume it missed events.
    Reset,
}

impl fmt::Display for ResumeResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Complete { replayed } => write!(f, "complete; replayed={replayed}"),
            Self::Gap {
                replayed,
                first_lost,
                last_lost,
            } => write!(f, "gap; replayed={replayed}; lost={first_lost}-{last_lost}"),
            Self::Reset => f.write_str("reset"),
        }
    }
}

impl ResumeResult {
    /// Parses the header's value, as [`Display`](fmt::Display) writes it;
    /// spaces around each `;`-separated part are allowed.
    pub fn parse(text: &[u8]) -> Result<Self, InvalidResume> {
        let mut parts = text.split(|&c| c == b';').map(<[u8]>::trim_ascii);
        let kind = parts.next().unwrap_or_default();
        let mut param = |name: &'static str| -> Result<&[u8], InvalidResume> {
            let part = parts.next().ok_or(InvalidResume::ResultParam { name })?;
            part.strip_prefix(name.as_bytes())
                .and_then(|rest| rest.strip_prefix(b"="))
                .ok_or(InvalidResume::ResultParam { name })
        };
        let result = match kind {
            b"complete" => Self::Complete {
                replayed: parse_decimal(param("replayed")?)?,
            },
            b"gap" => {
                let replayed = parse_decimal(param("replayed")?)?;
                let lost = param("lost")?;
                let dash = lost
                    .iter()
                    .position(|&c| c == b'-')
                    .ok_or(InvalidResume::ResultParam { name: "lost" })?;
                let first_lost = parse_decimal(&lost[..dash])?;
                let last_lost = parse_decimal(&lost[dash + 1..])?;
                if first_lost > last_lost {
                    return Err(InvalidResume::ResultParam { name: "lost" });
                }
                Self::Gap {
                    replayed,
                    first_lost,
                    last_lost,
                }
            }
            b"reset" => Self::Reset,
            _ => return Err(InvalidResume::ResultKind),
        };
        if parts.next().is_some() {
            return Err(InvalidResume::ResultTrailing);
        }
        Ok(result)
    }
}

impl FromStr for ResumeResult {
    type Err = InvalidResume;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s.as_bytes())
    }
}

/// A decimal number: ASCII digits only, at most what a `u64` holds.
fn parse_decimal(text: &[u8]) -> Result<u64, InvalidResume> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return Err(InvalidResume::NotDecimal);
    }
    text.iter().try_fold(0u64, |value, &digit| {
        value
            .checked_mul(10)
            .and_then(|value| value.checked_add(u64::from(digit - b'0')))
            .ok_or(InvalidResume::TooLarge)
    })
}

/// Why a `Rues-Resume`, `Rues-Resume-Result`, `Rues-Seq` or `Rues-Epoch`
/// value is malformed. The messages never quote the value, which is the
/// peer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidResume {
    /// The value is empty.
    #[error("the value is empty: Rues-Resume is <epoch>:<seq>")]
    Empty,
    /// A `Rues-Resume` without the colon between epoch and number.
    #[error("no colon: Rues-Resume is <epoch>:<seq>, as in 0123456789abcdef:42")]
    NoColon,
    /// The epoch is not 16 characters long.
    #[error("the epoch is {len} characters long, not 16 hexadecimal characters")]
    EpochLength {
        /// How many bytes the epoch had.
        len: usize,
    },
    /// The epoch has a character that is not a hex digit.
    #[error("the epoch is not hexadecimal (16 characters 0-9, a-f)")]
    EpochNotHex,
    /// A number with something else than the digits 0-9 (a sign, a space,
    /// nothing at all).
    #[error("the event number is not a decimal number (digits 0-9 only)")]
    NotDecimal,
    /// A number past 18446744073709551615.
    #[error("the event number does not fit 64 bits")]
    TooLarge,
    /// A `Rues-Resume-Result` that is not `complete`, `gap` or `reset`.
    #[error("the resume result is not one of complete, gap, reset")]
    ResultKind,
    /// A `Rues-Resume-Result` parameter missing or malformed.
    #[error("the resume result's `{name}` parameter is missing or malformed")]
    ResultParam {
        /// The parameter's name.
        name: &'static str,
    },
    /// A `Rues-Resume-Result` with more parts than its kind has.
    #[error("the resume result has more parts than its kind takes")]
    ResultTrailing,
    /// A frame carries one of `Rues-Seq` and `Rues-Epoch` without the other.
    #[error("the frame carries one of Rues-Seq and Rues-Epoch without the other")]
    Unpaired,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_accepts_digits_up_to_u64_max_only() {
        assert_eq!(parse_decimal(b"0"), Ok(0));
        assert_eq!(parse_decimal(b"007"), Ok(7));
        assert_eq!(parse_decimal(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            parse_decimal(b"18446744073709551616"),
            Err(InvalidResume::TooLarge)
        );
        for bad in [&b""[..], b"+1", b"-1", b" 1", b"1 ", b"1.0", b"0x1"] {
            assert_eq!(
                parse_decimal(bad),
                Err(InvalidResume::NotDecimal),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn position_rejects_each_malformation_with_its_reason() {
        let epoch = "0123456789abcdef";
        assert_eq!(Position::parse(b""), Err(InvalidResume::Empty));
        assert_eq!(Position::parse(b"  "), Err(InvalidResume::Empty));
        assert_eq!(
            Position::parse(epoch.as_bytes()),
            Err(InvalidResume::NoColon)
        );
        assert_eq!(
            Position::parse(b"0123:5"),
            Err(InvalidResume::EpochLength { len: 4 })
        );
        assert_eq!(
            Position::parse(b"0123456789abcdeg:5"),
            Err(InvalidResume::EpochNotHex)
        );
        assert_eq!(
            Position::parse(format!("{epoch}:").as_bytes()),
            Err(InvalidResume::NotDecimal)
        );
        assert_eq!(
            Position::parse(format!("{epoch}:1:2").as_bytes()),
            Err(InvalidResume::NotDecimal)
        );
        assert_eq!(
            Position::parse(format!("{epoch}: 1").as_bytes()),
            Err(InvalidResume::NotDecimal)
        );
        assert_eq!(
            Position::parse(format!(" {epoch}:12 ").as_bytes()),
            Ok(Position::new(Epoch::new(0x0123_4567_89ab_cdef), 12))
        );
    }

    #[test]
    fn result_rejects_malformed_values() {
        for (bad, error) in [
            ("", InvalidResume::ResultKind),
            ("done", InvalidResume::ResultKind),
            ("complete", InvalidResume::ResultParam { name: "replayed" }),
            (
                "complete; played=1",
                InvalidResume::ResultParam { name: "replayed" },
            ),
            ("complete; replayed=x", InvalidResume::NotDecimal),
            ("complete; replayed=1; x", InvalidResume::ResultTrailing),
            (
                "gap; replayed=1",
                InvalidResume::ResultParam { name: "lost" },
            ),
            (
                "gap; replayed=1; lost=5",
                InvalidResume::ResultParam { name: "lost" },
            ),
            (
                "gap; replayed=1; lost=9-5",
                InvalidResume::ResultParam { name: "lost" },
            ),
            ("reset; replayed=0", InvalidResume::ResultTrailing),
        ] {
            assert_eq!(ResumeResult::parse(bad.as_bytes()), Err(error), "{bad:?}");
        }
    }
}
