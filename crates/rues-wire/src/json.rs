//! The header block's JSON: compact writing, and strict reading into ordered pairs.
//!
//! Writing is done by hand rather than through `serde_json::to_writer` so that
//! the exact length is known before allocating and nothing can fail midway.
//! The output is byte-for-byte what `serde_json` writes for the same strings.

use std::fmt;

use bytes::{BufMut, BytesMut};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::{DecodeError, Headers};

/// The length of `{"name":"value",...}` for `headers`, compact.
pub(crate) fn header_block_len(headers: &Headers) -> usize {
    // Braces, a colon per pair, and a comma between pairs; quotes count in `escaped_len`.
    let separators = 2 + headers.len() + headers.len().saturating_sub(1);
    headers
        .iter()
        .map(|(name, value)| escaped_len(name) + escaped_len(value))
        .sum::<usize>()
        + separators
}

/// Appends `{"name":"value",...}` for `headers`, compact, in order.
pub(crate) fn put_header_block(buf: &mut BytesMut, headers: &Headers) {
    buf.put_u8(b'{');
    for (index, (name, value)) in headers.iter().enumerate() {
        if index > 0 {
            buf.put_u8(b',');
        }
        put_quoted(buf, name);
        buf.put_u8(b':');
        put_quoted(buf, value);
    }
    buf.put_u8(b'}');
}

/// How a byte is written inside a JSON string, following `serde_json`.
enum Escape {
    Raw,
    /// Backslash and one character: `\"`, `\\`, `\b`, `\t`, `\n`, `\f`, `\r`.
    Short(u8),
    /// `\u00XX`, for the other control characters.
    Unicode,
}

fn escape_of(byte: u8) -> Escape {
    match byte {
        b'"' => Escape::Short(b'"'),
        b'\\' => Escape::Short(b'\\'),
        0x08 => Escape::Short(b'b'),
        b'\t' => Escape::Short(b't'),
        b'\n' => Escape::Short(b'n'),
        0x0c => Escape::Short(b'f'),
        b'\r' => Escape::Short(b'r'),
        0x00..=0x1f => Escape::Unicode,
        // Multi-byte UTF-8 never contains bytes below 0x80, so it passes raw.
        _ => Escape::Raw,
    }
}

/// The length of `text` as a quoted JSON string.
fn escaped_len(text: &str) -> usize {
    2 + text
        .bytes()
        .map(|byte| match escape_of(byte) {
            Escape::Raw => 1,
            Escape::Short(_) => 2,
            Escape::Unicode => 6,
        })
        .sum::<usize>()
}

fn put_quoted(buf: &mut BytesMut, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    buf.put_u8(b'"');
    // Copy runs of raw bytes in one go; most header text needs no escaping at all.
    let mut run_start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escape = escape_of(byte);
        if matches!(escape, Escape::Raw) {
            continue;
        }
        buf.put_slice(&bytes[run_start..index]);
        run_start = index + 1;
        match escape {
            Escape::Short(letter) => buf.put_slice(&[b'\\', letter]),
            Escape::Unicode => buf.put_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0x0f)],
            ]),
            Escape::Raw => {}
        }
    }
    buf.put_slice(&bytes[run_start..]);
    buf.put_u8(b'"');
}

/// Reads a header block: a JSON object whose values are all strings, with no
/// name twice (ASCII case-insensitively). Order is kept.
pub(crate) fn parse_header_block(text: &str) -> Result<Headers, DecodeError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let shape = HeaderBlock::deserialize(&mut deserializer)
        .and_then(|block| deserializer.end().map(|()| block))
        .map_err(|error| DecodeError::HeaderNotJson {
            reason: error.to_string(),
        })?;
    let entries = shape.0?;
    if let Some(name) = first_duplicate(&entries) {
        return Err(DecodeError::DuplicateHeader {
            name: name.to_owned(),
        });
    }
    Ok(Headers::from_distinct(entries))
}

/// The name of a pair whose name (ASCII case-insensitively) an earlier pair already has.
fn first_duplicate(entries: &[(String, String)]) -> Option<&str> {
    // Pairwise for the usual handful of headers; sorting for the rest, so a
    // hostile block of thousands of tiny headers costs n log n, not n².
    const PAIRWISE_MAX: usize = 16;
    if entries.len() <= PAIRWISE_MAX {
        return entries.iter().enumerate().find_map(|(index, (name, _))| {
            entries[..index]
                .iter()
                .any(|(earlier, _)| earlier.eq_ignore_ascii_case(name))
                .then_some(name.as_str())
        });
    }
    let folded = |index: usize| {
        entries[index]
            .0
            .bytes()
            .map(|byte| byte.to_ascii_lowercase())
    };
    let mut order: Vec<usize> = (0..entries.len()).collect();
    // Stable, so among equal names the earlier pair sorts first.
    order.sort_by(|&a, &b| folded(a).cmp(folded(b)));
    order
        .windows(2)
        .filter(|pair| entries[pair[0]].0.eq_ignore_ascii_case(&entries[pair[1]].0))
        .map(|pair| pair[1])
        .min()
        .map(|index| entries[index].0.as_str())
}

/// The kind of a JSON value, for error messages.
type Kind = &'static str;

/// A syntactically valid header block: the pairs, or why its shape is wrong.
///
/// Shape errors travel in the value, not as a `serde_json::Error`, so that
/// they keep their own [`DecodeError`] variants.
struct HeaderBlock(Result<Vec<(String, String)>, DecodeError>);

impl<'de> Deserialize<'de> for HeaderBlock {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(HeaderBlockVisitor)
            .map(HeaderBlock)
    }
}

struct HeaderBlockVisitor;

impl HeaderBlockVisitor {
    fn not_object<E>(found: Kind) -> Result<Result<Vec<(String, String)>, DecodeError>, E> {
        Ok(Err(DecodeError::HeaderNotObject { found }))
    }
}

impl<'de> Visitor<'de> for HeaderBlockVisitor {
    type Value = Result<Vec<(String, String)>, DecodeError>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of string values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::new();
        let mut shape_error = None;
        // Read to the end even after a shape error, so that the parser still
        // sees the whole block and reports bad syntax anywhere in it first.
        while let Some(name) = map.next_key::<String>()? {
            match map.next_value::<HeaderValue>()? {
                HeaderValue::String(value) => entries.push((name, value)),
                HeaderValue::Other(found) => {
                    shape_error.get_or_insert(DecodeError::HeaderValueNotString { name, found });
                }
            }
        }
        Ok(match shape_error {
            Some(error) => Err(error),
            None => Ok(entries),
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Self::not_object("array")
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Self::not_object("string")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Self::not_object("boolean")
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Self::not_object("number")
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Self::not_object("number")
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Self::not_object("number")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Self::not_object("null")
    }
}

/// A header value: a string, or the kind of the non-string found instead.
enum HeaderValue {
    String(String),
    Other(Kind),
}

impl<'de> Deserialize<'de> for HeaderValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(HeaderValueVisitor)
    }
}

struct HeaderValueVisitor;

impl<'de> Visitor<'de> for HeaderValueVisitor {
    type Value = HeaderValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<HeaderValue, E> {
        Ok(HeaderValue::String(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<HeaderValue, E> {
        Ok(HeaderValue::String(value))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<HeaderValue, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(HeaderValue::Other("object"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<HeaderValue, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(HeaderValue::Other("array"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<HeaderValue, E> {
        Ok(HeaderValue::Other("boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<HeaderValue, E> {
        Ok(HeaderValue::Other("number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<HeaderValue, E> {
        Ok(HeaderValue::Other("number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<HeaderValue, E> {
        Ok(HeaderValue::Other("number"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<HeaderValue, E> {
        Ok(HeaderValue::Other("null"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(headers: &Headers) -> String {
        let mut buf = BytesMut::new();
        put_header_block(&mut buf, headers);
        String::from_utf8(buf.to_vec()).expect("the writer emits UTF-8")
    }

    #[test]
    fn writes_empty_block_as_braces() {
        let headers = Headers::new();
        assert_eq!(written(&headers), "{}");
        assert_eq!(header_block_len(&headers), 2);
    }

    #[test]
    fn writes_escapes_exactly_as_serde_json_does() {
        let mut every_escape: String = (0u8..0x20).map(char::from).collect();
        every_escape.push_str("\"\\/\u{7f}é€😀 plain");
        let headers: Headers = [(every_escape.clone(), every_escape.clone())]
            .into_iter()
            .collect();
        let quoted = serde_json::to_string(&every_escape).expect("strings serialize");
        assert_eq!(written(&headers), format!("{{{quoted}:{quoted}}}"));
        assert_eq!(header_block_len(&headers), written(&headers).len());
    }

    #[test]
    fn parse_reads_escaped_text_back() {
        let headers = parse_header_block(r#" { "A\u0042" : "x\ny\/" } "#).expect("valid block");
        assert_eq!(headers.get("AB"), Some("x\ny/"));
    }

    #[test]
    fn parse_survives_deep_nesting() {
        let depth = 50_000;
        let deep_array = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let deep_object = format!(r#"{}""{}"#, r#"{"a":"#.repeat(depth), "}".repeat(depth));
        assert_eq!(
            parse_header_block(&format!(r#"{{"a":{deep_array}}}"#)),
            Err(DecodeError::HeaderValueNotString {
                name: "a".to_owned(),
                found: "array"
            })
        );
        assert_eq!(
            parse_header_block(&format!(r#"{{"b":{deep_object}}}"#)),
            Err(DecodeError::HeaderValueNotString {
                name: "b".to_owned(),
                found: "object"
            })
        );
        assert_eq!(
            parse_header_block(&deep_array),
            Err(DecodeError::HeaderNotObject { found: "array" })
        );
        assert!(matches!(
            parse_header_block(&"[".repeat(depth)),
            Err(DecodeError::HeaderNotJson { .. })
        ));
    }

    #[test]
    fn parse_reports_syntax_error_after_a_non_string_value() {
        assert!(matches!(
            parse_header_block(r#"{"a":1,"b":}"#),
            Err(DecodeError::HeaderNotJson { .. })
        ));
    }

    #[test]
    fn duplicate_found_among_many_headers() {
        let mut entries: Vec<(String, String)> = (0..1000)
            .map(|n| (format!("X-{n}"), String::new()))
            .collect();
        assert_eq!(first_duplicate(&entries), None);
        entries.insert(10, ("x-999".to_owned(), String::new()));
        // The pair at index 1000 ("X-999") repeats the one inserted at index 10.
        assert_eq!(first_duplicate(&entries), Some("X-999"));
    }

    #[test]
    fn duplicate_found_among_few_headers() {
        let entries = vec![
            ("A".to_owned(), String::new()),
            ("B".to_owned(), String::new()),
            ("a".to_owned(), String::new()),
        ];
        assert_eq!(first_duplicate(&entries), Some("a"));
    }
}
