//! A RUES relay (docs/relay.md, docs/protocol.md §12): a node that serves
//! RUES to its own clients, exactly as a node does, in front of one
//! upstream RUES node (rusk, or another rues), through one upstream
//! session.
//!
//! - **Paths.** [`Relay::registry`] keeps the shape of a registry (its
//!   components, entity rules and canonical forms) and opens every
//!   component's topics, so that the upstream decides what exists: a
//!   subscribe the upstream refuses (404, 400, 429, ...) is answered with
//!   the upstream's status and message.
//! - **Subscriptions.** The relay joins its endpoint with a
//!   `rues_warp::Backplane` of its own. The core tells it the first
//!   downstream subscription to an exact path and the last one gone; per
//!   stream (component, topic) the relay holds upstream the wildcard path
//!   when some session wants it, else each entity path wanted, so that
//!   each upstream event arrives once. A downstream subscribe is answered
//!   only once the upstream answered its own (`Backplane::admit`); sessions
//!   that subscribe to the same path meanwhile wait for the same answer.
//! - **Events.** Each upstream event is delivered to the downstream
//!   sessions it matches through the relay's core (`ClusterPort::deliver`):
//!   encoded once, its payload's bytes shared, never copied. A frame
//!   without `Content-Type` (rusk sends none) gets the type rusk's payloads
//!   have ([`content_type_for`]).
//! - **Dispatch.** Every component's fallback handler sends the request
//!   upstream with its body and its `Content-Type`, `Accept`,
//!   `Rusk-Version`, `Rusk-Feeder` and `X-*` headers; a streamed reply is
//!   passed on as its chunks come.
//! - **Upstream loss.** The upstream session reconnects with backoff and
//!   jitter and renews every path; the relay then tells the downstream
//!   sessions of each stream it holds about the gap, answers `/health`
//!   with 503 while the upstream is down, and counts all of it in its
//!   metrics.

mod dispatch;
mod interest;
mod metrics;
mod upstream;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rues_core::http::StatusCode;
use rues_core::rues_target::EventPath;
use rues_core::{Change, Destination, Event, Registry};
use rues_warp::{Backplane, BoxFuture, ClusterPort, Endpoint, Forwarded, ForwardedRequest};
use tokio::sync::{mpsc, watch};

pub use dispatch::content_type_for;
use interest::Streams;
use metrics::Counters;

/// How a relay reaches its upstream.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RelayConfig {
    /// The upstream node: `http://` or `https://` (or `ws://`, `wss://`),
    /// with any base path and an optional trailing `/on`.
    pub upstream: String,
    /// PEM certificates to trust for an `https` upstream, besides the
    /// usual roots (e.g. the upstream's own self-signed certificate).
    pub upstream_ca: Option<Vec<u8>>,
    /// When the upstream session drops: the delay before each new attempt
    /// (doubling, with jitter).
    pub reconnect: rues_client::ReconnectPolicy,
    /// Upstream events waiting to be fanned out; past it the relay lags,
    /// and tells the downstream sessions about the gap.
    pub feed_buffer: usize,
    /// The longest a downstream subscribe waits for the upstream's answer
    /// to its own (then 504).
    pub admit_timeout: Duration,
    /// The longest a dispatch waits for the head of the upstream's answer
    /// (then 504).
    pub request_timeout: Duration,
    /// The largest whole (not streamed) upstream answer the relay reads
    /// (then 502); a streamed one is passed on chunk by chunk.
    pub max_whole_answer: usize,
    /// The relay's counters: shared by the clones of a configuration, so
    /// that the handlers of [`Relay::registry`] and the relay
    /// [`Relay::start`] makes count in the same place.
    counters: Arc<Counters>,
}

impl RelayConfig {
    /// Defaults for `upstream`: reconnects from 250 ms doubling up to 5 s,
    /// forever; 4 096 events buffered; 10 s for a subscribe's answer, 60 s
    /// for a dispatch's; whole answers up to 64 MiB.
    pub fn new(upstream: impl Into<String>) -> Self {
        Self {
            upstream: upstream.into(),
            upstream_ca: None,
            reconnect: rues_client::ReconnectPolicy::default()
                .initial_delay(Duration::from_millis(250))
                .max_delay(Duration::from_secs(5))
                .max_attempts(None),
            feed_buffer: 4096,
            admit_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_whole_answer: 64 * 1024 * 1024,
            counters: Arc::new(Counters::default()),
        }
    }

    /// Trusts these PEM certificates for an `https` upstream.
    pub fn with_upstream_ca(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.upstream_ca = Some(pem.into());
        self
    }

    /// Sets the reconnect policy of the upstream session.
    pub fn with_reconnect(mut self, policy: rues_client::ReconnectPolicy) -> Self {
        self.reconnect = policy;
        self
    }

    /// A dispatcher to the upstream (no session).
    fn dispatcher(&self) -> Result<rues_client::Dispatcher, RelayError> {
        self.client()
            .dispatcher()
            .map_err(|source| RelayError::Config {
                url: self.upstream.clone(),
                source,
            })
    }

    /// The upstream client's settings: no `Rusk-Version` of its own (a
    /// dispatch carries the downstream caller's), reconnecting.
    fn client(&self) -> rues_client::ClientBuilder {
        let mut builder = rues_client::Client::builder(self.upstream.clone())
            .no_rusk_version()
            .reconnect_policy(self.reconnect.clone())
            .request_timeout(Some(self.request_timeout));
        if let Some(pem) = &self.upstream_ca {
            builder = builder.add_root_certificates_pem(pem.clone());
        }
        builder
    }
}

/// Why a relay could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// The upstream settings are unusable (URL, certificates).
    #[error("invalid upstream {url}")]
    Config {
        /// The configured upstream.
        url: String,
        /// What the client said.
        source: rues_client::Error,
    },
    /// The upstream did not answer within the time allowed.
    #[error("the upstream {url} did not answer within {waited:?}")]
    Unreachable {
        /// The configured upstream.
        url: String,
        /// How long the relay tried.
        waited: Duration,
        /// The last failure.
        source: rues_client::Error,
    },
    /// The upstream answered without a usable `Rusk-Version`.
    #[error("the upstream {url} sends no usable Rusk-Version ({found}): give --node-version")]
    NoVersion {
        /// The configured upstream.
        url: String,
        /// What it sent, if anything.
        found: String,
    },
    /// The endpoint already has a backplane (a cluster, another relay).
    #[error("the endpoint already has a backplane")]
    AlreadyJoined,
}

/// What came of the upstream's answer to a path's subscribe.
#[derive(Debug, Clone)]
enum Admission {
    /// Asked, not answered yet.
    Pending,
    /// Held upstream (or covered by the stream's wildcard).
    Active,
    /// Refused: the answer every downstream subscribe to it gets.
    Refused(Arc<Refusal>),
}

/// An upstream refusal, as the downstream answer carries it.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    message: String,
}

impl Refusal {
    fn response(&self) -> rues_core::Response {
        let body = serde_json::json!({ "error": self.message }).to_string();
        let mut response = rues_core::Response::new(body.into());
        *response.status_mut() = self.status;
        response.headers_mut().insert(
            rues_core::http::header::CONTENT_TYPE,
            rues_core::http::HeaderValue::from_static("application/json"),
        );
        response
    }
}

/// What the relay's tasks share, behind one lock never held across an
/// `.await`.
#[derive(Default)]
struct State {
    streams: Streams,
    /// Each path a downstream session wants, and what the upstream said.
    admissions: HashMap<EventPath, watch::Sender<Admission>>,
    /// Every path wanted, and by whom: this relay's own sessions, other
    /// nodes of its cluster, or both.
    wanted: HashMap<EventPath, Wanters>,
}

/// Who wants a path.
#[derive(Debug, Default, Clone, Copy)]
struct Wanters {
    /// A session of this relay.
    local: bool,
    /// A session of another node of the cluster.
    cluster: bool,
}

/// Where a change of interest comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Source {
    Local,
    Cluster,
}

impl State {
    /// Records that `source` wants `path` or no longer does; the change the
    /// control task must apply, if any. A path newly wanted by one source
    /// is handed over even when the other wants it already: the control
    /// task then answers the new admission with what the upstream holds.
    fn interest(&mut self, source: Source, change: Change) -> Option<Change> {
        let (path, wanted) = match &change {
            Change::InterestAdded(path) => (path, true),
            Change::InterestDropped(path) => (path, false),
            _ => return None,
        };
        let wanters = self.wanted.entry(path.clone()).or_default();
        match source {
            Source::Local => wanters.local = wanted,
            Source::Cluster => wanters.cluster = wanted,
        }
        if wanted {
            return Some(change);
        }
        if wanters.local || wanters.cluster {
            return None;
        }
        self.wanted.remove(path);
        Some(change)
    }

    /// Every path some session wants, here or in the cluster.
    fn wanted_paths(&self) -> impl Iterator<Item = &EventPath> {
        self.wanted.keys()
    }

    /// Every path some session of another node wants.
    fn cluster_paths(&self) -> impl Iterator<Item = &EventPath> {
        self.wanted
            .iter()
            .filter(|(_, wanters)| wanters.cluster)
            .map(|(path, _)| path)
    }
}

pub(crate) struct Inner {
    config: RelayConfig,
    client: rues_client::Client,
    port: ClusterPort,
    /// The cluster's backplane, for a relay that feeds a whole cluster:
    /// it gets every change and every relayed event, and carries requests
    /// for other nodes.
    beside: Option<Arc<dyn Backplane>>,
    state: Mutex<State>,
    counters: Arc<Counters>,
    /// Work for the control task (changes from the core, reconnects).
    work: mpsc::UnboundedSender<upstream::Work>,
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands interest from `source` to the control task.
    fn interest(&self, source: Source, changes: Vec<Change>) {
        let changes: Vec<Change> = {
            let mut state = self.state();
            changes
                .into_iter()
                .filter_map(|change| state.interest(source, change))
                .collect()
        };
        if !changes.is_empty() {
            // The control task lives as long as the relay: a send fails
            // only once it was stopped.
            let _ = self.work.send(upstream::Work::Changes(changes));
        }
    }

    /// An event the relay delivered here, for the rest of the cluster.
    fn to_cluster(&self, event: &Event) {
        if let Some(beside) = &self.beside {
            beside.published(event);
        }
    }

    /// Whether the cluster takes `event` to number it in its shared
    /// history (then it reaches this node's sessions when it comes back
    /// numbered, as on every node, and is not delivered here now).
    fn taken_by_cluster(&self, event: &Event) -> bool {
        self.beside
            .as_ref()
            .is_some_and(|beside| beside.take(event))
    }
}

/// A relay: the backplane of one [`Endpoint`], holding one upstream
/// session. Cheap to clone.
#[derive(Clone)]
pub struct Relay {
    inner: Arc<Inner>,
    tasks: Arc<Vec<tokio::task::AbortHandle>>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("upstream", &self.inner.config.upstream)
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// The registry a relay serves: `shape`'s components, with their
    /// entity rules and canonical forms, every topic open (the upstream
    /// decides which exist) and every dispatch forwarded upstream (the
    /// shape's own handlers are dropped).
    pub fn registry(shape: &Registry, config: &RelayConfig) -> Result<Registry, RelayError> {
        let dispatcher = config.dispatcher()?;
        let forward =
            dispatch::Forwarder::new(dispatcher, config.max_whole_answer, config.counters.clone());
        Ok(shape
            .without_handlers()
            .components()
            .fold(Registry::new(), |registry, spec| {
                registry.with(spec.clone().open_topics().fallback_handler(forward.clone()))
            }))
    }

    /// The upstream's node version, from the `Rusk-Version` of its answer
    /// to a `POST /on/node/info` (any status will do), asked again with
    /// backoff until it answers or `wait` has passed.
    pub async fn upstream_version(
        config: &RelayConfig,
        wait: Duration,
    ) -> Result<rues_core::semver::Version, RelayError> {
        upstream::version(config, wait).await
    }

    /// Opens the upstream session (trying for at most `wait`) and joins
    /// `endpoint` with the relay's backplane: from now on downstream
    /// subscriptions are held upstream and upstream events fanned out.
    pub async fn start(
        endpoint: &Endpoint,
        config: RelayConfig,
        wait: Duration,
    ) -> Result<Relay, RelayError> {
        Self::start_with(endpoint, config, wait, None).await
    }

    /// [`start`](Self::start), for a relay that feeds a whole cluster
    /// (docs/relay.md, "In a cluster"): `cluster` is the endpoint's cluster
    /// backplane, connected but not joined (`rues_cluster::Cluster::connect`),
    /// which the relay's backplane wraps (every change, request and health
    /// line goes to it too, and every relayed event and gap notice is
    /// published into the cluster); `demand` is the cluster's demand
    /// (`rues_cluster::Cluster::demand`): the paths other nodes' sessions
    /// want, which the relay holds upstream as it does its own.
    pub async fn start_in_cluster<D>(
        endpoint: &Endpoint,
        config: RelayConfig,
        wait: Duration,
        cluster: Arc<dyn Backplane>,
        demand: D,
    ) -> Result<Relay, RelayError>
    where
        D: futures_util::Stream<Item = Change> + Send + Unpin + 'static,
    {
        Self::start_with(endpoint, config, wait, Some((cluster, Box::new(demand)))).await
    }

    async fn start_with(
        endpoint: &Endpoint,
        config: RelayConfig,
        wait: Duration,
        cluster: Option<(Arc<dyn Backplane>, Box<dyn Demand>)>,
    ) -> Result<Relay, RelayError> {
        let client = upstream::connect(&config, wait).await?;
        let (control, feed) = client.feed(config.feed_buffer.max(1));
        let (work, work_rx) = mpsc::unbounded_channel();
        let (beside, demand) = cluster.map_or((None, None), |(b, d)| (Some(b), Some(d)));
        let inner = Arc::new(Inner {
            counters: config.counters.clone(),
            config,
            client,
            port: endpoint.cluster_port(),
            beside,
            state: Mutex::new(State::default()),
            work,
        });
        let mut tasks = vec![
            tokio::spawn(upstream::control(inner.clone(), control, work_rx)).abort_handle(),
            tokio::spawn(upstream::events(inner.clone(), feed)).abort_handle(),
            tokio::spawn(upstream::watch_session(inner.clone())).abort_handle(),
        ];
        if let Some(demand) = demand {
            tasks.push(tokio::spawn(follow_demand(inner.clone(), demand)).abort_handle());
        }
        let relay = Relay {
            inner,
            tasks: Arc::new(tasks),
        };
        if !endpoint.join_cluster(Arc::new(relay.clone())) {
            relay.stop().await;
            return Err(RelayError::AlreadyJoined);
        }
        Ok(relay)
    }

    /// Whether the upstream session is open now.
    pub fn is_connected(&self) -> bool {
        self.inner.client.is_connected()
    }

    /// Closes the upstream session and stops the relay's tasks. For a
    /// relay that is shutting down (its downstream sessions are closed by
    /// the server's own shutdown).
    pub async fn stop(&self) {
        for task in self.tasks.iter() {
            task.abort();
        }
        self.inner.client.close().await;
    }
}

/// The cluster's demand, as `start_in_cluster` takes it.
trait Demand: futures_util::Stream<Item = Change> + Send + Unpin {}

impl<D: futures_util::Stream<Item = Change> + Send + Unpin> Demand for D {}

/// How long after its start a relay in a cluster tells the cluster's
/// sessions that events before it may be lost: time for the first census
/// of the cluster's demand to come back.
const STARTED_NOTICE_AFTER: Duration = Duration::from_secs(1);

/// Holds upstream what the cluster's other nodes want, as long as they do.
/// Once the first census is in, tells every stream the cluster wants that
/// events before the relay may be lost: the cluster's sessions may have
/// been waiting for a relay (none ran yet, or the last one went away),
/// and nothing else would tell them.
async fn follow_demand(inner: Arc<Inner>, mut demand: Box<dyn Demand>) {
    use futures_util::StreamExt;
    let started_notice = tokio::time::sleep(STARTED_NOTICE_AFTER);
    tokio::pin!(started_notice);
    let mut told = false;
    loop {
        tokio::select! {
            change = demand.next() => match change {
                Some(change) => inner.interest(Source::Cluster, vec![change]),
                None => return,
            },
            () = &mut started_notice, if !told => {
                told = true;
                let streams = upstream::cluster_streams(&inner);
                for stream in &streams {
                    let notice = upstream::gap_event(
                        stream,
                        "a relay started feeding this cluster: events of this stream before it may be lost",
                    );
                    // For the other nodes: numbered by the cluster's shared
                    // history when it has one (then this node's sessions
                    // get it too, as on every node), else sent as is.
                    if !inner.taken_by_cluster(&notice) {
                        inner.to_cluster(&notice);
                    }
                }
            }
        }
    }
}

impl Backplane for Relay {
    fn changes(&self, changes: Vec<Change>) {
        if let Some(beside) = &self.inner.beside {
            beside.changes(changes.clone());
        }
        {
            let mut state = self.inner.state();
            for change in &changes {
                match change {
                    Change::InterestAdded(path) => {
                        state
                            .admissions
                            .entry(path.clone())
                            .or_insert_with(|| watch::channel(Admission::Pending).0);
                    }
                    Change::InterestDropped(path) => {
                        state.admissions.remove(path);
                    }
                    // Sessions are the relay's own (or its cluster's):
                    // nothing upstream.
                    _ => {}
                }
            }
        }
        self.inner.interest(Source::Local, changes);
    }

    fn take(&self, event: &Event) -> bool {
        self.inner.taken_by_cluster(event)
    }

    fn prepare_resume(
        &self,
        path: &EventPath,
        from: rues_core::Position,
    ) -> BoxFuture<rues_warp::ResumeGuard> {
        match &self.inner.beside {
            Some(beside) => beside.prepare_resume(path, from),
            None => Box::pin(async { rues_warp::ResumeGuard::none() }),
        }
    }

    fn published(&self, event: &Event) {
        // A relay publishes nothing of its own (its events are the
        // upstream's, delivered through the port); an application that
        // embeds one may, and its cluster gets it.
        self.inner.to_cluster(event);
    }

    fn settled(&self) -> BoxFuture<()> {
        // Beyond each path's admission, only the cluster's.
        match &self.inner.beside {
            Some(beside) => beside.settled(),
            None => Box::pin(async {}),
        }
    }

    fn sessions_settled(&self) -> BoxFuture<()> {
        match &self.inner.beside {
            Some(beside) => beside.sessions_settled(),
            None => Box::pin(async {}),
        }
    }

    fn admit(&self, path: &EventPath) -> BoxFuture<Result<(), rues_core::Response>> {
        let admission = self
            .inner
            .state()
            .admissions
            .get(path)
            .map(watch::Sender::subscribe);
        let timeout = self.inner.config.admit_timeout;
        let cluster = self.inner.beside.as_ref().map(|beside| beside.settled());
        Box::pin(async move {
            if let Some(settled) = cluster {
                settled.await;
            }
            // No entry: no session wants the path any more (the one asking
            // went away meanwhile); nothing to wait for.
            let Some(mut admission) = admission else {
                return Ok(());
            };
            let answered = admission.wait_for(|a| !matches!(a, Admission::Pending));
            match tokio::time::timeout(timeout, answered).await {
                Ok(Ok(answer)) => match &*answer {
                    Admission::Refused(refusal) => Err(refusal.response()),
                    _ => Ok(()),
                },
                // Dropped while pending: nobody wants it any more.
                Ok(Err(_)) => Ok(()),
                Err(_) => Err(Refusal {
                    status: StatusCode::GATEWAY_TIMEOUT,
                    message: format!(
                        "the upstream did not answer this subscribe within {} ms",
                        timeout.as_millis()
                    ),
                }
                .response()),
            }
        })
    }

    fn forward(&self, to: Destination, request: ForwardedRequest) -> BoxFuture<Forwarded> {
        match &self.inner.beside {
            // A session another node of the cluster owns.
            Some(beside) => beside.forward(to, request),
            // Every session is this relay's own and every dispatch has a
            // handler: a request for another owner names an unknown
            // session (the core's 424).
            None => Box::pin(async { Forwarded::Nobody }),
        }
    }

    fn health(&self) -> Result<String, String> {
        let url = &self.inner.config.upstream;
        let upstream = if self.inner.client.is_connected() {
            let held = self.inner.state().streams.upstream_count();
            Ok(format!(
                "upstream session open at {url}, {held} upstream subscriptions"
            ))
        } else {
            Err(format!(
                "no upstream session at {url}: reconnecting; events are not relayed meanwhile"
            ))
        };
        // One line for both: the relay serves well only with both.
        match (upstream, self.inner.beside.as_ref().map(|b| b.health())) {
            (upstream, None) => upstream,
            (Ok(upstream), Some(Ok(cluster))) => Ok(format!("{upstream}; cluster: {cluster}")),
            (Err(upstream), Some(Ok(_))) => Err(upstream),
            (Ok(_), Some(Err(cluster))) => Err(format!("cluster: {cluster}")),
            (Err(upstream), Some(Err(cluster))) => Err(format!("{upstream}; cluster: {cluster}")),
        }
    }

    fn health_name(&self) -> &'static str {
        "upstream"
    }

    fn metrics(&self) -> String {
        let held = self.inner.state().streams.upstream_count();
        let mut text = self
            .inner
            .counters
            .render(self.inner.client.is_connected(), held);
        if let Some(beside) = &self.inner.beside {
            text.push_str(&beside.metrics());
        }
        text
    }
}
