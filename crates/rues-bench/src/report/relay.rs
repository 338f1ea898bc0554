//! The relay table: the same fan-out directly on the upstream node and
//! through `rues relay`, and what the relay changes (the upstream's CPU
//! and sessions, the latency it adds).

use std::fmt::Write as _;

use serde::Serialize;

use super::{fmt_num, measure_header, median, per_run_row, quotient};
use crate::plan::{Plan, RelayRun, Results, Route};

/// The comparison's figures, each from medians over the runs that ended
/// without an error (`None`: a route is missing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub(crate) struct Summary {
    /// The upstream's CPU per second of the measurement, relay / direct.
    pub(crate) upstream_cpu_ratio: Option<f64>,
    /// The upstream's and the relay's CPU per second together, relay /
    /// the upstream's alone direct.
    pub(crate) total_cpu_ratio: Option<f64>,
    /// Delivery latency through the relay − directly, at p50 and p99, in
    /// milliseconds.
    pub(crate) added_p50_ms: Option<f64>,
    pub(crate) added_p99_ms: Option<f64>,
    /// The upstream's open sessions, direct and relay.
    pub(crate) upstream_sessions_direct: Option<f64>,
    pub(crate) upstream_sessions_relay: Option<f64>,
}

fn runs(results: &Results, route: Route) -> impl Iterator<Item = &RelayRun> {
    results
        .relay
        .iter()
        .filter(move |r| r.route == route && r.error.is_none())
}

fn median_of(
    results: &Results,
    route: Route,
    pick: impl Fn(&RelayRun) -> Option<f64>,
) -> Option<f64> {
    median(runs(results, route).filter_map(pick).collect())
}

/// Both CPUs per second of the measurement (the upstream's alone direct).
fn total_per_second(r: &RelayRun) -> Option<f64> {
    Some(r.upstream_cpu.per_second + r.relay_cpu.map_or(0.0, |c| c.per_second))
}

/// The comparison figures of `results`.
pub(crate) fn summary(results: &Results) -> Summary {
    let both = |pick: fn(&RelayRun) -> Option<f64>| {
        (
            median_of(results, Route::Direct, pick),
            median_of(results, Route::Relay, pick),
        )
    };
    let difference = |(direct, relay): (Option<f64>, Option<f64>)| {
        relay.zip(direct).map(|(relay, direct)| relay - direct)
    };
    let ratio = |(direct, relay): (Option<f64>, Option<f64>)| quotient(relay, direct);
    let (total_direct, total_relay) = both(total_per_second);
    let sessions = both(|r| r.upstream_sessions.map(|n| n as f64));
    Summary {
        upstream_cpu_ratio: ratio(both(|r| Some(r.upstream_cpu.per_second))),
        total_cpu_ratio: quotient(total_relay, total_direct),
        added_p50_ms: difference(both(|r| Some(r.events.p50_ms))),
        added_p99_ms: difference(both(|r| Some(r.events.p99_ms))),
        upstream_sessions_direct: sessions.0,
        upstream_sessions_relay: sessions.1,
    }
}

/// A signed difference in milliseconds, or "—".
fn added_ms(value: Option<f64>) -> String {
    value.map_or("—".into(), |v| format!("{v:+.2} ms"))
}

fn times(value: Option<f64>) -> String {
    value.map_or("—".into(), |v| format!("{v:.2}×"))
}

/// The comparison as a Markdown list (the report's summary).
pub(crate) fn summary_lines(summary: &Summary) -> String {
    format!(
        "- the upstream's CPU per second, through the relay / directly: {}, with {} session(s) \
         on it through the relay against {} directly;\n\
         - the upstream's and the relay's CPU together / the upstream's alone directly: {};\n\
         - latency the relay adds: {} at p50, {} at p99.\n",
        times(summary.upstream_cpu_ratio),
        fmt_num(summary.upstream_sessions_relay, 0),
        fmt_num(summary.upstream_sessions_direct, 0),
        times(summary.total_cpu_ratio),
        added_ms(summary.added_p50_ms),
        added_ms(summary.added_p99_ms),
    )
}

/// A table row: the medians of `pick` over each route's runs, then the
/// comparison column.
type Row = (
    &'static str,
    usize,
    fn(&RelayRun) -> Option<f64>,
    Comparison,
);

/// What the last column of a row says.
#[derive(Clone, Copy)]
enum Comparison {
    /// relay − direct, in ms.
    Added,
    /// relay / direct.
    Ratio,
    /// Nothing (a figure of one route only).
    None,
}

/// The relay tables.
pub(super) fn section(out: &mut String, plan: &Plan, results: &Results) {
    let _ = writeln!(
        out,
        "\n### Through a relay (rues)\n\n\
         {} sessions subscribed to `{}` get {} events/s of {} B for {} s (after 0.5 s \
         unrecorded) from an upstream node (`rues-bench server rues`), either **direct**, every \
         session on the upstream, or through a **relay**, one `rues relay` process in front of \
         it with every session on the relay. Fresh processes every run, the routes \
         alternating. Latency: the upstream's publish stamp to receipt. CPU: each process's \
         user+system time over the measurement (publish order to last event), per second of it \
         and per delivered event (one message to one session). Sessions: `rues_sessions_open` \
         on each node's `/metrics` once every session was subscribed. Medians over runs; the \
         counts are each run's.\n",
        plan.relay_n, plan.relay_path, plan.relay_rate, plan.relay_size, plan.relay_secs,
    );
    let routes = Route::ALL;
    let names: Vec<&str> = routes.iter().map(|r| r.name()).collect();
    let mut columns = names.clone();
    columns.push("relay vs direct");
    measure_header(out, &columns);
    let rows: [Row; 11] = [
        (
            "event delivery p50 (ms)",
            2,
            |r| Some(r.events.p50_ms),
            Comparison::Added,
        ),
        (
            "event delivery p99 (ms)",
            2,
            |r| Some(r.events.p99_ms),
            Comparison::Added,
        ),
        (
            "event delivery max (ms)",
            2,
            |r| Some(r.events.max_ms),
            Comparison::Added,
        ),
        (
            "upstream CPU per second of run (CPU-s/s)",
            3,
            |r| Some(r.upstream_cpu.per_second),
            Comparison::Ratio,
        ),
        (
            "upstream CPU per delivered event (µs)",
            3,
            |r| Some(r.upstream_cpu.us_per_event),
            Comparison::Ratio,
        ),
        (
            "relay CPU per second of run (CPU-s/s)",
            3,
            |r| r.relay_cpu.map(|c| c.per_second),
            Comparison::None,
        ),
        (
            "relay CPU per delivered event (µs)",
            3,
            |r| r.relay_cpu.map(|c| c.us_per_event),
            Comparison::None,
        ),
        (
            "upstream + relay CPU per second of run (CPU-s/s)",
            3,
            total_per_second,
            Comparison::Ratio,
        ),
        (
            "upstream open sessions",
            0,
            |r| r.upstream_sessions.map(|n| n as f64),
            Comparison::None,
        ),
        (
            "relay open sessions",
            0,
            |r| r.relay_sessions.map(|n| n as f64),
            Comparison::None,
        ),
        (
            "relay's upstream subscriptions",
            0,
            |r| r.relay_upstream_subscriptions.map(|n| n as f64),
            Comparison::None,
        ),
    ];
    for (name, decimals, pick, comparison) in rows {
        let (direct, relay) = (
            median_of(results, Route::Direct, pick),
            median_of(results, Route::Relay, pick),
        );
        let last = match comparison {
            Comparison::Added => added_ms(relay.zip(direct).map(|(r, d)| r - d)),
            Comparison::Ratio => times(quotient(relay, direct)),
            Comparison::None => String::new(),
        };
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {last} |",
            fmt_num(direct, decimals),
            fmt_num(relay, decimals)
        );
    }
    let row = per_run_row(
        "events delivered/expected, sessions closed, per run",
        &routes,
        "; ",
        |route| {
            runs(results, route)
                .map(|r| format!("{}/{}, {}", r.received, r.expected, r.sessions_closed))
                .collect()
        },
    );
    let _ = writeln!(out, "{row} |");
    let _ = writeln!(out, "\nWhat the relay changes:\n");
    out.push_str(&summary_lines(&summary(results)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Cpu, Latencies};

    fn latencies(p50_ms: f64, p99_ms: f64) -> Latencies {
        Latencies {
            sent: 10,
            ok: 10,
            failed: 0,
            p50_ms,
            p99_ms,
            max_ms: p99_ms,
        }
    }

    fn cpu(per_second: f64) -> Cpu {
        Cpu {
            seconds: per_second * 10.0,
            per_second,
            us_per_event: per_second,
        }
    }

    fn run(route: Route, p50: f64, p99: f64, upstream: f64, relay: Option<f64>) -> RelayRun {
        RelayRun {
            route,
            run: 0,
            expected: 10,
            received: 10,
            sessions_closed: 0,
            publish_secs: 10.0,
            window_secs: 10.0,
            events: latencies(p50, p99),
            upstream_cpu: cpu(upstream),
            relay_cpu: relay.map(cpu),
            upstream_sessions: Some(if relay.is_some() { 1 } else { 1000 }),
            relay_sessions: relay.map(|_| 1000),
            relay_upstream_subscriptions: relay.map(|_| 1),
            loadavg: 1.0,
            error: None,
        }
    }

    fn results() -> Results {
        let mut relay = vec![
            run(Route::Direct, 1.0, 4.0, 0.8, None),
            run(Route::Direct, 3.0, 8.0, 1.2, None),
            run(Route::Direct, 2.0, 6.0, 1.0, None),
            run(Route::Relay, 2.5, 9.0, 0.01, Some(1.1)),
            run(Route::Relay, 2.5, 7.0, 0.03, Some(0.9)),
            run(Route::Relay, 2.5, 8.0, 0.02, Some(1.0)),
        ];
        let mut failed = run(Route::Relay, 1000.0, 1000.0, 1000.0, Some(1000.0));
        failed.error = Some("the relay would not start".into());
        relay.push(failed);
        Results {
            relay,
            ..Results::default()
        }
    }

    #[test]
    fn the_summary_compares_medians_over_good_runs() {
        assert_eq!(summary(&Results::default()), Summary::default());
        let s = summary(&results());
        let near = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-9);
        // Medians: direct p50 2, p99 6, CPU 1.0; relay p50 2.5, p99 8,
        // upstream CPU 0.02, relay CPU 1.0.
        assert!(near(s.added_p50_ms, 0.5), "{s:?}");
        assert!(near(s.added_p99_ms, 2.0), "{s:?}");
        assert!(near(s.upstream_cpu_ratio, 0.02), "{s:?}");
        assert!(near(s.total_cpu_ratio, 1.02), "{s:?}");
        assert_eq!(
            (s.upstream_sessions_direct, s.upstream_sessions_relay),
            (Some(1000.0), Some(1.0))
        );
        let mut direct_only = results();
        direct_only.relay.retain(|r| r.route == Route::Direct);
        let s = summary(&direct_only);
        assert_eq!((s.added_p99_ms, s.upstream_cpu_ratio), (None, None));
        assert!(summary_lines(&s).contains("—"));
    }

    #[test]
    fn the_section_shows_both_routes_and_the_comparison() {
        let plan = crate::tests::plan(&["--quick", "--scenarios", "relay"]).expect("valid");
        let mut out = String::new();
        section(&mut out, &plan, &results());
        assert!(
            out.contains("| measure | direct | relay | relay vs direct |"),
            "{out}"
        );
        assert!(
            out.contains("| event delivery p99 (ms) | 6.00 | 8.00 | +2.00 ms |"),
            "{out}"
        );
        assert!(
            out.contains("| upstream CPU per second of run (CPU-s/s) | 1.000 | 0.020 | 0.02× |"),
            "{out}"
        );
        assert!(
            out.contains("| upstream open sessions | 1000 | 1 |  |"),
            "{out}"
        );
        assert!(
            out.contains("| relay CPU per second of run (CPU-s/s) | — | 1.000 |  |"),
            "{out}"
        );
        assert!(
            out.contains(
                "| events delivered/expected, sessions closed, per run | 10/10, 0; 10/10, 0; \
                 10/10, 0 | 10/10, 0; 10/10, 0; 10/10, 0 | |"
            ),
            "{out}"
        );
        assert!(out.contains("+0.50 ms at p50, +2.00 ms at p99"), "{out}");
    }
}
