//! The settings of a client: [`ClientBuilder`], [`ReconnectPolicy`], and
//! what they turn into (the HTTP settings of a [`Dispatcher`] and the
//! session's `SessionSettings`).
//!
//! [`ClientBuilder::connect`] is in `client.rs`, beside the [`Client`] it
//! makes; [`Dispatcher::new`] is here, since it is these settings' defaults.
//!
//! [`Client`]: crate::Client

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use rues_wire::{RUSK_VERSION, RUSK_VERSION_STRICT};
use tokio_rustls::rustls::ClientConfig;
use tokio_tungstenite::Connector;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::http::{Dispatcher, HttpSettings};

/// The requirement Dusk's official clients send (`^1.0.0-rc.0`), the default.
pub const DEFAULT_RUSK_VERSION: &str = "1.0.0-rc.0";

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

    /// The delay before attempt `attempt` (counted from 1).
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
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

/// Settings for a [`Client`](crate::Client) (or a [`Dispatcher`]), then
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
    insecure: bool,
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
            insecure: false,
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
    /// lost (not when it is [closed](crate::Client::close)); `false` turns it off.
    ///
    /// After a reconnect every subscription is renewed on the new session,
    /// resumed from the last event that arrived on its stream; its stream
    /// yields a gap first only when the node could not replay everything
    /// ([`Gap::Missed`](crate::Gap::Missed), or
    /// [`Gap::Reconnected`](crate::Gap::Reconnected) when the node cannot
    /// say what was lost).
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
    /// reporting [`Gap::Lagged`](crate::Gap::Lagged)); at least 1.
    pub fn buffer(mut self, events: usize) -> Self {
        self.buffer = events.max(1);
        self
    }

    /// Trusts the certificates in this PEM data as roots, besides Mozilla's
    /// (e.g. a node's self-signed certificate).
    ///
    /// Each is also trusted as itself, as curl's `--cacert` does: a node
    /// presenting exactly one of them is accepted when the certificate is
    /// valid now and for the URL's host, even when it is marked as a CA
    /// (`CA:TRUE`, as `openssl req -x509` makes a self-signed certificate),
    /// which webpki alone refuses in the server's place.
    pub fn add_root_certificates_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.roots_pem.push(pem.into());
        self
    }

    /// Accepts any server certificate, unverified (curl's `--insecure`):
    /// whoever sits between this client and the node can read and change
    /// the traffic. For tests against a node whose certificate is at hand
    /// only; prefer
    /// [`add_root_certificates_pem`](ClientBuilder::add_root_certificates_pem)
    /// with the node's certificate.
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.insecure = accept;
        self
    }

    /// Uses this rustls configuration for HTTPS and WSS, instead of the
    /// built-in one (ring, Mozilla's roots and
    /// [`add_root_certificates_pem`](ClientBuilder::add_root_certificates_pem));
    /// [`danger_accept_invalid_certs`](ClientBuilder::danger_accept_invalid_certs)
    /// does not apply to it.
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

    /// The HTTP side and the session settings these settings make.
    pub(crate) fn prepare(&self) -> Result<(Dispatcher, SessionSettings), Error> {
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
            None => crate::tls::config(&self.roots_pem, self.insecure)?,
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
}

impl Dispatcher {
    /// A dispatcher for the node at `url`, with the default settings of
    /// [`ClientBuilder`].
    pub fn new(url: &str) -> Result<Self, Error> {
        ClientBuilder::new(url).dispatcher()
    }
}

/// What a session needs from the builder: where and how to connect, how to
/// keep it alive, and whether to reconnect.
pub(crate) struct SessionSettings {
    pub(crate) endpoint: Endpoint,
    pub(crate) upgrade_headers: HeaderMap,
    pub(crate) connector: Connector,
    pub(crate) ws_config: WebSocketConfig,
    pub(crate) connect_timeout: Duration,
    pub(crate) keep_alive: Option<Duration>,
    pub(crate) reconnect: Option<ReconnectPolicy>,
    pub(crate) buffer: usize,
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
