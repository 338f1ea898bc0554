//! The demo contracts' feeder queries (docs/protocol.md §5.2): streams of
//! fixed-size records, produced chunk by chunk while the reply is sent.
//!
//! - transfer `leaves_from_height`: every successful moonlight transfer
//!   from a height on, oldest first ([`TRANSFER_RECORD`], 112 bytes), read
//!   from a [`Snapshot`] of the history: the chain lock is held only to take
//!   it, and the stream holds at most one chunk of records at a time.
//! - stake `stakes`: every stake, ordered by account ([`STAKE_RECORD`], 56
//!   bytes), copied under a short lock (the stakes are bounded by
//!   `max_stakes`), then streamed.
//!
//! The layouts are the data driver's ([`crate::data_driver`]): a test
//! decodes these records with its table.

use crate::data_driver::{STAKE_RECORD, TRANSFER_RECORD};
use crate::history::Snapshot;
use crate::id::{Account, TxId};
use crate::records::{Block, Stake};

/// Most records in one chunk of a stream.
pub(crate) const RECORDS_PER_CHUNK: usize = 256;
/// Most blocks one chunk looks at, so that a long run of blocks without a
/// transfer still yields (an empty chunk, which sends nothing).
const BLOCKS_PER_CHUNK: usize = 1024;

/// A `leaves_from_height` record: height ‖ transaction id ‖ sender ‖
/// receiver ‖ value (the last 72 bytes are the `moonlight` event payload).
pub(crate) fn transfer_record(
    height: u64,
    id: &TxId,
    sender: &Account,
    receiver: &Account,
    value: u64,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(TRANSFER_RECORD.size());
    out.extend_from_slice(&height.to_le_bytes());
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(sender.as_bytes());
    out.extend_from_slice(receiver.as_bytes());
    out.extend_from_slice(&value.to_le_bytes());
    out
}

/// A `stakes` record: account ‖ amount ‖ reward ‖ eligibility.
pub(crate) fn stake_record(account: &Account, stake: &Stake) -> Vec<u8> {
    let mut out = Vec::with_capacity(STAKE_RECORD.size());
    out.extend_from_slice(account.as_bytes());
    out.extend_from_slice(&stake.amount.to_le_bytes());
    out.extend_from_slice(&stake.reward.to_le_bytes());
    out.extend_from_slice(&stake.eligibility.to_le_bytes());
    out
}

/// The successful moonlight transfers of blocks from a height on, as chunks
/// of records: the iterator behind the `leaves_from_height` stream.
#[derive(Debug)]
pub(crate) struct Transfers {
    snapshot: Snapshot,
    /// Where the next chunk starts: a height and a transaction index in it.
    height: u64,
    index: usize,
    tip: u64,
    done: bool,
}

impl Transfers {
    /// From `from` (or the oldest block still in memory, when it is older)
    /// to the snapshot's tip; nothing when `from` is past the tip.
    pub(crate) fn new(snapshot: Snapshot, from: u64) -> Self {
        let oldest = snapshot.blocks().next().map_or(0, Block::height);
        let tip = snapshot.tip().height();
        Self {
            snapshot,
            height: from.max(oldest),
            index: 0,
            tip,
            done: from > tip,
        }
    }
}

impl Iterator for Transfers {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        if self.done {
            return None;
        }
        let mut chunk = Vec::new();
        let mut records = 0;
        for _ in 0..BLOCKS_PER_CHUNK {
            let Some(block) = self.snapshot.block(self.height) else {
                // Heights in memory are consecutive up to the tip.
                self.done = true;
                break;
            };
            let transfers = block
                .txs
                .iter()
                .enumerate()
                .skip(self.index)
                .filter(|(_, t)| t.err.is_none() && !t.tx.is_stake());
            for (i, t) in transfers {
                if records == RECORDS_PER_CHUNK {
                    self.index = i;
                    return Some(chunk);
                }
                chunk.extend(transfer_record(
                    block.height(),
                    &t.id,
                    t.tx.sender(),
                    t.tx.receiver(),
                    t.tx.value(),
                ));
                records += 1;
            }
            self.index = 0;
            if self.height >= self.tip {
                self.done = true;
                break;
            }
            self.height += 1;
        }
        Some(chunk)
    }
}

/// Every stake as `stakes` records, in chunks of [`RECORDS_PER_CHUNK`].
pub(crate) fn stake_chunks(stakes: Vec<(Account, Stake)>) -> impl Iterator<Item = Vec<u8>> {
    let mut stakes = stakes.into_iter().peekable();
    std::iter::from_fn(move || {
        stakes.peek()?;
        let chunk: Vec<u8> = stakes
            .by_ref()
            .take(RECORDS_PER_CHUNK)
            .flat_map(|(account, stake)| stake_record(&account, &stake))
            .collect();
        Some(chunk)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data_driver::TRANSFER_DRIVER;
    use crate::id::Id;
    use serde_json::json;

    #[test]
    fn records_decode_with_the_driver_tables() {
        let (a, b, id) = (
            Id::from_bytes([1; 32]),
            Id::from_bytes([2; 32]),
            Id::from_bytes([9; 32]),
        );
        let record = transfer_record(4, &id, &a, &b, 77);
        let value = TRANSFER_DRIVER
            .decode_output("leaves_from_height", &record)
            .expect("a record");
        assert_eq!(
            value,
            json!({"block_height": "4", "tx_id": id, "sender": crate::bs58::encode(a.as_bytes()),
                "receiver": crate::bs58::encode(b.as_bytes()), "value": "77"})
        );
        let stake = Stake {
            amount: 1,
            reward: 2,
            eligibility: 3,
        };
        let value = STAKE_RECORD
            .decode("r", &stake_record(&a, &stake))
            .expect("a record");
        assert_eq!(value["eligibility"], "3");
    }

    #[test]
    fn stake_chunks_split_at_the_chunk_size() {
        let stakes: Vec<(Account, Stake)> = (0..=RECORDS_PER_CHUNK)
            .map(|i| {
                (
                    Id::from_bytes([u8::try_from(i % 256).unwrap_or(0); 32]),
                    Stake::default(),
                )
            })
            .collect();
        let sizes: Vec<usize> = stake_chunks(stakes).map(|c| c.len()).collect();
        assert_eq!(sizes, [RECORDS_PER_CHUNK * 56, 56]);
        assert_eq!(stake_chunks(Vec::new()).count(), 0);
    }
}
