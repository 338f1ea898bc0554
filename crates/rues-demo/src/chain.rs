//! The simulated chain: [`Chain`], a sans-IO state machine driven by
//! [`Chain::tick`], with its contract state, and [`TxError`], why it refuses
//! a transaction.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use rues_core::Event;

use crate::blob::{Blob, BlobIndex};
use crate::config::{ChainConfig, ConfigError};
use crate::contracts::{self, QueryError, STAKE_CONTRACT, TRANSFER_CONTRACT, topics};
use crate::events;
use crate::history::{History, Snapshot, transaction_status};
use crate::id::{Account, BlockHash, Id, TxId};
use crate::params::{
    BLOCK_GAS_LIMIT, BLOCK_REWARD, DEMO_ACCOUNT_BALANCE, DEMO_ACCOUNTS, GAS_PER_BLOB,
    GENERATED_BLOB_EVERY, GENESIS_BLOB_DATA, GENESIS_STAKE, INSUFFICIENT_BALANCE, LUX_PER_DUSK,
    MAX_BLOCK_BLOBS, MAX_MEMPOOL_BLOB_BYTES, MEMO_BYTE_GAS, STAKE_GAS, STAKE_MATURITY,
    TRANSFER_GAS, demo_account, provisioner_account, provisioner_key,
};
use crate::records::{
    Block, ContractEvent, ExecutedTx, Finality, GasPrice, Header, PendingTx, Provisioner, Stake,
    TxStatus,
};
use crate::rng::Rng;
use crate::stats::ArchiveCounts;
use crate::tx::{DEFAULT_GAS_LIMIT, DecodeError, Transaction};

/// A tick that finds more blocks due produces this many and moves the
/// schedule to "now" (after a suspended process, say), rather than a burst.
const MAX_BLOCKS_PER_TICK: u32 = 8;
/// The same for generated transactions.
const MAX_GENERATED_PER_TICK: u32 = 1000;

/// Why a transaction was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TxError {
    /// The bytes are not a demo-chain transaction.
    #[error("{0}")]
    Decode(#[from] DecodeError),
    /// The transaction names another chain.
    #[error("transaction is for chain {got}, but this node is chain {expected}")]
    WrongChain {
        /// This chain's id.
        expected: u8,
        /// The transaction's.
        got: u8,
    },
    /// A gas price of 0.
    #[error("gas price must be at least 1 Lux")]
    ZeroGasPrice,
    /// A gas limit of 0 or over [`BLOCK_GAS_LIMIT`](crate::params::BLOCK_GAS_LIMIT).
    #[error("gas limit {got} is outside 1..={BLOCK_GAS_LIMIT} (the block gas limit)")]
    GasLimit {
        /// The transaction's gas limit.
        got: u64,
    },
    /// The same transaction is already in the mempool.
    #[error("transaction {0} is already in the mempool")]
    InMempool(TxId),
    /// The same transaction is already in a block.
    #[error("transaction {id} is already in block {height}")]
    InBlock {
        /// The transaction.
        id: TxId,
        /// The block's height.
        height: u64,
    },
    /// The gas limit does not cover the transaction's blobs.
    #[error(
        "not enough gas for blobs: {blobs} blob(s) need a gas limit of at least {needed}, this one is {got}"
    )]
    BlobGas {
        /// How many blobs.
        blobs: usize,
        /// Their gas ([`GAS_PER_BLOB`](crate::params::GAS_PER_BLOB) each).
        needed: u64,
        /// The transaction's gas limit.
        got: u64,
    },
    /// The blobs waiting in the mempool already hold
    /// [`MAX_MEMPOOL_BLOB_BYTES`](crate::params::MAX_MEMPOOL_BLOB_BYTES).
    #[error("the mempool holds {max} bytes of blobs already; try again later")]
    MempoolBlobsFull {
        /// The bound, in bytes.
        max: usize,
    },
    /// The mempool is full.
    #[error("the mempool is full ({max} transactions); try again later")]
    MempoolFull {
        /// Its capacity.
        max: usize,
    },
}

impl TxError {
    /// Whether the node already has this transaction.
    pub fn is_duplicate(&self) -> bool {
        matches!(self, Self::InMempool(_) | Self::InBlock { .. })
    }
}

#[derive(Debug, Clone, Copy)]
struct AccountState {
    balance: u64,
    nonce: u64,
}

/// Contract state: balances, nonces, stakes, and a running state hash.
#[derive(Debug, Clone)]
struct State {
    accounts: HashMap<Account, AccountState>,
    stakes: BTreeMap<Account, Stake>,
    /// Accounts and stakers other than the genesis ones, first seen first:
    /// who is forgotten when a cap is passed (`max_accounts`, `max_stakes`).
    account_order: VecDeque<Account>,
    stake_order: VecDeque<Account>,
    hash: Id,
}

impl State {
    /// Records `account` as written: remembered, in first-seen order.
    fn set_account(&mut self, account: Account, state: AccountState, max: usize) {
        if self.accounts.insert(account, state).is_none() {
            self.account_order.push_back(account);
            while self.account_order.len() > max {
                if let Some(oldest) = self.account_order.pop_front() {
                    self.accounts.remove(&oldest);
                }
            }
        }
    }

    /// The stake of `account`, created (and the oldest forgotten past `max`)
    /// if it has none.
    fn stake_mut(&mut self, account: Account, max: usize) -> &mut Stake {
        if !self.stakes.contains_key(&account) {
            self.stake_order.push_back(account);
            while self.stake_order.len() > max {
                if let Some(oldest) = self.stake_order.pop_front() {
                    self.stakes.remove(&oldest);
                }
            }
        }
        self.stakes.entry(account).or_default()
    }
}

/// The simulated chain: blocks, mempool, contract state and the events of
/// each step. It performs no I/O and reads no clock: time comes in as
/// `now_ms` (milliseconds since the Unix epoch, or any monotonic origin),
/// randomness from the configured seed.
///
/// Drive it like this: call [`tick`](Self::tick) with the current time and
/// publish the events it returns, in order; call it again at
/// [`poll_timeout`](Self::poll_timeout) or as soon as
/// [`propagate`](Self::propagate) queued something. [`run`](crate::run) does
/// exactly this on tokio.
#[derive(Debug)]
pub struct Chain {
    config: ChainConfig,
    rng: Rng,
    history: Arc<History>,
    mempool: VecDeque<Arc<PendingTx>>,
    mempool_ids: HashSet<TxId>,
    /// Bytes of blob data in the mempool, bounded by
    /// [`MAX_MEMPOOL_BLOB_BYTES`]: blob transactions leave at most six blobs
    /// a block, so without a bound they could pile up.
    mempool_blob_bytes: usize,
    state: State,
    /// The state before the tip was applied: what a revert restores.
    undo: Option<State>,
    outbox: Vec<Event>,
    now_ms: u64,
    next_block_ms: u64,
    next_tx_ms: Option<u64>,
    tx_interval_ms: Option<u64>,
    /// The iteration of the next block (above 0 after a revert).
    next_iteration: u8,
    /// The generator's next nonce for each demo account.
    demo_nonces: Vec<u64>,
    generated: u64,
    /// Genesis provisioners: they take turns generating blocks.
    generators: Vec<Account>,
    /// The blobs of the blocks in memory.
    blobs: BlobIndex,
    /// `stats/*` counts over the finalized blocks in memory.
    archive: ArchiveCounts,
}

/// What [`Chain::simulate`] finds: what the transaction would spend and
/// why it would fail, if it would, executed on the tip's state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Simulation {
    /// Gas it would spend.
    pub gas_spent: u64,
    /// Why it would fail, or `None` when it would succeed.
    pub err: Option<String>,
}

impl Chain {
    /// A chain holding only its genesis block, stamped `now_ms`; the first
    /// block is due one block time later.
    pub fn new(config: ChainConfig, now_ms: u64) -> Result<Self, ConfigError> {
        config.validate()?;
        let generators: Vec<Account> = (0..config.provisioners)
            .map(|i| provisioner_account(u8::try_from(i).unwrap_or(u8::MAX)))
            .collect();
        let mut accounts = HashMap::new();
        for i in 0..DEMO_ACCOUNTS {
            accounts.insert(
                demo_account(i),
                AccountState {
                    balance: DEMO_ACCOUNT_BALANCE,
                    nonce: 0,
                },
            );
        }
        let stakes = generators
            .iter()
            .map(|account| {
                let stake = Stake {
                    amount: GENESIS_STAKE,
                    reward: 0,
                    eligibility: 0,
                };
                (*account, stake)
            })
            .collect();
        let state = State {
            accounts,
            stakes,
            account_order: VecDeque::new(),
            stake_order: VecDeque::new(),
            hash: Id::hash(&[
                b"rues-demo genesis",
                &config.seed.to_le_bytes(),
                &[config.chain_id],
            ]),
        };
        let generator = generators[0];
        let mut header = Header {
            version: 1,
            height: 0,
            timestamp: now_ms / 1000,
            prev_block_hash: Id::ZERO,
            seed: Id::hash(&[b"rues-demo seed", &config.seed.to_le_bytes()]),
            state_hash: state.hash,
            generator,
            generator_key: provisioner_key(&generator),
            txroot: txroot(&[]),
            gas_limit: BLOCK_GAS_LIMIT,
            iteration: 0,
            hash: Id::ZERO,
        };
        let genesis_tx = genesis_blob_tx(config.chain_id);
        let genesis_txs = vec![ExecutedTx {
            id: genesis_tx.id(),
            tx: genesis_tx,
            gas_spent: 0,
            err: None,
        }];
        header.txroot = txroot(&[genesis_txs[0].id]);
        header.hash = block_hash(&header);
        let genesis = Block {
            header,
            txs: genesis_txs,
            finality: Finality::Finalized,
            reward: 0,
            fees: 0,
            gas_spent: 0,
            events: Vec::new(),
        };
        let mut blobs = BlobIndex::default();
        let mut archive = ArchiveCounts::default();
        blobs.add(genesis.txs.iter().flat_map(|t| t.tx.blobs()));
        archive.add(&genesis);
        let mut history = History::default();
        history.push(genesis);
        let tx_interval_ms = config.tx_interval_ms();
        Ok(Self {
            rng: Rng::new(config.seed),
            history: Arc::new(history),
            mempool: VecDeque::new(),
            mempool_ids: HashSet::new(),
            mempool_blob_bytes: 0,
            state,
            undo: None,
            outbox: Vec::new(),
            now_ms,
            next_block_ms: now_ms.saturating_add(config.block_time_ms),
            next_tx_ms: tx_interval_ms.map(|i| now_ms.saturating_add(i)),
            tx_interval_ms,
            next_iteration: 0,
            demo_nonces: vec![0; usize::from(DEMO_ACCOUNTS)],
            generated: 0,
            generators,
            blobs,
            archive,
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ChainConfig {
        &self.config
    }

    /// The latest time the chain was given.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// When [`tick`](Self::tick) has work next: the next generated
    /// transaction or block, or [`now_ms`](Self::now_ms) when events are
    /// already queued (a propagated transaction's `included`).
    pub fn poll_timeout(&self) -> u64 {
        if !self.outbox.is_empty() {
            return self.now_ms;
        }
        self.next_tx_ms
            .map_or(self.next_block_ms, |t| t.min(self.next_block_ms))
    }

    /// Advances the chain to `now_ms` and returns the events of the step, in
    /// the order to publish them: first those queued by
    /// [`propagate`](Self::propagate), then each due generated transaction
    /// and block in time order. A time earlier than the last one counts as
    /// the last one.
    ///
    /// For each block (see `docs/demo-chain.md`): maybe `reverted` of the
    /// old tip and `included` of its transactions (back in the mempool), then
    /// the contract events, `executed` of each transaction, `statechange` of
    /// older blocks reaching `confirmed` / `finalized`, `removed` of each
    /// transaction, and last `accepted`.
    pub fn tick(&mut self, now_ms: u64) -> Vec<Event> {
        let now = now_ms.max(self.now_ms);
        self.now_ms = now;
        let block_time = self.config.block_time_ms;
        let mut blocks = 0;
        let mut generated = 0;
        loop {
            let block_due = self.next_block_ms <= now;
            let tx_due = self
                .next_tx_ms
                .filter(|&t| t <= now && (!block_due || t <= self.next_block_ms));
            if let Some(at) = tx_due {
                self.generate_tx(at);
                generated += 1;
                let interval = self.tx_interval_ms.unwrap_or(u64::MAX);
                let from = if generated >= MAX_GENERATED_PER_TICK {
                    now
                } else {
                    at
                };
                self.next_tx_ms = Some(from.saturating_add(interval));
            } else if block_due {
                let at = self.next_block_ms;
                self.step_block(at);
                blocks += 1;
                let from = if blocks >= MAX_BLOCKS_PER_TICK {
                    now
                } else {
                    at
                };
                self.next_block_ms = from.saturating_add(block_time);
            } else {
                break;
            }
        }
        std::mem::take(&mut self.outbox)
    }

    /// Checks a transaction as [`propagate`](Self::propagate) would, without
    /// adding it: decodes it, checks the chain id, gas price and gas limit,
    /// and that the node does not have it already.
    pub fn preverify(&self, bytes: &[u8]) -> Result<Transaction, TxError> {
        let tx = Transaction::decode(bytes)?;
        self.check(&tx, &tx.id())?;
        Ok(tx)
    }

    /// [`preverify`](Self::preverify)s a transaction and adds it to the
    /// mempool. Its `included` event is queued for the next
    /// [`tick`](Self::tick); it is executed in a later block.
    pub fn propagate(&mut self, bytes: &[u8]) -> Result<TxId, TxError> {
        let tx = self.preverify(bytes)?;
        self.admit(tx, self.now_ms)
    }

    /// What a transaction would do if the next block executed it on the
    /// tip's state: the gas it would spend and why it would fail. Nothing is
    /// executed and the mempool is not touched; transactions waiting in the
    /// mempool are not taken into account (as rusk simulates on the tip). The
    /// bytes must decode and pass the checks that do not depend on what the
    /// node holds (chain id, gas price, gas limit, blob gas); whether the
    /// node already has the transaction is not checked.
    pub fn simulate(&self, bytes: &[u8]) -> Result<Simulation, TxError> {
        let tx = Transaction::decode(bytes)?;
        self.check_gas(&tx)?;
        let verdict = judge(&tx, self.balance(tx.sender()));
        Ok(Simulation {
            gas_spent: verdict.gas_spent,
            err: verdict.err,
        })
    }

    /// The blob with this versioned hash, if a block in memory carries it.
    pub fn blob(&self, versioned_hash: &Id) -> Option<&Blob> {
        self.blobs.get(versioned_hash)
    }

    /// How many distinct blobs the blocks in memory carry.
    pub fn blob_count(&self) -> usize {
        self.blobs.len()
    }

    /// How many distinct public accounts sent or received in the finalized
    /// blocks in memory (a stake's receiver, the stake contract, is not an
    /// account): `stats/account_count`.
    pub fn account_count(&self) -> u64 {
        self.archive.accounts()
    }

    /// How many transactions the finalized blocks in memory hold
    /// (successful or failed): `stats/tx_count`.
    pub fn tx_count(&self) -> u64 {
        self.archive.txs()
    }

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
        if !self.mempool_ids.contains(id) && self.history.tx_height(id).is_none() {
            return None;
        }
        transaction_status(&self.history, self.mempool.iter(), id)
    }

    /// The mempool, oldest first.
    pub fn mempool(&self) -> impl ExactSizeIterator<Item = &PendingTx> {
        self.mempool.iter().map(|p| &**p)
    }

    /// An account's balance in Lux ([`ChainConfig::initial_balance`] for an
    /// account the chain has not seen).
    pub fn balance(&self, account: &Account) -> u64 {
        self.account(account).balance
    }

    /// How many transactions the account has had executed.
    pub fn nonce(&self, account: &Account) -> u64 {
        self.account(account).nonce
    }

    /// The account's stake, if it has one.
    pub fn stake(&self, account: &Account) -> Option<Stake> {
        self.state.stakes.get(account).copied()
    }

    /// Every stake, ordered by account: the genesis provisioners and anyone
    /// who staked.
    pub fn provisioners(&self) -> Vec<Provisioner> {
        self.state
            .stakes
            .iter()
            .filter(|(_, stake)| stake.amount > 0)
            .map(|(account, stake)| Provisioner {
                account: *account,
                key: provisioner_key(account),
                stake: *stake,
            })
            .collect()
    }

    /// Gas price statistics over the `max_txs` best-paying mempool
    /// transactions (all when `None`); every value is 1 when there are none.
    pub fn gas_price(&self, max_txs: Option<usize>) -> GasPrice {
        let mut prices: Vec<u64> = self.mempool.iter().map(|p| p.tx.gas_price()).collect();
        prices.sort_unstable_by(|a, b| b.cmp(a));
        if let Some(max) = max_txs {
            prices.truncate(max);
        }
        let (Some(&max), Some(&min)) = (prices.first(), prices.last()) else {
            return GasPrice {
                average: 1,
                max: 1,
                median: 1,
                min: 1,
            };
        };
        let n = prices.len();
        let sum: u128 = prices.iter().map(|&p| u128::from(p)).sum();
        // Rounded up, as rusk rounds it.
        let average = u64::try_from(sum.div_ceil(n as u128)).unwrap_or(u64::MAX);
        let median = if n % 2 == 1 {
            prices[n / 2]
        } else {
            let pair = u128::from(prices[n / 2 - 1]) + u128::from(prices[n / 2]);
            u64::try_from(pair / 2).unwrap_or(u64::MAX)
        };
        GasPrice {
            average,
            max,
            median,
            min,
        }
    }

    /// Runs a contract query: `contract` is the entity of
    /// `contracts:<id>/<function>` (64 hex characters), `args` the request
    /// body. See `docs/demo-chain.md` for each function's layout.
    pub fn query(
        &self,
        contract: &str,
        function: &str,
        args: &[u8],
    ) -> Result<Vec<u8>, QueryError> {
        let id =
            Id::parse(contract).map_err(|_| QueryError::MalformedContract(contract.to_owned()))?;
        if id == TRANSFER_CONTRACT {
            match function {
                "balance" => {
                    let account = contracts::account_arg("balance", args)?;
                    Ok(self.balance(&account).to_le_bytes().to_vec())
                }
                "account" => {
                    let account = contracts::account_arg("account", args)?;
                    let state = self.account(&account);
                    let mut out = state.balance.to_le_bytes().to_vec();
                    out.extend_from_slice(&state.nonce.to_le_bytes());
                    Ok(out)
                }
                "chain_id" => {
                    contracts::no_args("chain_id", args)?;
                    Ok(vec![self.config.chain_id])
                }
                _ => Err(QueryError::UnknownFunction {
                    contract: id,
                    function: function.to_owned(),
                    available: contracts::TRANSFER_FUNCTIONS,
                }),
            }
        } else if id == STAKE_CONTRACT {
            match function {
                "get_stake" | "stake_info" => {
                    let account = contracts::account_arg("get_stake", args)?;
                    let stake = self.stake(&account).unwrap_or_default();
                    let mut out = Vec::with_capacity(24);
                    out.extend_from_slice(&stake.amount.to_le_bytes());
                    out.extend_from_slice(&stake.reward.to_le_bytes());
                    out.extend_from_slice(&stake.eligibility.to_le_bytes());
                    Ok(out)
                }
                "total_stake" => {
                    contracts::no_args("total_stake", args)?;
                    let total = self
                        .state
                        .stakes
                        .values()
                        .fold(0u64, |sum, s| sum.saturating_add(s.amount));
                    Ok(total.to_le_bytes().to_vec())
                }
                _ => Err(QueryError::UnknownFunction {
                    contract: id,
                    function: function.to_owned(),
                    available: contracts::STAKE_FUNCTIONS,
                }),
            }
        } else {
            Err(QueryError::UnknownContract(id))
        }
    }

    /// An owned, consistent view of the blocks and the mempool, to read
    /// without holding the chain.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            history: Arc::clone(&self.history),
            mempool: self.mempool.iter().cloned().collect(),
        }
    }

    fn account(&self, account: &Account) -> AccountState {
        self.state
            .accounts
            .get(account)
            .copied()
            .unwrap_or(AccountState {
                balance: self.config.initial_balance,
                nonce: 0,
            })
    }

    /// The checks of [`check`](Self::check) that do not depend on what the
    /// node already holds (what [`simulate`](Self::simulate) checks too):
    /// chain id, gas price, gas limit, blob gas.
    fn check_gas(&self, tx: &Transaction) -> Result<(), TxError> {
        if tx.chain_id() != self.config.chain_id {
            return Err(TxError::WrongChain {
                expected: self.config.chain_id,
                got: tx.chain_id(),
            });
        }
        if tx.gas_price() == 0 {
            return Err(TxError::ZeroGasPrice);
        }
        if tx.gas_limit() == 0 || tx.gas_limit() > BLOCK_GAS_LIMIT {
            return Err(TxError::GasLimit {
                got: tx.gas_limit(),
            });
        }
        let needed = blob_gas(tx);
        if tx.gas_limit() < needed {
            return Err(TxError::BlobGas {
                blobs: tx.blobs().len(),
                needed,
                got: tx.gas_limit(),
            });
        }
        Ok(())
    }

    fn check(&self, tx: &Transaction, id: &TxId) -> Result<(), TxError> {
        self.check_gas(tx)?;
        if self.mempool_ids.contains(id) {
            return Err(TxError::InMempool(*id));
        }
        if let Some(height) = self.history.tx_height(id) {
            return Err(TxError::InBlock { id: *id, height });
        }
        Ok(())
    }

    /// Adds a checked transaction to the mempool and queues its `included`.
    fn admit(&mut self, tx: Transaction, now: u64) -> Result<TxId, TxError> {
        let id = tx.id();
        if self.mempool.len() >= self.config.max_mempool {
            return Err(TxError::MempoolFull {
                max: self.config.max_mempool,
            });
        }
        let blob_bytes = blob_bytes(&tx);
        if blob_bytes > 0 && self.mempool_blob_bytes + blob_bytes > MAX_MEMPOOL_BLOB_BYTES {
            return Err(TxError::MempoolBlobsFull {
                max: MAX_MEMPOOL_BLOB_BYTES,
            });
        }
        self.mempool_blob_bytes += blob_bytes;
        self.outbox.push(events::included(&id, &tx));
        self.mempool_ids.insert(id);
        self.mempool.push_back(Arc::new(PendingTx {
            id,
            tx,
            received_ms: now,
        }));
        Ok(id)
    }

    /// A generated transaction between demo accounts (1 in 10 a stake).
    fn generate_tx(&mut self, at: u64) {
        if self.mempool.len() >= self.config.max_mempool {
            return;
        }
        let accounts = u64::from(DEMO_ACCOUNTS);
        // below(n) < n <= DEMO_ACCOUNTS, so these fit a u8.
        let sender = u8::try_from(self.rng.below(accounts)).unwrap_or(0);
        let receiver = if self.rng.one_in(10) {
            STAKE_CONTRACT
        } else {
            let mut other = u8::try_from(self.rng.below(accounts - 1)).unwrap_or(0);
            if other >= sender {
                other += 1;
            }
            demo_account(other)
        };
        let value = (1 + self.rng.below(100)) * (LUX_PER_DUSK / 10);
        let gas_price = 1 + self.rng.below(10);
        let memo = if self.rng.one_in(4) {
            format!("rues demo #{}", self.generated).into_bytes()
        } else {
            Vec::new()
        };
        let slot = usize::from(sender);
        let nonce = self.demo_nonces[slot];
        self.demo_nonces[slot] += 1;
        let number = self.generated;
        self.generated += 1;
        let mut builder = Transaction::builder()
            .chain_id(self.config.chain_id)
            .sender(demo_account(sender))
            .receiver(receiver)
            .value(value)
            .nonce(nonce)
            .gas_limit(DEFAULT_GAS_LIMIT)
            .gas_price(gas_price)
            .memo(memo);
        // Every tenth carries a blob, drawn from no randomness, so the rest
        // of the generated traffic is what it was without blobs.
        if number % GENERATED_BLOB_EVERY == GENERATED_BLOB_EVERY - 1 {
            builder = builder
                .gas_limit(DEFAULT_GAS_LIMIT + GAS_PER_BLOB)
                .blob(generated_blob_data(number));
        }
        let tx = builder
            .build()
            .expect("a generated memo and blob are far below their maximums");
        let id = tx.id();
        // Nonces make generated ids unique; a clash with a client's identical
        // transaction is skipped, as a real mempool would.
        if self.check(&tx, &id).is_ok() {
            let _ = self.admit(tx, at);
        }
    }

    /// One block time: maybe revert the tip, then produce a block. A block
    /// that replaced a reverted one is never reverted itself, so the chain
    /// grows whatever the odds.
    fn step_block(&mut self, at: u64) {
        let revertible = self.undo.is_some()
            && self.history.len() >= 2
            && self.history.tip().header.iteration == 0;
        if revertible && self.rng.one_in(self.config.revert_one_in) {
            self.revert_tip();
        }
        self.produce_block(at);
    }

    /// Reverts the tip: restores the state before it, puts its transactions
    /// back at the front of the mempool.
    fn revert_tip(&mut self) {
        let Some(undo) = self.undo.take() else {
            return;
        };
        let history = Arc::make_mut(&mut self.history);
        if history.len() < 2 {
            self.undo = Some(undo);
            return;
        }
        let Some(block) = history.pop_tip() else {
            return;
        };
        self.blobs
            .remove(block.txs.iter().flat_map(|t| t.tx.blobs()));
        self.state = undo;
        self.next_iteration = block.header.iteration.saturating_add(1);
        self.outbox
            .push(events::reverted(&block.header.hash, block.header.height));
        for executed in block.txs.iter().rev() {
            self.mempool_ids.insert(executed.id);
            // Back from a block: admitted once, so never refused now.
            self.mempool_blob_bytes += blob_bytes(&executed.tx);
            self.mempool.push_front(Arc::new(PendingTx {
                id: executed.id,
                tx: executed.tx.clone(),
                received_ms: self.now_ms,
            }));
        }
        for executed in &block.txs {
            self.outbox
                .push(events::included(&executed.id, &executed.tx));
        }
    }

    fn produce_block(&mut self, at: u64) {
        let (height, prev_block_hash) = {
            let tip = self.history.tip();
            (tip.header.height + 1, tip.header.hash)
        };
        let iteration = std::mem::take(&mut self.next_iteration);
        let undo = self.state.clone();
        let slot = (height + u64::from(iteration)) % self.generators.len() as u64;
        let generator = self.generators[usize::try_from(slot).unwrap_or(0)];

        // Select: oldest first, within the block's transaction count and gas.
        let mut selected = Vec::new();
        let mut gas = 0u64;
        let mut blobs = 0usize;
        while selected.len() < self.config.max_block_txs {
            let Some(next) = self.mempool.front() else {
                break;
            };
            if gas.saturating_add(next.tx.gas_limit()) > BLOCK_GAS_LIMIT
                || blobs + next.tx.blobs().len() > MAX_BLOCK_BLOBS
            {
                break;
            }
            gas += next.tx.gas_limit();
            blobs += next.tx.blobs().len();
            if let Some(pending) = self.mempool.pop_front() {
                self.mempool_ids.remove(&pending.id);
                self.mempool_blob_bytes -= blob_bytes(&pending.tx);
                selected.push(pending);
            }
        }

        // Execute.
        let mut contract_events: Vec<(Id, &'static str, Vec<u8>, Id)> = Vec::new();
        let mut txs = Vec::with_capacity(selected.len());
        let mut fees = 0u64;
        let mut gas_spent = 0u64;
        for pending in selected {
            let outcome = self.execute(&pending.tx, height);
            if let Some((contract, topic, payload)) = outcome.event {
                contract_events.push((contract, topic, payload, pending.id));
            }
            fees = fees.saturating_add(outcome.fee);
            gas_spent = gas_spent.saturating_add(outcome.gas_spent);
            txs.push(ExecutedTx {
                id: pending.id,
                tx: pending.tx.clone(),
                gas_spent: outcome.gas_spent,
                err: outcome.err,
            });
        }
        let reward = BLOCK_REWARD.saturating_add(fees);
        let stake = self.state.stakes.entry(generator).or_default();
        stake.reward = stake.reward.saturating_add(reward);

        // The state hash chains the previous one with what this block did.
        let mut parts: Vec<Vec<u8>> = vec![
            b"rues-demo state".to_vec(),
            self.state.hash.as_bytes().to_vec(),
            height.to_le_bytes().to_vec(),
            generator.as_bytes().to_vec(),
            reward.to_le_bytes().to_vec(),
        ];
        for tx in &txs {
            parts.push(tx.id.as_bytes().to_vec());
            parts.push(tx.gas_spent.to_le_bytes().to_vec());
            parts.push(vec![u8::from(tx.err.is_none())]);
        }
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        self.state.hash = Id::hash(&refs);

        let ids: Vec<TxId> = txs.iter().map(|t| t.id).collect();
        let mut header = Header {
            version: 1,
            height,
            timestamp: at / 1000,
            prev_block_hash,
            seed: Id::hash(&[
                b"rues-demo seed",
                &self.config.seed.to_le_bytes(),
                &height.to_le_bytes(),
                &[iteration],
            ]),
            state_hash: self.state.hash,
            generator,
            generator_key: provisioner_key(&generator),
            txroot: txroot(&ids),
            gas_limit: BLOCK_GAS_LIMIT,
            iteration,
            hash: Id::ZERO,
        };
        header.hash = block_hash(&header);
        let hash = header.hash;
        contract_events.push((
            STAKE_CONTRACT,
            topics::REWARD,
            contracts::reward_event(&generator, reward, height),
            hash,
        ));
        let block = Block {
            header,
            txs,
            finality: Finality::Accepted,
            reward,
            fees,
            gas_spent,
            events: contract_events
                .into_iter()
                .map(|(contract, topic, data, origin)| ContractEvent {
                    contract,
                    topic,
                    data,
                    origin,
                })
                .collect(),
        };

        // Events, in rusk's order: contract events, executed, statechange,
        // removed, accepted.
        for event in &block.events {
            self.outbox.push(events::contract(
                &event.contract,
                event.topic,
                event.data.clone(),
                &event.origin,
            ));
        }
        for tx in &block.txs {
            self.outbox.push(events::executed(height, tx));
        }
        let removed: Vec<Event> = block.txs.iter().map(|t| events::removed(&t.id)).collect();
        let accepted = events::accepted(&block);
        self.blobs.add(block.txs.iter().flat_map(|t| t.tx.blobs()));
        Arc::make_mut(&mut self.history).push(block);
        self.undo = Some(undo);
        self.update_finality(height);
        self.outbox.extend(removed);
        self.outbox.push(accepted);
        self.prune();
    }

    /// Moves blocks deep enough under the tip to `confirmed` / `finalized`,
    /// queueing a `statechange` for each move, oldest block first.
    fn update_finality(&mut self, tip: u64) {
        let confirmed_after = self.config.confirmed_after;
        let finalized_after = self.config.finalized_after;
        let history = Arc::make_mut(&mut self.history);
        let mut changes = Vec::new();
        for (index, block) in history.blocks().enumerate().rev() {
            if block.finality == Finality::Finalized {
                break;
            }
            let depth = tip.saturating_sub(block.header.height);
            let target = if depth >= finalized_after {
                Finality::Finalized
            } else if depth >= confirmed_after {
                Finality::Confirmed
            } else {
                Finality::Accepted
            };
            if target > block.finality {
                changes.push((index, target));
            }
        }
        for (index, target) in changes.into_iter().rev() {
            let Some(slot) = history.nth_mut(index) else {
                continue;
            };
            let block = Arc::make_mut(slot);
            if block.finality < Finality::Confirmed {
                self.outbox.push(events::statechange(
                    &block.header.hash,
                    Finality::Confirmed,
                    tip,
                ));
            }
            if target == Finality::Finalized {
                self.outbox.push(events::statechange(
                    &block.header.hash,
                    Finality::Finalized,
                    tip,
                ));
                self.archive.add(block);
            }
            block.finality = target;
        }
    }

    /// Forgets the oldest finalized blocks beyond `history`.
    fn prune(&mut self) {
        let keep = self.config.history;
        if self.history.len() <= keep {
            return;
        }
        let history = Arc::make_mut(&mut self.history);
        while history.len() > keep {
            let finalized = history
                .blocks()
                .next()
                .is_some_and(|b| b.finality == Finality::Finalized);
            if !finalized {
                break;
            }
            if let Some(block) = history.pop_oldest() {
                self.blobs
                    .remove(block.txs.iter().flat_map(|t| t.tx.blobs()));
                self.archive.remove(&block);
            }
        }
    }

    /// Applies one transaction to the state.
    fn execute(&mut self, tx: &Transaction, height: u64) -> Outcome {
        let mut sender = self.account(tx.sender());
        sender.nonce = sender.nonce.saturating_add(1);
        let verdict = judge(tx, sender.balance);
        if let Some(err) = verdict.err {
            sender.balance -= verdict.fee;
            self.state
                .set_account(*tx.sender(), sender, self.config.max_accounts);
            return Outcome {
                gas_spent: verdict.gas_spent,
                fee: verdict.fee,
                err: Some(err),
                event: None,
            };
        }
        let fee = verdict.fee;
        sender.balance -= tx.value().saturating_add(fee);
        self.state
            .set_account(*tx.sender(), sender, self.config.max_accounts);
        let event = if tx.is_stake() {
            let stake = self.state.stake_mut(*tx.sender(), self.config.max_stakes);
            if stake.amount == 0 {
                stake.eligibility = height + STAKE_MATURITY;
            }
            stake.amount = stake.amount.saturating_add(tx.value());
            let payload = contracts::stake_event(tx.sender(), tx.value(), stake.amount);
            (STAKE_CONTRACT, topics::STAKE, payload)
        } else {
            let mut receiver = self.account(tx.receiver());
            receiver.balance = receiver.balance.saturating_add(tx.value());
            self.state
                .set_account(*tx.receiver(), receiver, self.config.max_accounts);
            let payload = contracts::moonlight_event(tx.sender(), tx.receiver(), tx.value());
            (TRANSFER_CONTRACT, topics::MOONLIGHT, payload)
        };
        Outcome {
            gas_spent: verdict.gas_spent,
            fee,
            err: None,
            event: Some(event),
        }
    }
}

/// What a transaction would spend, pay and fail with, given its sender's
/// balance: the one rule of [`Chain::execute`] and [`Chain::simulate`].
struct Verdict {
    gas_spent: u64,
    /// The fee, at most the balance; with `err: None`, value plus fee fit
    /// the balance.
    fee: u64,
    err: Option<String>,
}

fn judge(tx: &Transaction, balance: u64) -> Verdict {
    let required = required_gas(tx);
    if tx.gas_limit() < required {
        return Verdict {
            gas_spent: tx.gas_limit(),
            fee: tx.gas_limit().saturating_mul(tx.gas_price()).min(balance),
            err: Some(format!(
                "out of gas: the transaction needs {required}, its limit is {}",
                tx.gas_limit()
            )),
        };
    }
    let fee = required.saturating_mul(tx.gas_price());
    if tx.value().saturating_add(fee) > balance {
        return Verdict {
            gas_spent: required,
            fee: fee.min(balance),
            err: Some(INSUFFICIENT_BALANCE.to_owned()),
        };
    }
    Verdict {
        gas_spent: required,
        fee,
        err: None,
    }
}

/// The gas a transaction spends when it succeeds: its kind's, its memo's
/// and its blobs'.
fn required_gas(tx: &Transaction) -> u64 {
    let memo_gas = MEMO_BYTE_GAS.saturating_mul(tx.memo().len() as u64);
    if tx.is_stake() {
        STAKE_GAS
    } else {
        TRANSFER_GAS
    }
    .saturating_add(memo_gas)
    .saturating_add(blob_gas(tx))
}

/// Bytes of blob data a transaction carries.
fn blob_bytes(tx: &Transaction) -> usize {
    tx.blobs().iter().map(|b| b.data().len()).sum()
}

/// [`GAS_PER_BLOB`] for each blob.
fn blob_gas(tx: &Transaction) -> u64 {
    GAS_PER_BLOB.saturating_mul(tx.blobs().len() as u64)
}

/// The genesis block's one transaction: demo account 0 sends nothing to
/// demo account 1 with a blob of [`GENESIS_BLOB_DATA`], so that every demo
/// chain holds a blob from the start. Genesis transactions are given, not
/// executed: they spend no gas and change no state.
pub(crate) fn genesis_blob_tx(chain_id: u8) -> Transaction {
    Transaction::builder()
        .chain_id(chain_id)
        .sender(demo_account(0))
        .receiver(demo_account(1))
        .gas_limit(TRANSFER_GAS + GAS_PER_BLOB)
        .memo("rues-demo genesis")
        .blob(GENESIS_BLOB_DATA)
        .build()
        .expect("the genesis memo and blob are far below their maximums")
}

/// The blob of the `number`th generated transaction (counting from 0):
/// 128 bytes, `"rues demo blob #<number>"` padded with `.`.
fn generated_blob_data(number: u64) -> Vec<u8> {
    let mut data = format!("rues demo blob #{number}").into_bytes();
    data.resize(128, b'.');
    data
}

/// What executing one transaction did.
struct Outcome {
    gas_spent: u64,
    fee: u64,
    err: Option<String>,
    event: Option<(Id, &'static str, Vec<u8>)>,
}

/// SHA-256 over the transaction ids, in order.
fn txroot(ids: &[TxId]) -> Id {
    let mut parts: Vec<&[u8]> = vec![b"rues-demo txroot"];
    parts.extend(ids.iter().map(|id| id.as_bytes().as_slice()));
    Id::hash(&parts)
}

/// SHA-256 over every header field but the hash itself.
fn block_hash(h: &Header) -> BlockHash {
    Id::hash(&[
        b"rues-demo block",
        &[h.version],
        &h.height.to_le_bytes(),
        &h.timestamp.to_le_bytes(),
        h.prev_block_hash.as_bytes(),
        h.seed.as_bytes(),
        h.state_hash.as_bytes(),
        h.generator.as_bytes(),
        h.txroot.as_bytes(),
        &h.gas_limit.to_le_bytes(),
        &[h.iteration],
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A snapshot held while blocks are made (a GraphQL query in flight)
    /// costs the chain one chunk copy per write, not a copy of the history:
    /// every chunk the new blocks did not touch is still the snapshot's.
    #[test]
    fn a_live_snapshot_shares_the_untouched_history() {
        let config = ChainConfig {
            block_time_ms: 1000,
            revert_one_in: 0,
            tx_per_second: 0.0,
            ..ChainConfig::default()
        };
        let mut chain = Chain::new(config, 0).expect("valid config");
        for second in 1..=300 {
            chain.tick(second * 1000);
        }
        assert_eq!(chain.tip().header.height, 300);
        let snapshot = chain.snapshot();
        for second in 301..=310 {
            chain.tick(second * 1000);
        }
        assert_eq!(chain.tip().header.height, 310);
        for height in [0, 63, 64, 200, 255] {
            assert!(
                chain.history.shares_chunk(&snapshot.history, height),
                "block {height} was copied"
            );
        }
        // The chunk the new blocks went into was copied, once.
        assert!(!chain.history.shares_chunk(&snapshot.history, 300));
        assert_eq!(snapshot.tip().header.height, 300);
        assert_eq!(snapshot.blocks().len(), 301);
        assert_eq!(chain.blocks().len(), 311);
    }

    /// Fresh senders and receivers cannot grow the contract state past its
    /// caps: the first seen are forgotten.
    #[test]
    fn accounts_and_stakes_stay_within_their_caps() {
        let config = ChainConfig {
            block_time_ms: 1000,
            revert_one_in: 0,
            tx_per_second: 0.0,
            max_accounts: 20,
            max_stakes: 5,
            ..ChainConfig::default()
        };
        let mut chain = Chain::new(config, 0).expect("valid config");
        let genesis_accounts = chain.state.accounts.len();
        for i in 0..200u32 {
            let mut sender = [0x77u8; 32];
            sender[..4].copy_from_slice(&i.to_le_bytes());
            let mut receiver = [0x33u8; 32];
            receiver[..4].copy_from_slice(&i.to_le_bytes());
            let receiver = if i % 2 == 0 {
                STAKE_CONTRACT
            } else {
                Id::from_bytes(receiver)
            };
            let tx = Transaction::builder()
                .sender(Id::from_bytes(sender))
                .receiver(receiver)
                .value(1000)
                .build()
                .expect("valid");
            chain.propagate(&tx.encode()).expect("accepted");
        }
        for second in 1..=5 {
            chain.tick(second * 1000);
        }
        assert!(chain.mempool.is_empty(), "every transaction executed");
        assert_eq!(chain.state.accounts.len(), genesis_accounts + 20);
        assert_eq!(chain.provisioners().len(), chain.generators.len() + 5);
        // The newest stake is remembered, the oldest forgotten.
        let mut newest = [0x77u8; 32];
        newest[..4].copy_from_slice(&198u32.to_le_bytes());
        assert!(chain.stake(&Id::from_bytes(newest)).is_some());
        let mut oldest = [0x77u8; 32];
        oldest[..4].copy_from_slice(&0u32.to_le_bytes());
        assert!(chain.stake(&Id::from_bytes(oldest)).is_none());
    }
}
