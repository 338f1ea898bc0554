//! The relay's metrics, rendered into the node's `/metrics` (OpenMetrics
//! text, `rues_relay_*`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// New upstream sessions after a loss.
    reconnects: AtomicU64,
    /// Upstream paths renewed on those sessions.
    resubscriptions: AtomicU64,
    /// Upstream events fanned out.
    events: AtomicU64,
    /// Dispatches forwarded, by the status of the upstream's answer (502
    /// or 504 when none came).
    dispatches: Mutex<BTreeMap<u16, u64>>,
}

impl Counters {
    pub(crate) fn reconnected(&self, renewed: usize) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
        self.resubscriptions.fetch_add(
            u64::try_from(renewed).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    pub(crate) fn event(&self) {
        self.events.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn dispatched(&self, status: u16) {
        // Statuses are three digits: at most 500 keys.
        *self
            .dispatches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(status)
            .or_default() += 1;
    }

    pub(crate) fn render(&self, up: bool, subscriptions: usize) -> String {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, String)]| {
            let _ = writeln!(out, "# TYPE {name} {kind}\n# HELP {name} {help}");
            for (suffix_labels, value) in samples {
                let _ = writeln!(out, "{name}{suffix_labels} {value}");
            }
        };
        metric(
            "rues_relay_upstream_up",
            "gauge",
            "Whether the relay's upstream session is open.",
            &[(String::new(), u8::from(up).to_string())],
        );
        metric(
            "rues_relay_upstream_subscriptions",
            "gauge",
            "Paths the relay holds on its upstream session.",
            &[(String::new(), subscriptions.to_string())],
        );
        for (name, help, counter) in [
            (
                "rues_relay_upstream_reconnects",
                "New upstream sessions opened after the upstream one was lost.",
                &self.reconnects,
            ),
            (
                "rues_relay_upstream_resubscriptions",
                "Upstream paths renewed on a new upstream session.",
                &self.resubscriptions,
            ),
            (
                "rues_relay_events",
                "Upstream events fanned out to downstream sessions.",
                &self.events,
            ),
        ] {
            metric(
                name,
                "counter",
                help,
                &[("_total".into(), get(counter).to_string())],
            );
        }
        let dispatches: Vec<(String, String)> = self
            .dispatches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(status, count)| (format!("_total{{status=\"{status}\"}}"), count.to_string()))
            .collect();
        metric(
            "rues_relay_dispatches",
            "counter",
            "Dispatches forwarded upstream, by the status of the upstream's answer (502 or 504 when none came).",
            &dispatches,
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_metric_with_its_type_and_the_dispatches_by_status() {
        let counters = Counters::default();
        counters.reconnected(3);
        counters.event();
        counters.dispatched(200);
        counters.dispatched(200);
        counters.dispatched(404);
        let text = counters.render(true, 2);
        for line in [
            "rues_relay_upstream_up 1",
            "rues_relay_upstream_subscriptions 2",
            "rues_relay_upstream_reconnects_total 1",
            "rues_relay_upstream_resubscriptions_total 3",
            "rues_relay_events_total 1",
            "rues_relay_dispatches_total{status=\"200\"} 2",
            "rues_relay_dispatches_total{status=\"404\"} 1",
            "# TYPE rues_relay_dispatches counter",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        assert!(!text.contains("# EOF"));
    }
}
