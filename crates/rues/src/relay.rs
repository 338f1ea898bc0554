//! `rues relay`: RUES served in front of an upstream node (docs/relay.md).
//! The downstream side is configured as `rues serve` is (limits, access
//! rules, origins, TLS, the admin listener, the explorer); there is no
//! chain and no block production: events and dispatch answers are the
//! upstream's.

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, Result};
use rues_cluster::Cluster;
use rues_demo::{Chain, SharedChain};
use rues_relay::{Relay, RelayConfig};

use crate::config::NodeConfig;
use crate::serve;

/// What `rues relay` takes beside the node's configuration.
#[derive(Debug)]
pub(crate) struct RelayArgs {
    pub(crate) upstream: String,
    pub(crate) upstream_ca: Option<Vec<u8>>,
    /// How long to wait at start for the upstream.
    pub(crate) upstream_wait: Duration,
    /// `--node-version` was given: it is the relay's version, not the
    /// upstream's.
    pub(crate) version_given: bool,
    /// The cluster to feed, if any.
    pub(crate) nats: Option<String>,
}

/// `rues relay`: the relay's node version is the upstream's (or
/// `--node-version`), its registry the Dusk public API's shape with every
/// topic open and every dispatch forwarded.
pub(crate) async fn relay(mut config: NodeConfig, args: RelayArgs) -> Result<()> {
    let mut relay_config = RelayConfig::new(args.upstream.clone());
    if let Some(pem) = args.upstream_ca {
        relay_config = relay_config.with_upstream_ca(pem);
    }
    if !args.version_given {
        let version = Relay::upstream_version(&relay_config, args.upstream_wait)
            .await
            .context("cannot learn the upstream's node version")?;
        config.node_version = version.to_string();
    }
    // The chain is made only to name the demo's components (the Dusk
    // public API's shape): its handlers are dropped, and it never runs.
    let shape = Chain::new(config.chain(), rues_demo::unix_time_ms())
        .context("invalid [chain] configuration")?;
    let shape = rues_demo::registry(SharedChain::new(shape));
    let registry = Relay::registry(&shape, &relay_config).context("invalid --upstream")?;
    let server = serve::bind(&config, registry).await?;
    let (relay, cluster) = match &args.nats {
        Some(url) => {
            // Connected and serving the relay's registry (every dispatch)
            // to the cluster; the relay's backplane wraps it.
            let cluster_config = config.cluster(url, "rues-relay");
            let cluster = Cluster::connect(server.endpoint(), cluster_config)
                .await
                .context("cannot join the cluster")?;
            let demand = cluster
                .demand()
                .await
                .context("cannot follow the cluster's demand")?;
            let relay = Relay::start_in_cluster(
                server.endpoint(),
                relay_config,
                args.upstream_wait,
                std::sync::Arc::new(cluster.clone()),
                demand,
            )
            .await;
            (relay, Some(cluster))
        }
        None => (
            Relay::start(server.endpoint(), relay_config, args.upstream_wait).await,
            None,
        ),
    };
    let relay = relay.context("cannot open the upstream session")?;
    let stop = serve::stop_signal()?;
    let what = format!("relay of {}", args.upstream);
    let server = serve::finish(server, &config, &what, cluster.as_ref());
    let mut stdout = std::io::stdout();
    let _ = writeln!(
        stdout,
        "rues: relaying {} (upstream session open)",
        args.upstream
    );
    let _ = stdout.flush();
    server.run(stop).await;
    if let Some(cluster) = &cluster {
        cluster.leave().await;
    }
    relay.stop().await;
    tracing::info!("RUES relay stopped");
    Ok(())
}
