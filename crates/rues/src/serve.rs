//! `rues serve`: the demo node. The simulated chain publishes through the
//! same `rues_warp::Publisher` any embedding application would use.

use std::io::Write;

use anyhow::{Context, Result};
use rues_cluster::Cluster;
use rues_core::ComponentSpec;
use rues_demo::{Chain, SharedChain};
use rues_warp::Server;
use rues_warp::warp::Filter;
use tokio::sync::watch;

use crate::config::NodeConfig;

/// `rues serve`: the demo node, alone, or in a cluster through the NATS
/// server at `nats` (docs/cluster.md). In a cluster, `prover/prove` is
/// left to whichever prover service joins (the demo node has none).
pub(crate) async fn serve(config: NodeConfig, nats: Option<String>) -> Result<()> {
    let chain_config = config.chain();
    let block_time = chain_config.block_time_ms;
    let chain = Chain::new(chain_config, rues_demo::unix_time_ms())
        .context("invalid [chain] configuration")?;
    let chain = SharedChain::new(chain);
    let mut registry = rues_demo::registry(chain.clone());
    if nats.is_some() {
        let prover = registry
            .components()
            .find(|spec| spec.name().as_str() == "prover")
            .map(ComponentSpec::without_handlers);
        if let Some(prover) = prover {
            registry = registry.with(prover);
        }
    }
    let server = bind(&config, registry)
        .await?
        .with_health_check("chain", chain_health(chain.clone(), block_time));
    let cluster = join(&server, &config, nats.as_deref(), "rues-serve").await?;
    let what = format!("demo chain, a block every {block_time} ms");
    // Caught before the banner: whoever reads it may stop the node at once.
    let stop = stop_signal()?;
    let server = finish(server, &config, &what, cluster.as_ref());

    let publisher = server.publisher();
    let (stop_chain, chain_stopped) = watch::channel(false);
    let chain_task = tokio::spawn(rues_demo::run(
        chain,
        move |event| {
            if let Err(error) = publisher.publish(&event) {
                tracing::warn!(%error, location = %event.path, "event not published");
            }
        },
        async move {
            let mut stopped = chain_stopped;
            let _ = stopped.wait_for(|stop| *stop).await;
        },
    ));

    server.run(stop).await;
    if let Some(cluster) = cluster {
        cluster.leave().await;
    }
    let _ = stop_chain.send(true);
    let _ = chain_task.await;
    tracing::info!("RUES node stopped");
    Ok(())
}

/// `rues edge`: a node with no chain of its own, in the cluster at `nats`:
/// it checks paths as the demo node does (the same components, entity
/// rules and topics, without their handlers), serves its own sessions,
/// and gets events and dispatch answers through the cluster.
pub(crate) async fn edge(config: NodeConfig, nats: String) -> Result<()> {
    // The chain is made only to name the demo's components: the handlers
    // that would hold it are dropped with it, and it never runs.
    let shape = Chain::new(config.chain(), rues_demo::unix_time_ms())
        .context("invalid [chain] configuration")?;
    let registry = rues_demo::registry(SharedChain::new(shape)).without_handlers();
    let server = bind(&config, registry).await?;
    let cluster = join(&server, &config, Some(&nats), "rues-edge").await?;
    let stop = stop_signal()?;
    let server = finish(
        server,
        &config,
        "edge: no chain of its own",
        cluster.as_ref(),
    );
    server.run(stop).await;
    if let Some(cluster) = cluster {
        cluster.leave().await;
    }
    tracing::info!("RUES edge stopped");
    Ok(())
}

/// The server of either role, bound to its listeners.
pub(crate) async fn bind(config: &NodeConfig, registry: rues_core::Registry) -> Result<Server> {
    let listen = config.listen_addr()?;
    let mut transport = config.transport(listen);
    transport.admin_listen = config.admin_addr()?;
    Ok(Server::bind(config.core()?, registry, transport).await?)
}

/// Joins the cluster at `nats`, if one is given.
async fn join(
    server: &Server,
    config: &NodeConfig,
    nats: Option<&str>,
    name: &str,
) -> Result<Option<Cluster>> {
    let Some(url) = nats else {
        return Ok(None);
    };
    let config = config.cluster(url, name);
    let cluster = Cluster::join(server.endpoint(), config)
        .await
        .context("cannot join the cluster")?;
    Ok(Some(cluster))
}

/// Adds the routes beside RUES (`/graphql`, the explorer) and prints the
/// banner: the first line on stdout is the address, for people and for
/// scripts.
pub(crate) fn finish(
    server: Server,
    config: &NodeConfig,
    what: &str,
    cluster: Option<&Cluster>,
) -> Server {
    // `/graphql` is the node's API, not the explorer's: it stays with
    // `--no-explorer`. It is on the public listener only (the admin one
    // serves /metrics and /health).
    let graphql =
        crate::graphql_http::routes(server.endpoint().service(), config.node_version.to_string());
    let server = if config.explorer {
        server.with_routes(graphql.or(crate::explorer::routes()).unify().boxed())
    } else {
        server.with_routes(graphql)
    };
    let scheme = if server.is_tls() { "https" } else { "http" };
    let addr = server.local_addr();
    // Whoever reads stdout may stop reading: a closed stdout is not an error.
    let mut stdout = std::io::stdout();
    let _ = writeln!(
        stdout,
        "rues: listening on {scheme}://{addr}/on ({what}, node version {})",
        config.node_version
    );
    if config.explorer {
        let _ = writeln!(stdout, "rues: the explorer is at {scheme}://{addr}/");
    }
    let admin = server.admin_addr().unwrap_or(addr);
    let admin_scheme = if server.admin_addr().is_some() {
        "http"
    } else {
        scheme
    };
    let _ = writeln!(
        stdout,
        "rues: metrics at {admin_scheme}://{admin}/metrics, health at {admin_scheme}://{admin}/health"
    );
    if let Some(cluster) = cluster {
        let state = if cluster.is_connected() {
            "connected"
        } else {
            "not reachable yet, retrying"
        };
        let _ = writeln!(stdout, "rues: in a cluster through NATS ({state})");
    }
    let _ = stdout.flush();
    tracing::info!(%addr, tls = server.is_tls(), cluster = cluster.is_some(), "RUES node started");
    server
}

/// `/health`'s check of the chain: healthy while its last block is no older
/// than three block times (and 10 s at least, for a clock's steps).
fn chain_health(
    chain: std::sync::Arc<SharedChain>,
    block_time_ms: u64,
) -> impl Fn() -> Result<String, String> + Send + Sync + 'static {
    move || {
        let (height, made_ms) = {
            let chain = chain.lock();
            let tip = &chain.tip().header;
            (tip.height, tip.timestamp.saturating_mul(1000))
        };
        let age_ms = rues_demo::unix_time_ms().saturating_sub(made_ms);
        let limit_ms = block_time_ms.saturating_mul(3).max(10_000);
        if age_ms <= limit_ms {
            Ok(format!("block {height}, made {} s ago", age_ms / 1000))
        } else {
            Err(format!(
                "no block for {} s (block {height}); one is due every {} ms",
                age_ms / 1000,
                block_time_ms
            ))
        }
    }
}

/// SIGINT or SIGTERM, caught from this call on: a script that starts the
/// node, reads its banner and stops it at once gets a graceful shutdown,
/// where a signal before the first poll of `rues_warp::shutdown_signal`
/// would kill the process.
#[cfg(unix)]
pub(crate) fn stop_signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

#[cfg(not(unix))]
pub(crate) fn stop_signal() -> Result<impl std::future::Future<Output = ()>> {
    Ok(rues_warp::shutdown_signal())
}
