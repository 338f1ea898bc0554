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

use crate::contracts::{STAKE_CONTRACT, TRANSFER_CONTRACT, topics};
use crate::events;
use crate::history::Snapshot;
use crate::id::{Account, ContractId, Id, TxId};
use crate::records::{Block, ContractEvent, ExecutedTx, Finality};
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
    let request = GraphqlRequest {
        query: query.to_owned(),
        ..GraphqlRequest::default()
    };
    let executed = graphql_execute(snapshot, &request, bounds).await?;
    if !executed.errors.is_empty() {
        return Err(GraphqlError::Query(executed.messages()));
    }
    Ok(executed.data)
}

/// A GraphQL request: the query, its variables, and which of its
/// operations to run (the fields of GraphQL over HTTP's JSON body).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct GraphqlRequest {
    /// The query text.
    pub query: String,
    /// The variables, by name.
    pub variables: serde_json::Map<String, serde_json::Value>,
    /// The operation to run, when the query has several.
    pub operation_name: Option<String>,
}

impl GraphqlRequest {
    /// A request for `query`, without variables.
    pub fn new(query: impl Into<String>) -> Self {
        Self {
            query: query.into(),
            ..Self::default()
        }
    }
}

/// What an executed query answered: its `data` (null where a field
/// failed) and its field errors, each cut short.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Executed {
    /// The answer.
    pub data: serde_json::Value,
    /// The field errors (the first few), each cut short.
    pub errors: Vec<String>,
    /// How many field errors there were in all.
    pub error_count: usize,
}

impl Executed {
    /// The errors as one message, as [`GraphqlError::Query`] gives them.
    pub fn messages(&self) -> String {
        let mut text = self.errors.join("; ");
        if self.error_count > self.errors.len() {
            text.push_str(&format!(
                " (and {} more)",
                self.error_count - self.errors.len()
            ));
        }
        text
    }
}

/// Runs `request` against `snapshot` within every bound of this module:
/// the one entry point of the engine (`graphql/query`, `/graphql` and
/// [`graphql_query`] all come here). `Err` is a request that did not run
/// (not GraphQL, invalid, past a bound); field errors of a query that ran
/// are in [`Executed::errors`].
pub async fn graphql_execute(
    snapshot: Snapshot,
    request: &GraphqlRequest,
    bounds: RunBounds,
) -> Result<Executed, GraphqlError> {
    let query = request.query.as_str();
    check_text(query)?;
    let document =
        async_graphql::parser::parse_query(query).map_err(|e| syntax_error(query, &e))?;
    check_expanded_size(&document)?;
    let budget = Arc::new(Budget::new(bounds));
    let mut engine_request = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(
            serde_json::Value::Object(request.variables.clone()),
        ))
        .data(snapshot)
        .data(Arc::clone(&budget));
    if let Some(name) = &request.operation_name {
        engine_request = engine_request.operation_name(name.as_str());
    }
    let response = schema().execute(engine_request).await;
    if let Some(reason) = budget.stopped() {
        return Err(GraphqlError::Limit(reason));
    }
    // Errors without a path are the request's (validation, variables, an
    // unknown operation): nothing ran.
    if response.errors.iter().any(|e| e.path.is_empty()) {
        return Err(GraphqlError::Query(messages(&response.errors)));
    }
    let data = response
        .data
        .into_json()
        .map_err(|e| GraphqlError::Query(e.to_string()))?;
    Ok(Executed {
        data,
        errors: response
            .errors
            .iter()
            .take(MAX_MESSAGES)
            .map(|e| quote_long(&e.message))
            .collect(),
        error_count: response.errors.len(),
    })
}

/// [`graphql_execute`] run to completion on the calling thread (a
/// blocking pool's).
pub fn graphql_execute_blocking(
    snapshot: Snapshot,
    request: &GraphqlRequest,
    bounds: RunBounds,
) -> Result<Executed, GraphqlError> {
    block_on(graphql_execute(snapshot, request, bounds))
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
fn blocks_len(last: Option<i32>, range: Option<&[i64]>) -> usize {
    match (last, range) {
        (Some(last), _) => len_arg(Some(last)),
        (None, Some([from, to])) if to >= from => usize::try_from(to.abs_diff(*from))
            .map_or(MAX_LIST, |span| span.saturating_add(1).min(MAX_LIST)),
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

/// Charges a JSON answer built whole (the `json` fields of the archive
/// types) to the query's answer budget at its real size: the per-field
/// charge would count an object inside it as two bytes.
fn charge_json(ctx: &Context<'_>, value: &serde_json::Value) {
    if let Some(budget) = ctx.data_opt::<Arc<Budget>>() {
        budget.charge(value.to_string().len());
    }
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

/// A whole-number height argument (rusk's `Int`): ≥ 0, or -1 for the tip.
fn int_height(height: i64, snapshot: &Snapshot) -> async_graphql::Result<u64> {
    match u64::try_from(height) {
        Ok(height) => Ok(height),
        Err(_) if height == -1 => Ok(snapshot.tip().height()),
        Err(_) => Err(format!(
            "height {height} is not a block height: use a whole number ≥ 0, or -1 for the tip"
        )
        .into()),
    }
}

fn id_arg(hash: &str) -> async_graphql::Result<Id> {
    Id::parse(hash)
        .map_err(|_| format!("{} is not a hash: 64 hexadecimal characters", quote(hash)).into())
}

/// An account argument: the demo chain's accounts are 32-byte ids, taken
/// in base58, as Dusk writes account keys and as `account:<address>/status`
/// takes them, or in hex, as this schema writes them.
fn account_arg(what: &str, text: &str) -> async_graphql::Result<Account> {
    Id::parse(text)
        .ok()
        .or_else(|| crate::bs58::decode::<32>(text).map(Id::from_bytes))
        .ok_or_else(|| {
            format!(
                "{what} {} is not a demo account: the base58 of its 32 bytes, or 64 hexadecimal characters",
                quote(text)
            )
            .into()
        })
}

/// The contract a transaction calls, as rusk's `blockTxs(contract:)` sees
/// it: the stake contract for a stake, else the transfer contract.
fn called_contract(tx: &Transaction) -> ContractId {
    if tx.is_stake() {
        STAKE_CONTRACT
    } else {
        TRANSFER_CONTRACT
    }
}

/// Most transaction groups one archive answer (`fullMoonlightHistory`,
/// `moonlightHistory`, `transactionsByMemo`) holds: past it the query is
/// refused, to be narrowed with `fromBlock`/`toBlock` or `maxCount`.
pub const MAX_GROUPS: usize = 1000;

/// `finalizedEvents`' page size when `limit` is not given, and its cap.
const DEFAULT_EVENTS_PAGE: i64 = 50;
const MAX_EVENTS_PAGE: i64 = 200;

/// Most events of one block (its transactions' and its reward), for the
/// numeric event ids of `finalizedEvents` cursors: height × this + index.
const EVENT_ID_STRIDE: u64 = 1 << 24;

/// The cost of a field that scans the history (the archive queries): as
/// much as a full list, plus what it selects.
fn scan_cost(child: usize) -> usize {
    MAX_LIST.saturating_add(child)
}

/// The query root: rusk's `Query` (archive fields included), with a few
/// extras of our own.
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

    /// The transactions of the blocks `blocks(last:, range:)` gives, in
    /// block order, only those calling `contract` (hex) when it is given
    /// (a stake calls the stake contract, a transfer the transfer
    /// contract). At most 200: more is refused, to ask for fewer blocks.
    #[graphql(complexity = "list_cost(MAX_LIST, child_complexity)")]
    async fn block_txs(
        &self,
        ctx: &Context<'_>,
        last: Option<i32>,
        range: Option<Vec<i64>>,
        contract: Option<String>,
    ) -> async_graphql::Result<Vec<SpentTxGql>> {
        let snap = snapshot(ctx)?;
        let contract = contract
            .map(|c| {
                Id::parse(&c).map_err(|_| {
                    format!(
                        "contract {} is not a contract id: 64 hexadecimal characters",
                        quote(&c)
                    )
                })
            })
            .transpose()?;
        let mut blocks = select_blocks(snap, last, range)?;
        // `blocks(last:)` is newest first; transactions go in chain order.
        blocks.sort_by_key(|b| b.0.header.height);
        let mut txs = Vec::new();
        for block in &blocks {
            for tx in &block.0.txs {
                if contract.is_some_and(|c| called_contract(&tx.tx) != c) {
                    continue;
                }
                if txs.len() == MAX_LIST {
                    return Err(format!(
                        "those blocks hold more than {MAX_LIST} transactions; ask for fewer blocks"
                    )
                    .into());
                }
                txs.push(SpentTxGql {
                    block: Arc::clone(&block.0),
                    id: tx.id,
                });
            }
        }
        Ok(txs)
    }

    /// The last `last` blocks, or those with heights in `range: [from, to]`
    /// (inclusive); newest first for `last`, ascending for `range`; at most 200.
    #[graphql(complexity = "list_cost(blocks_len(last, range.as_deref()), child_complexity)")]
    async fn blocks(
        &self,
        ctx: &Context<'_>,
        last: Option<i32>,
        range: Option<Vec<i64>>,
    ) -> async_graphql::Result<Vec<BlockGql>> {
        select_blocks(snapshot(ctx)?, last, range)
    }

    /// The mempool, oldest first: its first `limit` transactions (default
    /// and most 200; `limit` is ours, rusk has none).
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

    /// Height and hash of the tip and of the last finalized block.
    async fn last_block_pair(&self, ctx: &Context<'_>) -> async_graphql::Result<BlockPairGql> {
        let snap = snapshot(ctx)?;
        let tip = snap.history.tip();
        let finalized = snap
            .history
            .blocks()
            .rev()
            .find(|b| b.finality == Finality::Finalized)
            .ok_or("no finalized block is in memory")?;
        Ok(BlockPairGql(serde_json::json!({
            "last_block": [tip.header.height, tip.header.hash],
            "last_finalized_block": [finalized.header.height, finalized.header.hash],
        })))
    }

    /// Every transaction of the history in memory that moved the balance of
    /// `address` (a demo account, hex): transfers from or to it and its
    /// stakes, with their events; `ord` is `asc` (default) or `desc`; null
    /// when there are none.
    #[graphql(complexity = "scan_cost(child_complexity)")]
    async fn full_moonlight_history(
        &self,
        ctx: &Context<'_>,
        address: String,
        ord: Option<String>,
        from_block: Option<u64>,
        to_block: Option<u64>,
    ) -> async_graphql::Result<Option<MoonlightTransfers>> {
        let snap = snapshot(ctx)?;
        let address = account_arg("address", &address)?;
        let descending = match ord.as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => {
                return Err(format!("ord {} is not `asc` or `desc`", quote(other)).into());
            }
        };
        let mut groups = moonlight_groups(
            snap,
            (from_block, to_block),
            (0, MAX_GROUPS),
            Some("narrow it with fromBlock and toBlock"),
            |tx| tx.sender() == &address || (!tx.is_stake() && tx.receiver() == &address),
        )?;
        if descending {
            groups.reverse();
        }
        Ok(MoonlightTransfers::of(ctx, groups))
    }

    /// The transfers (and stakes) sent by `sender` and/or received by
    /// `receiver` (demo accounts, hex; at least one), oldest first, in
    /// pages of `maxCount` (page `pageCount`, from 1); null when there are
    /// none.
    #[graphql(complexity = "scan_cost(child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn moonlight_history(
        &self,
        ctx: &Context<'_>,
        sender: Option<String>,
        receiver: Option<String>,
        from_block: Option<u64>,
        to_block: Option<u64>,
        max_count: Option<usize>,
        page_count: Option<usize>,
    ) -> async_graphql::Result<Option<MoonlightTransfers>> {
        let snap = snapshot(ctx)?;
        let sender = sender.map(|s| account_arg("sender", &s)).transpose()?;
        let receiver = receiver.map(|r| account_arg("receiver", &r)).transpose()?;
        if sender.is_none() && receiver.is_none() {
            return Err("give `sender`, `receiver` or both".into());
        }
        if max_count == Some(0) {
            return Err("MaxCount must be greater than 0".into());
        }
        let page = page_count.unwrap_or(1);
        if page == 0 {
            return Err("pageCount starts at 1".into());
        }
        // Without `maxCount`, one answer of every match, up to the cap.
        let overflow = max_count
            .is_none()
            .then_some("page it with maxCount and pageCount");
        let max_count = max_count.unwrap_or(MAX_GROUPS);
        if max_count > MAX_GROUPS {
            return Err(format!("maxCount is at most {MAX_GROUPS}").into());
        }
        let skip = (page - 1).saturating_mul(max_count);
        // A page is at most `maxCount` groups: the ones before it are
        // counted, not built.
        let range = (from_block, to_block);
        let groups = moonlight_groups(snap, range, (skip, max_count), overflow, |tx| {
            sender.is_none_or(|s| tx.sender() == &s)
                && receiver.is_none_or(|r| !tx.is_stake() && tx.receiver() == &r)
        })?;
        Ok(MoonlightTransfers::of(ctx, groups))
    }

    /// The transactions whose memo is exactly `memo`'s bytes (UTF-8, as
    /// rusk compares them), with their events; null when there are none.
    #[graphql(complexity = "scan_cost(child_complexity)")]
    async fn transactions_by_memo(
        &self,
        ctx: &Context<'_>,
        memo: String,
    ) -> async_graphql::Result<Option<MoonlightTransfers>> {
        let snap = snapshot(ctx)?;
        let memo = memo.into_bytes();
        let groups = moonlight_groups(
            snap,
            (None, None),
            (0, MAX_GROUPS),
            Some("use a more distinctive memo"),
            |tx| !memo.is_empty() && tx.memo() == memo.as_slice(),
        )?;
        Ok(MoonlightTransfers::of(ctx, groups))
    }

    /// The contract events of the block at `height` (-1 for the tip) or
    /// with `hash`; null when that block is not in memory.
    async fn contract_events(
        &self,
        ctx: &Context<'_>,
        height: Option<i64>,
        hash: Option<String>,
    ) -> async_graphql::Result<Option<ContractEventsGql>> {
        let snap = snapshot(ctx)?;
        let block = match (height, hash) {
            (Some(height), None) => snap.history.block(int_height(height, snap)?),
            (None, Some(hash)) => snap.history.block_by_hash(&id_arg(&hash)?),
            _ => return Err("Specify height or hash".into()),
        };
        Ok(block.map(|block| {
            let events: Vec<serde_json::Value> = block
                .events
                .iter()
                .map(|e| {
                    serde_json::json!({
                        "origin": e.origin,
                        "topic": e.topic,
                        "source": e.contract,
                        "data": hex::encode(&e.data),
                    })
                })
                .collect();
            ContractEventsGql::of(ctx, serde_json::Value::Array(events))
        }))
    }

    /// The events of `contractId` (hex) in finalized blocks, oldest first,
    /// a page of `limit` (default 50, at most 200) after `cursor` (from a
    /// previous page's `endCursor`).
    #[graphql(complexity = "scan_cost(child_complexity)")]
    async fn finalized_events(
        &self,
        ctx: &Context<'_>,
        contract_id: String,
        limit: Option<i64>,
        cursor: Option<String>,
    ) -> async_graphql::Result<Option<ContractEventsGql>> {
        let snap = snapshot(ctx)?;
        let contract = Id::parse(&contract_id).map_err(|_| "Invalid contract_id")?;
        let limit = usize::try_from(
            limit
                .unwrap_or(DEFAULT_EVENTS_PAGE)
                .clamp(1, MAX_EVENTS_PAGE),
        )
        .unwrap_or(MAX_LIST);
        let after = match cursor {
            None => None,
            Some(cursor) => Some(decode_cursor(&cursor).ok_or("Invalid cursor")?),
        };
        let first_height = after.map_or(0, |id| id / EVENT_ID_STRIDE);
        let mut rows = Vec::new();
        let mut has_next = false;
        'blocks: for block in snap.history.blocks() {
            let height = block.header.height;
            if height < first_height {
                continue;
            }
            if block.finality != Finality::Finalized {
                break;
            }
            for (index, event) in block.events.iter().enumerate() {
                let id = height
                    .saturating_mul(EVENT_ID_STRIDE)
                    .saturating_add(index as u64);
                if event.contract != contract || after.is_some_and(|after| id <= after) {
                    continue;
                }
                if rows.len() == limit {
                    has_next = true;
                    break 'blocks;
                }
                rows.push((id, block, event));
            }
        }
        let start = rows.first().map(|(id, ..)| encode_cursor(*id));
        let end = rows.last().map(|(id, ..)| encode_cursor(*id));
        let events: Vec<serde_json::Value> = rows
            .into_iter()
            .map(|(id, block, e)| {
                serde_json::json!({
                    "id": id,
                    "block_height": block.header.height,
                    "block_hash": block.header.hash,
                    "origin": e.origin,
                    "topic": e.topic,
                    "source": e.contract,
                    "data": hex::encode(&e.data),
                })
            })
            .collect();
        Ok(Some(ContractEventsGql::of(
            ctx,
            serde_json::json!({
                "events": events,
                "endCursor": end,
                "startCursor": start,
                "hasNextPage": has_next,
            }),
        )))
    }

    /// Whether the block at `height` has this hash (and, with
    /// `onlyFinalized`, is finalized).
    async fn check_block(
        &self,
        ctx: &Context<'_>,
        height: u64,
        hash: String,
        only_finalized: Option<bool>,
    ) -> async_graphql::Result<bool> {
        let snap = snapshot(ctx)?;
        let id = id_arg(&hash)?;
        let Some(block) = snap.history.block(height) else {
            return Ok(false);
        };
        let final_enough =
            !only_finalized.unwrap_or(false) || block.finality == Finality::Finalized;
        Ok(block.header.hash == id && final_enough)
    }

    /// The next height after `height` with a Phoenix (shielded) event:
    /// always null, the demo chain has no Phoenix notes.
    async fn next_phoenix(&self, height: i64) -> Option<u64> {
        let _ = height;
        None
    }
}

/// The blocks of `blocks(last:, range:)`.
fn select_blocks(
    snap: &Snapshot,
    last: Option<i32>,
    range: Option<Vec<i64>>,
) -> async_graphql::Result<Vec<BlockGql>> {
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
            let (from, to) = (int_height(from, snap)?, int_height(to, snap)?);
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

/// The groups (a transaction with the events it caused) of the executed
/// transactions in the `[from, to]` heights that `keep` selects and that
/// emitted an event, oldest first: `take` of them after the first `skip`.
/// With `overflow`, more than `take` is refused, saying how to narrow it;
/// without, the rest is left.
fn moonlight_groups(
    snap: &Snapshot,
    (from, to): (Option<u64>, Option<u64>),
    (skip, take): (usize, usize),
    overflow: Option<&str>,
    keep: impl Fn(&Transaction) -> bool,
) -> async_graphql::Result<Vec<serde_json::Value>> {
    let (from, to) = (from.unwrap_or(0), to.unwrap_or(u64::MAX));
    let mut groups = Vec::new();
    let mut skipped = 0usize;
    for block in snap.history.blocks() {
        let height = block.header.height;
        if height < from {
            continue;
        }
        if height > to {
            break;
        }
        for tx in &block.txs {
            // A failed transaction emitted nothing and moved no value but
            // its fee: it is in no group.
            if !keep(&tx.tx) || !block.events.iter().any(|e| e.origin == tx.id) {
                continue;
            }
            if skipped < skip {
                skipped += 1;
                continue;
            }
            if groups.len() == take {
                return match overflow {
                    Some(narrow) => {
                        Err(format!("more than {take} transactions match; {narrow}").into())
                    }
                    None => Ok(groups),
                };
            }
            let events: Vec<serde_json::Value> = block
                .events
                .iter()
                .filter(|e| e.origin == tx.id)
                .map(|e| {
                    serde_json::json!({
                        "target": e.contract,
                        "topic": e.topic,
                        "data": event_data(e),
                    })
                })
                .collect();
            groups.push(serde_json::json!({
                "events": events,
                "origin": tx.id,
                "block_height": height,
            }));
        }
    }
    Ok(groups)
}

/// A demo contract event's payload as JSON (the layouts of
/// docs/demo-chain.md); hex when it has none of them.
fn event_data(event: &ContractEvent) -> serde_json::Value {
    let d = &event.data;
    let word = |at: usize| {
        d.get(at..at + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map_or(0, u64::from_le_bytes)
    };
    let id = |at: usize| Id::from_slice(d.get(at..at + 32).unwrap_or(&[])).map(|id| id.to_string());
    match (event.contract, event.topic, d.len()) {
        (c, topics::MOONLIGHT, 72) if c == TRANSFER_CONTRACT => serde_json::json!({
            "sender": id(0),
            "receiver": id(32),
            "value": word(64),
        }),
        (c, topics::STAKE, 48) if c == STAKE_CONTRACT => serde_json::json!({
            "account": id(0),
            "value": word(32),
            "total": word(40),
        }),
        (c, topics::REWARD, 48) if c == STAKE_CONTRACT => serde_json::json!({
            "account": id(0),
            "value": word(32),
            "height": word(40),
        }),
        _ => serde_json::Value::String(hex::encode(d)),
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// A `finalizedEvents` cursor: base64 of `v1:<id>`, as rusk writes it.
fn encode_cursor(id: u64) -> String {
    let text = format!("v1:{id}");
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The id in a cursor from [`encode_cursor`]; `None` for anything else.
fn decode_cursor(cursor: &str) -> Option<u64> {
    if cursor.len() > 64 || cursor.len() % 4 != 0 {
        return None;
    }
    let mut bytes = Vec::new();
    for chunk in cursor.as_bytes().chunks(4) {
        let mut n = 0u32;
        let mut pad = 0;
        for &c in chunk {
            let v = match c {
                b'=' => {
                    pad += 1;
                    0
                }
                _ if pad > 0 => return None,
                _ => u32::try_from(B64.iter().position(|&b| b == c)?).ok()?,
            };
            n = (n << 6) | v;
        }
        let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        bytes.extend_from_slice(&decoded[..3usize.checked_sub(pad)?]);
    }
    let text = std::str::from_utf8(&bytes).ok()?;
    text.strip_prefix("v1:")?.parse().ok()
}

/// rusk's `BlockPair`: `json` is `{"last_block": [height, hash],
/// "last_finalized_block": [height, hash]}`.
pub(crate) struct BlockPairGql(serde_json::Value);

#[Object(name = "BlockPair")]
impl BlockPairGql {
    /// The pair as JSON.
    async fn json(&self) -> &serde_json::Value {
        &self.0
    }
}

/// rusk's `MoonlightTransfers`: `json` is a list of `{events: [{target,
/// topic, data}], origin, block_height}`, one per transaction.
pub(crate) struct MoonlightTransfers(serde_json::Value);

impl MoonlightTransfers {
    /// The transfers, charged to the answer budget; `None` (null) when
    /// there are none, as rusk answers.
    fn of(ctx: &Context<'_>, groups: Vec<serde_json::Value>) -> Option<Self> {
        if groups.is_empty() {
            return None;
        }
        let value = serde_json::Value::Array(groups);
        charge_json(ctx, &value);
        Some(Self(value))
    }
}

#[Object(name = "MoonlightTransfers")]
impl MoonlightTransfers {
    /// The transfers as JSON.
    async fn json(&self) -> &serde_json::Value {
        &self.0
    }
}

/// rusk's `ContractEvents`: `json` is a list of `{origin, topic, source,
/// data}` (`contractEvents`), or a page `{events, endCursor, startCursor,
/// hasNextPage}` (`finalizedEvents`).
pub(crate) struct ContractEventsGql(serde_json::Value);

impl ContractEventsGql {
    fn of(ctx: &Context<'_>, value: serde_json::Value) -> Self {
        charge_json(ctx, &value);
        Self(value)
    }
}

#[Object(name = "ContractEvents")]
impl ContractEventsGql {
    /// The events as JSON.
    async fn json(&self) -> &serde_json::Value {
        &self.0
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

    /// rusk's label: `{"Accepted" | "Confirmed" | "Final": blocks on top}`.
    async fn status(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<async_graphql::Json<serde_json::Value>> {
        let tip = snapshot(ctx)?.tip().height();
        let label = match self.0.finality {
            Finality::Accepted => "Accepted",
            Finality::Confirmed => "Confirmed",
            Finality::Finalized => "Final",
        };
        Ok(async_graphql::Json(serde_json::json!({
            label: tip.saturating_sub(self.0.header.height)
        })))
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

    /// `accepted`, `confirmed` or `finalized` (ours).
    async fn finality(&self) -> &'static str {
        self.0.finality.as_str()
    }

    /// The block as its `accepted` event carries it, as a JSON string (ours).
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
    fn executed(&self) -> async_graphql::Result<&ExecutedTx> {
        self.block
            .txs
            .iter()
            .find(|t| t.id == self.id)
            .ok_or_else(|| "the transaction is not in its block".into())
    }
}

#[Object(name = "SpentTransaction")]
impl SpentTxGql {
    /// The transaction itself.
    async fn tx(&self) -> async_graphql::Result<TxGql> {
        let executed = self.executed()?;
        Ok(TxGql {
            id: executed.id,
            tx: executed.tx.clone(),
        })
    }

    /// Why it failed; null when it succeeded.
    async fn err(&self) -> async_graphql::Result<Option<String>> {
        Ok(self.executed()?.err.clone())
    }

    /// Gas spent.
    async fn gas_spent(&self) -> async_graphql::Result<u64> {
        Ok(self.executed()?.gas_spent)
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

    /// The transaction id.
    async fn id(&self) -> String {
        self.id.to_string()
    }

    /// The transaction's encoding, hex (what `transactions/propagate` takes).
    async fn raw(&self) -> async_graphql::Result<String> {
        Ok(hex::encode(self.executed()?.tx.encode()))
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
    /// The encoding, hex (what `transactions/propagate` and `preverify` take).
    async fn raw(&self) -> String {
        hex::encode(self.tx.encode())
    }

    /// The transaction's JSON (as in its `included` event), as text.
    async fn json(&self) -> String {
        events::tx_json(&self.id, &self.tx).to_string()
    }

    /// The id.
    async fn id(&self) -> String {
        self.id.to_string()
    }

    /// Gas limit.
    async fn gas_limit(&self) -> u64 {
        self.tx.gas_limit()
    }

    /// Gas price, in Lux.
    async fn gas_price(&self) -> u64 {
        self.tx.gas_price()
    }

    /// `Moonlight` (the public-account model this format imitates), as
    /// rusk spells it.
    async fn tx_type(&self) -> &'static str {
        "Moonlight"
    }

    /// The contract call of a stake; null for a transfer.
    async fn call_data(&self) -> Option<CallData> {
        self.tx.is_stake().then(|| CallData {
            contract_id: STAKE_CONTRACT.to_string(),
            fn_name: "stake".to_owned(),
            data: String::new(),
        })
    }

    /// The versioned hashes of the blobs it carries (hex), as
    /// `blobs:<hash>/hash` takes them; null without (rusk's answer).
    async fn blob_hashes(&self) -> Option<Vec<String>> {
        let blobs = self.tx.blobs();
        (!blobs.is_empty()).then(|| {
            blobs
                .iter()
                .map(|blob| blob.versioned_hash().to_string())
                .collect()
        })
    }

    /// Always false: the demo chain has no deployments.
    async fn is_deploy(&self) -> bool {
        false
    }

    /// The deployed contract's id: always null, no deployments.
    async fn contract_id(&self) -> Option<String> {
        None
    }

    /// The memo, hex; null when empty.
    async fn memo(&self) -> Option<String> {
        (!self.tx.memo().is_empty()).then(|| hex::encode(self.tx.memo()))
    }

    /// The sender (hex; ours).
    async fn sender(&self) -> String {
        self.tx.sender().to_string()
    }

    /// The receiver (hex; ours).
    async fn receiver(&self) -> String {
        self.tx.receiver().to_string()
    }

    /// Value, in Lux (ours).
    async fn value(&self) -> u64 {
        self.tx.value()
    }

    /// Nonce (ours).
    async fn nonce(&self) -> u64 {
        self.tx.nonce()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_cursor_text_decodes_or_is_refused_without_panicking(text in "\\PC{0,80}") {
            if let Some(id) = decode_cursor(&text) {
                prop_assert_eq!(decode_cursor(&encode_cursor(id)), Some(id));
            }
        }

        #[test]
        fn any_event_payload_decodes_to_json(data in proptest::collection::vec(any::<u8>(), 0..100)) {
            for (contract, topic) in [
                (TRANSFER_CONTRACT, topics::MOONLIGHT),
                (STAKE_CONTRACT, topics::STAKE),
                (STAKE_CONTRACT, topics::REWARD),
            ] {
                let event = ContractEvent { contract, topic, data: data.clone(), origin: Id::ZERO };
                let value = event_data(&event);
                prop_assert!(value.is_object() || value == serde_json::Value::String(hex::encode(&data)));
            }
        }
    }

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        for id in [0, 1, 99, 123_456_789, u64::MAX] {
            assert_eq!(decode_cursor(&encode_cursor(id)), Some(id), "{id}");
        }
        // rusk's own encoding of "v1:42".
        assert_eq!(encode_cursor(42), "djE6NDI=");
        for bad in [
            "",
            "djE6",
            "v1:4",
            "====",
            "djE6NDI",
            "%%%%",
            "djE6NDI=AAAA",
        ] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
    }
}
