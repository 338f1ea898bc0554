//! The rig every scenario measures with: a server and its subscribers
//! ([`Rig`]), and the small measures they all take (the load average,
//! nanoseconds as milliseconds) and print ([`progress`]).

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::client::{Fleet, Kind};
use crate::control::Order;
use crate::hist::Hist;
use crate::peers::Peer;
use crate::plan::Plan;

/// A server with its subscribers.
pub(crate) struct Rig {
    pub(crate) peer: Peer,
    pub(crate) fleet: Fleet,
}

impl Rig {
    pub(crate) async fn start(
        kind: Kind,
        plan: &Plan,
        n: usize,
        entity: impl Fn(usize) -> Option<u32>,
    ) -> Result<Rig> {
        let peer = Peer::start(kind, &plan.scratch).await?;
        let fleet = match Fleet::open(peer.endpoint(), n, entity, plan.parallel_opens).await {
            Ok(fleet) => fleet,
            Err(error) => {
                peer.stop().await;
                return Err(error);
            }
        };
        Ok(Rig { peer, fleet })
    }

    pub(crate) async fn stop(self) {
        let Rig { peer, mut fleet } = self;
        peer.stop().await;
        fleet.abort();
    }

    /// Publishes `order` and waits until `expected` messages arrived or
    /// `grace` passed after the publisher finished.
    pub(crate) async fn step(
        &mut self,
        order: Order,
        expected: u64,
        grace: Duration,
    ) -> Result<(Duration, Hist)> {
        self.fleet.reset();
        let timeout = Duration::from_secs_f64(order.count as f64 / order.rate * 3.0 + 30.0);
        let published = self.peer.publish(order, timeout).await?;
        let deadline = Instant::now() + grace;
        while self.fleet.received() < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok((published, self.fleet.latencies()))
    }
}

/// A progress line on stderr.
pub(crate) fn progress(text: &str) {
    eprintln!("rues-bench: {text}");
}

/// The 1-minute load average, to show how busy the machine was.
pub(crate) fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().and_then(|l| l.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// Nanoseconds as milliseconds.
pub(crate) fn ms(nanos: u64) -> f64 {
    nanos as f64 / 1e6
}
