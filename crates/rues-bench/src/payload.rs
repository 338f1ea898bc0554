//! The benchmark payload: the publish time and a sequence number in its
//! first 16 bytes (little-endian `u64`s), zeros after, `size` bytes in all.
//! Every server carries it untouched; only the framing around it differs.

use bytes::{Bytes, BytesMut};

/// The smallest payload: the two stamps.
pub(crate) const MIN_SIZE: usize = 16;

/// A payload of `size` bytes stamped with the current time.
pub(crate) fn make(size: usize, seq: u64) -> Bytes {
    let mut payload = BytesMut::zeroed(size.max(MIN_SIZE));
    payload[0..8].copy_from_slice(&crate::clock::now_ns().to_le_bytes());
    payload[8..16].copy_from_slice(&seq.to_le_bytes());
    payload.freeze()
}

/// The publish time stamped in a payload, if it is one.
pub(crate) fn published_at(payload: &[u8]) -> Option<u64> {
    let stamp: [u8; 8] = payload.get(0..8)?.try_into().ok()?;
    Some(u64::from_le_bytes(stamp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip() {
        let before = crate::clock::now_ns();
        let payload = make(256, 7);
        assert_eq!(payload.len(), 256);
        let at = published_at(&payload).expect("stamped");
        assert!(at >= before && at <= crate::clock::now_ns());
        assert_eq!(&payload[8..16], &7u64.to_le_bytes());
        assert_eq!(make(1, 0).len(), MIN_SIZE);
        assert_eq!(published_at(b"short"), None);
    }
}
