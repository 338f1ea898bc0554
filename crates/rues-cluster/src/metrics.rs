//! The backplane's metrics, rendered into the node's `/metrics`
//! (OpenMetrics text, `rues_cluster_*`).

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Where a forwarded request went.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Route {
    Owner,
    Service,
}

/// What came of a forwarded request.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    Answered,
    Nobody,
    Failed,
}

#[derive(Debug)]
pub(crate) struct Counters {
    /// Connections made to NATS (the first, then each reconnect).
    connections: Arc<AtomicU64>,
    events_sent: AtomicU64,
    events_received: AtomicU64,
    events_dropped: AtomicU64,
    events_invalid: AtomicU64,
    /// [route][outcome]
    forwarded: [[AtomicU64; 3]; 2],
    /// Forwarded requests answered here, [route].
    answered: [AtomicU64; 2],
    /// NATS subscriptions held now: event streams, sessions.
    streams: AtomicI64,
    sessions: AtomicI64,
    /// Resumes that read the shared history back: [read, failed].
    backfills: [AtomicU64; 2],
    /// Events (and gap numbers) read back from the shared history.
    backfilled: AtomicU64,
}

impl Counters {
    /// Connections made to NATS so far (the first, then one per reconnect).
    pub(crate) fn connections(&self) -> u64 {
        self.connections.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn new(connections: Arc<AtomicU64>) -> Self {
        Self {
            connections,
            events_sent: AtomicU64::new(0),
            events_received: AtomicU64::new(0),
            events_dropped: AtomicU64::new(0),
            events_invalid: AtomicU64::new(0),
            forwarded: Default::default(),
            answered: Default::default(),
            streams: AtomicI64::new(0),
            sessions: AtomicI64::new(0),
            backfills: Default::default(),
            backfilled: AtomicU64::new(0),
        }
    }

    pub(crate) fn event_sent(&self) {
        self.events_sent.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn event_received(&self) {
        self.events_received.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn event_dropped(&self) {
        self.events_dropped.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn event_invalid(&self) {
        self.events_invalid.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn forwarded(&self, route: Route, outcome: Outcome) {
        self.forwarded[route as usize][outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn answered(&self, route: Route) {
        self.answered[route as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn streams(&self, delta: i64) {
        self.streams.fetch_add(delta, Ordering::Relaxed);
    }

    pub(crate) fn sessions(&self, delta: i64) {
        self.sessions.fetch_add(delta, Ordering::Relaxed);
    }

    /// A resume read `events` back from the shared history, or failed to.
    pub(crate) fn backfill(&self, events: Option<usize>) {
        let read = events.is_some();
        self.backfills[usize::from(!read)].fetch_add(1, Ordering::Relaxed);
        let events = u64::try_from(events.unwrap_or(0)).unwrap_or(u64::MAX);
        self.backfilled.fetch_add(events, Ordering::Relaxed);
    }

    /// `up`: connected to NATS; `shared`: numbering through JetStream.
    pub(crate) fn render(&self, up: bool, shared: bool) -> String {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, String)]| {
            let _ = writeln!(out, "# TYPE {name} {kind}\n# HELP {name} {help}");
            for (suffix_labels, value) in samples {
                let _ = writeln!(out, "{name}{suffix_labels} {value}");
            }
        };
        metric(
            "rues_cluster_up",
            "gauge",
            "Whether the node is connected to the NATS backplane.",
            &[(String::new(), u8::from(up).to_string())],
        );
        metric(
            "rues_cluster_connections",
            "counter",
            "Connections made to NATS: the first, then each reconnect.",
            &[("_total".into(), get(&self.connections).to_string())],
        );
        for (name, help, counter) in [
            (
                "rues_cluster_events_sent",
                "Events published here and sent to the cluster.",
                &self.events_sent,
            ),
            (
                "rues_cluster_events_received",
                "Events received from the cluster and delivered here.",
                &self.events_received,
            ),
            (
                "rues_cluster_events_dropped",
                "Events not sent to the cluster because its queue was full.",
                &self.events_dropped,
            ),
            (
                "rues_cluster_events_invalid",
                "Messages on event subjects that were not RUES events.",
                &self.events_invalid,
            ),
        ] {
            metric(
                name,
                "counter",
                help,
                &[("_total".into(), get(counter).to_string())],
            );
        }
        let routes = [("owner", Route::Owner), ("service", Route::Service)];
        let outcomes = [
            ("answered", Outcome::Answered),
            ("nobody", Outcome::Nobody),
            ("failed", Outcome::Failed),
        ];
        let mut forwarded = Vec::new();
        for (route_name, route) in routes {
            for (outcome_name, outcome) in outcomes {
                forwarded.push((
                    format!("_total{{to=\"{route_name}\",outcome=\"{outcome_name}\"}}"),
                    get(&self.forwarded[route as usize][outcome as usize]).to_string(),
                ));
            }
        }
        metric(
            "rues_cluster_forwarded",
            "counter",
            "Requests this node forwarded, by destination and outcome.",
            &forwarded,
        );
        let answered: Vec<_> = routes
            .iter()
            .map(|(name, route)| {
                (
                    format!("_total{{as=\"{name}\"}}"),
                    get(&self.answered[*route as usize]).to_string(),
                )
            })
            .collect();
        metric(
            "rues_cluster_answered",
            "counter",
            "Requests other nodes forwarded here, answered as owner or as service.",
            &answered,
        );
        metric(
            "rues_cluster_subscriptions",
            "gauge",
            "NATS subscriptions the node holds: event streams and owned sessions.",
            &[
                (
                    "{kind=\"stream\"}".into(),
                    self.streams.load(Ordering::Relaxed).to_string(),
                ),
                (
                    "{kind=\"session\"}".into(),
                    self.sessions.load(Ordering::Relaxed).to_string(),
                ),
            ],
        );
        metric(
            "rues_cluster_history_shared",
            "gauge",
            "Whether the node numbers events through JetStream, the resume history every node shares.",
            &[(String::new(), u8::from(shared).to_string())],
        );
        metric(
            "rues_cluster_backfills",
            "counter",
            "Resumes that read the shared history back before replaying, by outcome.",
            &[
                (
                    "_total{outcome=\"read\"}".into(),
                    get(&self.backfills[0]).to_string(),
                ),
                (
                    "_total{outcome=\"failed\"}".into(),
                    get(&self.backfills[1]).to_string(),
                ),
            ],
        );
        metric(
            "rues_cluster_backfilled_events",
            "counter",
            "Events read back from the shared history for resumes.",
            &[("_total".into(), get(&self.backfilled).to_string())],
        );
        out
    }
}
