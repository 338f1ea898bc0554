//! (a) rues: the rues-warp adapter with the publisher inside the process,
//! wired exactly as the demo node wires it (`Server::bind`, a `Publisher`
//! handle, `Server::run`), with the default limits except the session limit,
//! raised so that 10 000 benchmark sessions and churn fit.
//!
//! For the blocking scenario it also has dispatch handlers (see
//! [`registry`]), and `--publish-thread` moves the publisher off the
//! runtime: a runtime whose workers are stuck in a handler's thread sleep
//! stops driving timers too, so a publisher paced by the runtime's timer
//! would stall with it and stamp its events late, hiding the delay the
//! scenario measures.
//!
//! For the graphql scenario, `--demo` serves the demo node's registry
//! (`rues_demo::registry`, GraphQL included) with the `bench` component
//! added, and drives the demo chain with `rues_demo::run` on the server's
//! runtime, its events published through the same `Publisher`, as `rues
//! serve` does; the harness's orders are then served on a thread of their
//! own (as with `--publish-thread`), so the bench events keep their times
//! whatever the GraphQL queries do to the runtime.
//!
//! For the cluster scenario, `--nats URL` joins the node to the cluster
//! through that NATS server, as `rues serve --nats` does
//! (`rues_cluster::Cluster::join` on the server's endpoint): its events
//! then go to NATS too, and it receives the other nodes' events and
//! answers requests forwarded to it. Only the node the harness orders to
//! publish publishes; the others deliver what comes through NATS.
//!
//! For the relay scenario, `--fanout PATH` publishes the fan-out events to
//! `PATH` instead of `/on/bench:all/tick`, and serves `PATH`'s component
//! beside the bench one when it is another: the relay in front of this
//! node serves the Dusk API's shape, which has no `bench` component.

use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use rues_cluster::{Cluster, ClusterConfig};
use rues_core::rues_target::{Component, EventPath, Topic};
use rues_core::{
    ComponentSpec, Config, DispatchRequest, EntityRule, Event, HandlerError, Limits, Registry,
    Reply,
};
use rues_demo::{Chain, ChainConfig, SharedChain};
use rues_warp::{Publisher, Server, TransportConfig};

use crate::control::{self, Outlet};

/// The rues node's version; any will do.
const VERSION: &str = "1.6.0";

/// The dispatch topics of the blocking scenario: the same slow work as a
/// blocking handler (run on rues-warp's bounded blocking pool) and as an
/// ordinary async handler that sleeps the thread it runs on (a runtime
/// worker: the behaviour before blocking handlers), and a probe that
/// answers at once.
pub(crate) const BLOCK_ON_POOL: &str = "block";
pub(crate) const BLOCK_ON_RUNTIME: &str = "block-on-runtime";
pub(crate) const PROBE: &str = "probe";

/// How long a blocking call holds its thread when the body does not say.
const DEFAULT_HOLD: Duration = Duration::from_secs(2);
/// The longest hold a body may ask for, so every call stays bounded.
const MAX_HOLD_MS: u64 = 10_000;

/// How long a blocking call holds its thread: the body's decimal
/// milliseconds (at most 10 000), or 2 s when the body is empty.
pub(crate) fn hold(body: &[u8]) -> Result<Duration, HandlerError> {
    let text = std::str::from_utf8(body).unwrap_or("").trim();
    if body.is_empty() {
        return Ok(DEFAULT_HOLD);
    }
    match text.parse::<u64>() {
        Ok(ms) if ms <= MAX_HOLD_MS => Ok(Duration::from_millis(ms)),
        _ => Err(HandlerError::bad_request(format!(
            "the body must be a hold time in milliseconds, 0 to {MAX_HOLD_MS}"
        ))),
    }
}

/// Holds the calling thread as the body asks.
fn block(request: &DispatchRequest) -> Result<Reply, HandlerError> {
    let hold = hold(request.body.as_bytes())?;
    std::thread::sleep(hold);
    Ok(Reply::Text(format!("held {} ms", hold.as_millis())))
}

/// The benchmark registry: the [`bench_component`] alone.
pub(crate) fn registry() -> Result<Registry> {
    Ok(Registry::new().with(bench_component()?))
}

/// The fan-out path: `/on/bench:all/tick`, or `fanout` (of the bench
/// component, only its `tick` topic: the others are dispatch topics).
pub(crate) fn fanout_path(fanout: Option<&str>) -> Result<EventPath> {
    let path = fanout.unwrap_or("/on/bench:all/tick");
    let parsed = EventPath::parse(path).with_context(|| format!("the fan-out path `{path}`"))?;
    anyhow::ensure!(
        parsed.component().as_str() != "bench" || parsed.topic().as_str() == "tick",
        "the fan-out path `{path}`: the bench component's event topic is `tick`"
    );
    Ok(parsed)
}

/// The component serving `fanout` when it is not the bench component: its
/// topic alone, entity optional.
pub(crate) fn fanout_component(fanout: &EventPath) -> Option<ComponentSpec> {
    (fanout.component().as_str() != "bench").then(|| {
        ComponentSpec::new(fanout.component().clone())
            .entity(EntityRule::Optional)
            .topic(fanout.topic().clone())
    })
}

/// Component `bench` (entity optional), topic `tick`, and the dispatch
/// topics `block`, `block-on-runtime` and `probe`.
pub(crate) fn bench_component() -> Result<ComponentSpec> {
    Ok(ComponentSpec::new(Component::new("bench")?)
        .entity(EntityRule::Optional)
        .topic(Topic::new("tick")?)
        .blocking_handler(Topic::new(BLOCK_ON_POOL)?, |request| block(&request))
        // A thread sleep inside an async handler: what a slow handler
        // did to a runtime worker before blocking handlers existed.
        .handler(Topic::new(BLOCK_ON_RUNTIME)?, |request| async move {
            block(&request)
        })
        .handler(Topic::new(PROBE)?, |_request| async {
            Ok(Reply::Text("ok".into()))
        }))
}

struct RuesOutlet {
    publisher: Publisher,
    fanout: EventPath,
    /// Entity paths, built once per entity and cloned per event.
    entities: Vec<EventPath>,
}

impl RuesOutlet {
    fn path(&mut self, entity: Option<u32>) -> EventPath {
        let Some(entity) = entity else {
            return self.fanout.clone();
        };
        let entity = entity as usize;
        while self.entities.len() <= entity {
            let name = super::entity_name(Some(self.entities.len() as u32));
            let path = EventPath::parse(&format!("/on/bench:{name}/tick"))
                .expect("benchmark paths are valid");
            self.entities.push(path);
        }
        self.entities[entity].clone()
    }
}

impl Outlet for RuesOutlet {
    fn publish(&mut self, entity: Option<u32>, payload: Bytes) {
        let event = Event::new(self.path(entity), "application/octet-stream", payload);
        if let Err(error) = self.publisher.publish(&event) {
            eprintln!("rues-bench server rues: publish failed: {error}");
        }
    }
}

/// The default limits, but room for the benchmark's sessions, and `budget`
/// as the slow-consumer budget when given.
fn limits(budget: Option<usize>) -> Limits {
    let mut limits = Limits::default();
    limits.max_sessions = 100_000;
    // Every load client connects from the one loopback address.
    limits.max_sessions_per_client = 0;
    if let Some(bytes) = budget {
        limits.max_queue_bytes = bytes;
    }
    limits
}

/// Runs the rues server until the harness says `quit`; with
/// `publish_thread`, the harness's orders are served (and events published)
/// on a thread of its own with its own timer; with `demo`, the demo node's
/// registry and chain run beside the bench component (and the orders are
/// served on a thread of their own).
/// `budget` replaces the slow-consumer budget (`max_queue_bytes`); with
/// `cluster` (a NATS URL, and whether the resume history is shared through
/// JetStream), the node joins the cluster through that NATS server; `fanout`
/// replaces the fan-out path.
pub(crate) async fn run(
    publish_thread: bool,
    demo: bool,
    budget: Option<usize>,
    cluster: Option<(String, bool)>,
    fanout: Option<String>,
) -> Result<()> {
    let fanout = fanout_path(fanout.as_deref())?;
    let publish_thread = publish_thread || demo;
    let config = Config::new(VERSION.parse()?).with_limits(limits(budget));
    let chain = if demo {
        let chain = Chain::new(ChainConfig::default(), rues_demo::unix_time_ms())
            .context("the demo chain's default configuration")?;
        Some(SharedChain::new(chain))
    } else {
        None
    };
    let mut registry = match &chain {
        Some(chain) => rues_demo::registry(chain.clone()).with(bench_component()?),
        None => registry()?,
    };
    // A component the registry has already (the demo's `blocks`) is kept.
    let missing = fanout_component(&fanout)
        .filter(|spec| !registry.components().any(|c| c.name() == spec.name()));
    if let Some(component) = missing {
        registry = registry.with(component);
    }
    let server = Server::bind(
        config,
        registry,
        TransportConfig::new("127.0.0.1:0".parse()?),
    )
    .await?;
    // Kept for the life of the server (the endpoint holds it too).
    let _cluster = match cluster {
        Some((url, shared)) => {
            let history = shared.then(rues_cluster::SharedHistory::default);
            let config = ClusterConfig::new(url.as_str())
                .with_name(format!("rues-bench-{}", std::process::id()))
                .with_shared_history(history);
            let cluster = Cluster::join(server.endpoint(), config)
                .await
                .with_context(|| format!("cannot join the cluster at {url}"))?;
            Some(cluster)
        }
        None => None,
    };
    let (stop_chain, chain_stopped) = tokio::sync::watch::channel(false);
    let chain_task = chain.map(|chain| {
        let publisher = server.publisher();
        tokio::spawn(rues_demo::run(
            chain,
            move |event| {
                if let Err(error) = publisher.publish(&event) {
                    eprintln!("rues-bench server rues: chain event not published: {error}");
                }
            },
            async move {
                let mut stopped = chain_stopped;
                let _ = stopped.wait_for(|stop| *stop).await;
            },
        ))
    });
    let port = server.local_addr().port();
    let mut outlet = RuesOutlet {
        publisher: server.publisher(),
        fanout,
        entities: Vec::new(),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let result = if publish_thread {
        let (done, finished) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("publisher".into())
            .spawn(move || {
                let served = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(anyhow::Error::from)
                    .and_then(|runtime| runtime.block_on(control::serve_orders(port, &mut outlet)));
                let _ = done.send(served);
            })?;
        finished
            .await
            .context("the publisher thread ended without a word")?
    } else {
        control::serve_orders(port, &mut outlet).await
    };
    let _ = stop_chain.send(true);
    if let Some(task) = chain_task {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(15), serving).await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_replaces_the_normative_one_only_when_given() {
        assert_eq!(
            limits(None).max_queue_bytes,
            Limits::default().max_queue_bytes
        );
        assert_eq!(limits(None).max_queue_bytes, 1024 * 1024);
        assert_eq!(limits(Some(64 << 20)).max_queue_bytes, 64 << 20);
        assert_eq!(limits(Some(64 << 20)).max_sessions, 100_000);
    }

    #[test]
    fn the_fanout_path_is_the_bench_one_unless_given_with_its_component_served() {
        let default = fanout_path(None).expect("valid");
        assert_eq!(default.to_string(), "/on/bench:all/tick");
        assert!(
            fanout_component(&default).is_none(),
            "the bench component serves it"
        );
        let blocks = fanout_path(Some("/on/blocks/accepted")).expect("valid");
        let registry = registry()
            .expect("valid")
            .with(fanout_component(&blocks).expect("another component"));
        assert!(
            registry
                .components()
                .any(|c| c.name() == blocks.component()),
            "served"
        );
        assert!(fanout_path(Some("/nowhere")).is_err());
        assert!(
            fanout_path(Some("/on/bench:all/block")).is_err(),
            "a dispatch topic"
        );
        assert!(fanout_path(Some("/on/bench:e1/tick")).is_ok());
    }

    #[test]
    fn the_hold_is_the_body_in_milliseconds_or_two_seconds() {
        assert_eq!(hold(b"").expect("empty"), Duration::from_secs(2));
        assert_eq!(hold(b"250").expect("ms"), Duration::from_millis(250));
        assert_eq!(hold(b" 0\n").expect("trimmed"), Duration::ZERO);
        assert_eq!(hold(b"10000").expect("max"), Duration::from_secs(10));
        for bad in [&b"10001"[..], b"-1", b"2s", b"\xff"] {
            let error = hold(bad).expect_err("refused");
            assert_eq!(error.status(), rues_core::http::StatusCode::BAD_REQUEST);
        }
    }
}
