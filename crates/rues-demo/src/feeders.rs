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

use crate::contracts::{TRANSFER_CONTRACT, topics};
use crate::data_driver::STAKE_RECORD;
use crate::history::Snapshot;
use crate::id::Account;
use crate::records::{Block, Stake};

/// Most records in one chunk of a stream.
pub(crate) const RECORDS_PER_CHUNK: usize = 256;
/// Most blocks one chunk looks at, so that a long run of blocks without a
/// transfer still yields (an empty chunk, which sends nothing).
const BLOCKS_PER_CHUNK: usize = 1024;

/// A `leaves_from_height` record is height u64 LE ‖ transaction id ‖ the
/// `moonlight` event's payload (sender ‖ receiver ‖ value u64 LE), 112
/// bytes ([`TRANSFER_RECORD`]).
///
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
            // A transfer is what the transfer contract says it is: its
            // `moonlight` events (not every transaction without an error:
            // genesis's carries a blob and moves nothing).
            let transfers = block
                .events
                .iter()
                .enumerate()
                .skip(self.index)
                .filter(|(_, e)| e.contract == TRANSFER_CONTRACT && e.topic == topics::MOONLIGHT);
            for (i, event) in transfers {
                if records == RECORDS_PER_CHUNK {
                    self.index = i;
                    return Some(chunk);
                }
                // The event's payload is the record's last 72 bytes.
                chunk.extend_from_slice(&block.height().to_le_bytes());
                chunk.extend_from_slice(event.origin.as_bytes());
                chunk.extend_from_slice(&event.data);
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
    /// A `leaves_from_height` record built field by field, to check the
    /// stream's records (built from `moonlight` events) against.
    fn transfer_record(
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

    use super::*;
    use crate::data_driver::{TRANSFER_DRIVER, TRANSFER_RECORD};
    use crate::id::Id;
    use crate::id::TxId;
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

    /// A chain of `blocks` blocks after `transfers` transfers were propagated.
    fn chain_with(transfers: u64, blocks: u64) -> crate::Chain {
        let config = crate::ChainConfig {
            tx_per_second: 0.0,
            revert_one_in: 0,
            ..crate::ChainConfig::default()
        };
        let mut chain = crate::Chain::new(config, 0).expect("valid config");
        for nonce in 0..transfers {
            let tx = crate::Transaction::builder()
                .sender(Id::from_bytes([1; 32]))
                .receiver(Id::from_bytes([2; 32]))
                .value(1)
                .nonce(nonce)
                .build()
                .expect("valid");
            chain.propagate(&tx.encode()).expect("accepted");
        }
        for b in 1..=blocks {
            let _ = chain.tick(b * 2000);
        }
        chain
    }

    #[test]
    fn transfers_come_in_bounded_chunks_that_resume_inside_a_block() {
        // 100 transfers a block: 300 over blocks 1..=3, then two empty blocks.
        let chain = chain_with(300, 5);
        let chunks: Vec<Vec<u8>> = Transfers::new(chain.snapshot(), 0).collect();
        assert!(chunks.len() >= 2, "300 records need two chunks of 256");
        assert!(chunks.iter().all(|c| c.len() <= RECORDS_PER_CHUNK * 112));
        let all: Vec<u8> = chunks.concat();
        assert_eq!(all.len(), 300 * 112);
        let ids: std::collections::HashSet<&[u8]> = all.chunks(112).map(|r| &r[8..40]).collect();
        assert_eq!(ids.len(), 300, "every transfer once");
        let heights: Vec<u64> = all
            .chunks(112)
            .map(|r| u64::from_le_bytes(<[u8; 8]>::try_from(&r[..8]).expect("8 bytes")))
            .collect();
        assert!(heights.windows(2).all(|w| w[0] <= w[1]), "oldest first");
        // From a height past the tip, and from u64::MAX: nothing at all.
        assert_eq!(Transfers::new(chain.snapshot(), 6).count(), 0);
        assert_eq!(Transfers::new(chain.snapshot(), u64::MAX).count(), 0);
    }

    #[test]
    fn a_long_run_of_empty_blocks_still_yields() {
        let chain = chain_with(0, 3);
        let chunks: Vec<Vec<u8>> = Transfers::new(chain.snapshot(), 0).collect();
        assert!(chunks.iter().all(Vec::is_empty));
        assert!(chunks.len() <= 1);
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
