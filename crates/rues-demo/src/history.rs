//! The blocks in memory: [`History`], with its indexes by hash and by
//! transaction, and [`Snapshot`], an owned view of it and the mempool.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::id::{BlockHash, TxId};
use crate::records::{Block, ExecutedTx, PendingTx, TxStatus};

/// The blocks in memory and their indexes. Shared copy-on-write with
/// [`Snapshot`]s, so taking one is O(1).
#[derive(Debug, Clone, Default)]
pub(crate) struct History {
    /// Consecutive heights, oldest first; never empty.
    blocks: VecDeque<Arc<Block>>,
    by_hash: HashMap<BlockHash, u64>,
    /// Transaction id → height of its block.
    tx_index: HashMap<TxId, u64>,
}

impl History {
    pub(crate) fn tip(&self) -> &Arc<Block> {
        self.blocks
            .back()
            .expect("the history always holds at least the tip")
    }

    pub(crate) fn block(&self, height: u64) -> Option<&Arc<Block>> {
        let first = self.blocks.front()?.header.height;
        let index = usize::try_from(height.checked_sub(first)?).ok()?;
        self.blocks.get(index)
    }

    pub(crate) fn block_by_hash(&self, hash: &BlockHash) -> Option<&Arc<Block>> {
        self.by_hash.get(hash).and_then(|h| self.block(*h))
    }

    pub(crate) fn blocks(
        &self,
    ) -> impl DoubleEndedIterator<Item = &Arc<Block>> + ExactSizeIterator {
        self.blocks.iter()
    }

    pub(crate) fn executed(&self, id: &TxId) -> Option<(&Arc<Block>, &ExecutedTx)> {
        let block = self.block(*self.tx_index.get(id)?)?;
        let tx = block.txs.iter().find(|t| t.id == *id)?;
        Some((block, tx))
    }

    /// How many blocks are in memory.
    pub(crate) fn len(&self) -> usize {
        self.blocks.len()
    }

    /// The height of the block holding this transaction.
    pub(crate) fn tx_height(&self, id: &TxId) -> Option<u64> {
        self.tx_index.get(id).copied()
    }

    /// The `index`th block in memory (oldest first), to move it on its way
    /// to finality. Its hash and transactions must not change: the indexes
    /// follow them.
    pub(crate) fn nth_mut(&mut self, index: usize) -> Option<&mut Arc<Block>> {
        self.blocks.get_mut(index)
    }

    /// Adds a block on top of the tip.
    pub(crate) fn push(&mut self, block: Block) {
        let height = block.header.height;
        self.by_hash.insert(block.header.hash, height);
        for tx in &block.txs {
            self.tx_index.insert(tx.id, height);
        }
        self.blocks.push_back(Arc::new(block));
    }

    /// Removes the tip (a revert), and its entries from the indexes.
    pub(crate) fn pop_tip(&mut self) -> Option<Arc<Block>> {
        let block = self.blocks.pop_back()?;
        self.forget(&block);
        Some(block)
    }

    /// Removes the oldest block (pruning), and its entries from the indexes.
    pub(crate) fn pop_oldest(&mut self) -> Option<Arc<Block>> {
        let block = self.blocks.pop_front()?;
        self.forget(&block);
        Some(block)
    }

    fn forget(&mut self, block: &Block) {
        self.by_hash.remove(&block.header.hash);
        for tx in &block.txs {
            self.tx_index.remove(&tx.id);
        }
    }
}

/// A consistent, owned view of the chain at one moment: blocks in memory
/// and the mempool. Cheap to take (the history is shared copy-on-write) and
/// read without any lock, e.g. while a GraphQL query runs.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub(crate) history: Arc<History>,
    pub(crate) mempool: Vec<Arc<PendingTx>>,
}

impl Snapshot {
    /// The tip.
    pub fn tip(&self) -> &Block {
        self.history.tip()
    }

    /// The block at `height`, if it is in memory.
    pub fn block(&self, height: u64) -> Option<&Block> {
        self.history.block(height).map(|b| &**b)
    }

    /// The block with this hash, if it is in memory (reverted blocks are not).
    pub fn block_by_hash(&self, hash: &BlockHash) -> Option<&Block> {
        self.history.block_by_hash(hash).map(|b| &**b)
    }

    /// Blocks in memory, oldest first.
    pub fn blocks(&self) -> impl DoubleEndedIterator<Item = &Block> + ExactSizeIterator {
        self.history.blocks().map(|b| &**b)
    }

    /// Where a transaction is, if the chain knows it.
    pub fn transaction(&self, id: &TxId) -> Option<TxStatus<'_>> {
        transaction_status(&self.history, self.mempool.iter(), id)
    }

    /// The mempool, oldest first.
    pub fn mempool(&self) -> impl ExactSizeIterator<Item = &PendingTx> {
        self.mempool.iter().map(|p| &**p)
    }
}

/// Where a transaction is: executed in a block of `history`, or pending in
/// `mempool`.
pub(crate) fn transaction_status<'a>(
    history: &'a History,
    mut mempool: impl Iterator<Item = &'a Arc<PendingTx>>,
    id: &TxId,
) -> Option<TxStatus<'a>> {
    if let Some((block, tx)) = history.executed(id) {
        return Some(TxStatus::Executed { block, tx });
    }
    mempool.find(|p| p.id == *id).map(|p| TxStatus::Pending(p))
}
