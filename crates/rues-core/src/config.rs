//! What a node is configured with: its version, limits, access rules and
//! allowed origins.

use std::net::IpAddr;
use std::time::Duration;

use crate::access::AccessRules;
use crate::cors::OriginPolicy;
use crate::history::HistoryLimits;

/// The limits of docs/protocol.md §7, all configurable.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Open sessions per node; an upgrade past it gets 503.
    pub max_sessions: usize,
    /// Subscriptions per session; a subscribe past it gets 429.
    pub max_subscriptions: usize,
    /// Subscriptions over all sessions of the node; a subscribe past it
    /// gets 429. With `path` limits bounding one subscription's size, this
    /// bounds the memory subscriptions can take (docs/reliability.md,
    /// "Node-wide bounds").
    pub max_total_subscriptions: usize,
    /// Open sessions per client address; an upgrade past it gets 429, so
    /// one client cannot hold every session slot. The address is the TCP
    /// peer the adapter reports, or the one a trusted proxy forwarded (see
    /// `trusted_proxies`). 0 turns the limit off.
    pub max_sessions_per_client: usize,
    /// Addresses of reverse proxies whose `Forwarded` / `X-Forwarded-For`
    /// headers name the client. Empty (the default): those headers are
    /// ignored, since any client can send them.
    pub trusted_proxies: Vec<IpAddr>,
    /// Largest inbound WebSocket frame or message; larger closes with 1009.
    pub max_inbound_frame: usize,
    /// Largest dispatch body; larger gets 413.
    pub max_body: usize,
    /// Largest event header block; larger is an encode error at the publisher.
    pub max_event_header: usize,
    /// Bytes of frames a session may have queued; more closes it with 4008.
    pub max_queue_bytes: usize,
    /// How often the node pings each session.
    pub ping_interval: Duration,
    /// How long a session may stay silent before it is closed with 4001.
    pub idle_timeout: Duration,
    /// Event path limits (path, entity and topic lengths).
    pub path: rues_target::Limits,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_sessions: 10_000,
            max_subscriptions: 1024,
            max_total_subscriptions: 100_000,
            max_sessions_per_client: 256,
            trusted_proxies: Vec::new(),
            max_inbound_frame: 64 * 1024,
            max_body: 3 * 1024 * 1024,
            max_event_header: rues_wire::Limits::DEFAULT_MAX_HEADER_LEN,
            max_queue_bytes: 1024 * 1024,
            ping_interval: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(90),
            path: rues_target::Limits::default(),
        }
    }
}

/// A node's configuration.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The node's version: matched against `Rusk-Version` requirements and sent
    /// in every response's `Rusk-Version` header.
    pub version: semver::Version,
    /// Limits (docs/protocol.md §7).
    pub limits: Limits,
    /// Access rules (docs/protocol.md §8).
    pub access: AccessRules,
    /// Which browser origins may open sessions and make requests.
    pub origins: OriginPolicy,
    /// The node is one of a cluster (docs/protocol.md §11): it records
    /// [`Change`](crate::Change)s for its backplane and answers
    /// [`Decision::Forward`](crate::Decision::Forward) where another node
    /// must answer. Off by default.
    pub cluster: bool,
    /// How much history the node keeps for resume (docs/protocol.md,
    /// "Resume").
    pub history: HistoryLimits,
}

impl Config {
    /// A configuration with default limits, no access rules and any origin
    /// allowed.
    pub fn new(version: semver::Version) -> Self {
        Self {
            version,
            limits: Limits::default(),
            access: AccessRules::default(),
            origins: OriginPolicy::Any,
            cluster: false,
            history: HistoryLimits::default(),
        }
    }

    /// Replaces the history limits.
    pub fn with_history(mut self, history: HistoryLimits) -> Self {
        self.history = history;
        self
    }

    /// Replaces the limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Replaces the access rules.
    pub fn with_access(mut self, access: AccessRules) -> Self {
        self.access = access;
        self
    }

    /// Makes the node one of a cluster (see [`Config::cluster`]).
    pub fn in_cluster(mut self, cluster: bool) -> Self {
        self.cluster = cluster;
        self
    }

    /// Replaces the origin policy.
    pub fn with_origins(mut self, origins: OriginPolicy) -> Self {
        self.origins = origins;
        self
    }
}
