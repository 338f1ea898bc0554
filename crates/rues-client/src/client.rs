//! [`Client`]: a RUES session, its subscriptions and the background task
//! that reads the socket; [`ClientBuilder`] and [`ReconnectPolicy`].

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use rues_target::EventPath;
use rues_wire::{Frame, RUSK_VERSION, RUSK_VERSION_STRICT, SessionId};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_rustls::rustls::ClientConfig;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use crate::http::{DEFAULT_RUSK_VERSION, HttpSettings, status_error};
use crate::endpoint::{EVENT_LIMITS, Endpoint};
use crate::error::short_reason;
use crate::subscription::Queue;
use crate::{
    Body, DispatchRequest, Dispatcher, Error, Event, Gap, IntoEventPath, Reply, Subscription,
};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a Close handshake may take before the socket is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// When and how often to open a new session after the socket drops.
///
/// The delay before attempt *n* is `initial_delay × 2ⁿ⁻¹`, capped at
/// `max_delay`, minus up to a quarter at random so that many clients of a
/// restarted node do not all come back at once.
///
/// ```
/// use std::time::Duration;
/// use rues_client::ReconnectPolicy;
///
/// let policy = ReconnectPolicy::default()
///     .initial_delay(Duration::from_millis(100))
///     .max_delay(Duration::from_secs(5))
///     .max_attempts(Some(20));
/// assert_eq!(policy.max_attempts_value(), Some(20));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconnectPolicy {
    initial_delay: Duration,
    max_delay: Duration,
    max_attempts: Option<u32>,
}

impl Default for ReconnectPolicy {
    /// 250 ms, doubling up to 30 s, forever.
    fn default() -> Self {
        ReconnectPolicy {
            initial_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            max_attempts: None,
        }
    }
}

impl ReconnectPolicy {
    /// The delay before the first attempt.
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// The longest delay between attempts.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// How many attempts in a row before giving up (`None`: never).
    pub fn max_attempts(mut self, attempts: Option<u32>) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// The configured number of attempts, `None` for unlimited.
    pub fn max_attempts_value(&self) -> Option<u32> {
        self.max_attempts
    }

    fn delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(20);
        let full = self
            .initial_delay
            .saturating_mul(1 << exponent)
            .min(self.max_delay);
        // Up to 25 % off, from the std hasher's per-instance random keys.
        let random = RandomState::new().hash_one(attempt);
        let off = full.mul_f64((random % 1000) as f64 / 4000.0);
        full.saturating_sub(off)
    }
}

/// Settings for a [`Client`] (or a [`Dispatcher`]), then
/// [`connect`](ClientBuilder::connect).
///
/// ```no_run
/// use std::time::Duration;
/// use rues_client::{Client, ReconnectPolicy};
///
/// # async fn run() -> Result<(), rues_client::Error> {
/// let client = Client::builder("https://node.example")
///     .rusk_version("^1.6")
///     .reconnect(true)
///     .keep_alive(Some(Duration::from_secs(20)))
///     .connect()
///     .await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
#[must_use = "a builder does nothing until `connect` or `dispatcher`"]
pub struct ClientBuilder {
    url: String,
    rusk_version: Option<String>,
    strict: bool,
    headers: Vec<(String, String)>,
    reconnect: Option<ReconnectPolicy>,
    keep_alive: Option<Duration>,
    connect_timeout: Duration,
    request_timeout: Option<Duration>,
    buffer: usize,
    roots_pem: Vec<Vec<u8>>,
    tls: Option<Arc<ClientConfig>>,
    max_message_size: usize,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("url", &self.url)
            .field("rusk_version", &self.rusk_version)
            .field("strict", &self.strict)
            .field("reconnect", &self.reconnect)
            .field("keep_alive", &self.keep_alive)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("buffer", &self.buffer)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Settings for the node at `url`: `http://`, `https://`, `ws://` or
    /// `wss://`, with any base path (kept) and an optional trailing `/on`.
    ///
    /// Defaults: `Rusk-Version: 1.0.0-rc.0` (what Dusk's clients send), no
    /// reconnect, a keep-alive ping after 30 s of silence, 10 s to connect,
    /// 60 s per HTTP request, 1024 buffered events per subscription,
    /// Mozilla's root certificates, messages up to 64 MiB.
    pub fn new(url: impl Into<String>) -> Self {
        ClientBuilder {
            url: url.into(),
            rusk_version: Some(DEFAULT_RUSK_VERSION.to_owned()),
            strict: false,
            headers: Vec::new(),
            reconnect: None,
            keep_alive: Some(Duration::from_secs(30)),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Some(Duration::from_secs(60)),
            buffer: 1024,
            roots_pem: Vec::new(),
            tls: None,
            max_message_size: 64 << 20,
        }
    }

    /// The `Rusk-Version` requirement sent with every request, e.g. `^1.6`
    /// or a bare version (`1.0.0-rc.0`, which means `^1.0.0-rc.0`). The
    /// node answers 400 when its version does not satisfy it.
    pub fn rusk_version(mut self, requirement: impl Into<String>) -> Self {
        self.rusk_version = Some(requirement.into());
        self
    }

    /// Sends no `Rusk-Version`: the node checks nothing.
    pub fn no_rusk_version(mut self) -> Self {
        self.rusk_version = None;
        self
    }

    /// Sends `Rusk-Version-Strict: true`: the node compares its pre-release
    /// tag too, and requires the version header.
    pub fn strict_version(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// A header sent with every request and the WebSocket upgrade (e.g.
    /// credentials for a proxy in front of the node).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Reconnects with the default [`ReconnectPolicy`] when the session is
    /// lost (not when it is [closed](Client::close)); `false` turns it off.
    ///
    /// After a reconnect every subscription is renewed on the new session
    /// and its stream yields [`Gap::Reconnected`] first: events published
    /// while the client had no session are lost (RUES never replays).
    pub fn reconnect(mut self, reconnect: bool) -> Self {
        self.reconnect = reconnect.then(ReconnectPolicy::default);
        self
    }

    /// Reconnects with this policy.
    pub fn reconnect_policy(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = Some(policy);
        self
    }

    /// After this long without hearing from the node, the client pings it;
    /// after as long again, the session counts as lost (and is reconnected
    /// if enabled). `None` turns client pings off (the node still pings and
    /// the client still answers). The pings also keep proxies from closing
    /// an idle connection.
    pub fn keep_alive(mut self, interval: Option<Duration>) -> Self {
        self.keep_alive = interval;
        self
    }

    /// How long connecting (TCP, TLS, upgrade, session id) may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long an HTTP request (subscribe, unsubscribe, dispatch) may take,
    /// whole body included; `None` for no limit.
    pub fn request_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How many events each subscription buffers before dropping (and
    /// reporting [`Gap::Lagged`]); at least 1.
    pub fn buffer(mut self, events: usize) -> Self {
        self.buffer = events.max(1);
        self
    }

    /// Trusts the certificates in this PEM data as roots, besides Mozilla's
    /// (e.g. a node's self-signed certificate).
    pub fn add_root_certificates_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.roots_pem.push(pem.into());
        self
    }

    /// Uses this rustls configuration for HTTPS and WSS, instead of the
    /// built-in one (ring, Mozilla's roots and
    /// [`add_root_certificates_pem`](ClientBuilder::add_root_certificates_pem)).
    pub fn tls_config(mut self, config: Arc<ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// The largest WebSocket message (one event) accepted; larger ones end
    /// the session.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// A [`Dispatcher`] with these settings: HTTP only, no session.
    pub fn dispatcher(&self) -> Result<Dispatcher, Error> {
        self.prepare().map(|(dispatcher, _)| dispatcher)
    }

    fn prepare(&self) -> Result<(Dispatcher, SessionSettings), Error> {
        let endpoint = Endpoint::parse(&self.url)?;
        let mut extra = HeaderMap::new();
        for (name, value) in &self.headers {
            let invalid = |reason: String| Error::InvalidHeader {
                name: name.clone(),
                reason,
            };
            let header_name =
                HeaderName::from_bytes(name.as_bytes()).map_err(|e| invalid(e.to_string()))?;
            let header_value = HeaderValue::from_str(value).map_err(|e| invalid(e.to_string()))?;
            extra.append(header_name, header_value);
        }
        let mut headers = extra.clone();
        if let Some(requirement) = &self.rusk_version {
            let invalid = |reason: String| Error::InvalidHeader {
                name: "Rusk-Version".into(),
                reason,
            };
            semver::VersionReq::parse(requirement).map_err(|e| {
                invalid(format!("{requirement:?} is not a semver requirement: {e}"))
            })?;
            let value = HeaderValue::from_str(requirement).map_err(|e| invalid(e.to_string()))?;
            headers.insert(RUSK_VERSION, value);
        }
        if self.strict {
            headers.insert(RUSK_VERSION_STRICT, HeaderValue::from_static("true"));
        }
        let tls = match &self.tls {
            Some(config) => config.clone(),
            None => crate::tls::config(&self.roots_pem)?,
        };
        let dispatcher = Dispatcher::build(
            endpoint.clone(),
            HttpSettings {
                headers,
                tls: tls.clone(),
                connect_timeout: self.connect_timeout,
                timeout: self.request_timeout,
            },
        )?;
        let settings = SessionSettings {
            endpoint,
            upgrade_headers: extra,
            connector: Connector::Rustls(tls),
            ws_config: WebSocketConfig::default()
                .max_message_size(Some(self.max_message_size))
                .max_frame_size(Some(self.max_message_size)),
            connect_timeout: self.connect_timeout,
            keep_alive: self.keep_alive,
            reconnect: self.reconnect.clone(),
            buffer: self.buffer,
        };
        Ok((dispatcher, settings))
    }

    /// Opens the session: the WebSocket upgrade at `<base>/on`, then the
    /// session id, the node's first message.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] or [`Error::InvalidHeader`] for bad settings;
    /// [`Error::Connect`] when the node cannot be reached;
    /// [`Error::Status`] when it refuses the upgrade (503 session limit,
    /// 403 origin not allowed); [`Error::Protocol`] when its first message
    /// is not a session id.
    pub async fn connect(self) -> Result<Client, Error> {
        let (dispatcher, settings) = self.prepare()?;
        let (ws, session) = open_session(&settings).await?;
        let (commands, receiver) = mpsc::unbounded_channel();
        let (ended, _) = watch::channel(None);
        let shared = Arc::new(Shared {
            dispatcher,
            settings,
            state: Mutex::new(State {
                session,
                connected: true,
                ended: None,
                next_id: 0,
                subs: HashMap::new(),
                remote: HashSet::new(),
            }),
            ops: tokio::sync::Mutex::new(()),
            ended,
        });
        tokio::spawn(run(shared.clone(), ws, receiver));
        Ok(Client {
            handle: Arc::new(Handle { shared, commands }),
        })
    }
}

/// A RUES session with a node: subscriptions as streams, and dispatch.
///
/// The session lives in a background task that reads the WebSocket, routes
/// each event to every subscription it matches, answers the node's pings
/// and pings the node when it is silent. It lasts while the `Client` (any
/// clone) or any of its [`Subscription`]s is alive, or until
/// [`close`](Client::close).
///
/// ```no_run
/// use futures_util::StreamExt;
///
/// # async fn run() -> Result<(), rues_client::Error> {
/// let client = rues_client::Client::connect("http://127.0.0.1:8080").await?;
/// let mut blocks = client.subscribe("blocks/accepted").await?;
/// while let Some(item) = blocks.next().await {
///     match item {
///         Ok(event) => println!("{}", event.content_location()),
///         Err(gap) => eprintln!("{gap}"),
///     }
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    handle: Arc<Handle>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.handle.shared.lock();
        f.debug_struct("Client")
            .field("url", &self.handle.shared.dispatcher.url())
            .field("session", &state.session)
            .field("connected", &state.connected)
            .field("subscriptions", &state.subs.len())
            .finish()
    }
}

impl Client {
    /// Opens a session with the default settings; see [`ClientBuilder::new`].
    pub async fn connect(url: &str) -> Result<Client, Error> {
        ClientBuilder::new(url).connect().await
    }

    /// Settings for a client of the node at `url`.
    pub fn builder(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(url)
    }

    /// The node's base URL, normalized.
    pub fn url(&self) -> &str {
        self.handle.shared.dispatcher.url()
    }

    /// The current session's id (after a reconnect, the new one; while
    /// reconnecting or after the end, the last one).
    pub fn session_id(&self) -> SessionId {
        self.handle.shared.lock().session
    }

    /// Whether the session is up now.
    pub fn is_connected(&self) -> bool {
        self.handle.shared.lock().connected
    }

    /// Subscribes to `path` (`/on/blocks/accepted`, `blocks/accepted`,
    /// `blocks:<hash>/accepted`...) and returns the stream of its events.
    ///
    /// Events that arrive while the node answers are not lost: the
    /// subscription is registered before the request goes out. The request
    /// is skipped when another subscription of this client already holds
    /// the same path on the node.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPath`] before anything is sent; [`Error::Status`]
    /// with the node's message (404 unknown component or topic, 429 too many
    /// subscriptions, 403 denied, 400 version); [`Error::Reconnecting`]
    /// while the session is down; [`Error::Closed`] or the session's
    /// end after it ended for good.
    pub async fn subscribe(&self, path: impl IntoEventPath) -> Result<Subscription, Error> {
        let path = path.into_event_path()?;
        let shared = &self.handle.shared;
        let _ops = shared.ops.lock().await;
        let (id, queue, session, request) = {
            let mut state = shared.lock();
            state.usable()?;
            let id = state.next_id;
            state.next_id += 1;
            let queue = Queue::new(shared.settings.buffer);
            state.subs.insert(
                id,
                Entry {
                    path: path.clone(),
                    queue: queue.clone(),
                },
            );
            (id, queue, state.session, !state.remote.contains(&path))
        };
        if request {
            if let Err(error) = shared.dispatcher.subscribe(session, &path).await {
                let mut state = shared.lock();
                state.subs.remove(&id);
                // A request that failed because the session just dropped
                // says so, rather than the node's 424.
                if !state.connected && state.ended.is_none() {
                    return Err(Error::Reconnecting);
                }
                return Err(error);
            }
            let mut state = shared.lock();
            if state.session == session {
                state.remote.insert(path.clone());
            }
        }
        Ok(Subscription::new(id, path, queue, self.handle.clone()))
    }

    /// Unsubscribes from `path` on the node (`DELETE`) and ends every
    /// [`Subscription`] of this client to exactly that path.
    ///
    /// # Errors
    ///
    /// [`Error::Status`] 404 `Subscription not found` when the session was
    /// not subscribed to `path`; the usual request errors.
    pub async fn unsubscribe(&self, path: impl IntoEventPath) -> Result<(), Error> {
        let path = path.into_event_path()?;
        let shared = &self.handle.shared;
        let _ops = shared.ops.lock().await;
        let session = {
            let mut state = shared.lock();
            state.subs.retain(|_, entry| {
                let keep = entry.path != path;
                if !keep {
                    entry.queue.end(None);
                }
                keep
            });
            state.remote.remove(&path);
            if !state.connected {
                // The node already forgot every subscription of the old
                // session, and this path will not be renewed.
                return match &state.ended {
                    Some(_) => Err(Error::Closed),
                    None => Ok(()),
                };
            }
            state.session
        };
        shared.dispatcher.unsubscribe(session, &path).await
    }

    /// Dispatches `body` to `path`, without the session id (fire-and-forget,
    /// as the protocol allows); see [`Dispatcher::dispatch`].
    pub async fn dispatch(
        &self,
        path: impl IntoEventPath,
        body: impl Into<Body>,
    ) -> Result<Reply, Error> {
        self.handle.shared.dispatcher.dispatch(path, body).await
    }

    /// A dispatch request to finish (headers, [`session`](DispatchRequest::session),
    /// timeout) and send.
    pub fn request(&self, path: impl IntoEventPath) -> DispatchRequest {
        self.handle.shared.dispatcher.request(path)
    }

    /// The client's [`Dispatcher`], for dispatching without holding the
    /// session open.
    pub fn dispatcher(&self) -> &Dispatcher {
        &self.handle.shared.dispatcher
    }

    /// Closes the session (WebSocket Close 1000) and waits until it is
    /// closed; every subscription's stream ends, with no error. The node
    /// drops the session's subscriptions itself, so no `DELETE` is sent.
    pub async fn close(&self) {
        let (ack, done) = oneshot::channel();
        if self.handle.commands.send(Command::Close(ack)).is_ok() {
            let _ = done.await;
        }
    }

    /// Waits until the client has ended for good, and says why: `None`
    /// after [`close`](Client::close), or the error that ended it (the
    /// session lost without reconnect, or reconnecting gave up).
    pub async fn closed(&self) -> Option<Error> {
        let mut ended = self.handle.shared.ended.subscribe();
        match ended.wait_for(Option::is_some).await {
            Ok(value) => value.clone().flatten(),
            Err(_) => Some(Error::Closed),
        }
    }
}

/// What keeps a session alive: held by the [`Client`]s and the
/// [`Subscription`]s. When the last one goes, the command channel closes and
/// the background task closes the session.
pub(crate) struct Handle {
    pub(crate) shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
}

enum Command {
    Close(oneshot::Sender<()>),
}

struct SessionSettings {
    endpoint: Endpoint,
    upgrade_headers: HeaderMap,
    connector: Connector,
    ws_config: WebSocketConfig,
    connect_timeout: Duration,
    keep_alive: Option<Duration>,
    reconnect: Option<ReconnectPolicy>,
    buffer: usize,
}

/// The state shared by the client handles, the subscriptions and the
/// background task.
pub(crate) struct Shared {
    dispatcher: Dispatcher,
    settings: SessionSettings,
    state: Mutex<State>,
    /// Serializes subscribe, unsubscribe and renewal, so the node's set of
    /// subscriptions and `State::remote` agree.
    ops: tokio::sync::Mutex<()>,
    /// `Some(reason)` once the client has ended for good.
    ended: watch::Sender<Option<Option<Error>>>,
}

struct State {
    session: SessionId,
    connected: bool,
    ended: Option<Option<Error>>,
    next_id: u64,
    subs: HashMap<u64, Entry>,
    /// The paths the node holds for the current session.
    remote: HashSet<EventPath>,
}

struct Entry {
    path: EventPath,
    queue: Arc<Queue>,
}

impl State {
    fn usable(&self) -> Result<(), Error> {
        match &self.ended {
            Some(Some(error)) => Err(error.clone()),
            Some(None) => Err(Error::Closed),
            None if !self.connected => Err(Error::Reconnecting),
            None => Ok(()),
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Removes a subscription locally and ends its stream; returns its path
    /// if it was still registered.
    pub(crate) fn forget(&self, id: u64) -> Option<EventPath> {
        let entry = self.lock().subs.remove(&id)?;
        entry.queue.end(None);
        Some(entry.path)
    }

    /// Unsubscribes `path` on the node if no local subscription needs it
    /// any more.
    pub(crate) async fn release_remote(&self, path: &EventPath) -> Result<(), Error> {
        let _ops = self.ops.lock().await;
        let session = {
            let mut state = self.lock();
            if state.subs.values().any(|entry| &entry.path == path) {
                return Ok(());
            }
            if !state.remote.remove(path) || !state.connected {
                return Ok(());
            }
            state.session
        };
        self.dispatcher.unsubscribe(session, path).await
    }

    /// Routes one event frame to the subscriptions it matches.
    fn route(&self, message: &Bytes) -> Result<(), Error> {
        let frame = Frame::decode(message)
            .map_err(|e| Error::protocol(format!("undecodable event frame: {e}")))?;
        let location = frame
            .content_location()
            .ok_or_else(|| Error::protocol("event frame without Content-Location"))?;
        let path = EventPath::parse_with(location, &EVENT_LIMITS).map_err(|e| {
            Error::protocol(format!(
                "event frame with an invalid Content-Location {location:?}: {e}"
            ))
        })?;
        let (headers, payload) = frame.into_parts();
        let event = Event::new(path, headers, payload);
        let state = self.lock();
        for entry in state.subs.values() {
            if entry.path.matches(event.path()) {
                entry.queue.push_event(event.clone());
            }
        }
        Ok(())
    }

    /// Renews every subscription on a new session, after telling each
    /// stream about the gap.
    ///
    /// A path the node refuses for good (a 4xx other than 424: unknown on
    /// this node, denied, too many) ends its streams with the node's answer.
    /// Any other failure (424, 5xx, a transport error) means the new
    /// session is no good: the caller drops it and reconnects again.
    async fn renew(&self, session: SessionId, cause: &Error) -> Result<(), Error> {
        let _ops = self.ops.lock().await;
        let paths: Vec<EventPath> = {
            let mut state = self.lock();
            let previous = std::mem::replace(&mut state.session, session);
            state.connected = true;
            state.remote.clear();
            let mut paths = Vec::new();
            for entry in state.subs.values() {
                entry.queue.push_gap(Gap::Reconnected {
                    previous,
                    session,
                    cause: cause.clone(),
                });
                if !paths.contains(&entry.path) {
                    paths.push(entry.path.clone());
                }
            }
            paths
        };
        // All at once: the socket is not read meanwhile.
        let answers = futures_util::future::join_all(
            paths
                .iter()
                .map(|path| self.dispatcher.subscribe(session, path)),
        )
        .await;
        let mut retry = None;
        for (path, answer) in paths.into_iter().zip(answers) {
            match answer {
                Ok(()) => {
                    self.lock().remote.insert(path);
                }
                Err(error @ Error::Status { status, .. })
                    if status.is_client_error()
                        && status != http::StatusCode::FAILED_DEPENDENCY =>
                {
                    self.lock().subs.retain(|_, entry| {
                        let keep = entry.path != path;
                        if !keep {
                            entry.queue.end(Some(error.clone()));
                        }
                        keep
                    });
                }
                Err(error) => retry = Some(error),
            }
        }
        match retry {
            Some(error) => {
                self.lock().connected = false;
                Err(error)
            }
            None => Ok(()),
        }
    }

    fn finish(&self, outcome: Option<Error>) {
        {
            let mut state = self.lock();
            state.connected = false;
            state.ended = Some(outcome.clone());
            state.remote.clear();
            for (_, entry) in state.subs.drain() {
                entry.queue.end(outcome.clone());
            }
        }
        self.ended.send_replace(Some(outcome));
    }
}

enum SessionEnd {
    /// Closed by the client: `close()`, or every handle dropped.
    Deliberate(Option<oneshot::Sender<()>>),
    /// Lost: the node closed it, the connection failed, or the node broke
    /// the protocol.
    Lost(Error),
}

/// The background task: reads sessions, reconnects, ends the client.
async fn run(shared: Arc<Shared>, mut ws: Ws, mut commands: mpsc::UnboundedReceiver<Command>) {
    let (outcome, ack) = 'sessions: loop {
        let mut cause = match read_session(&shared, &mut ws, &mut commands).await {
            SessionEnd::Deliberate(ack) => break (None, ack),
            SessionEnd::Lost(cause) => cause,
        };
        shared.lock().connected = false;
        let Some(policy) = shared.settings.reconnect.clone() else {
            break (Some(cause), None);
        };
        // Counted until a session is up with its subscriptions renewed.
        let mut attempts = 0u32;
        loop {
            match reconnect(
                &shared.settings,
                &policy,
                &mut attempts,
                &cause,
                &mut commands,
            )
            .await
            {
                Reconnected::Session(new_ws, session) => {
                    let mut new_ws = *new_ws;
                    match shared.renew(session, &cause).await {
                        Ok(()) => {
                            ws = new_ws;
                            continue 'sessions;
                        }
                        Err(error) => {
                            close_socket(&mut new_ws, CloseCode::Away, "").await;
                            cause = error;
                        }
                    }
                }
                Reconnected::Stopped(ack) => break 'sessions (None, ack),
                Reconnected::GaveUp(error) => break 'sessions (Some(error), None),
            }
        }
    };
    shared.finish(outcome);
    if let Some(ack) = ack {
        let _ = ack.send(());
    }
}

/// Reads one session until it ends.
async fn read_session(
    shared: &Shared,
    ws: &mut Ws,
    commands: &mut mpsc::UnboundedReceiver<Command>,
) -> SessionEnd {
    let keep_alive = shared.settings.keep_alive;
    let mut last_heard = Instant::now();
    let mut pinged = false;
    loop {
        // Checked: an absurd interval means no timer, not an overflow.
        let deadline = keep_alive.and_then(|every| {
            last_heard.checked_add(if pinged {
                every.saturating_mul(2)
            } else {
                every
            })
        });
        let timer = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            command = commands.recv() => {
                let ack = command.map(|Command::Close(ack)| ack);
                close_socket(ws, CloseCode::Normal, "").await;
                return SessionEnd::Deliberate(ack);
            }
            message = ws.next() => {
                last_heard = Instant::now();
                pinged = false;
                match message {
                    Some(Ok(Message::Binary(bytes))) => {
                        if let Err(error) = shared.route(&bytes) {
                            close_socket(ws, CloseCode::Protocol, "undecodable event frame").await;
                            return SessionEnd::Lost(error);
                        }
                    }
                    Some(Ok(Message::Close(frame))) => {
                        // tungstenite has queued the echo; reading on sends it.
                        let _ = tokio::time::timeout(CLOSE_GRACE, async {
                            while let Some(Ok(_)) = ws.next().await {}
                        })
                        .await;
                        return SessionEnd::Lost(closed_by_node(frame));
                    }
                    // Text after the session id carries nothing for us; pings
                    // are answered by tungstenite as it reads.
                    Some(Ok(_)) => {}
                    Some(Err(error)) => return SessionEnd::Lost(Error::lost(short_reason(&error))),
                    None => return SessionEnd::Lost(Error::lost("the connection closed without a Close frame")),
                }
            }
            () = timer => {
                if pinged {
                    let silence = keep_alive.unwrap_or_default().saturating_mul(2);
                    close_socket(ws, CloseCode::Away, "keep-alive timeout").await;
                    return SessionEnd::Lost(Error::lost(format!(
                        "no answer from the node for {silence:?} (keep-alive)"
                    )));
                }
                pinged = true;
                if let Err(error) = ws.send(Message::Ping(Bytes::new())).await {
                    return SessionEnd::Lost(Error::lost(short_reason(&error)));
                }
            }
        }
    }
}

fn closed_by_node(frame: Option<CloseFrame>) -> Error {
    match frame {
        Some(frame) => Error::SessionClosed {
            code: Some(u16::from(frame.code)),
            reason: frame.reason.to_string(),
        },
        None => Error::SessionClosed {
            code: None,
            reason: "the node closed the session without a code".into(),
        },
    }
}

/// Sends a Close frame and waits (briefly) for the node's echo.
async fn close_socket(ws: &mut Ws, code: CloseCode, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        if ws.close(Some(frame)).await.is_err() {
            return;
        }
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

enum Reconnected {
    Session(Box<Ws>, SessionId),
    Stopped(Option<oneshot::Sender<()>>),
    GaveUp(Error),
}

async fn reconnect(
    settings: &SessionSettings,
    policy: &ReconnectPolicy,
    attempts: &mut u32,
    last_error: &Error,
    commands: &mut mpsc::UnboundedReceiver<Command>,
) -> Reconnected {
    loop {
        if policy.max_attempts.is_some_and(|max| *attempts >= max) {
            return Reconnected::GaveUp(last_error.clone());
        }
        *attempts = attempts.saturating_add(1);
        let attempt = *attempts;
        let attempt_result = tokio::select! {
            command = commands.recv() => {
                return Reconnected::Stopped(command.map(|Command::Close(ack)| ack));
            }
            result = async {
                tokio::time::sleep(policy.delay(attempt)).await;
                open_session(settings).await
            } => result,
        };
        match attempt_result {
            Ok((ws, session)) => return Reconnected::Session(Box::new(ws), session),
            Err(error) => {
                if policy.max_attempts.is_some_and(|max| attempt >= max) {
                    return Reconnected::GaveUp(error);
                }
            }
        }
    }
}

/// Opens a WebSocket session and reads its id.
async fn open_session(settings: &SessionSettings) -> Result<(Ws, SessionId), Error> {
    let base = settings.endpoint.base();
    let url = settings.endpoint.session_url();
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| Error::invalid_url(url.as_str(), e.to_string()))?;
    request
        .headers_mut()
        .extend(settings.upgrade_headers.clone());
    let connect = tokio_tungstenite::connect_async_tls_with_config(
        request,
        Some(settings.ws_config),
        true,
        Some(settings.connector.clone()),
    );
    let (mut ws, _response) = match tokio::time::timeout(settings.connect_timeout, connect).await {
        Err(_) => {
            return Err(Error::Connect {
                url: base.to_owned(),
                reason: format!("no connection within {:?}", settings.connect_timeout),
                source: None,
            });
        }
        Ok(Err(error)) => return Err(upgrade_error(base, error)),
        Ok(Ok(connected)) => connected,
    };
    match tokio::time::timeout(settings.connect_timeout, session_id(&mut ws)).await {
        Ok(Ok(session)) => Ok((ws, session)),
        Ok(Err(error)) => Err(error),
        Err(_) => Err(Error::protocol(format!(
            "the node sent no session id within {:?}",
            settings.connect_timeout
        ))),
    }
}

/// The session's first message: the session id, as Text.
async fn session_id(ws: &mut Ws) -> Result<SessionId, Error> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                return text.as_str().parse().map_err(|_| {
                    let shown: String = text.as_str().chars().take(80).collect();
                    Error::protocol(format!(
                        "the session's first message is not a session id: {shown:?} (expected 32 hex characters)"
                    ))
                });
            }
            Some(Ok(Message::Binary(bytes))) => {
                return Err(Error::protocol(format!(
                    "the session's first message is binary ({} bytes); expected the session id as text",
                    bytes.len()
                )));
            }
            Some(Ok(Message::Close(frame))) => return Err(closed_by_node(frame)),
            Some(Ok(_)) => {}
            Some(Err(error)) => return Err(Error::lost(short_reason(&error))),
            None => {
                return Err(Error::lost("the connection closed before the session id"));
            }
        }
    }
}

fn upgrade_error(base: &str, error: tungstenite::Error) -> Error {
    match error {
        tungstenite::Error::Http(response) => {
            let (parts, body) = (*response).into_parts();
            status_error(
                parts.status,
                &parts.headers,
                body.as_deref().unwrap_or_default(),
            )
        }
        tungstenite::Error::Url(e) => Error::invalid_url(base, e.to_string()),
        other => Error::Connect {
            url: base.to_owned(),
            reason: short_reason(&other),
            source: Some(Arc::new(other)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_delays_double_up_to_the_cap_with_bounded_jitter() {
        let policy = ReconnectPolicy::default()
            .initial_delay(Duration::from_millis(100))
            .max_delay(Duration::from_secs(1));
        for (attempt, full) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1000),
            (60, 1000),
        ] {
            let delay = policy.delay(attempt);
            let full = Duration::from_millis(full);
            assert!(
                delay <= full && delay >= full * 3 / 4,
                "attempt {attempt}: {delay:?}"
            );
        }
    }
}
