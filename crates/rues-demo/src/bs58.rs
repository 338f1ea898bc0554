//! Base58 (Bitcoin alphabet), for provisioner keys and account addresses:
//! rusk shows BLS public keys and accounts in base58.

const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Encodes `bytes` in base58; each leading zero byte becomes a `1`.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    // Base-58 digits, least significant first.
    let mut digits: Vec<u8> = Vec::with_capacity(bytes.len() * 138 / 100 + 1);
    for &byte in &bytes[zeros..] {
        let mut carry = u32::from(byte);
        for digit in &mut digits {
            carry += u32::from(*digit) << 8;
            *digit = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let mut out = String::with_capacity(zeros + digits.len());
    out.extend(std::iter::repeat_n('1', zeros));
    out.extend(
        digits
            .iter()
            .rev()
            .map(|&d| char::from(ALPHABET[usize::from(d)])),
    );
    out
}

/// Decodes base58 text into exactly `N` bytes; `None` when the text has a
/// character outside the alphabet or does not decode to `N` bytes (each
/// leading `1` is a leading zero byte). The work is bounded by `N`: text
/// longer than base58 of `N` bytes can need is refused before decoding.
pub(crate) fn decode<const N: usize>(text: &str) -> Option<[u8; N]> {
    // Base58 of N bytes is at most N leading '1's, or about 1.37 N digits.
    if text.len() > N * 138 / 100 + 1 {
        return None;
    }
    let zeros = text.bytes().take_while(|&b| b == b'1').count();
    // Base-256 digits, least significant first.
    let mut bytes: Vec<u8> = Vec::with_capacity(N);
    for c in text.bytes().skip(zeros) {
        let mut carry = ALPHABET.iter().position(|&a| a == c)? as u32;
        for byte in &mut bytes {
            carry += u32::from(*byte) * 58;
            *byte = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.push((carry & 0xff) as u8);
            carry >>= 8;
        }
        if zeros + bytes.len() > N {
            return None;
        }
    }
    if zeros + bytes.len() != N {
        return None;
    }
    let mut out = [0u8; N];
    for (slot, byte) in out[zeros..].iter_mut().zip(bytes.iter().rev()) {
        *slot = *byte;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::{decode, encode};
    use proptest::prelude::*;

    #[test]
    fn base58_decodes_known_vectors_to_their_length() {
        assert_eq!(decode::<1>("2g"), Some([0x61]));
        assert_eq!(decode::<3>("a3gV"), Some([0x62, 0x62, 0x62]));
        assert_eq!(
            decode::<7>("111233QC4"),
            Some([0x00, 0x00, 0x00, 0x28, 0x7f, 0xb4, 0xcd])
        );
        assert_eq!(decode::<3>("111"), Some([0, 0, 0]));
        assert_eq!(decode::<0>(""), Some([]));
    }

    #[test]
    fn base58_decode_refuses_other_lengths_and_foreign_characters() {
        assert_eq!(decode::<4>("a3gV"), None, "3 bytes are not 4");
        assert_eq!(decode::<2>("a3gV"), None, "3 bytes are not 2");
        assert_eq!(decode::<3>("a3g0"), None, "0 is not in the alphabet");
        assert_eq!(decode::<3>("a3gO"), None, "O is not in the alphabet");
        assert_eq!(decode::<3>("a3gé"), None);
        assert_eq!(decode::<32>(&"z".repeat(1000)), None);
        assert_eq!(decode::<32>(&"1".repeat(33)), None);
    }

    proptest! {
        #[test]
        fn base58_round_trips_32_bytes(bytes in any::<[u8; 32]>()) {
            prop_assert_eq!(decode::<32>(&encode(&bytes)), Some(bytes));
        }

        #[test]
        fn base58_decode_never_panics(text in "\\PC{0,80}") {
            let _ = decode::<32>(&text);
        }
    }

    #[test]
    fn base58_matches_known_vectors() {
        // Vectors from the Bitcoin Core base58 test data.
        assert_eq!(encode(b""), "");
        assert_eq!(encode(&[0x61]), "2g");
        assert_eq!(encode(&[0x62, 0x62, 0x62]), "a3gV");
        assert_eq!(
            encode(&[0x00, 0x00, 0x00, 0x28, 0x7f, 0xb4, 0xcd]),
            "111233QC4"
        );
        assert_eq!(encode(b"hello world"), "StV1DL6CwTryKyV");
        assert_eq!(encode(&[0, 0, 0]), "111");
    }
}
