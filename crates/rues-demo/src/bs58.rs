//! Base58 (Bitcoin alphabet) encoding, for provisioner keys: rusk shows BLS
//! public keys in base58.

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

#[cfg(test)]
mod tests {
    use super::encode;

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
