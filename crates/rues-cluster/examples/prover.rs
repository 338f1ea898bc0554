//! A dispatch service in a process of its own, speaking only NATS: it
//! serves `prover/prove` to a rues cluster (docs/cluster.md, "Services in
//! other processes"). It has no listener; it is a rues node (an
//! `Endpoint`) with a registry of one handler, joined to the cluster, so
//! its requests get the same checks, statuses and headers as on any node.
//!
//! ```text
//! cargo run -p rues-cluster --example prover -- --nats nats://127.0.0.1:4222
//! curl -X POST --data-binary @tx.bin -H 'Content-Type: application/octet-stream' \
//!     http://127.0.0.1:8080/on/prover/prove | xxd
//! ```
//!
//! The "proof" is a stand-in: 64 bytes mixed from the input after a delay
//! that plays the part of proving (`--delay-ms`, default 300), on the
//! blocking pool, as a real prover's CPU-bound work would run. It proves
//! nothing.

use std::time::Duration;

use bytes::Bytes;
use rues_core::rues_target::{Component, Topic};
use rues_core::{ComponentSpec, Config, DispatchRequest, EntityRule, Registry, Reply};
use rues_warp::Endpoint;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut nats = None;
    let mut delay = Duration::from_millis(300);
    let mut version = "1.6.0".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--nats" => nats = args.next(),
            "--delay-ms" => {
                let ms = args.next().ok_or("--delay-ms needs a value")?;
                delay = Duration::from_millis(ms.parse()?);
            }
            "--node-version" => version = args.next().ok_or("--node-version needs a value")?,
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let nats = nats.ok_or("give the NATS server: --nats nats://HOST:PORT")?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let endpoint = Endpoint::new(Config::new(version.parse()?), registry(delay)?);
        let config = rues_cluster::ClusterConfig::new(nats.clone()).with_name("rues-prover");
        let _cluster = rues_cluster::Cluster::join(&endpoint, config).await?;
        println!("prover: serving prover/prove to the cluster at {nats}");
        tokio::signal::ctrl_c().await?;
        Ok(())
    })
}

/// `prover/prove`, and nothing else.
fn registry(delay: Duration) -> Result<Registry, Box<dyn std::error::Error>> {
    let prove = move |request: DispatchRequest| {
        std::thread::sleep(delay);
        Ok(Reply::Binary(Bytes::from(stand_in_proof(
            request.body.as_bytes(),
        ))))
    };
    Ok(Registry::new().with(
        ComponentSpec::new(Component::new("prover")?)
            .entity(EntityRule::Forbidden)
            .blocking_handler(Topic::new("prove")?, prove),
    ))
}

/// 64 bytes that depend on every input byte (FNV-1a lanes): what a client
/// can check came back, not a proof.
fn stand_in_proof(input: &[u8]) -> Vec<u8> {
    (0u64..8)
        .flat_map(|lane| {
            let hash = input
                .iter()
                .fold(0xcbf2_9ce4_8422_2325_u64 ^ lane, |hash, &byte| {
                    (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
                });
            hash.to_le_bytes()
        })
        .collect()
}
