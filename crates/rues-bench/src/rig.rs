//! The rig every scenario measures with: a server and its subscribers
//! ([`Rig`]), the [`Ladder`] of offered rates the fan-out and churn
//! scenarios climb, and the small measures they all take (the load
//! average, nanoseconds as milliseconds) and print ([`progress`]).

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
        Self::start_with(kind, &[], plan, n, entity).await
    }

    /// [`start`](Self::start) with `options` for the server (see
    /// [`Peer::start_with`]).
    pub(crate) async fn start_with(
        kind: Kind,
        options: &[&str],
        plan: &Plan,
        n: usize,
        entity: impl Fn(usize) -> Option<u32>,
    ) -> Result<Rig> {
        let peer = Peer::start_with(kind, &plan.scratch, options).await?;
        Self::open(peer, plan, n, entity).await
    }

    /// Opens `n` subscribers to a server already started.
    pub(crate) async fn open(
        peer: Peer,
        plan: &Plan,
        n: usize,
        entity: impl Fn(usize) -> Option<u32>,
    ) -> Result<Rig> {
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
        let published = self.publish(order).await?;
        self.settle(expected, grace).await;
        Ok((published, self.fleet.latencies()))
    }

    /// Publishes `order`, bounded by three times its nominal time + 30 s;
    /// returns the publishing time the server measured.
    pub(crate) async fn publish(&mut self, order: Order) -> Result<Duration> {
        let timeout = Duration::from_secs_f64(order.count as f64 / order.rate * 3.0 + 30.0);
        self.peer.publish(order, timeout).await
    }

    /// Waits until `expected` messages arrived (since the last reset), or
    /// `grace` passed.
    pub(crate) async fn settle(&self, expected: u64, grace: Duration) {
        let deadline = Instant::now() + grace;
        while self.fleet.received() < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// The rates of a ladder (fan-out, churn): from the first rung, doubling
/// while rungs pass, halving while they fail (down to a sixteenth of the
/// first), then bisecting geometrically between the best pass and the
/// lowest failure, `refine` times or until they are within 10 %.
pub(crate) struct Ladder {
    first: f64,
    refine: usize,
    refined: usize,
    best: Option<f64>,
    worst: Option<f64>,
}

impl Ladder {
    pub(crate) fn new(first: f64, refine: usize) -> Self {
        Ladder {
            first,
            refine,
            refined: 0,
            best: None,
            worst: None,
        }
    }

    /// Records whether the rung at `rate` passed, and returns the next
    /// rung's rate, or `None` when the ladder is done.
    pub(crate) fn next(&mut self, rate: f64, ok: bool) -> Option<f64> {
        if ok {
            self.best = Some(self.best.map_or(rate, |b: f64| b.max(rate)));
        } else {
            self.worst = Some(self.worst.map_or(rate, |w: f64| w.min(rate)));
        }
        match (self.best, self.worst) {
            (Some(_), None) => Some(rate * 2.0),
            (None, Some(w)) => {
                if w < self.first / 16.0 {
                    return None;
                }
                Some(w / 2.0)
            }
            (Some(b), Some(w)) => {
                if self.refined >= self.refine || w / b < 1.1 {
                    return None;
                }
                self.refined += 1;
                Some((b * w).sqrt())
            }
            (None, None) => None,
        }
    }

    /// The highest passing rung, in its rate's unit (0: none passed).
    pub(crate) fn best(&self) -> f64 {
        self.best.unwrap_or(0.0)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ladder_doubles_while_passing_then_bisects_the_first_failure() {
        let mut ladder = Ladder::new(100.0, 1);
        assert_eq!(ladder.next(100.0, true), Some(200.0));
        assert_eq!(ladder.next(200.0, true), Some(400.0));
        let between = ladder.next(400.0, false).unwrap();
        assert!((between - 200.0 * 2f64.sqrt()).abs() < 1e-9, "{between}");
        assert_eq!(ladder.next(between, true), None, "one bisection");
        assert_eq!(ladder.best(), between);
    }

    #[test]
    fn a_ladder_halves_while_failing_down_to_a_sixteenth_of_the_first() {
        let mut ladder = Ladder::new(16.0, 2);
        let mut rates = vec![16.0];
        while let Some(next) = ladder.next(*rates.last().unwrap(), false) {
            rates.push(next);
        }
        assert_eq!(rates, [16.0, 8.0, 4.0, 2.0, 1.0, 0.5]);
        assert_eq!(ladder.best(), 0.0);
    }
}
