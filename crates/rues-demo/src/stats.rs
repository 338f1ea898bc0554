//! [`ArchiveCounts`]: what `stats/account_count` and `stats/tx_count`
//! count, kept as blocks are finalized and pruned, so a request costs
//! nothing however long the history.

use std::collections::HashMap;

use crate::contracts::STAKE_CONTRACT;
use crate::id::Account;
use crate::records::Block;

/// Counts over the finalized blocks the chain holds, as rusk's archive
/// counts over finalized blocks: the public accounts that sent or received
/// in them (a stake's receiver is the stake contract, not an account), and
/// their transactions (successful or failed, like the transfer contract's
/// `moonlight` events rusk counts).
#[derive(Debug, Clone, Default)]
pub(crate) struct ArchiveCounts {
    /// Account → how many transactions of the counted blocks name it.
    accounts: HashMap<Account, u64>,
    txs: u64,
}

impl ArchiveCounts {
    /// Counts a block that just became finalized.
    pub(crate) fn add(&mut self, block: &Block) {
        for account in accounts(block) {
            *self.accounts.entry(*account).or_default() += 1;
        }
        self.txs += block.txs.len() as u64;
    }

    /// Forgets a finalized block the chain prunes.
    pub(crate) fn remove(&mut self, block: &Block) {
        for account in accounts(block) {
            if let Some(count) = self.accounts.get_mut(account) {
                *count -= 1;
                if *count == 0 {
                    self.accounts.remove(account);
                }
            }
        }
        self.txs = self.txs.saturating_sub(block.txs.len() as u64);
    }

    /// Distinct public accounts.
    pub(crate) fn accounts(&self) -> u64 {
        self.accounts.len() as u64
    }

    /// Transactions.
    pub(crate) fn txs(&self) -> u64 {
        self.txs
    }
}

/// Every (account, transaction) pair of a block: the sender, and the
/// receiver unless it is the stake contract or the sender itself.
fn accounts(block: &Block) -> impl Iterator<Item = &Account> {
    block.txs.iter().flat_map(|executed| {
        let tx = &executed.tx;
        let receiver = (tx.receiver() != &STAKE_CONTRACT && tx.receiver() != tx.sender())
            .then_some(tx.receiver());
        std::iter::once(tx.sender()).chain(receiver)
    })
}
