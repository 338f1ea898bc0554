//! Prometheus metrics: the core's counters plus what only the transport sees
//! (connections, dispatch statuses, request latency), served at `/metrics`.

use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use rues_core::{CloseReason, Stats};

type Labels = Vec<(&'static str, String)>;

fn latency_histogram() -> Histogram {
    // 50 µs .. ~13 s in powers of 4: dispatches range from a map lookup to
    // a GraphQL query over the whole chain.
    Histogram::new(exponential_buckets(0.000_05, 4.0, 10))
}

/// The transport's own metrics; the core's are read at scrape time.
#[derive(Debug)]
pub(crate) struct Metrics {
    connections_accepted: Counter,
    accept_errors: Counter,
    handshake_failures: Counter,
    requests: Family<Labels, Counter>,
    request_duration: Family<Labels, Histogram, fn() -> Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            connections_accepted: Counter::default(),
            accept_errors: Counter::default(),
            handshake_failures: Counter::default(),
            requests: Family::default(),
            request_duration: Family::new_with_constructor(latency_histogram),
        }
    }
}

impl Metrics {
    pub(crate) fn connection_accepted(&self) {
        self.connections_accepted.inc();
    }

    pub(crate) fn accept_error(&self) {
        self.accept_errors.inc();
    }

    pub(crate) fn handshake_failed(&self) {
        self.handshake_failures.inc();
    }

    /// One answered request on `/on/...`.
    pub(crate) fn request(&self, method: &str, status: u16, elapsed: Duration) {
        let operation = match method {
            "GET" => "subscribe",
            "DELETE" => "unsubscribe",
            "POST" => "dispatch",
            "OPTIONS" => "preflight",
            _ => "other",
        };
        self.requests
            .get_or_create(&vec![
                ("operation", operation.to_owned()),
                ("status", status.to_string()),
            ])
            .inc();
        self.request_duration
            .get_or_create(&vec![("operation", operation.to_owned())])
            .observe(elapsed.as_secs_f64());
    }

    /// The Prometheus text exposition of every metric: the node's
    /// (`rues_*`, `node_version` being the `Rusk-Version` it serves) and,
    /// on Linux, the process's (`process_*`, as Prometheus's own clients
    /// name them).
    pub(crate) fn render(&self, stats: &Stats, node_version: &str) -> String {
        let mut root = Registry::default();
        #[cfg(target_os = "linux")]
        process::register(&mut root);
        let registry = root.sub_registry_with_prefix("rues");
        registry.register(
            "build",
            "The build of the node: its rues version and the Rusk-Version it serves",
            Info::new(vec![
                ("version", env!("CARGO_PKG_VERSION").to_owned()),
                ("node_version", node_version.to_owned()),
            ]),
        );
        let gauge = |v: usize| ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX));
        registry.register(
            "sessions_open",
            "Sessions open now",
            gauge(stats.sessions_open),
        );
        registry.register(
            "subscriptions",
            "Subscriptions held now, over all sessions",
            gauge(stats.subscriptions),
        );
        registry.register(
            "bytes_queued",
            "Bytes of event frames queued to sessions and not yet sent",
            gauge(stats.bytes_queued),
        );
        registry.register(
            "sessions_opened",
            "Sessions opened",
            ConstCounter::new(stats.sessions_opened),
        );
        registry.register(
            "events_published",
            "Events published",
            ConstCounter::new(stats.events_published),
        );
        registry.register(
            "frames_queued",
            "Event frames queued to sessions",
            ConstCounter::new(stats.frames_queued),
        );
        registry.register(
            "frames_delivered",
            "Event frames handed to sockets",
            ConstCounter::new(stats.frames_delivered),
        );
        registry.register(
            "history_events",
            "Events kept in the resume history now, over all streams",
            gauge(stats.history_events),
        );
        registry.register(
            "history_bytes",
            "Bytes of frames kept in the resume history now (the bound is on these)",
            gauge(stats.history_bytes),
        );
        registry.register(
            "history_streams",
            "Streams with a sequence number and a history",
            gauge(stats.history_streams),
        );
        registry.register(
            "frames_replayed",
            "Event frames queued by resumes (also in frames_queued)",
            ConstCounter::new(stats.frames_replayed),
        );
        registry.register(
            "gaps_published",
            "Gap notices sent (a stream's events were lost before reaching this node)",
            ConstCounter::new(stats.gaps_published),
        );
        let resumes: Family<Labels, Counter> = Family::default();
        for (result, count) in [
            ("complete", stats.resumes_complete),
            ("gap", stats.resumes_gap),
            ("reset", stats.resumes_reset),
        ] {
            resumes
                .get_or_create(&vec![("result", result.to_owned())])
                .inc_by(count);
        }
        registry.register("resumes", "Subscribes with Rues-Resume, by result", resumes);
        let closed: Family<Labels, Counter> = Family::default();
        for &reason in CloseReason::ALL {
            closed
                .get_or_create(&vec![("reason", reason.label().to_owned())])
                .inc_by(stats.closed(reason));
        }
        registry.register("sessions_closed", "Sessions closed, by reason", closed);
        registry.register(
            "connections_accepted",
            "TCP connections accepted",
            self.connections_accepted.clone(),
        );
        registry.register(
            "accept_errors",
            "Errors from accept (e.g. out of file descriptors); the listener retries",
            self.accept_errors.clone(),
        );
        registry.register(
            "handshake_failures",
            "Connections dropped in the TLS handshake or before a request head arrived",
            self.handshake_failures.clone(),
        );
        registry.register(
            "requests",
            "Requests on /on/..., by operation and status",
            self.requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time to answer a request on /on/..., by operation",
            self.request_duration.clone(),
        );
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &root);
        out
    }
}

/// `process_*` from procfs, read at scrape time.
#[cfg(target_os = "linux")]
mod process {
    use prometheus_client::metrics::counter::ConstCounter;
    use prometheus_client::metrics::gauge::ConstGauge;
    use prometheus_client::registry::{Registry, Unit};

    pub(super) fn register(registry: &mut Registry) {
        let Some(stat) = Stat::read() else {
            return;
        };
        let bytes = |v: u64| ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX));
        registry.register_with_unit(
            "process_cpu",
            "User and system CPU time spent",
            Unit::Seconds,
            ConstCounter::new(stat.cpu_seconds),
        );
        registry.register_with_unit(
            "process_resident_memory",
            "Resident memory size",
            Unit::Bytes,
            bytes(stat.resident_bytes),
        );
        registry.register_with_unit(
            "process_virtual_memory",
            "Virtual memory size",
            Unit::Bytes,
            bytes(stat.virtual_bytes),
        );
        registry.register_with_unit(
            "process_start_time",
            "Start time of the process since the Unix epoch",
            Unit::Seconds,
            ConstGauge::new(stat.start_time_seconds),
        );
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            registry.register(
                "process_open_fds",
                "Open file descriptors",
                bytes(fds.count() as u64),
            );
        }
        if let Some(max) = rustix::process::getrlimit(rustix::process::Resource::Nofile).current {
            registry.register(
                "process_max_fds",
                "The limit on open file descriptors",
                bytes(max),
            );
        }
    }

    struct Stat {
        cpu_seconds: f64,
        resident_bytes: u64,
        virtual_bytes: u64,
        start_time_seconds: f64,
    }

    impl Stat {
        /// `/proc/self/stat` (fields counted past the parenthesised command
        /// name, which may hold spaces) and the boot time of `/proc/stat`.
        fn read() -> Option<Self> {
            let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
            let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
            let field = |i: usize| fields.get(i)?.parse::<u64>().ok();
            let ticks = rustix::param::clock_ticks_per_second() as f64;
            let boot = std::fs::read_to_string("/proc/stat")
                .ok()?
                .lines()
                .find_map(|line| line.strip_prefix("btime ")?.trim().parse::<u64>().ok())?;
            Some(Self {
                cpu_seconds: (field(11)? + field(12)?) as f64 / ticks,
                start_time_seconds: boot as f64 + field(19)? as f64 / ticks,
                virtual_bytes: field(20)?,
                resident_bytes: field(21)? * rustix::param::page_size() as u64,
            })
        }
    }
}
