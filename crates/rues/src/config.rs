//! `rues serve` configuration: a TOML file, every key overridable on the
//! command line, printed back with `--print-config`.
//!
//! Layering, lowest first: built-in defaults, the `--config` file, the
//! dedicated flags (`--listen`, `--tls-cert`, ...), then `--set KEY=VALUE`
//! (any key, dotted for tables: `--set chain.block_time_ms=500`).

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rues_core::{AccessRules, OriginPolicy};
use serde::{Deserialize, Serialize};

/// The effective configuration of `rues serve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct NodeConfig {
    /// Address to listen on: `IP:PORT`, or `HOST:PORT` resolved at startup.
    pub(crate) listen: String,
    /// Where `/metrics` and `/health` are served instead of `listen`
    /// (plain HTTP), as `listen` is written; absent: on `listen`.
    pub(crate) admin_listen: Option<String>,
    /// Whether the browser explorer is served at `/`.
    pub(crate) explorer: bool,
    /// The node version: sent as `Rusk-Version`, matched against clients'
    /// requirements. Must satisfy `^1.0.0-rc.0` for Dusk's own clients.
    pub(crate) node_version: String,
    /// Browser origins allowed to open sessions and send requests; `["*"]`
    /// allows any (public nodes serve public data).
    pub(crate) allowed_origins: Vec<String>,
    /// `DENY <methods> <pattern>` rules (docs/protocol.md §8).
    pub(crate) access_rules: Vec<String>,
    /// Protocol limits (docs/protocol.md §7).
    pub(crate) limits: LimitsConfig,
    /// The resume history's bounds (docs/protocol.md §10).
    pub(crate) history: HistorySection,
    /// Transport deadlines.
    pub(crate) transport: TransportSection,
    /// TLS; plain TCP when absent.
    pub(crate) tls: Option<TlsSection>,
    /// The simulated chain.
    pub(crate) chain: rues_demo::ChainConfig,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".to_owned(),
            admin_listen: None,
            explorer: true,
            node_version: "1.6.0".to_owned(),
            allowed_origins: vec!["*".to_owned()],
            access_rules: Vec::new(),
            limits: LimitsConfig::default(),
            history: HistorySection::default(),
            transport: TransportSection::default(),
            tls: None,
            chain: rues_demo::ChainConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct LimitsConfig {
    pub(crate) max_sessions: usize,
    pub(crate) max_subscriptions: usize,
    pub(crate) max_total_subscriptions: usize,
    pub(crate) max_sessions_per_client: usize,
    /// Reverse proxies whose `Forwarded` / `X-Forwarded-For` name the client.
    pub(crate) trusted_proxies: Vec<std::net::IpAddr>,
    pub(crate) max_inbound_frame: usize,
    pub(crate) max_body: usize,
    pub(crate) max_event_header: usize,
    pub(crate) max_queue_bytes: usize,
    pub(crate) ping_interval_ms: u64,
    pub(crate) idle_timeout_ms: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let core = rues_core::Limits::default();
        Self {
            max_sessions: core.max_sessions,
            max_subscriptions: core.max_subscriptions,
            max_total_subscriptions: core.max_total_subscriptions,
            max_sessions_per_client: core.max_sessions_per_client,
            trusted_proxies: core.trusted_proxies,
            max_inbound_frame: core.max_inbound_frame,
            max_body: core.max_body,
            max_event_header: core.max_event_header,
            max_queue_bytes: core.max_queue_bytes,
            ping_interval_ms: millis(core.ping_interval),
            idle_timeout_ms: millis(core.idle_timeout),
        }
    }
}

/// `[history]`: what the node keeps for `Rues-Resume`; any bound at 0
/// keeps nothing (frames are still numbered, every replay is a gap).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct HistorySection {
    pub(crate) events_per_stream: usize,
    pub(crate) bytes_per_stream: usize,
    pub(crate) total_bytes: usize,
}

impl Default for HistorySection {
    fn default() -> Self {
        let core = rues_core::HistoryLimits::default();
        Self {
            events_per_stream: core.max_events_per_stream,
            bytes_per_stream: core.max_bytes_per_stream,
            total_bytes: core.max_total_bytes,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct TransportSection {
    pub(crate) head_read_timeout_ms: u64,
    pub(crate) tls_handshake_timeout_ms: u64,
    pub(crate) write_stall_timeout_ms: u64,
    pub(crate) shutdown_timeout_ms: u64,
    pub(crate) max_blocking_calls: usize,
    pub(crate) blocking_wait_ms: u64,
    pub(crate) blocking_nice: u8,
    pub(crate) body_read_timeout_ms: u64,
    pub(crate) body_idle_timeout_ms: u64,
}

impl Default for TransportSection {
    fn default() -> Self {
        let transport = rues_warp::TransportConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)));
        Self {
            head_read_timeout_ms: millis(transport.head_read_timeout),
            tls_handshake_timeout_ms: millis(transport.tls_handshake_timeout),
            write_stall_timeout_ms: millis(transport.write_stall_timeout),
            shutdown_timeout_ms: millis(transport.shutdown_timeout),
            max_blocking_calls: transport.endpoint.max_blocking_calls,
            blocking_wait_ms: millis(transport.endpoint.blocking_wait),
            blocking_nice: transport.endpoint.blocking_nice,
            body_read_timeout_ms: millis(transport.endpoint.body_read_timeout),
            body_idle_timeout_ms: millis(transport.endpoint.body_idle_timeout),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TlsSection {
    /// PEM certificate chain.
    pub(crate) cert: PathBuf,
    /// PEM private key.
    pub(crate) key: PathBuf,
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Overrides from the command line, applied over the file.
#[derive(Debug, Default, Clone)]
pub(crate) struct Overrides {
    pub(crate) listen: Option<String>,
    pub(crate) admin_listen: Option<String>,
    pub(crate) no_explorer: bool,
    pub(crate) node_version: Option<String>,
    pub(crate) allowed_origins: Vec<String>,
    pub(crate) access_rules: Vec<String>,
    pub(crate) tls_cert: Option<PathBuf>,
    pub(crate) tls_key: Option<PathBuf>,
    pub(crate) block_time_ms: Option<u64>,
    /// `KEY=VALUE` pairs, any key.
    pub(crate) set: Vec<String>,
}

impl NodeConfig {
    /// Defaults, then the file, then the overrides; validated.
    pub(crate) fn load(file: Option<&std::path::Path>, overrides: &Overrides) -> Result<Self> {
        let mut tree = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the config file {}", path.display()))?;
                text.parse::<toml::Table>()
                    .with_context(|| format!("{} is not valid TOML", path.display()))?
            }
            None => toml::Table::new(),
        };
        let mut put = |key: &str, value: toml::Value| set_key(&mut tree, key, value);
        if let Some(listen) = &overrides.listen {
            put("listen", toml::Value::String(listen.clone()))?;
        }
        if let Some(admin) = &overrides.admin_listen {
            put("admin_listen", toml::Value::String(admin.clone()))?;
        }
        if overrides.no_explorer {
            put("explorer", toml::Value::Boolean(false))?;
        }
        if let Some(version) = &overrides.node_version {
            put("node_version", toml::Value::String(version.clone()))?;
        }
        if !overrides.allowed_origins.is_empty() {
            put("allowed_origins", strings(&overrides.allowed_origins))?;
        }
        if !overrides.access_rules.is_empty() {
            put("access_rules", strings(&overrides.access_rules))?;
        }
        if let Some(cert) = &overrides.tls_cert {
            put("tls.cert", toml::Value::String(cert.display().to_string()))?;
        }
        if let Some(key) = &overrides.tls_key {
            put("tls.key", toml::Value::String(key.display().to_string()))?;
        }
        if let Some(ms) = overrides.block_time_ms {
            put(
                "chain.block_time_ms",
                toml::Value::Integer(i64::try_from(ms).unwrap_or(i64::MAX)),
            )?;
        }
        for pair in &overrides.set {
            let (key, value) = pair
                .split_once('=')
                .with_context(|| format!("--set {pair}: expected KEY=VALUE"))?;
            put(key.trim(), parse_value(value.trim()))?;
        }
        let config: NodeConfig = tree
            .try_into()
            .context("invalid configuration (see docs/operations.md for every key)")?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        self.version()?;
        split_host_port(&self.listen)?;
        if let Some(admin) = &self.admin_listen {
            split_host_port(admin)?;
        }
        self.access()?;
        if self.limits.ping_interval_ms == 0 || self.limits.idle_timeout_ms == 0 {
            bail!("limits.ping_interval_ms and limits.idle_timeout_ms must be positive");
        }
        if self.limits.idle_timeout_ms <= self.limits.ping_interval_ms {
            bail!(
                "limits.idle_timeout_ms ({}) must be longer than limits.ping_interval_ms ({}), or every session would time out between pings",
                self.limits.idle_timeout_ms,
                self.limits.ping_interval_ms
            );
        }
        Ok(())
    }

    pub(crate) fn version(&self) -> Result<semver::Version> {
        self.node_version.parse().with_context(|| {
            format!(
                "node_version `{}` is not a semantic version",
                self.node_version
            )
        })
    }

    fn access(&self) -> Result<AccessRules> {
        AccessRules::parse(self.access_rules.iter().map(String::as_str)).context("access_rules")
    }

    /// The core's configuration.
    /// How the node joins the cluster at `url` as `name`: its `[history]`
    /// per-stream bounds are the shared history's (docs/cluster.md); any
    /// at 0 shares none.
    pub(crate) fn cluster(&self, url: &str, name: &str) -> rues_cluster::ClusterConfig {
        let history = &self.history;
        let shared = (history.events_per_stream > 0
            && history.bytes_per_stream > 0
            && history.total_bytes > 0)
            .then(|| {
                rues_cluster::SharedHistory::default()
                    .per_stream(history.events_per_stream, history.bytes_per_stream)
            });
        rues_cluster::ClusterConfig::new(url)
            .with_name(name)
            .with_shared_history(shared)
    }

    pub(crate) fn core(&self) -> Result<rues_core::Config> {
        let mut limits = rues_core::Limits::default();
        limits.max_sessions = self.limits.max_sessions;
        limits.max_subscriptions = self.limits.max_subscriptions;
        limits.max_total_subscriptions = self.limits.max_total_subscriptions;
        limits.max_sessions_per_client = self.limits.max_sessions_per_client;
        limits.trusted_proxies = self.limits.trusted_proxies.clone();
        limits.max_inbound_frame = self.limits.max_inbound_frame;
        limits.max_body = self.limits.max_body;
        limits.max_event_header = self.limits.max_event_header;
        limits.max_queue_bytes = self.limits.max_queue_bytes;
        limits.ping_interval = Duration::from_millis(self.limits.ping_interval_ms);
        limits.idle_timeout = Duration::from_millis(self.limits.idle_timeout_ms);
        let origins = if self.allowed_origins.iter().any(|o| o == "*") {
            OriginPolicy::Any
        } else {
            OriginPolicy::List(self.allowed_origins.clone())
        };
        let history = rues_core::HistoryLimits::default()
            .per_stream(
                self.history.events_per_stream,
                self.history.bytes_per_stream,
            )
            .total(self.history.total_bytes);
        Ok(rues_core::Config::new(self.version()?)
            .with_limits(limits)
            .with_history(history)
            .with_access(self.access()?)
            .with_origins(origins))
    }

    /// The address to listen on: `listen` itself when it is an IP address
    /// and a port, else its name resolved now. Of a name's addresses the
    /// first IPv4 one is taken (`localhost` then serves 127.0.0.1, which
    /// every client tries), else the first.
    pub(crate) fn listen_addr(&self) -> Result<SocketAddr> {
        resolve("listen", &self.listen)
    }

    /// The admin listener's address (`admin_listen`, resolved as `listen`).
    pub(crate) fn admin_addr(&self) -> Result<Option<SocketAddr>> {
        self.admin_listen
            .as_deref()
            .map(|admin| resolve("admin_listen", admin))
            .transpose()
    }

    /// The transport's configuration, listening on `listen`.
    pub(crate) fn transport(&self, listen: SocketAddr) -> rues_warp::TransportConfig {
        let mut transport = rues_warp::TransportConfig::new(listen);
        transport.head_read_timeout = Duration::from_millis(self.transport.head_read_timeout_ms);
        transport.tls_handshake_timeout =
            Duration::from_millis(self.transport.tls_handshake_timeout_ms);
        transport.write_stall_timeout =
            Duration::from_millis(self.transport.write_stall_timeout_ms);
        transport.shutdown_timeout = Duration::from_millis(self.transport.shutdown_timeout_ms);
        let transport = transport.with_blocking_calls(
            self.transport.max_blocking_calls,
            Duration::from_millis(self.transport.blocking_wait_ms),
        );
        let transport = transport
            .with_body_deadlines(
                Duration::from_millis(self.transport.body_read_timeout_ms),
                Duration::from_millis(self.transport.body_idle_timeout_ms),
            )
            .with_blocking_nice(self.transport.blocking_nice);
        match &self.tls {
            Some(tls) => transport.with_tls(&tls.cert, &tls.key),
            None => transport,
        }
    }

    /// The chain's configuration, reporting the node's version.
    pub(crate) fn chain(&self) -> rues_demo::ChainConfig {
        let mut chain = self.chain.clone();
        chain.version = self.node_version.clone();
        chain
    }

    /// The configuration as TOML, for `--print-config`.
    pub(crate) fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self).context("cannot print the configuration")
    }
}

/// Splits `HOST:PORT` (`[v6]:PORT` for IPv6), checking the port, so a
/// malformed address is refused when the configuration loads, not when the
/// node binds.
/// `addr` (the value of the key `key`) as a socket address: itself when it
/// is an IP address and a port, else its name resolved now.
fn resolve(key: &str, addr: &str) -> Result<SocketAddr> {
    if let Ok(addr) = addr.parse() {
        return Ok(addr);
    }
    let (host, _) = split_host_port(addr)?;
    let addrs: Vec<SocketAddr> = addr.to_socket_addrs().map(Iterator::collect).map_err(|e| {
        anyhow::anyhow!(
            "{key} address `{addr}`: cannot resolve `{host}` ({e}); give an IP address (e.g. 127.0.0.1:8080) or a host name that resolves"
        )
    })?;
    addrs
        .iter()
        .find(|addr| addr.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .with_context(|| {
            format!(
                "{key} address `{addr}`: `{host}` resolves to no address; give an IP address (e.g. 127.0.0.1:8080)"
            )
        })
}

fn split_host_port(listen: &str) -> Result<(&str, u16)> {
    let malformed = || {
        anyhow::anyhow!(
            "listen address `{listen}` is not HOST:PORT (e.g. 127.0.0.1:8080, localhost:8080 or [::1]:8080)"
        )
    };
    let (host, port) = listen.rsplit_once(':').ok_or_else(malformed)?;
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.strip_suffix(']').ok_or_else(malformed)?,
        None if host.contains(':') => return Err(malformed()),
        None => host,
    };
    let port = port.parse().map_err(|_| malformed())?;
    if host.is_empty() {
        return Err(malformed());
    }
    Ok((host, port))
}

fn strings(items: &[String]) -> toml::Value {
    toml::Value::Array(items.iter().cloned().map(toml::Value::String).collect())
}

/// A `--set` value: TOML when it parses as a TOML value (numbers, booleans,
/// arrays, quoted strings), a bare string otherwise.
fn parse_value(text: &str) -> toml::Value {
    format!("v = {text}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut table| table.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.to_owned()))
}

/// Sets a dotted key, creating tables on the way.
fn set_key(tree: &mut toml::Table, key: &str, value: toml::Value) -> Result<()> {
    let mut parts: Vec<&str> = key.split('.').collect();
    let Some(last) = parts.pop().filter(|k| !k.is_empty()) else {
        bail!("empty configuration key in `{key}`");
    };
    let mut table = tree;
    for part in parts {
        let entry = table
            .entry(part.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = entry
            .as_table_mut()
            .with_context(|| format!("`{part}` in `{key}` is not a table"))?;
    }
    table.insert(last.to_owned(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_protocol_defaults() {
        let config = NodeConfig::load(None, &Overrides::default()).expect("defaults load");
        assert_eq!(config.listen, "127.0.0.1:8080");
        let core = config.core().expect("valid");
        assert_eq!(core.limits, rues_core::Limits::default());
        assert_eq!(core.history, rues_core::HistoryLimits::default());
        assert!(
            semver::VersionReq::parse("^1.0.0-rc.0")
                .expect("req")
                .matches(&core.version)
        );
    }

    #[test]
    fn the_history_bounds_reach_the_core() {
        let overrides = Overrides {
            set: vec![
                "history.events_per_stream=10".into(),
                "history.bytes_per_stream=2048".into(),
                "history.total_bytes=0".into(),
            ],
            ..Overrides::default()
        };
        let config = NodeConfig::load(None, &overrides).expect("loads");
        let history = config.core().expect("valid").history;
        assert_eq!(history.max_events_per_stream, 10);
        assert_eq!(history.max_bytes_per_stream, 2048);
        assert_eq!(history.max_total_bytes, 0);
        let typo = Overrides {
            set: vec!["history.events=10".into()],
            ..Overrides::default()
        };
        assert!(NodeConfig::load(None, &typo).is_err());
    }

    #[test]
    fn file_then_flags_then_set() {
        let dir = std::env::temp_dir().join(format!("rues-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("rues.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\nnode_version = \"1.7.0\"\n[limits]\nmax_sessions = 5\n[chain]\nblock_time_ms = 100\n",
        )
        .expect("written");
        let overrides = Overrides {
            listen: Some("127.0.0.1:9001".into()),
            set: vec!["limits.max_subscriptions=7".into(), "chain.seed=99".into()],
            ..Overrides::default()
        };
        let config = NodeConfig::load(Some(&file), &overrides).expect("loads");
        assert_eq!(config.listen_addr().expect("an address").port(), 9001);
        assert_eq!(config.node_version, "1.7.0");
        assert_eq!(config.limits.max_sessions, 5);
        assert_eq!(config.limits.max_subscriptions, 7);
        assert_eq!(config.chain.block_time_ms, 100);
        assert_eq!(config.chain.seed, 99);
        // The printed configuration loads back to the same thing.
        std::fs::write(&file, config.to_toml().expect("printable")).expect("written");
        assert_eq!(
            NodeConfig::load(Some(&file), &Overrides::default()).expect("reloads"),
            config
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_configurations_are_refused_with_the_reason() {
        let cases = [
            ("unknown_key=1", "unknown field"),
            ("node_version=banana", "not a semantic version"),
            ("access_rules=[\"DENY PUT /on/\"]", "unknown method `PUT`"),
            ("limits.idle_timeout_ms=10", "must be longer"),
            ("limits=3", "invalid configuration"),
            ("listen=localhost", "is not HOST:PORT"),
            ("listen=::1:80", "is not HOST:PORT"),
            ("listen=127.0.0.1:http", "is not HOST:PORT"),
        ];
        for (set, needle) in cases {
            let overrides = Overrides {
                set: vec![set.into()],
                ..Overrides::default()
            };
            let error = NodeConfig::load(None, &overrides).expect_err(set);
            assert!(format!("{error:#}").contains(needle), "{set}: {error:#}");
        }
    }
}
