//! The blocks in memory: [`History`], with its indexes by hash and by
//! transaction, and [`Snapshot`], an owned view of it and the mempool.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::id::{BlockHash, TxId};
use crate::records::{Block, ExecutedTx, PendingTx, TxStatus};

/// Blocks per chunk of [`History`]: what a write clones at most while a
/// snapshot holds the history.
const CHUNK: u64 = 64;

/// Up to [`CHUNK`] consecutive blocks, aligned on multiples of `CHUNK`
/// heights, with their indexes. Immutable once shared: a write clones the
/// one chunk it touches.
#[derive(Debug, Clone, Default)]
struct Chunk {
    /// Height of `blocks[0]`.
    first: u64,
    blocks: Vec<Arc<Block>>,
    by_hash: HashMap<BlockHash, u64>,
    /// Transaction id → height of its block.
    tx_index: HashMap<TxId, u64>,
}

/// The blocks in memory and their indexes, as a list of shared chunks.
/// Cloning it (which [`Arc::make_mut`] does when a [`Snapshot`] still holds
/// it and the chain writes) copies one pointer per chunk, and the write then
/// clones only the chunk it touches: a live snapshot never makes the next
/// block copy the whole history and its indexes.
#[derive(Debug, Clone, Default)]
pub(crate) struct History {
    /// Consecutive heights, oldest first; never empty once the genesis
    /// block is pushed, and no chunk in it is empty.
    chunks: VecDeque<Arc<Chunk>>,
    len: usize,
}

/// The chunks' blocks, one chunk after the other.
type ChunkBlocks<'a> = std::iter::FlatMap<
    std::collections::vec_deque::Iter<'a, Arc<Chunk>>,
    &'a Vec<Arc<Block>>,
    fn(&'a Arc<Chunk>) -> &'a Vec<Arc<Block>>,
>;

/// The blocks of a [`History`], oldest first.
pub(crate) struct Blocks<'a> {
    inner: ChunkBlocks<'a>,
    remaining: usize,
}

impl<'a> Iterator for Blocks<'a> {
    type Item = &'a Arc<Block>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = self.inner.next()?;
        self.remaining -= 1;
        Some(next)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl DoubleEndedIterator for Blocks<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let next = self.inner.next_back()?;
        self.remaining -= 1;
        Some(next)
    }
}

impl ExactSizeIterator for Blocks<'_> {}

fn chunk_blocks(chunk: &Arc<Chunk>) -> &Vec<Arc<Block>> {
    &chunk.blocks
}

impl History {
    pub(crate) fn tip(&self) -> &Arc<Block> {
        self.chunks
            .back()
            .and_then(|chunk| chunk.blocks.last())
            .expect("the history always holds at least the tip")
    }

    /// Where the block at `height` is: (chunk, index in it).
    fn locate(&self, height: u64) -> Option<(usize, usize)> {
        let base = self.chunks.front()?.first / CHUNK;
        let chunk = usize::try_from((height / CHUNK).checked_sub(base)?).ok()?;
        let first = self.chunks.get(chunk)?.first;
        let index = usize::try_from(height.checked_sub(first)?).ok()?;
        (index < self.chunks[chunk].blocks.len()).then_some((chunk, index))
    }

    pub(crate) fn block(&self, height: u64) -> Option<&Arc<Block>> {
        let (chunk, index) = self.locate(height)?;
        self.chunks[chunk].blocks.get(index)
    }

    pub(crate) fn block_by_hash(&self, hash: &BlockHash) -> Option<&Arc<Block>> {
        let height = self
            .chunks
            .iter()
            .rev()
            .find_map(|chunk| chunk.by_hash.get(hash))?;
        self.block(*height)
    }

    pub(crate) fn blocks<'a>(&'a self) -> Blocks<'a> {
        let map: fn(&'a Arc<Chunk>) -> &'a Vec<Arc<Block>> = chunk_blocks;
        Blocks {
            inner: self.chunks.iter().flat_map(map),
            remaining: self.len,
        }
    }

    pub(crate) fn executed(&self, id: &TxId) -> Option<(&Arc<Block>, &ExecutedTx)> {
        let block = self.block(self.tx_height(id)?)?;
        let tx = block.txs.iter().find(|t| t.id == *id)?;
        Some((block, tx))
    }

    /// How many blocks are in memory.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The height of the block holding this transaction.
    pub(crate) fn tx_height(&self, id: &TxId) -> Option<u64> {
        self.chunks
            .iter()
            .rev()
            .find_map(|chunk| chunk.tx_index.get(id).copied())
    }

    /// The `index`th block in memory (oldest first), to move it on its way
    /// to finality. Its hash and transactions must not change: the indexes
    /// follow them.
    pub(crate) fn nth_mut(&mut self, index: usize) -> Option<&mut Arc<Block>> {
        let first = self.chunks.front()?.first;
        let (chunk, index) = self.locate(first.checked_add(u64::try_from(index).ok()?)?)?;
        Arc::make_mut(&mut self.chunks[chunk]).blocks.get_mut(index)
    }

    /// Adds a block on top of the tip.
    pub(crate) fn push(&mut self, block: Block) {
        let height = block.header.height;
        let starts_chunk = self
            .chunks
            .back()
            .is_none_or(|chunk| chunk.first / CHUNK != height / CHUNK);
        if starts_chunk {
            self.chunks.push_back(Arc::new(Chunk {
                first: height,
                ..Chunk::default()
            }));
        }
        let Some(chunk) = self.chunks.back_mut() else {
            return;
        };
        let chunk = Arc::make_mut(chunk);
        chunk.by_hash.insert(block.header.hash, height);
        for tx in &block.txs {
            chunk.tx_index.insert(tx.id, height);
        }
        chunk.blocks.push(Arc::new(block));
        self.len += 1;
    }

    /// Removes the tip (a revert), and its entries from the indexes.
    pub(crate) fn pop_tip(&mut self) -> Option<Arc<Block>> {
        let chunk = Arc::make_mut(self.chunks.back_mut()?);
        let block = chunk.blocks.pop()?;
        chunk.forget(&block);
        if chunk.blocks.is_empty() {
            self.chunks.pop_back();
        }
        self.len -= 1;
        Some(block)
    }

    /// Removes the oldest block (pruning), and its entries from the indexes.
    pub(crate) fn pop_oldest(&mut self) -> Option<Arc<Block>> {
        let chunk = Arc::make_mut(self.chunks.front_mut()?);
        if chunk.blocks.is_empty() {
            return None;
        }
        let block = chunk.blocks.remove(0);
        chunk.first += 1;
        chunk.forget(&block);
        if chunk.blocks.is_empty() {
            self.chunks.pop_front();
        }
        self.len -= 1;
        Some(block)
    }

    /// Whether this history and `other` share the chunk holding `height`
    /// (the same allocation, not a copy).
    #[cfg(test)]
    pub(crate) fn shares_chunk(&self, other: &History, height: u64) -> bool {
        match (self.locate(height), other.locate(height)) {
            (Some((a, _)), Some((b, _))) => Arc::ptr_eq(&self.chunks[a], &other.chunks[b]),
            _ => false,
        }
    }
}

impl Chunk {
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
