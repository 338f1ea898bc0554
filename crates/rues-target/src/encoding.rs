//! Percent-decoding of raw segments and the encode sets used by `Display`.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode};

use crate::{Error, Segment};

/// Bytes a topic percent-encodes: everything except RFC 3986 `pchar`
/// (unreserved, sub-delims, `:` and `@`), so `%`, `/`, `?`, `#`, whitespace,
/// controls and every non-ASCII byte are encoded and the canonical location
/// is a valid URL path whatever the topic holds. A topic keeps `:` raw: only
/// the first raw `:` of the *target* segment splits.
pub(crate) const TOPIC_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

/// Bytes an entity percent-encodes: as a topic, plus `:`, so that a colon in
/// an entity can never be mistaken for a component/entity split.
pub(crate) const ENTITY_ENCODE_SET: &AsciiSet = &TOPIC_ENCODE_SET.add(b':');

/// Whether a raw (still encoded) entity or topic may hold `ch` unencoded.
///
/// Whitespace and control characters are rejected: a well-behaved client
/// never sends them raw, and accepting them would let two different byte
/// strings on the wire look alike in logs. `/` and `?` cannot reach a segment
/// split out of a path; they are rejected for targets parsed on their own,
/// where they would otherwise smuggle a delimiter into an entity. Everything
/// else, printable ASCII and raw UTF-8 alike, is data: clients and browsers
/// do send raw UTF-8.
fn is_forbidden_raw(ch: char) -> bool {
    ch.is_whitespace() || ch.is_control() || ch == '/' || ch == '?'
}

/// Whether every `%` in `bytes` is followed by two hex digits.
///
/// `percent_decode` passes malformed escapes through as data; the protocol
/// makes them an error instead, so two spellings never name one event.
fn has_only_valid_escapes(bytes: &[u8]) -> bool {
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            match bytes.get(index + 1..index + 3) {
                Some(&[high, low]) if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() => {
                    index += 3;
                }
                _ => return false,
            }
        } else {
            index += 1;
        }
    }
    true
}

/// Checks the raw characters of one entity or topic segment and percent-decodes it.
///
/// The caller has already split the path, so an escape decoded here is data
/// whatever byte it produces. Length limits are left to the value's
/// constructor, which applies them to the decoded value.
pub(crate) fn decode_segment(raw: &str, segment: Segment) -> Result<String, Error> {
    if raw.is_empty() {
        return Err(Error::Empty { segment });
    }
    if let Some(ch) = raw.chars().find(|&ch| is_forbidden_raw(ch)) {
        return Err(Error::ForbiddenChar { segment, ch });
    }
    if !has_only_valid_escapes(raw.as_bytes()) {
        return Err(Error::InvalidPercentEncoding { segment });
    }
    percent_decode(raw.as_bytes())
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| Error::InvalidUtf8 { segment })
}

#[cfg(test)]
mod tests {
    use percent_encoding::utf8_percent_encode;

    use super::*;

    #[test]
    fn escapes_need_two_hex_digits() {
        assert!(has_only_valid_escapes(b"%3a%3A"));
        assert!(has_only_valid_escapes(b"no escapes"));
        assert!(!has_only_valid_escapes(b"%"));
        assert!(!has_only_valid_escapes(b"%3"));
        assert!(!has_only_valid_escapes(b"ab%3"));
        assert!(!has_only_valid_escapes(b"%G1"));
        assert!(!has_only_valid_escapes(b"%%41"));
    }

    #[test]
    fn decode_segment_decodes_escapes_as_data() {
        assert_eq!(
            decode_segment("a%3Ab%2Fc", Segment::Entity).unwrap(),
            "a:b/c"
        );
        assert_eq!(
            decode_segment("%C3%A9t%C3%A9", Segment::Topic).unwrap(),
            "été"
        );
    }

    #[test]
    fn decode_segment_accepts_raw_utf8_and_printable_ascii() {
        assert_eq!(decode_segment("été", Segment::Topic).unwrap(), "été");
        assert_eq!(
            decode_segment("a#b\"<>", Segment::Topic).unwrap(),
            "a#b\"<>"
        );
    }

    #[test]
    fn decode_segment_rejects_raw_whitespace_controls_and_delimiters() {
        for ch in [
            ' ', '\t', '\n', '\0', '\u{7f}', '\u{85}', '\u{a0}', '\u{3000}', '/', '?',
        ] {
            let raw = format!("a{ch}b");
            assert_eq!(
                decode_segment(&raw, Segment::Entity),
                Err(Error::ForbiddenChar {
                    segment: Segment::Entity,
                    ch
                }),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn entity_encode_set_encodes_colon_but_topic_set_keeps_it() {
        let value = "a:b/c%d?e#f g\u{e9}";
        assert_eq!(
            utf8_percent_encode(value, ENTITY_ENCODE_SET).to_string(),
            "a%3Ab%2Fc%25d%3Fe%23f%20g%C3%A9"
        );
        assert_eq!(
            utf8_percent_encode(value, TOPIC_ENCODE_SET).to_string(),
            "a:b%2Fc%25d%3Fe%23f%20g%C3%A9"
        );
    }

    #[test]
    fn encode_sets_keep_unreserved_and_sub_delims_raw() {
        let pchar = "AZaz09-._~!$&'()*+,;=@";
        assert_eq!(
            utf8_percent_encode(pchar, ENTITY_ENCODE_SET).to_string(),
            pchar
        );
        assert_eq!(
            utf8_percent_encode(pchar, TOPIC_ENCODE_SET).to_string(),
            pchar
        );
    }
}
