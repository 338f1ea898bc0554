//! Quoting client input in error messages, bounded.

use std::fmt::Write as _;

/// How many characters of input an error message quotes at most.
pub const QUOTE_MAX_CHARS: usize = 40;

/// Quotes client input for an error message: at most [`QUOTE_MAX_CHARS`]
/// characters of it, control and non-ASCII characters escaped (`\n`,
/// `\u{7f}`, ...), between backticks. Longer input ends in `…` followed by
/// its total length, so the message says what was wrong without carrying
/// the input: a 1 MiB body of control bytes gives a quote of about 300
/// bytes, never the body (an error that echoes its input turns every bad
/// request into an amplifier). Bytes that are not UTF-8 are shown as `\xNN`.
///
/// ```
/// use rues_core::quote;
///
/// assert_eq!(quote("many"), "`many`");
/// assert_eq!(quote("a\u{1}b"), "`a\\u{1}b`");
/// let long = "x".repeat(1 << 20);
/// let quoted = quote(&long);
/// assert!(quoted.ends_with("…` (1048576 bytes)"), "{quoted}");
/// assert!(quoted.len() < 64);
/// ```
pub fn quote(input: impl AsRef<[u8]>) -> String {
    let input = input.as_ref();
    let mut out = String::with_capacity(QUOTE_MAX_CHARS + 24);
    out.push('`');
    let mut shown = 0;
    let mut rest = input;
    let mut truncated = false;
    'outer: while !rest.is_empty() {
        let (valid, invalid) = match std::str::from_utf8(rest) {
            Ok(text) => (text, &[][..]),
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                // `valid_up_to` is a char boundary by definition.
                let valid = std::str::from_utf8(valid).unwrap_or_default();
                let bad = e.error_len().unwrap_or(after.len()).max(1);
                (valid, &after[..bad.min(after.len())])
            }
        };
        for ch in valid.chars() {
            if shown == QUOTE_MAX_CHARS {
                truncated = true;
                break 'outer;
            }
            match ch {
                '`' => out.push_str("\\`"),
                ' '..='~' => out.push(ch),
                _ => out.extend(ch.escape_debug()),
            }
            shown += 1;
        }
        for byte in invalid {
            if shown == QUOTE_MAX_CHARS {
                truncated = true;
                break 'outer;
            }
            let _ = write!(out, "\\x{byte:02x}");
            shown += 1;
        }
        rest = &rest[valid.len() + invalid.len()..];
    }
    if truncated {
        let _ = write!(out, "…` ({} bytes)", input.len());
    } else {
        out.push('`');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_input_is_quoted_whole() {
        assert_eq!(quote(""), "``");
        assert_eq!(quote("-1"), "`-1`");
        assert_eq!(quote("a`b"), "`a\\`b`");
        assert_eq!(quote("é"), "`é`");
    }

    #[test]
    fn control_and_invalid_bytes_are_escaped() {
        assert_eq!(quote("\n\t\0"), "`\\n\\t\\0`");
        assert_eq!(quote([b'a', 0xff, b'b']), "`a\\xffb`");
    }

    #[test]
    fn long_input_is_cut_and_sized() {
        let input = vec![1u8; 1 << 20];
        let quoted = quote(&input);
        assert!(quoted.len() < 400, "{} bytes", quoted.len());
        assert!(quoted.ends_with("…` (1048576 bytes)"), "{quoted}");
        let input = vec![0xffu8; 1 << 20];
        assert!(quote(&input).len() < 400);
        assert_eq!(
            quote("x".repeat(QUOTE_MAX_CHARS)).len(),
            QUOTE_MAX_CHARS + 2
        );
    }
}
