//! Cluster mode (docs/cluster.md, docs/protocol.md §11): rues nodes joined
//! through NATS, so that a client may reach any node for any request
//! behind a plain round-robin load balancer and see one node's behaviour.
//!
//! rues never implements a broker: NATS, deployed and clustered by the
//! operator, carries three kinds of traffic (the subjects are in
//! [`subject`]):
//! - **Events.** Each node publishes what it publishes locally on the
//!   event's subject, and reads a stream (component, topic) only while a
//!   local session wants some of it. JetStream numbers every event (one
//!   JetStream stream per RUES stream, [`history`]), so each event has the
//!   same `Rues-Seq` on every node and a client resumes at any node; a
//!   node's own events reach its sessions the same way. The node's core
//!   delivers each received event to the sessions it matches (entity rule
//!   applied), encoded once, as a local publish. Without JetStream, a node
//!   delivers its own events first and numbers streams itself; the client
//!   is made with `no_echo`, so it never receives its own events back.
//! - **Requests for a session owned elsewhere.** The owner answers on the
//!   session's subject; nobody subscribed is NATS's "no responders", at
//!   once, and the caller gets the core's 424.
//! - **Dispatches without a local handler.** Nodes that run the handler
//!   answer in the queue group `rues` on the topic's service subject, so
//!   NATS balances them. A separate process that speaks only NATS is a
//!   node with an endpoint and no listener (`examples/prover.rs`).
//!
//! An answer travels as a head message (status, headers, first chunk of
//! body) and, when it is larger or streamed, further chunks the requester
//! pulls one at a time, so a slow client slows only its own answer and
//! nothing is buffered beyond one chunk per side ([`wire`]).
//!
//! The core decides everything else (docs/protocol.md §5 statuses, the
//! entity rule, access rules): this crate moves requests and events, and
//! [`Cluster`] is the `rues_warp::Backplane` that does it.

pub mod demand;
mod forward;
pub mod history;
mod interest;
mod metrics;
pub mod subject;
pub mod wire;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rues_core::rues_target::EventPath;
use rues_core::{Change, Destination, Event, Position};
use rues_warp::{
    Backplane, BoxFuture, ClusterPort, Endpoint, Forwarded, ForwardedRequest, ResumeGuard,
};
use tokio::sync::{mpsc, watch};

pub use history::SharedHistory;
use interest::Control;
use metrics::Counters;

/// How a node joins the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterConfig {
    /// The NATS server(s), e.g. `nats://127.0.0.1:4222` (comma-separated
    /// for several).
    pub url: String,
    /// The name the node's NATS connection carries (seen in NATS's
    /// monitoring).
    pub name: String,
    /// The longest a subscribe answer or a new session's id waits for the
    /// broker to confirm the node's interest (then it is sent anyway).
    pub settle_timeout: Duration,
    /// The longest a forwarded request waits for the head of its answer
    /// (a dispatch to a slow handler waits that long): then 504.
    pub request_timeout: Duration,
    /// The longest either side of a chunked answer waits for the other
    /// (the next pull, the next chunk): then the answer is cut short.
    pub pull_timeout: Duration,
    /// The largest body chunk in one message (also bounded by the
    /// server's `max_payload`).
    pub chunk_bytes: usize,
    /// Events waiting to go out to NATS; past it, events are not sent to
    /// the cluster (counted in `rues_cluster_events_dropped_total`) and
    /// local delivery goes on.
    pub event_queue: usize,
    /// Forwarded requests this node answers at once; past it, 503.
    pub max_answering: usize,
    /// The largest whole answer this node gathers from the cluster (a
    /// streamed one is passed on chunk by chunk and never gathered); past
    /// it, 502.
    pub max_whole_answer: usize,
    /// How often a watcher of the cluster's demand ([`Cluster::demand`])
    /// takes a census; a node that missed [`demand::CENSUS_MISSES`] in a
    /// row is forgotten.
    pub census_interval: Duration,
    /// The resume history shared by the nodes through JetStream, with its
    /// bounds ([`history`]); `None`: each node numbers its streams itself,
    /// and a resume at another node is a `reset`.
    pub shared_history: Option<SharedHistory>,
}

impl ClusterConfig {
    /// Defaults for `url`: 2 s to settle, 60 s for an answer's head, 30 s
    /// between chunks, 256 KiB chunks, 16 384 queued events, 1 024 requests
    /// answered at once, whole answers of at most 64 MiB, a demand census
    /// every 5 s, a shared history of 1 000 events or 8 MiB per stream.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            name: "rues".to_owned(),
            settle_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(60),
            pull_timeout: Duration::from_secs(30),
            chunk_bytes: 256 * 1024,
            event_queue: 16 * 1024,
            max_answering: 1024,
            max_whole_answer: 64 * 1024 * 1024,
            census_interval: demand::CENSUS_INTERVAL,
            shared_history: Some(SharedHistory::default()),
        }
    }

    /// Sets the shared resume history (`None` for none).
    pub fn with_shared_history(mut self, shared: Option<SharedHistory>) -> Self {
        self.shared_history = shared;
        self
    }

    /// Names the node's NATS connection.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the largest whole answer the node gathers from the cluster.
    pub fn with_max_whole_answer(mut self, bytes: usize) -> Self {
        self.max_whole_answer = bytes;
        self
    }

    /// Sets how often a watcher of the cluster's demand takes a census.
    pub fn with_census_interval(mut self, interval: Duration) -> Self {
        self.census_interval = interval;
        self
    }

    /// Sets how long a forwarded request waits for its answer's head.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }
}

/// Why a node could not join.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JoinError {
    /// The NATS options or address are unusable (an unreachable server is
    /// not an error: the node serves alone and keeps trying).
    #[error("cannot connect to NATS at {url}: {source}")]
    Connect {
        /// The configured address.
        url: String,
        /// What the client said.
        source: async_nats::ConnectError,
    },
    /// The endpoint is in a cluster already.
    #[error("the endpoint already joined a cluster")]
    AlreadyJoined,
}

/// A node's membership of the cluster: the backplane of one
/// [`Endpoint`]. Cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("url", &self.inner.config.url)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) client: async_nats::Client,
    pub(crate) config: ClusterConfig,
    pub(crate) port: ClusterPort,
    pub(crate) counters: Counters,
    /// Work for the control task: the core's interest changes, numbered,
    /// and pins.
    changes: mpsc::UnboundedSender<Control>,
    /// The core's session changes, numbered as the interest changes are.
    owners: mpsc::UnboundedSender<(u64, Vec<Change>)>,
    /// The number of the last batch of session changes in effect.
    owners_confirmed: watch::Receiver<u64>,
    /// JetStream, for the shared history.
    pub(crate) jetstream: async_nats::jetstream::Context,
    /// The number of the newest connection to NATS, changed on each.
    pub(crate) reconnected: watch::Receiver<u64>,
    /// What is known of the shared streams.
    pub(crate) streams: std::sync::Mutex<history::Streams>,
    /// Resumes reading the shared history back at once, bounded.
    backfills: Arc<tokio::sync::Semaphore>,
    /// The number of the last change batch handed over.
    requested: AtomicU64,
    /// The number of the last change batch in effect at the broker.
    confirmed: watch::Receiver<u64>,
    /// Events for the publisher task.
    events: mpsc::Sender<interest::Outgoing>,
    /// Forwarded requests being answered here, bounded.
    pub(crate) answering: Arc<tokio::sync::Semaphore>,
    /// This node's name in demand messages: unique per connection.
    pub(crate) node_id: String,
    /// The paths this node's sessions want, for census answers.
    pub(crate) wanted: std::sync::Mutex<demand::Wanted>,
}

impl Cluster {
    /// Connects to NATS and joins `endpoint` to the cluster: from now on
    /// its sessions and interest are declared, its events published, and
    /// the handlers of its registry served to the other nodes. If NATS
    /// cannot be reached yet, the node serves alone and keeps trying
    /// (reconnects back off up to 2 s, with jitter).
    pub async fn join(endpoint: &Endpoint, config: ClusterConfig) -> Result<Self, JoinError> {
        let cluster = Self::connect(endpoint, config).await?;
        if !endpoint.join_cluster(Arc::new(cluster.clone())) {
            return Err(JoinError::AlreadyJoined);
        }
        Ok(cluster)
    }

    /// [`join`](Self::join) without the last step: connected and serving
    /// `endpoint`'s registry to the cluster, but not yet the endpoint's
    /// backplane. For a backplane that wraps this one (a relay's, which
    /// also fetches events from an upstream node) and joins the endpoint
    /// itself with [`Endpoint::join_cluster`], handing every call on to
    /// this one.
    pub async fn connect(endpoint: &Endpoint, config: ClusterConfig) -> Result<Self, JoinError> {
        let connections = Arc::new(AtomicU64::new(0));
        // Told of each new connection: what the server kept in memory may
        // be gone (the shared history's consumers are made anew).
        let (reconnected_tx, reconnected) = watch::channel(0u64);
        let reconnected_tx = Arc::new(reconnected_tx);
        let options = {
            let connections = connections.clone();
            async_nats::ConnectOptions::new()
                .name(&config.name)
                .no_echo()
                .retry_on_initial_connect()
                .max_reconnects(None)
                .connection_timeout(Duration::from_secs(2))
                .request_timeout(Some(config.request_timeout))
                .reconnect_delay_callback(reconnect_delay)
                .event_callback(move |event| {
                    let connections = connections.clone();
                    let reconnected = reconnected_tx.clone();
                    async move {
                        match event {
                            async_nats::Event::Connected => {
                                let number = connections.fetch_add(1, Ordering::Relaxed) + 1;
                                reconnected.send_replace(number);
                                tracing::info!("cluster backplane connected");
                            }
                            async_nats::Event::Disconnected => tracing::warn!(
                                "cluster backplane disconnected: serving local sessions only"
                            ),
                            other => tracing::debug!(event = %other, "cluster backplane event"),
                        }
                    }
                })
        };
        let client = options
            .connect(config.url.as_str())
            .await
            .map_err(|source| JoinError::Connect {
                url: config.url.clone(),
                source,
            })?;
        // Start serving with the cluster when it is there (a node that
        // cannot reach it yet still starts, and joins when it can).
        let connected = async {
            while client.connection_state() != async_nats::connection::State::Connected {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        let _ = tokio::time::timeout(config.settle_timeout, connected).await;
        let (changes, changes_rx) = mpsc::unbounded_channel();
        let (confirmed_tx, confirmed) = watch::channel(0);
        let (owners, owners_rx) = mpsc::unbounded_channel();
        let (owners_confirmed_tx, owners_confirmed) = watch::channel(0);
        let (events, events_rx) = mpsc::channel(config.event_queue.max(1));
        // A NATS unique id (the inbox's last token) names the node in
        // demand messages.
        let node_id = client
            .new_inbox()
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_owned();
        let inner = Arc::new(Inner {
            jetstream: async_nats::jetstream::new(client.clone()),
            reconnected,
            streams: std::sync::Mutex::default(),
            backfills: Arc::new(tokio::sync::Semaphore::new(history::MAX_BACKFILLS)),
            node_id,
            wanted: std::sync::Mutex::default(),
            client,
            answering: Arc::new(tokio::sync::Semaphore::new(config.max_answering.max(1))),
            config,
            port: endpoint.cluster_port(),
            counters: Counters::new(connections),
            changes,
            requested: AtomicU64::new(0),
            owners,
            owners_confirmed,
            confirmed,
            events,
        });
        tokio::spawn(interest::control(inner.clone(), changes_rx, confirmed_tx));
        tokio::spawn(interest::owners(
            inner.clone(),
            owners_rx,
            owners_confirmed_tx,
        ));
        tokio::spawn(interest::publish(inner.clone(), events_rx));
        tokio::spawn(demand::answer_censuses(inner.clone()));
        forward::serve_registry(&inner).await;
        Ok(Self { inner })
    }

    /// Watches the cluster's demand: every event path some other node's
    /// sessions want, as [`Change::InterestAdded`] and
    /// [`Change::InterestDropped`] (see [`demand`]).
    ///
    /// # Errors
    ///
    /// When NATS refuses the subscriptions it needs.
    pub async fn demand(&self) -> Result<demand::Demand, async_nats::SubscribeError> {
        demand::watch(self.inner.clone()).await
    }

    /// Leaves the cluster: the forwarded requests being answered here
    /// finish (for at most 5 s), then every subscription the node holds in
    /// NATS is drained and the connection closes. The node then serves as one whose backplane is
    /// down. For a node that is shutting down.
    pub async fn leave(&self) {
        // Answers under way finish first (bounded): a requester whose
        // answer was cut off here would wait out its whole timeout.
        let all = u32::try_from(self.inner.config.max_answering.max(1)).unwrap_or(u32::MAX);
        let finished = self.inner.answering.acquire_many(all);
        let _ = tokio::time::timeout(Duration::from_secs(5), finished).await;
        if let Err(error) = self.inner.client.drain().await {
            tracing::debug!(%error, "the cluster connection was already closed");
        }
        // `drain` only starts it (its unsubscribes are queued): a flush
        // after them returns once the server has them, so no request is
        // routed here any more when `leave` returns.
        let _ = tokio::time::timeout(Duration::from_secs(5), self.inner.client.flush()).await;
    }

    /// Whether the node is connected to NATS now.
    pub fn is_connected(&self) -> bool {
        self.inner.is_up()
    }
}

impl Inner {
    /// Waits (at most `settle_timeout`, not at all while NATS is down)
    /// until each of `confirmed` has every change batch handed over so far
    /// in effect.
    async fn settle(&self, confirmed: &[watch::Receiver<u64>]) {
        if !self.is_up() {
            return;
        }
        let target = self.requested.load(Ordering::Acquire);
        let all = async {
            for confirmed in confirmed {
                let mut confirmed = confirmed.clone();
                let _ = confirmed.wait_for(|&done| done >= target).await;
            }
        };
        if tokio::time::timeout(self.config.settle_timeout, all)
            .await
            .is_err()
        {
            tracing::warn!(
                "the cluster did not confirm the node's interest in time; answering anyway"
            );
        }
    }

    pub(crate) fn is_up(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }
}

/// Keeps a stream received for a resume until the subscribe is answered.
struct ResumePin {
    inner: Arc<Inner>,
    path: EventPath,
}

impl Drop for ResumePin {
    fn drop(&mut self) {
        let _ = self.inner.changes.send(Control::Unpin(self.path.clone()));
    }
}

/// Reconnect backoff: 50 ms doubling up to 2 s, with up to 25 % jitter, so
/// nodes that lost the broker together do not return in lockstep.
fn reconnect_delay(attempts: usize) -> Duration {
    let exponent = u32::try_from(attempts.min(6)).unwrap_or(6);
    let base = Duration::from_millis(50 * 2u64.pow(exponent)).min(Duration::from_secs(2));
    let jitter = u64::from(std::process::id() ^ u32::try_from(attempts % 1024).unwrap_or(0))
        % (base.as_millis() as u64 / 4 + 1);
    base + Duration::from_millis(jitter)
}

impl Backplane for Cluster {
    fn changes(&self, changes: Vec<Change>) {
        let inner = &self.inner;
        let number = inner.requested.fetch_add(1, Ordering::AcqRel) + 1;
        // The control task lives as long as the cluster: a send fails only
        // while the runtime shuts down.
        let (sessions, interest): (Vec<Change>, Vec<Change>) =
            changes.into_iter().partition(|change| {
                matches!(change, Change::SessionOpened(_) | Change::SessionClosed(_))
            });
        let _ = inner.owners.send((number, sessions));
        let _ = inner.changes.send(Control::Changes(number, interest));
    }

    fn published(&self, event: &Event) {
        // With a shared history, an event not taken (NATS down, or the
        // queue full) is this node's alone: sent later, it would come back
        // to its sessions a second time, numbered.
        if self.inner.shares_history() {
            self.inner.counters.event_dropped();
            return;
        }
        let outgoing = interest::Outgoing {
            event: event.clone(),
            taken: false,
        };
        match self.inner.events.try_send(outgoing) {
            Ok(()) => {}
            Err(_) => self.inner.counters.event_dropped(),
        }
    }

    fn take(&self, event: &Event) -> bool {
        self.inner.shares_history()
            && self.inner.is_up()
            && self
                .inner
                .events
                .try_send(interest::Outgoing {
                    event: event.clone(),
                    taken: true,
                })
                .is_ok()
    }

    fn prepare_resume(&self, path: &EventPath, from: Position) -> BoxFuture<ResumeGuard> {
        let inner = self.inner.clone();
        let path = path.clone();
        Box::pin(async move {
            if !inner.shares_history() || !inner.is_up() {
                return ResumeGuard::none();
            }
            // Bounded: past it, the resume is answered from what this
            // node has (a `gap` or `reset` where that is not enough).
            let Ok(_reading) = inner.backfills.clone().try_acquire_owned() else {
                inner.counters.backfill(None);
                return ResumeGuard::none();
            };
            let (done, received) = tokio::sync::oneshot::channel();
            if inner
                .changes
                .send(Control::Pin(path.clone(), done))
                .is_err()
            {
                return ResumeGuard::none();
            }
            let pin = ResumePin {
                inner: inner.clone(),
                path: path.clone(),
            };
            let _ = tokio::time::timeout(inner.config.settle_timeout, received).await;
            history::backfill(&inner, &path, from).await;
            ResumeGuard::holding(pin)
        })
    }

    fn settled(&self) -> BoxFuture<()> {
        let inner = self.inner.clone();
        Box::pin(async move {
            let sessions = inner.owners_confirmed.clone();
            let interest = inner.confirmed.clone();
            inner.settle(&[sessions, interest]).await;
        })
    }

    fn sessions_settled(&self) -> BoxFuture<()> {
        let inner = self.inner.clone();
        Box::pin(async move {
            let sessions = inner.owners_confirmed.clone();
            inner.settle(&[sessions]).await;
        })
    }

    fn forward(&self, to: Destination, request: ForwardedRequest) -> BoxFuture<Forwarded> {
        Box::pin(forward::forward(self.inner.clone(), to, request))
    }

    fn health(&self) -> Result<String, String> {
        if self.inner.is_up() {
            let history = if self.inner.shares_history() {
                "resume history shared through JetStream"
            } else {
                "resume history per node"
            };
            Ok(format!(
                "connected to NATS at {}; {history}",
                self.inner.config.url
            ))
        } else {
            Err(format!(
                "not connected to NATS at {}: serving local sessions with local events only",
                self.inner.config.url
            ))
        }
    }

    fn metrics(&self) -> String {
        self.inner
            .counters
            .render(self.inner.is_up(), self.inner.shares_history())
    }
}
