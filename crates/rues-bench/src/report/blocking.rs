//! The slow-handler table: what blocking dispatches cost the fan-out and
//! the other requests beside them, on the blocking pool and on the runtime.

use std::fmt::Write as _;

use super::{Measure, measure_header, measure_rows, median, per_run_row};
use crate::plan::{BlockingRun, Latencies, Plan, Results, Variant};

/// The slow-handler table: one column per variant.
pub(super) fn section(out: &mut String, plan: &Plan, results: &Results) {
    let _ = writeln!(
        out,
        "\n### Slow handlers beside fan-out (rues)\n\n\
         {} sessions receive {} events/s of {} B; after {} s, {} dispatches go out at once, each \
         holding a thread for {} ms, and until the last answers, an async dispatch (`bench/{}`) \
         and a subscribe go out every {} ms (open loop). **pool**: the work is a blocking \
         handler (`bench/{}`, rues-warp's blocking pool); **runtime**: the same work in an \
         ordinary async handler (`bench/{}`), which sleeps a runtime worker, as before \
         blocking handlers. Events: those published from the calls' start until the last \
         answer (up to 0.2 s more), publish stamp to receipt. The server publishes from a \
         thread of its own. Medians over runs (with some 20 to 40 probes of each kind per \
         run, their p99 is their maximum); the counts are each run's.\n",
        plan.blocking_n,
        plan.blocking_rate,
        plan.blocking_size,
        plan.blocking_warm_secs,
        plan.blocking_calls,
        plan.blocking_ms,
        crate::server::rues::PROBE,
        plan.blocking_probe_ms,
        Variant::Pool.topic(),
        Variant::Runtime.topic(),
    );
    let variants = Variant::ALL;
    let names: Vec<&str> = variants.iter().map(|v| v.name()).collect();
    measure_header(out, &names);
    let runs = |v: Variant| {
        results
            .blocking
            .iter()
            .filter(move |r| r.variant == v && r.error.is_none())
    };
    let latency =
        |of: fn(&BlockingRun) -> &Latencies, pick: fn(&Latencies) -> f64| -> Measure<'_, Variant> {
            Box::new(move |v| median(runs(v).map(|r| pick(of(r))).collect()))
        };
    let p50: fn(&Latencies) -> f64 = |l| l.p50_ms;
    let p99: fn(&Latencies) -> f64 = |l| l.p99_ms;
    let max: fn(&Latencies) -> f64 = |l| l.max_ms;
    let events: fn(&BlockingRun) -> &Latencies = |r| &r.events;
    let dispatch: fn(&BlockingRun) -> &Latencies = |r| &r.dispatch_probe;
    let subscribe: fn(&BlockingRun) -> &Latencies = |r| &r.subscribe_probe;
    let rows: [(&str, usize, Measure<'_, Variant>); 12] = [
        ("event delivery p50 (ms)", 2, latency(events, p50)),
        ("event delivery p99 (ms)", 2, latency(events, p99)),
        ("event delivery max (ms)", 2, latency(events, max)),
        ("async dispatch probe p50 (ms)", 2, latency(dispatch, p50)),
        ("async dispatch probe p99 (ms)", 2, latency(dispatch, p99)),
        ("async dispatch probe max (ms)", 2, latency(dispatch, max)),
        ("subscribe probe p50 (ms)", 2, latency(subscribe, p50)),
        ("subscribe probe p99 (ms)", 2, latency(subscribe, p99)),
        ("subscribe probe max (ms)", 2, latency(subscribe, max)),
        (
            "blocking dispatch, median of the calls (ms)",
            0,
            Box::new(|v| {
                median(
                    runs(v)
                        .filter_map(|r| median(r.blocking_ms.clone()))
                        .collect(),
                )
            }),
        ),
        (
            "blocking dispatch, slowest call (ms)",
            0,
            Box::new(|v| {
                median(
                    runs(v)
                        .map(|r| r.blocking_ms.iter().copied().fold(0.0, f64::max))
                        .collect(),
                )
            }),
        ),
        (
            "blocking window (s)",
            2,
            Box::new(|v| median(runs(v).map(|r| r.window_secs).collect())),
        ),
    ];
    measure_rows(out, &variants, &rows);
    let count_row = |name: &str, count: &dyn Fn(&BlockingRun) -> String| {
        per_run_row(name, &variants, ", ", |v| runs(v).map(count).collect())
    };
    let rows = [
        count_row("events delivered / expected, per run", &|r| {
            format!("{}/{}", r.received, r.expected)
        }),
        count_row("sessions closed, per run", &|r| {
            r.sessions_closed.to_string()
        }),
        count_row("async dispatch probes answered / sent, per run", &|r| {
            format!("{}/{}", r.dispatch_probe.ok, r.dispatch_probe.sent)
        }),
        count_row("subscribe probes answered / sent, per run", &|r| {
            format!("{}/{}", r.subscribe_probe.ok, r.subscribe_probe.sent)
        }),
        count_row("blocking calls answered 200 / sent, per run", &|r| {
            let ok = r.blocking_status.iter().filter(|&&s| s == 200).count();
            format!("{ok}/{}", r.blocking_status.len())
        }),
    ];
    for row in rows {
        let _ = writeln!(out, "{row}");
    }
    let loads: Vec<f64> = results.blocking.iter().map(|r| r.loadavg).collect();
    if let Some(mid) = median(loads.clone()) {
        let _ = writeln!(
            out,
            "\n1-minute load average after each run: median {mid:.1}, max {:.1}; median \
             event p99 on the runtime / on the pool: {}.",
            loads.iter().copied().fold(0.0, f64::max),
            super::ratio(
                median(runs(Variant::Runtime).map(|r| r.events.p99_ms).collect()),
                median(runs(Variant::Pool).map(|r| r.events.p99_ms).collect()),
            )
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latencies(p50_ms: f64, p99_ms: f64, max_ms: f64) -> Latencies {
        Latencies {
            sent: 10,
            ok: 10,
            failed: 0,
            p50_ms,
            p99_ms,
            max_ms,
        }
    }

    fn record(variant: Variant, run: usize, scale: f64) -> BlockingRun {
        BlockingRun {
            variant,
            run,
            window_secs: 2.0 * scale,
            expected: 100,
            received: 100,
            sessions_closed: 0,
            events: latencies(1.0 * scale, 2.0 * scale, 3.0 * scale),
            dispatch_probe: latencies(0.5, 0.75, 1.0),
            subscribe_probe: latencies(0.5, 0.75, 1.0),
            blocking_ms: vec![2000.0, 2000.0 * scale],
            blocking_status: vec![200, 200],
            loadavg: 1.5,
            error: None,
        }
    }

    #[test]
    fn one_column_per_variant_with_medians_over_runs() {
        let plan = crate::tests::plan(&["--scenarios", "blocking"]).expect("valid");
        let mut results = Results::default();
        for (run, scale) in [1.0, 3.0, 2.0].into_iter().enumerate() {
            results.blocking.push(record(Variant::Pool, run, 1.0));
            results
                .blocking
                .push(record(Variant::Runtime, run, scale * 1000.0));
        }
        let mut failed = record(Variant::Runtime, 3, 1e6);
        failed.error = Some("no server".into());
        results.blocking.push(failed);
        let mut out = String::new();
        section(&mut out, &plan, &results);
        assert!(out.contains("| measure | pool | runtime |"), "{out}");
        // The runtime's p99s were 2 000, 6 000 and 4 000 ms: median 4 000;
        // the run that failed does not count.
        assert!(
            out.contains("| event delivery p99 (ms) | 2.00 | 4000.00 |"),
            "{out}"
        );
        assert!(
            out.contains("| blocking window (s) | 2.00 | 4000.00 |"),
            "{out}"
        );
        assert!(
            out.contains("| events delivered / expected, per run | 100/100, 100/100, 100/100 |"),
            "{out}"
        );
        assert!(
            out.contains("event p99 on the runtime / on the pool: 2000.00×"),
            "{out}"
        );
    }
}
