//! The handshake headers of a WebSocket upgrade (RFC 6455 §4.2.1) that the
//! adapter's "is this an upgrade" test does not check: the adapter routes
//! on `Upgrade`, `Connection` and `Sec-WebSocket-Version`; whether the rest
//! is well formed is the protocol's decision, so it lives here.

use http::HeaderMap;
use http::header::{HOST, SEC_WEBSOCKET_KEY};

/// Why an upgrade's handshake headers are refused (400), as a message that
/// never quotes them; `Ok` when they are well formed.
pub(crate) fn check(headers: &HeaderMap) -> Result<(), &'static str> {
    // RFC 9112 §3.2: an HTTP/1.1 request without exactly one Host is 400
    // (an upgrade is always HTTP/1.1 or later).
    if headers.get_all(HOST).iter().count() != 1 {
        return Err("the upgrade needs exactly one Host header");
    }
    let mut keys = headers.get_all(SEC_WEBSOCKET_KEY).iter();
    match (keys.next(), keys.next()) {
        (Some(key), None) if is_base64_of_16_bytes(key.as_bytes()) => Ok(()),
        _ => Err("Sec-WebSocket-Key must be one base64-encoded 16-byte value"),
    }
}

/// Whether `key` is the base64 of 16 bytes: 22 characters of the base64
/// alphabet and `==` (RFC 6455 §4.1, item 7).
fn is_base64_of_16_bytes(key: &[u8]) -> bool {
    let is_alphabet = |b: &u8| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/';
    key.len() == 24 && key[..22].iter().all(is_alphabet) && &key[22..] == b"=="
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert!(is_base64_of_16_bytes(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!is_base64_of_16_bytes(b"dGhlIHNhbXBsZSBub25jZQ="));
        assert!(!is_base64_of_16_bytes(b"not-a-key"));
        assert!(!is_base64_of_16_bytes(b"dGhlIHNhbXBsZSBub25jZ!=="));
        assert!(!is_base64_of_16_bytes(b"dGhlIHNhbXBsZSBub25jZQ==AAAA"));
    }
}
