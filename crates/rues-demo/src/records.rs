//! The records the chain hands out: [`Block`]s with their [`Header`] and
//! [`ExecutedTx`]s, a block's [`Finality`], [`PendingTx`]s of the mempool and
//! a transaction's [`TxStatus`], [`Stake`]s and [`Provisioner`]s, and
//! [`GasPrice`] statistics. Plain data; the chain makes them.
//!
//! [`Block::to_json`] is in `events.rs`, with the other JSON shapes.

use serde::Serialize;

use crate::id::{Account, BlockHash, ContractId, Id, TxId};
use crate::tx::Transaction;

/// Where a block is on its way to finality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Finality {
    /// Accepted; may still be reverted while it is the tip.
    Accepted,
    /// `confirmed_after` blocks are on top of it.
    Confirmed,
    /// `finalized_after` blocks are on top of it; it is final.
    Finalized,
}

impl Finality {
    /// `accepted`, `confirmed` or `finalized`, as in `statechange` events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Confirmed => "confirmed",
            Self::Finalized => "finalized",
        }
    }
}

/// A block header. The hash covers every other field.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Header {
    /// Header version (1).
    pub version: u8,
    /// Height; genesis is 0.
    pub height: u64,
    /// Unix time in seconds (rusk's unit).
    pub timestamp: u64,
    /// The parent's hash (zeros for genesis).
    pub prev_block_hash: BlockHash,
    /// A per-block random value.
    pub seed: Id,
    /// The state after this block.
    pub state_hash: Id,
    /// The provisioner that generated the block.
    pub generator: Account,
    /// [`provisioner_key`](crate::params::provisioner_key) of the generator.
    pub generator_key: String,
    /// SHA-256 over the block's transaction ids.
    pub txroot: Id,
    /// [`BLOCK_GAS_LIMIT`](crate::params::BLOCK_GAS_LIMIT).
    pub gas_limit: u64,
    /// 0, or one more than the reverted block's at this height.
    pub iteration: u8,
    /// This block's hash.
    pub hash: BlockHash,
}

/// A transaction as executed in a block.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExecutedTx {
    /// Its id.
    pub id: TxId,
    /// The transaction.
    pub tx: Transaction,
    /// Gas it spent.
    pub gas_spent: u64,
    /// Why it failed, or `None` when it succeeded. A failed transaction is
    /// still in the block and still pays for its gas.
    pub err: Option<String>,
}

/// A block with its executed transactions.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Block {
    /// The header.
    pub header: Header,
    /// Its transactions, in execution order.
    pub txs: Vec<ExecutedTx>,
    /// Where it is on its way to finality.
    pub finality: Finality,
    /// What its generator earned ([`BLOCK_REWARD`](crate::params::BLOCK_REWARD) plus `fees`).
    pub reward: u64,
    /// Fees its transactions paid, in Lux.
    pub fees: u64,
    /// Gas its transactions spent.
    pub gas_spent: u64,
    /// The contract events it emitted, in order (those its
    /// `contracts:<id>/<topic>` events carried), kept as an archive node
    /// keeps them: as long as the block is in memory.
    pub events: Vec<ContractEvent>,
}

/// A contract event as a block emitted it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ContractEvent {
    /// The contract that emitted it.
    pub contract: ContractId,
    /// Its topic.
    pub topic: &'static str,
    /// Its payload (the layouts of docs/demo-chain.md).
    pub data: Vec<u8>,
    /// What caused it: the transaction id, or the block hash for a reward.
    pub origin: Id,
}

impl Block {
    /// The block's hash.
    pub fn hash(&self) -> &BlockHash {
        &self.header.hash
    }

    /// The block's height.
    pub fn height(&self) -> u64 {
        self.header.height
    }

    /// The ids of its transactions, in order.
    pub fn tx_ids(&self) -> impl Iterator<Item = &TxId> {
        self.txs.iter().map(|t| &t.id)
    }
}

/// A transaction waiting in the mempool.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PendingTx {
    /// Its id.
    pub id: TxId,
    /// The transaction.
    pub tx: Transaction,
    /// When it entered the mempool (the chain's clock, ms).
    pub received_ms: u64,
}

/// Where a known transaction is.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum TxStatus<'a> {
    /// In the mempool.
    Pending(&'a PendingTx),
    /// Executed in a block still in the chain's history.
    Executed {
        /// The block.
        block: &'a Block,
        /// The transaction as executed.
        tx: &'a ExecutedTx,
    },
}

/// A stake in the stake contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Stake {
    /// Staked Lux.
    pub amount: u64,
    /// Rewards earned, in Lux.
    pub reward: u64,
    /// The height from which the stake takes part in consensus.
    pub eligibility: u64,
}

/// One entry of `node/provisioners`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Provisioner {
    /// The staking account.
    pub account: Account,
    /// [`provisioner_key`](crate::params::provisioner_key) of the account.
    pub key: String,
    /// Its stake.
    pub stake: Stake,
}

/// Gas price statistics over the mempool (`blocks/gas-price`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GasPrice {
    /// Mean, rounded up (as rusk rounds it).
    pub average: u64,
    /// Highest.
    pub max: u64,
    /// Median (mean of the two middle values, rounded down, for an even count).
    pub median: u64,
    /// Lowest.
    pub min: u64,
}
