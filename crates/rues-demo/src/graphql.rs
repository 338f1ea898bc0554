//! A real GraphQL engine (async-graphql) over a [`Snapshot`] of the chain,
//! served at `graphql/query` like rusk's legacy GraphQL-over-RUES.

use std::sync::{Arc, OnceLock};

use async_graphql::{Context, EmptyMutation, EmptySubscription, Object, Schema, SimpleObject};

use crate::contracts::STAKE_CONTRACT;
use crate::events;
use crate::history::Snapshot;
use crate::id::{Id, TxId};
use crate::records::{Block, ExecutedTx, Finality};
use crate::tx::Transaction;

/// Most blocks or transactions one list field returns (rusk's cap).
pub const MAX_LIST: usize = 200;

type DemoSchema = Schema<QueryRoot, EmptyMutation, EmptySubscription>;

fn schema() -> &'static DemoSchema {
    static SCHEMA: OnceLock<DemoSchema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        Schema::build(QueryRoot, EmptyMutation, EmptySubscription)
            .limit_depth(12)
            .limit_complexity(10_000)
            .limit_recursive_depth(32)
            .finish()
    })
}

/// Why a GraphQL query failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GraphqlError {
    /// The text is not GraphQL (`graphql/query` answers 400).
    #[error("GraphQL syntax error: {0}")]
    Syntax(String),
    /// The query is GraphQL but asks for something wrong: an unknown field,
    /// a bad argument, a limit passed (`graphql/query` answers 422).
    #[error("GraphQL error: {0}")]
    Query(String),
}

/// Runs `query` against `snapshot` and returns the `data` object.
///
/// ```
/// # tokio_test_block_on(async {
/// use rues_demo::{Chain, ChainConfig, graphql_query};
///
/// let chain = Chain::new(ChainConfig::default(), 0)?;
/// let data = graphql_query(chain.snapshot(), "{ block(height: -1) { header { height } } }").await?;
/// assert_eq!(data["block"]["header"]["height"], 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().expect("runtime").block_on(f)
/// # }
/// ```
pub async fn graphql_query(
    snapshot: Snapshot,
    query: &str,
) -> Result<serde_json::Value, GraphqlError> {
    async_graphql::parser::parse_query(query).map_err(|e| GraphqlError::Syntax(e.to_string()))?;
    let response = schema()
        .execute(async_graphql::Request::new(query).data(snapshot))
        .await;
    if !response.errors.is_empty() {
        let messages: Vec<String> = response.errors.iter().map(ToString::to_string).collect();
        return Err(GraphqlError::Query(messages.join("; ")));
    }
    response
        .data
        .into_json()
        .map_err(|e| GraphqlError::Query(e.to_string()))
}

/// The schema in GraphQL SDL (what an empty `graphql/query` body returns).
pub fn graphql_sdl() -> String {
    schema().sdl()
}

fn snapshot<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Snapshot> {
    ctx.data::<Snapshot>()
}

/// A height argument: a whole number, or -1 for the tip (rusk takes a Float).
fn height_arg(height: f64, snapshot: &Snapshot) -> async_graphql::Result<u64> {
    if height == -1.0 {
        return Ok(snapshot.tip().height());
    }
    if height.is_finite() && height >= 0.0 && height.fract() == 0.0 && height < 1.8e19 {
        Ok(height as u64)
    } else {
        Err(format!(
            "height {height} is not a block height: use a whole number ≥ 0, or -1 for the tip"
        )
        .into())
    }
}

fn id_arg(hash: &str) -> async_graphql::Result<Id> {
    Id::parse(hash).map_err(|_| format!("`{hash}` is not a hash: 64 hexadecimal characters").into())
}

/// The query root.
pub(crate) struct QueryRoot;

#[Object(name = "Query")]
impl QueryRoot {
    /// A block by height (-1 for the tip) or by hash; null when it is not in
    /// memory (or was reverted).
    async fn block(
        &self,
        ctx: &Context<'_>,
        height: Option<f64>,
        hash: Option<String>,
    ) -> async_graphql::Result<Option<BlockGql>> {
        let snap = snapshot(ctx)?;
        let block = match (height, hash) {
            (Some(height), None) => snap.history.block(height_arg(height, snap)?),
            (None, Some(hash)) => snap.history.block_by_hash(&id_arg(&hash)?),
            _ => return Err("give exactly one of `height` and `hash`".into()),
        };
        Ok(block.cloned().map(BlockGql))
    }

    /// The last `last` blocks, or those with heights in `range: [from, to]`
    /// (inclusive); newest first for `last`, ascending for `range`; at most 200.
    async fn blocks(
        &self,
        ctx: &Context<'_>,
        last: Option<i32>,
        range: Option<Vec<f64>>,
    ) -> async_graphql::Result<Vec<BlockGql>> {
        let snap = snapshot(ctx)?;
        match (last, range) {
            (Some(last), None) => {
                let last = usize::try_from(last).map_err(|_| "`last` must be ≥ 0")?;
                if last > MAX_LIST {
                    return Err(format!("`last` is at most {MAX_LIST}").into());
                }
                Ok(snap
                    .history
                    .blocks()
                    .rev()
                    .take(last)
                    .cloned()
                    .map(BlockGql)
                    .collect())
            }
            (None, Some(range)) => {
                let [from, to] = range[..] else {
                    return Err("`range` is [from, to]".into());
                };
                let (from, to) = (height_arg(from, snap)?, height_arg(to, snap)?);
                if to < from || to - from >= MAX_LIST as u64 {
                    return Err(format!(
                        "`range` must be ascending and span at most {MAX_LIST} blocks"
                    )
                    .into());
                }
                Ok((from..=to)
                    .filter_map(|h| snap.history.block(h).cloned())
                    .map(BlockGql)
                    .collect())
            }
            _ => Err("give exactly one of `last` and `range`".into()),
        }
    }

    /// An executed transaction by id; null when unknown or still in the mempool.
    async fn tx(
        &self,
        ctx: &Context<'_>,
        hash: String,
    ) -> async_graphql::Result<Option<SpentTxGql>> {
        let snap = snapshot(ctx)?;
        let id = id_arg(&hash)?;
        Ok(snap.history.executed(&id).map(|(block, _)| SpentTxGql {
            block: Arc::clone(block),
            id,
        }))
    }

    /// The last `last` executed transactions, newest first (at most 200).
    async fn transactions(
        &self,
        ctx: &Context<'_>,
        last: i32,
    ) -> async_graphql::Result<Vec<SpentTxGql>> {
        let snap = snapshot(ctx)?;
        let last = usize::try_from(last).map_err(|_| "`last` must be ≥ 0")?;
        if last > MAX_LIST {
            return Err(format!("`last` is at most {MAX_LIST}").into());
        }
        Ok(snap
            .history
            .blocks()
            .rev()
            .flat_map(|block| {
                block.txs.iter().rev().map(move |tx| SpentTxGql {
                    block: Arc::clone(block),
                    id: tx.id,
                })
            })
            .take(last)
            .collect())
    }

    /// The mempool, oldest first.
    async fn mempool_txs(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<TxGql>> {
        let snap = snapshot(ctx)?;
        Ok(snap
            .mempool()
            .map(|p| TxGql {
                id: p.id,
                tx: p.tx.clone(),
            })
            .collect())
    }

    /// A mempool transaction by id.
    async fn mempool_tx(
        &self,
        ctx: &Context<'_>,
        hash: String,
    ) -> async_graphql::Result<Option<TxGql>> {
        let snap = snapshot(ctx)?;
        let id = id_arg(&hash)?;
        Ok(snap.mempool().find(|p| p.id == id).map(|p| TxGql {
            id: p.id,
            tx: p.tx.clone(),
        }))
    }

    /// Whether the block at `height` has this hash (and, with
    /// `onlyFinalized`, is finalized).
    async fn check_block(
        &self,
        ctx: &Context<'_>,
        height: f64,
        hash: String,
        only_finalized: Option<bool>,
    ) -> async_graphql::Result<bool> {
        let snap = snapshot(ctx)?;
        let id = id_arg(&hash)?;
        let Some(block) = snap.history.block(height_arg(height, snap)?) else {
            return Ok(false);
        };
        let final_enough =
            !only_finalized.unwrap_or(false) || block.finality == Finality::Finalized;
        Ok(block.header.hash == id && final_enough)
    }
}

/// A block.
pub(crate) struct BlockGql(Arc<Block>);

#[Object(name = "Block")]
impl BlockGql {
    /// The header.
    async fn header(&self) -> HeaderGql {
        HeaderGql(Arc::clone(&self.0))
    }

    /// Its transactions, in execution order.
    async fn transactions(&self) -> Vec<SpentTxGql> {
        self.0
            .txs
            .iter()
            .map(|tx| SpentTxGql {
                block: Arc::clone(&self.0),
                id: tx.id,
            })
            .collect()
    }

    /// Fees paid, in Lux.
    async fn fees(&self) -> u64 {
        self.0.fees
    }

    /// Gas spent.
    async fn gas_spent(&self) -> u64 {
        self.0.gas_spent
    }

    /// The generator's reward (block reward plus fees), in Lux.
    async fn reward(&self) -> u64 {
        self.0.reward
    }

    /// `accepted`, `confirmed` or `finalized`.
    async fn finality(&self) -> &'static str {
        self.0.finality.as_str()
    }

    /// The block as its `accepted` event carries it, as a JSON string.
    async fn json(&self) -> String {
        events::block_json(&self.0).to_string()
    }
}

/// A block header.
pub(crate) struct HeaderGql(Arc<Block>);

#[Object(name = "Header")]
impl HeaderGql {
    /// Header version.
    async fn version(&self) -> u8 {
        self.0.header.version
    }

    /// Height.
    async fn height(&self) -> u64 {
        self.0.header.height
    }

    /// The parent's hash.
    async fn prev_block_hash(&self) -> String {
        self.0.header.prev_block_hash.to_string()
    }

    /// Unix time, seconds.
    async fn timestamp(&self) -> u64 {
        self.0.header.timestamp
    }

    /// The block hash.
    async fn hash(&self) -> String {
        self.0.header.hash.to_string()
    }

    /// The state hash after the block.
    async fn state_hash(&self) -> String {
        self.0.header.state_hash.to_string()
    }

    /// The generator's key (base58).
    async fn generator_bls_pubkey(&self) -> &str {
        &self.0.header.generator_key
    }

    /// The transaction root.
    async fn tx_root(&self) -> String {
        self.0.header.txroot.to_string()
    }

    /// The block gas limit.
    async fn gas_limit(&self) -> u64 {
        self.0.header.gas_limit
    }

    /// The block seed.
    async fn seed(&self) -> String {
        self.0.header.seed.to_string()
    }

    /// The consensus iteration.
    async fn iteration(&self) -> u8 {
        self.0.header.iteration
    }

    /// The header as JSON text.
    async fn json(&self) -> String {
        events::header_json(&self.0.header).to_string()
    }
}

/// An executed transaction, with its block.
pub(crate) struct SpentTxGql {
    block: Arc<Block>,
    id: TxId,
}

impl SpentTxGql {
    fn executed(&self) -> Option<&ExecutedTx> {
        self.block.txs.iter().find(|t| t.id == self.id)
    }
}

#[Object(name = "SpentTransaction")]
impl SpentTxGql {
    /// The transaction id.
    async fn id(&self) -> String {
        self.id.to_string()
    }

    /// The block's hash.
    async fn block_hash(&self) -> String {
        self.block.header.hash.to_string()
    }

    /// The block's height.
    async fn block_height(&self) -> u64 {
        self.block.header.height
    }

    /// The block's timestamp (Unix seconds).
    async fn block_timestamp(&self) -> u64 {
        self.block.header.timestamp
    }

    /// Gas spent.
    async fn gas_spent(&self) -> u64 {
        self.executed().map_or(0, |t| t.gas_spent)
    }

    /// Why it failed; null when it succeeded.
    async fn err(&self) -> Option<String> {
        self.executed().and_then(|t| t.err.clone())
    }

    /// The transaction itself.
    async fn tx(&self) -> Option<TxGql> {
        self.executed().map(|t| TxGql {
            id: t.id,
            tx: t.tx.clone(),
        })
    }
}

/// A transaction.
pub(crate) struct TxGql {
    id: TxId,
    tx: Transaction,
}

/// What a stake transaction calls.
#[derive(SimpleObject)]
pub(crate) struct CallData {
    /// The contract (hex).
    contract_id: String,
    /// The function.
    fn_name: String,
    /// Its arguments (hex; empty).
    data: String,
}

#[Object(name = "Transaction")]
impl TxGql {
    /// The id.
    async fn id(&self) -> String {
        self.id.to_string()
    }

    /// The encoding, hex.
    async fn raw(&self) -> String {
        hex::encode(self.tx.encode())
    }

    /// The transaction's JSON (as in its `included` event), as text.
    async fn json(&self) -> String {
        events::tx_json(&self.id, &self.tx).to_string()
    }

    /// `moonlight` (the public-account model this format imitates).
    async fn tx_type(&self) -> &'static str {
        "moonlight"
    }

    /// The sender (hex).
    async fn sender(&self) -> String {
        self.tx.sender().to_string()
    }

    /// The receiver (hex).
    async fn receiver(&self) -> String {
        self.tx.receiver().to_string()
    }

    /// Value, in Lux.
    async fn value(&self) -> u64 {
        self.tx.value()
    }

    /// Nonce.
    async fn nonce(&self) -> u64 {
        self.tx.nonce()
    }

    /// Gas limit.
    async fn gas_limit(&self) -> u64 {
        self.tx.gas_limit()
    }

    /// Gas price, in Lux.
    async fn gas_price(&self) -> u64 {
        self.tx.gas_price()
    }

    /// The memo, hex; null when empty.
    async fn memo(&self) -> Option<String> {
        (!self.tx.memo().is_empty()).then(|| hex::encode(self.tx.memo()))
    }

    /// Always false: the demo chain has no deployments.
    async fn is_deploy(&self) -> bool {
        false
    }

    /// The contract call of a stake; null for a transfer.
    async fn call_data(&self) -> Option<CallData> {
        self.tx.is_stake().then(|| CallData {
            contract_id: STAKE_CONTRACT.to_string(),
            fn_name: "stake".to_owned(),
            data: String::new(),
        })
    }
}
