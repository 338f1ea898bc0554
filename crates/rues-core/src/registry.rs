//! The registry: which components, topics and dispatch handlers exist
//! (docs/protocol.md §4).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use rues_target::{Component, Entity, EventPath, Target, Topic};

use rues_wire::SessionId;

use crate::reply::{HandlerError, Reply};

/// Whether a component's subscriptions and dispatches name an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityRule {
    /// `/on/<component>:<entity>/...` only (e.g. `contracts`).
    Required,
    /// `/on/<component>/...` only (e.g. `node`).
    Forbidden,
    /// Either; without an entity a subscription matches every entity.
    Optional,
}

/// How a component writes its entities canonically: the one spelling that
/// access rules, the subscription index and handlers all see, so that no
/// other spelling of the same entity (`EFDA…` for `efda…`) slips past a
/// rule written for it. `Err` is a message for a 404: the entity cannot
/// name anything of this component.
pub type Canonicalise = Arc<dyn Fn(&Entity) -> Result<Entity, String> + Send + Sync>;

/// A dispatch request as a handler sees it: every check has passed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DispatchRequest {
    /// The event path the request was posted to.
    pub path: EventPath,
    /// The caller's session, when it named one (dispatch may be fire-and-forget).
    pub session: Option<SessionId>,
    /// The request's `Content-Type`, if any.
    pub content_type: Option<String>,
    /// Whether the request carried `Rusk-Feeder` (any value): the caller
    /// asks for a streamed reply, a "feeder" query (docs/protocol.md §5.2).
    /// The handler decides: it may answer [`Reply::binary_stream`] or
    /// [`Reply::json_stream`], or whole all the same.
    pub feeder: bool,
    /// The request's headers, for handlers that read their own (e.g.
    /// rusk's `rusk-gqlvar-<name>` GraphQL variables). Bounded by the
    /// transport's request-head limits.
    pub headers: http::HeaderMap,
    /// The decoded body.
    pub body: RequestBody,
}

/// A dispatch body after the content-type rules of docs/protocol.md §5.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestBody {
    /// Bytes: sent as `application/octet-stream`, or as `0x`-prefixed hex text.
    Binary(Bytes),
    /// UTF-8 text that is not `0x` hex.
    Text(String),
}

impl RequestBody {
    /// The body's bytes, whichever form it came in.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Binary(bytes) => bytes,
            Self::Text(text) => text.as_bytes(),
        }
    }
}

/// The future a handler returns. Boxed so handlers can be stored side by
/// side; the core never polls it, the adapter does, on whatever runtime it has.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Reply, HandlerError>> + Send>>;

/// A dispatch handler: called by the adapter once the core has decided the
/// request goes to it.
pub trait Handler: Send + Sync + 'static {
    /// Handles one request.
    fn call(&self, request: DispatchRequest) -> HandlerFuture;
}

impl<F, Fut> Handler for F
where
    F: Fn(DispatchRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Reply, HandlerError>> + Send + 'static,
{
    fn call(&self, request: DispatchRequest) -> HandlerFuture {
        Box::pin(self(request))
    }
}

/// A dispatch handler that blocks or burns CPU (a prover, a VM query): a
/// plain function, which the adapter runs on a bounded pool of threads set
/// apart for such work, never on the threads that serve sessions and
/// requests (docs/protocol.md §5.2). Registered with
/// [`ComponentSpec::blocking_handler`].
///
/// A blocking handler answers whole: its call ends when its thread is
/// done, and a stream it returned would be polled later, off that thread
/// and outside its slot. [`Reply::Stream`] from one is the application's
/// mistake and answers 500 (the stream is dropped unpolled). A slow
/// producer that streams is an async [`Handler`] that returns
/// [`Reply::binary_stream`] over a bounded channel fed by a thread of its
/// own.
pub trait BlockingHandler: Send + Sync + 'static {
    /// Handles one request, taking as long as it takes.
    fn call(&self, request: DispatchRequest) -> Result<Reply, HandlerError>;
}

impl<F> BlockingHandler for F
where
    F: Fn(DispatchRequest) -> Result<Reply, HandlerError> + Send + Sync + 'static,
{
    fn call(&self, request: DispatchRequest) -> Result<Reply, HandlerError> {
        self(request)
    }
}

/// A registered handler, and how it must be run.
#[derive(Clone)]
pub(crate) enum Route {
    /// Awaited on the adapter's runtime.
    Async(Arc<dyn Handler>),
    /// Run on the adapter's blocking pool.
    Blocking(BlockingRoute),
}

/// A blocking handler, and how many of its calls may run at once beside
/// the pool's own bound (`None`: only the pool's).
#[derive(Clone)]
pub(crate) struct BlockingRoute {
    pub(crate) handler: Arc<dyn BlockingHandler>,
    pub(crate) at_once: Option<usize>,
}

/// A component: its entity rule, its topics, its handlers.
#[derive(Clone)]
pub struct ComponentSpec {
    name: Component,
    entity: EntityRule,
    /// `None`: open, any topic exists.
    topics: Option<HashSet<Topic>>,
    handlers: HashMap<Topic, Route>,
    fallback: Option<Route>,
    /// `None`: entities are taken as written.
    canonicalise: Option<Canonicalise>,
}

impl fmt::Debug for ComponentSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ComponentSpec")
            .field("name", &self.name)
            .field("entity", &self.entity)
            .field("topics", &self.topics)
            .field("handlers", &self.handlers.keys().collect::<Vec<_>>())
            .field("fallback", &self.fallback.is_some())
            .field("canonicalise", &self.canonicalise.is_some())
            .finish()
    }
}

impl ComponentSpec {
    /// A component with a closed (so far empty) topic list and an optional
    /// entity.
    pub fn new(name: Component) -> Self {
        Self {
            name,
            entity: EntityRule::Optional,
            topics: Some(HashSet::new()),
            handlers: HashMap::new(),
            fallback: None,
            canonicalise: None,
        }
    }

    /// Declares how this component's entities are canonicalised: the core
    /// applies `canonicalise` to the entity of every request (subscribe,
    /// unsubscribe, dispatch) before the access rules, the subscription
    /// index and the handler, and to the entities of access rules on this
    /// component when the node starts. Publish events at canonical paths:
    /// the index matches them as written.
    pub fn canonical_entities(
        mut self,
        canonicalise: impl Fn(&Entity) -> Result<Entity, String> + Send + Sync + 'static,
    ) -> Self {
        self.canonicalise = Some(Arc::new(canonicalise));
        self
    }

    /// [`canonical_entities`](Self::canonical_entities) for components whose
    /// entities are hex ids (block hashes, transaction and contract ids):
    /// an entity made only of hex digits is lower-cased; any other entity
    /// is left as written, for the handler to refuse.
    pub fn hex_entities(self) -> Self {
        self.canonical_entities(|entity| {
            let text = entity.as_str();
            if text.bytes().all(|b| b.is_ascii_hexdigit())
                && text.bytes().any(|b| b.is_ascii_uppercase())
            {
                Entity::new(text.to_ascii_lowercase()).map_err(|e| e.to_string())
            } else {
                Ok(entity.clone())
            }
        })
    }

    /// Sets the entity rule.
    pub fn entity(mut self, rule: EntityRule) -> Self {
        self.entity = rule;
        self
    }

    /// Adds event topics to the closed list.
    pub fn topic(mut self, topic: Topic) -> Self {
        if let Some(topics) = &mut self.topics {
            topics.insert(topic);
        }
        self
    }

    /// Makes the topic list open: any topic exists (e.g. contract events,
    /// which the node cannot list in advance).
    pub fn open_topics(mut self) -> Self {
        self.topics = None;
        self
    }

    /// Registers a dispatch handler for a topic (the topic then exists).
    pub fn handler(mut self, topic: Topic, handler: impl Handler) -> Self {
        self.handlers.insert(topic, Route::Async(Arc::new(handler)));
        self
    }

    /// Registers a blocking or CPU-heavy handler for a topic (the topic then
    /// exists): the adapter runs it on its bounded blocking pool, so a slow
    /// call delays no event and no other request.
    pub fn blocking_handler(mut self, topic: Topic, handler: impl BlockingHandler) -> Self {
        let route = BlockingRoute {
            handler: Arc::new(handler),
            at_once: None,
        };
        self.handlers.insert(topic, Route::Blocking(route));
        self
    }

    /// Like [`ComponentSpec::blocking_handler`], with at most `at_once` of
    /// this handler's calls running at a time (at least 1); the others wait
    /// for one of its slots as they would for the pool's. For CPU-bound
    /// work that clients can ask for in a loop (GraphQL queries), so that
    /// it can never take every core, whatever the pool's size.
    pub fn blocking_handler_at_most(
        mut self,
        topic: Topic,
        at_once: usize,
        handler: impl BlockingHandler,
    ) -> Self {
        let route = BlockingRoute {
            handler: Arc::new(handler),
            at_once: Some(at_once.max(1)),
        };
        self.handlers.insert(topic, Route::Blocking(route));
        self
    }

    /// Registers a handler for every topic without a handler of its own
    /// (e.g. `contracts:<id>/<fn>` queries).
    pub fn fallback_handler(mut self, handler: impl Handler) -> Self {
        self.fallback = Some(Route::Async(Arc::new(handler)));
        self
    }

    /// Like [`ComponentSpec::fallback_handler`], for a blocking handler.
    pub fn blocking_fallback_handler(mut self, handler: impl BlockingHandler) -> Self {
        self.fallback = Some(Route::Blocking(BlockingRoute {
            handler: Arc::new(handler),
            at_once: None,
        }));
        self
    }

    /// The component's name.
    pub fn name(&self) -> &Component {
        &self.name
    }

    /// Its entity rule.
    pub fn entity_rule(&self) -> EntityRule {
        self.entity
    }

    /// The topics with a dispatch handler of their own, sorted (a fallback
    /// handler, which answers any topic, is not listed). For documentation
    /// and tools that list what a node serves.
    pub fn handler_topics(&self) -> Vec<&Topic> {
        let mut topics: Vec<&Topic> = self.handlers.keys().collect();
        topics.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        topics
    }

    /// Whether a fallback handler answers the topics without one of their own.
    pub fn has_fallback_handler(&self) -> bool {
        self.fallback.is_some()
    }

    /// The same component with no handler at all: the same entity rule,
    /// canonical form and topics (a handler's topic stays one). What a
    /// cluster node that serves sessions but runs no handler registers
    /// (docs/protocol.md §11): it checks paths as the node with the
    /// handlers does, and forwards every dispatch.
    pub fn without_handlers(&self) -> Self {
        let topics = self
            .topics
            .as_ref()
            .map(|topics| topics.iter().chain(self.handlers.keys()).cloned().collect());
        Self {
            name: self.name.clone(),
            entity: self.entity,
            topics,
            handlers: HashMap::new(),
            fallback: None,
            canonicalise: self.canonicalise.clone(),
        }
    }

    fn topic_exists(&self, topic: &Topic) -> bool {
        match &self.topics {
            None => true,
            Some(topics) => topics.contains(topic) || self.handlers.contains_key(topic),
        }
    }

    fn handler_for(&self, topic: &Topic) -> Option<&Route> {
        self.handlers.get(topic).or(self.fallback.as_ref())
    }
}

/// Every component a node serves.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    components: HashMap<Component, ComponentSpec>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a component.
    pub fn with(mut self, component: ComponentSpec) -> Self {
        self.components.insert(component.name.clone(), component);
        self
    }

    /// The components.
    pub fn components(&self) -> impl Iterator<Item = &ComponentSpec> {
        self.components.values()
    }

    /// The same components, each [without its
    /// handlers](ComponentSpec::without_handlers).
    pub fn without_handlers(&self) -> Self {
        self.components
            .values()
            .fold(Self::new(), |registry, spec| {
                registry.with(spec.without_handlers())
            })
    }

    /// Checks that `path` names something that exists: the component, its
    /// entity rule, the topic. The message names the unknown part.
    pub(crate) fn check(&self, path: &EventPath) -> Result<&ComponentSpec, String> {
        let component = path.component();
        let spec = self.components.get(component).ok_or_else(|| {
            let names = self.components.keys().map(Component::as_str);
            format!(
                "unknown component {}{}",
                crate::quote(component.as_str()),
                suggestion(component.as_str(), names)
            )
        })?;
        match (spec.entity, path.entity()) {
            (EntityRule::Required, None) => {
                return Err(format!(
                    "component `{component}` needs an entity: /on/{component}:<entity>/{}",
                    path.topic()
                ));
            }
            (EntityRule::Forbidden, Some(_)) => {
                return Err(format!("component `{component}` takes no entity"));
            }
            _ => {}
        }
        if !spec.topic_exists(path.topic()) {
            let names = spec
                .topics
                .iter()
                .flatten()
                .chain(spec.handlers.keys())
                .map(Topic::as_str);
            return Err(format!(
                "unknown topic {} of component `{component}`{}",
                crate::quote(path.topic().as_str()),
                suggestion(path.topic().as_str(), names)
            ));
        }
        Ok(spec)
    }

    /// `path` with its entity in the canonical form its component declares
    /// ([`ComponentSpec::canonical_entities`]); unchanged when the component
    /// declares none or is unknown. `Err` is the 404 message.
    pub fn canonical(&self, path: EventPath) -> Result<EventPath, String> {
        let Some(canonicalise) = self
            .components
            .get(path.component())
            .and_then(|spec| spec.canonicalise.as_ref())
        else {
            return Ok(path);
        };
        let Some(entity) = path.entity() else {
            return Ok(path);
        };
        let canonical = canonicalise(entity)?;
        if &canonical == entity {
            return Ok(path);
        }
        let (target, topic) = path.into_parts();
        Ok(EventPath::new(
            Target::new(target.component().clone(), Some(canonical)),
            topic,
        ))
    }

    /// The canonical form of `entity` of `component`, for access rules.
    pub(crate) fn canonical_entity(&self, component: &Component, entity: &Entity) -> Entity {
        self.components
            .get(component)
            .and_then(|spec| spec.canonicalise.as_ref())
            .and_then(|canonicalise| canonicalise(entity).ok())
            .unwrap_or_else(|| entity.clone())
    }

    /// [`check`](Self::check), then the dispatch handler for `path`.
    pub(crate) fn handler(&self, path: &EventPath) -> Result<Route, String> {
        let spec = self.check(path)?;
        spec.handler_for(path.topic())
            .cloned()
            .ok_or_else(|| format!("{} has no dispatch handler", crate::quote(path.to_string())))
    }
}

/// `; did you mean `x`?` when one of `names` is within two edits of
/// `asked` (and shorter in edits than itself, so `a` suggests nothing), the
/// closest first; else nothing. Names are short, and a long `asked` is
/// never close to one, so the work is bounded.
fn suggestion<'a>(asked: &str, names: impl Iterator<Item = &'a str>) -> String {
    const MAX_EDITS: usize = 2;
    let asked = asked.to_ascii_lowercase();
    names
        .filter(|name| name.len().abs_diff(asked.len()) <= MAX_EDITS)
        .map(|name| (edits(&asked, name), name))
        .filter(|&(edits, name)| edits <= MAX_EDITS && edits < name.len())
        .min()
        .map_or(String::new(), |(_, name)| {
            format!("; did you mean `{name}`?")
        })
}

/// The Levenshtein distance between two short byte strings.
fn edits(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &x) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &y) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(x != y);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_near_miss_gets_a_suggestion_and_a_far_one_none() {
        let names = ["blocks", "transactions", "node"];
        let suggest = |asked: &str| suggestion(asked, names.iter().copied());
        assert_eq!(suggest("block"), "; did you mean `blocks`?");
        assert_eq!(suggest("BLOKS"), "; did you mean `blocks`?");
        assert_eq!(suggest("transactons"), "; did you mean `transactions`?");
        assert_eq!(suggest("nod"), "; did you mean `node`?");
        assert_eq!(suggest("contracts"), "");
        assert_eq!(suggest("x"), "");
        assert_eq!(suggest(&"b".repeat(200)), "");
    }

    #[test]
    fn edits_counts_insertions_deletions_and_substitutions() {
        assert_eq!(edits("", ""), 0);
        assert_eq!(edits("abc", "abc"), 0);
        assert_eq!(edits("abc", "abd"), 1);
        assert_eq!(edits("abc", "ab"), 1);
        assert_eq!(edits("ab", "abc"), 1);
        assert_eq!(edits("kitten", "sitting"), 3);
    }
}
