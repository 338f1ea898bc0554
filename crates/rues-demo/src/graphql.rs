//! A real GraphQL engine (async-graphql) over a [`Snapshot`] of the chain,
//! served at `graphql/query` like rusk's legacy GraphQL-over-RUES.
//!
//! A query is untrusted and its cost is bounded at every stage (see
//! `docs/reliability.md`, "GraphQL cost"): its text ([`MAX_QUERY_BYTES`],
//! [`MAX_NESTING`]) before parsing, its size with fragments expanded
//! ([`MAX_SELECTIONS`]) before validation, its cost with list sizes
//! ([`MAX_COMPLEXITY`], every list field capped at [`MAX_LIST`]) in
//! validation, and the answer it builds ([`MAX_RESPONSE_BYTES`]) and the
//! time it takes ([`QUERY_DEADLINE`]) while it executes.

use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Poll, Wake, Waker};
use std::time::{Duration, Instant};

use rues_core::quote;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextResolve, ResolveInfo,
};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Selection, SelectionSet,
};
use async_graphql::{
    Context, EmptyMutation, EmptySubscription, Name, Object, Response, Schema, ServerError,
    ServerResult, SimpleObject, Value,
};
use futures_util::future::{Either, select};

use crate::contracts::STAKE_CONTRACT;
use crate::events;
use crate::history::Snapshot;
use crate::id::{Id, TxId};
use crate::records::{Block, ExecutedTx, Finality};
use crate::tx::Transaction;

/// Most blocks or transactions one list field returns (rusk's cap). Every
/// list field is capped by it, and the cost of a list field is this many
/// times (or its `last`/`limit` times) the cost of what it selects.
pub const MAX_LIST: usize = 200;

/// Longest query text, in bytes.
pub const MAX_QUERY_BYTES: usize = 32 * 1024;

/// Deepest nesting of `{`, `[` and `(` in the query text: the parser
/// recurses once per level, so this bounds its stack.
pub const MAX_NESTING: usize = 32;

/// Most selections (fields, spreads, inline fragments) in the document once
/// every fragment spread is expanded; checked in linear time before the
/// engine's own validation, which expands spreads.
pub const MAX_SELECTIONS: usize = 5_000;

/// Most cost a query may have: a field costs 1 plus what it selects, a list
/// field its length cap times what each element selects.
pub const MAX_COMPLEXITY: usize = 50_000;

/// Most bytes of answer (its JSON, about) a query may build; it stops as
/// soon as it passes this, not once built.
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// Longest a query may execute.
pub const QUERY_DEADLINE: Duration = Duration::from_secs(2);

/// The bounds a query runs under that can differ per call (the others are
/// the schema's). [`Default`] is [`MAX_RESPONSE_BYTES`] and
/// [`QUERY_DEADLINE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunBounds {
    /// Most bytes of answer (its JSON, about) the query may build.
    pub max_response_bytes: usize,
    /// Longest the query may execute.
    pub deadline: Duration,
}

impl Default for RunBounds {
    fn default() -> Self {
        Self {
            max_response_bytes: MAX_RESPONSE_BYTES,
            deadline: QUERY_DEADLINE,
        }
    }
}

impl RunBounds {
    /// These bounds with another answer budget.
    pub fn with_max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// These bounds with another deadline.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }
}

/// Most characters of one engine error message (they may name fields and
/// fragments of the query).
const MAX_MESSAGE_CHARS: usize = 192;

/// Most engine errors one error message lists.
const MAX_MESSAGES: usize = 3;

/// A ceiling for any one cost, so that sums of costs cannot overflow.
const COST_CEILING: usize = 1 << 40;

type DemoSchema = Schema<QueryRoot, EmptyMutation, EmptySubscription>;

fn schema() -> &'static DemoSchema {
    static SCHEMA: OnceLock<DemoSchema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        Schema::build(QueryRoot, EmptyMutation, EmptySubscription)
            .limit_depth(12)
            .limit_complexity(MAX_COMPLEXITY)
            .limit_recursive_depth(MAX_NESTING)
            .extension(Bounded)
            .finish()
    })
}

/// Why a GraphQL query failed (`graphql/query` answers 422 to each).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GraphqlError {
    /// The text is not GraphQL.
    #[error("GraphQL syntax error: {0}")]
    Syntax(String),
    /// The query is GraphQL but asks for something wrong: an unknown field,
    /// a bad argument, its complexity past [`MAX_COMPLEXITY`].
    #[error("GraphQL error: {0}")]
    Query(String),
    /// The query passed one of the bounds on its text, its expanded size,
    /// its answer's size or its time.
    #[error("GraphQL query refused: {0}")]
    Limit(String),
}

/// Runs `query` against `snapshot` and returns the `data` object, within
/// every bound of this module.
///
/// The engine never waits on anything but CPU, so a server runs this on a
/// blocking thread through [`graphql_query_blocking`], not on its runtime.
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
    graphql_query_bounded(snapshot, query, RunBounds::default()).await
}

/// [`graphql_query`] under other answer and time bounds.
pub async fn graphql_query_bounded(
    snapshot: Snapshot,
    query: &str,
    bounds: RunBounds,
) -> Result<serde_json::Value, GraphqlError> {
    check_text(query)?;
    let document =
        async_graphql::parser::parse_query(query).map_err(|e| syntax_error(query, &e))?;
    check_expanded_size(&document)?;
    let budget = Arc::new(Budget::new(bounds));
    let response = schema()
        .execute(
            async_graphql::Request::new(query)
                .data(snapshot)
                .data(Arc::clone(&budget)),
        )
        .await;
    if let Some(reason) = budget.stopped() {
        return Err(GraphqlError::Limit(reason));
    }
    if !response.errors.is_empty() {
        return Err(GraphqlError::Query(messages(&response.errors)));
    }
    response
        .data
        .into_json()
        .map_err(|e| GraphqlError::Query(e.to_string()))
}

/// [`graphql_query`] run to completion on the calling thread (a blocking
/// pool's: the query takes up to [`QUERY_DEADLINE`] of CPU).
pub fn graphql_query_blocking(
    snapshot: Snapshot,
    query: &str,
) -> Result<serde_json::Value, GraphqlError> {
    block_on(graphql_query(snapshot, query))
}

/// The schema in GraphQL SDL (what an empty `graphql/query` body returns).
pub fn graphql_sdl() -> String {
    schema().sdl()
}

/// Polls `future` on this thread, parking between wake-ups. The engine's
/// futures only wait on each other, so no runtime is needed.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}

/// The engine's errors as one short message: the first few, each cut short
/// (they quote names from the query).
fn messages(errors: &[ServerError]) -> String {
    let mut text = errors
        .iter()
        .take(MAX_MESSAGES)
        .map(|e| quote_long(&e.message))
        .collect::<Vec<_>>()
        .join("; ");
    if errors.len() > MAX_MESSAGES {
        text.push_str(&format!(" (and {} more)", errors.len() - MAX_MESSAGES));
    }
    text
}

/// An engine message, cut at a few quotes' length.
fn quote_long(message: &str) -> String {
    const MAX: usize = MAX_MESSAGE_CHARS;
    let mut cut: String = message
        .chars()
        .take(MAX)
        .flat_map(char::escape_debug)
        .collect();
    if message.chars().nth(MAX).is_some() {
        cut.push('…');
    }
    cut
}

/// The parser's error without the parser's rendering of the input line
/// (which would echo the whole line): where, and a short quote from there.
fn syntax_error(query: &str, error: &async_graphql::parser::Error) -> GraphqlError {
    match error {
        async_graphql::parser::Error::Syntax { start, .. } => {
            let near: String = query
                .lines()
                .nth(start.line.saturating_sub(1))
                .unwrap_or("")
                .chars()
                .skip(start.column.saturating_sub(1))
                .collect();
            GraphqlError::Syntax(format!(
                "at line {}, column {}, near {}",
                start.line,
                start.column,
                quote(&near)
            ))
        }
        other => GraphqlError::Syntax(quote_long(&other.to_string())),
    }
}

/// Refuses text past [`MAX_QUERY_BYTES`] or nested past [`MAX_NESTING`],
/// before the (recursive) parser sees it.
fn check_text(query: &str) -> Result<(), GraphqlError> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(GraphqlError::Limit(format!(
            "the query is {} bytes; at most {MAX_QUERY_BYTES}",
            query.len()
        )));
    }
    let deepest = nesting(query.as_bytes());
    if deepest > MAX_NESTING {
        return Err(GraphqlError::Limit(format!(
            "the query nests {{, [ or ( {deepest} deep; at most {MAX_NESTING}"
        )));
    }
    Ok(())
}

/// The deepest nesting of brackets outside strings and comments.
fn nesting(text: &[u8]) -> usize {
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < text.len() {
        match text[i] {
            b'#' => {
                while i < text.len() && text[i] != b'\n' && text[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if text[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < text.len() && !text[i..].starts_with(b"\"\"\"") {
                    i += if text[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < text.len() && text[i] != b'"' && text[i] != b'\n' {
                    i += if text[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    deepest
}

/// Refuses a document whose selections, every fragment spread expanded,
/// pass [`MAX_SELECTIONS`]. Fragments form a graph; each one's expanded
/// size is computed once, so this is linear in the text however the
/// spreads multiply (the engine's validation, which runs next, expands
/// them, so it is bounded by this too).
fn check_expanded_size(document: &ExecutableDocument) -> Result<(), GraphqlError> {
    let mut sizes = Sizes {
        document,
        memo: HashMap::new(),
    };
    let mut total = 0usize;
    let operations: Vec<&SelectionSet> = match &document.operations {
        DocumentOperations::Single(op) => vec![&op.node.selection_set.node],
        DocumentOperations::Multiple(ops) => {
            ops.values().map(|op| &op.node.selection_set.node).collect()
        }
    };
    for set in operations {
        total = total.saturating_add(sizes.of_set(set, 0)?.0);
    }
    for name in document.fragments.keys() {
        total = total.saturating_add(sizes.of_fragment(name, 0)?.0);
    }
    if total > MAX_SELECTIONS {
        return Err(GraphqlError::Limit(format!(
            "the query selects {}{total} fields once its fragments are expanded; at most {MAX_SELECTIONS}",
            if total == usize::MAX {
                "more than "
            } else {
                ""
            }
        )));
    }
    Ok(())
}

struct Sizes<'a> {
    document: &'a ExecutableDocument,
    /// A fragment's expanded size and its height (how deep its selections
    /// nest, spreads included); `None` while it is being sized: meeting it
    /// again is a cycle.
    memo: HashMap<&'a Name, Option<(usize, usize)>>,
}

/// The refusal of selections nested past [`MAX_NESTING`], spreads included.
fn too_deep() -> GraphqlError {
    GraphqlError::Limit(format!(
        "the query nests selections and fragment spreads more than {MAX_NESTING} deep"
    ))
}

impl<'a> Sizes<'a> {
    /// The expanded size and height of `set`, met `depth` levels down.
    /// Refusing past [`MAX_NESTING`] bounds this recursion (and the
    /// engine's, which recurses through spreads too).
    fn of_set(
        &mut self,
        set: &'a SelectionSet,
        depth: usize,
    ) -> Result<(usize, usize), GraphqlError> {
        if depth > MAX_NESTING {
            return Err(too_deep());
        }
        let (mut size, mut height) = (0usize, 0usize);
        for item in &set.items {
            let (own, below) = match &item.node {
                Selection::Field(field) if field.node.selection_set.node.items.is_empty() => (0, 0),
                Selection::Field(field) => {
                    self.of_set(&field.node.selection_set.node, depth + 1)?
                }
                Selection::InlineFragment(inline) => {
                    self.of_set(&inline.node.selection_set.node, depth + 1)?
                }
                Selection::FragmentSpread(spread) => {
                    self.of_fragment(&spread.node.fragment_name.node, depth + 1)?
                }
            };
            size = size.saturating_add(1).saturating_add(own);
            height = height.max(below.saturating_add(1));
        }
        Ok((size, height))
    }

    fn of_fragment(
        &mut self,
        name: &'a Name,
        depth: usize,
    ) -> Result<(usize, usize), GraphqlError> {
        match self.memo.get(name) {
            Some(Some((_, height))) if depth.saturating_add(*height) > MAX_NESTING + 1 => {
                return Err(too_deep());
            }
            Some(Some(sized)) => return Ok(*sized),
            Some(None) => {
                return Err(GraphqlError::Query(format!(
                    "fragment {} spreads itself",
                    quote(name.as_str())
                )));
            }
            None => {}
        }
        // An unknown fragment is the engine's validation error to report.
        let Some(fragment) = self.document.fragments.get(name) else {
            return Ok((0, 0));
        };
        self.memo.insert(name, None);
        let sized = self.of_set(&fragment.node.selection_set.node, depth)?;
        self.memo.insert(name, Some(sized));
        Ok(sized)
    }
}

/// The cost of a list of at most `len` elements, each costing `child`.
fn list_cost(len: usize, child: usize) -> usize {
    len.clamp(1, MAX_LIST)
        .saturating_mul(child)
        .min(COST_CEILING)
}

/// A `last`/`limit` argument as a list length for [`list_cost`] (the
/// resolver refuses what is out of range).
fn len_arg(n: Option<i32>) -> usize {
    n.map_or(MAX_LIST, |n| usize::try_from(n).unwrap_or(0))
}

/// The length of a `blocks` answer, for its cost.
fn blocks_len(last: Option<i32>, range: Option<&[f64]>) -> usize {
    match (last, range) {
        (Some(last), _) => len_arg(Some(last)),
        (None, Some([from, to])) if to >= from => {
            let span = (to - from + 1.0).min(MAX_LIST as f64);
            if span.is_finite() {
                span as usize
            } else {
                MAX_LIST
            }
        }
        _ => MAX_LIST,
    }
}

/// Why a running query was stopped.
const RUNNING: u8 = 0;
const TOO_LARGE: u8 = 1;
const TOO_SLOW: u8 = 2;

/// One query's running account: its deadline and the bytes of answer it
/// has built.
struct Budget {
    bounds: RunBounds,
    deadline: Instant,
    bytes: AtomicUsize,
    stop: AtomicU8,
}

impl Budget {
    fn new(bounds: RunBounds) -> Self {
        Self {
            bounds,
            deadline: Instant::now() + bounds.deadline,
            bytes: AtomicUsize::new(0),
            stop: AtomicU8::new(RUNNING),
        }
    }

    fn stopped(&self) -> Option<String> {
        match self.stop.load(Ordering::Relaxed) {
            TOO_LARGE => Some(format!(
                "its answer would pass {} bytes; ask for fewer items or fields",
                self.bounds.max_response_bytes
            )),
            TOO_SLOW => Some(format!(
                "it ran past its {} ms deadline; ask for less",
                self.bounds.deadline.as_millis()
            )),
            _ => None,
        }
    }

    /// Whether the query must stop now; marks it stopped if so.
    fn exhausted(&self) -> bool {
        if self.stop.load(Ordering::Relaxed) != RUNNING {
            return true;
        }
        let reason = if self.bytes.load(Ordering::Relaxed) > self.bounds.max_response_bytes {
            TOO_LARGE
        } else if Instant::now() > self.deadline {
            TOO_SLOW
        } else {
            return false;
        };
        self.stop.store(reason, Ordering::Relaxed);
        true
    }

    fn charge(&self, bytes: usize) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// About the bytes `value` adds to the JSON answer beyond what its own
/// fields add (each field is charged when it resolves).
fn shallow_size(value: &Value) -> usize {
    match value {
        Value::Null => 4,
        Value::Boolean(_) => 5,
        Value::Number(_) => 20,
        Value::String(s) => s.len().saturating_add(2),
        Value::Binary(b) => b.len().saturating_mul(2).saturating_add(2),
        Value::Enum(name) => name.len().saturating_add(2),
        Value::List(items) => items.iter().fold(2usize, |sum, item| {
            sum.saturating_add(1).saturating_add(shallow_size(item))
        }),
        Value::Object(_) => 2,
    }
}

/// The extension that enforces [`MAX_RESPONSE_BYTES`] and
/// [`QUERY_DEADLINE`] (or a call's [`RunBounds`]) while a query executes. Each field is charged as it
/// resolves; once the budget is spent every further field waits forever,
/// and the execution, raced against the budget, is dropped with all it
/// built so far. The answer so never grows past the bound plus one field.
struct Bounded;

impl ExtensionFactory for Bounded {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Bounded)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Bounded {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let Some(budget) = ctx.data_opt::<Arc<Budget>>() else {
            return next.run(ctx, operation_name).await;
        };
        let run = pin!(next.run(ctx, operation_name));
        let stop = pin!(std::future::poll_fn(|_| {
            if budget.stop.load(Ordering::Relaxed) != RUNNING {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }));
        match select(run, stop).await {
            Either::Left((response, _)) => response,
            Either::Right(((), _)) => Response::from_errors(vec![ServerError::new(
                budget.stopped().unwrap_or_default(),
                None,
            )]),
        }
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let Some(budget) = ctx.data_opt::<Arc<Budget>>() else {
            return next.run(ctx, info).await;
        };
        if budget.exhausted() {
            // Parks this field; `execute` sees the budget spent and drops
            // the whole execution.
            return std::future::pending().await;
        }
        let key = info.alias.unwrap_or(info.name).len();
        let value = next.run(ctx, info).await?;
        budget.charge(
            key.saturating_add(4)
                .saturating_add(value.as_ref().map_or(4, shallow_size)),
        );
        if budget.exhausted() {
            return std::future::pending().await;
        }
        Ok(value)
    }
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
    #[graphql(complexity = "list_cost(blocks_len(last, range.as_deref()), child_complexity)")]
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
    #[graphql(complexity = "list_cost(len_arg(Some(last)), child_complexity)")]
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

    /// The mempool, oldest first: its first `limit` transactions (default
    /// and most 200).
    #[graphql(complexity = "list_cost(len_arg(limit), child_complexity)")]
    async fn mempool_txs(
        &self,
        ctx: &Context<'_>,
        limit: Option<i32>,
    ) -> async_graphql::Result<Vec<TxGql>> {
        let snap = snapshot(ctx)?;
        let limit = match limit {
            None => MAX_LIST,
            Some(limit) => usize::try_from(limit).map_err(|_| "`limit` must be ≥ 0")?,
        };
        if limit > MAX_LIST {
            return Err(format!("`limit` is at most {MAX_LIST}").into());
        }
        Ok(snap
            .mempool()
            .take(limit)
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

    /// Its transactions, in execution order (the first 200).
    #[graphql(complexity = "list_cost(MAX_LIST, child_complexity)")]
    async fn transactions(&self) -> Vec<SpentTxGql> {
        self.0
            .txs
            .iter()
            .take(MAX_LIST)
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
