//! The hostile-GraphQL table: what the worst queries cost the fan-out and
//! `node/info` beside them, alone and under attack.

use std::fmt::Write as _;

use super::{Measure, header, measure_header, measure_rows, median, per_run_row};
use crate::plan::{GraphqlRun, Latencies, Phase, Plan, Results};
use crate::scenarios::GRAPHQL_QUERIES;

/// The hostile-GraphQL table: one column per phase, then the target.
pub(super) fn section(out: &mut String, plan: &Plan, results: &Results) {
    let names: Vec<&str> = GRAPHQL_QUERIES.iter().map(|(name, _)| *name).collect();
    let _ = writeln!(
        out,
        "\n### Hostile GraphQL beside fan-out (rues)\n\n\
         The demo node's registry and chain with the bench component added (`rues-bench server \
         rues --demo`); {} sessions receive {} events/s of {} B, and a `node/info` dispatch goes \
         out every {} ms (open loop). Each phase lasts {} s on a fresh server whose mempool was \
         first given {} demo transactions; **under attack**, {} clients each send, one after \
         the other, the queries {} (see `QUERIES` in `scenarios/graphql.rs`) for the whole \
         phase. Medians over runs; the counts are each run's.\n",
        plan.graphql_n,
        plan.graphql_rate,
        plan.graphql_size,
        plan.graphql_probe_ms,
        plan.graphql_secs,
        plan.graphql_mempool,
        plan.graphql_attackers,
        names.join(", "),
    );
    let phases = Phase::ALL;
    let phase_names: Vec<&str> = phases.iter().map(|p| p.name()).collect();
    measure_header(out, &phase_names);
    let runs = |p: Phase| {
        results
            .graphql
            .iter()
            .filter(move |r| r.phase == p && r.error.is_none())
    };
    let latency =
        |of: fn(&GraphqlRun) -> &Latencies, pick: fn(&Latencies) -> f64| -> Measure<'_, Phase> {
            Box::new(move |p| median(runs(p).map(|r| pick(of(r))).collect()))
        };
    let p50: fn(&Latencies) -> f64 = |l| l.p50_ms;
    let p99: fn(&Latencies) -> f64 = |l| l.p99_ms;
    let max: fn(&Latencies) -> f64 = |l| l.max_ms;
    let events: fn(&GraphqlRun) -> &Latencies = |r| &r.events;
    let info: fn(&GraphqlRun) -> &Latencies = |r| &r.info_probe;
    let rows: [(&str, usize, Measure<'_, Phase>); 7] = [
        ("event delivery p50 (ms)", 2, latency(events, p50)),
        ("event delivery p99 (ms)", 2, latency(events, p99)),
        ("event delivery max (ms)", 2, latency(events, max)),
        ("node/info probe p50 (ms)", 2, latency(info, p50)),
        ("node/info probe p99 (ms)", 2, latency(info, p99)),
        ("node/info probe max (ms)", 2, latency(info, max)),
        (
            "server RSS peak growth in the phase (MiB)",
            1,
            Box::new(|p| {
                median(
                    runs(p)
                        .map(|r| r.rss_max_kib.saturating_sub(r.rss_start_kib) as f64 / 1024.0)
                        .collect(),
                )
            }),
        ),
    ];
    measure_rows(out, &phases, &rows);
    let count_row = |name: &str, count: &dyn Fn(&GraphqlRun) -> String| {
        per_run_row(name, &phases, ", ", |p| runs(p).map(count).collect())
    };
    let rows = [
        count_row("events delivered / expected, per run", &|r| {
            format!("{}/{}", r.received, r.expected)
        }),
        count_row("sessions closed, per run", &|r| {
            r.sessions_closed.to_string()
        }),
        count_row("node/info answered 200 / sent, per run", &|r| {
            format!("{}/{}", r.info_probe.ok, r.info_probe.sent)
        }),
        count_row("transactions in the mempool fill, per run", &|r| {
            r.propagated.to_string()
        }),
    ];
    for row in rows {
        let _ = writeln!(out, "{row}");
    }

    let (ratio, info_p99) = (
        super::ratio(
            median(runs(Phase::Attack).map(|r| r.events.p99_ms).collect()),
            median(runs(Phase::Alone).map(|r| r.events.p99_ms).collect()),
        ),
        median(runs(Phase::Attack).map(|r| r.info_probe.p99_ms).collect()),
    );
    // Latencies are those of what arrived: anything lost fails the target
    // whatever the figures of the rest say.
    let lost: u64 = runs(Phase::Attack)
        .map(|r| r.expected.saturating_sub(r.received))
        .sum();
    let unanswered: u64 = runs(Phase::Attack).map(|r| r.info_probe.failed).sum();
    let _ = writeln!(
        out,
        "\nEvent p99 under attack / alone: {ratio} (target ≤ 2×){}; node/info p99 under \
         attack: {} ms (target < 100 ms){}.",
        if lost > 0 {
            format!(", with {lost} events never delivered under attack")
        } else {
            String::new()
        },
        super::fmt_num(info_p99, 2),
        if unanswered > 0 {
            format!(", with {unanswered} probes unanswered or failed under attack")
        } else {
            String::new()
        },
    );

    let _ = writeln!(
        out,
        "\nThe attack requests, all runs together (status 0: no answer within 30 s, or by 10 s \
         after the phase's end):\n"
    );
    header(
        out,
        &[
            "query",
            "answers by status",
            "latency p50 (ms)",
            "latency max (ms)",
            "largest answer (bytes)",
        ],
        &[],
        &[],
    );
    for name in &names {
        let answers: Vec<_> = runs(Phase::Attack)
            .flat_map(|r| r.attacks.iter())
            .filter(|a| a.query == *name)
            .collect();
        let mut statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
        statuses.sort_unstable();
        statuses.dedup();
        let by_status: Vec<String> = statuses
            .iter()
            .map(|&s| {
                let count = answers.iter().filter(|a| a.status == s).count();
                format!("{s}: {count}")
            })
            .collect();
        let latencies: Vec<f64> = answers.iter().map(|a| a.ms).collect();
        let largest = answers.iter().map(|a| a.bytes).max();
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} |",
            if by_status.is_empty() {
                "—".to_owned()
            } else {
                by_status.join(", ")
            },
            super::fmt_num(median(latencies.clone()), 1),
            super::fmt_num(latencies.iter().copied().reduce(f64::max), 1),
            largest.map_or("—".to_owned(), |b| b.to_string()),
        );
    }

    let loads: Vec<f64> = results.graphql.iter().map(|r| r.loadavg).collect();
    if let Some(mid) = median(loads.clone()) {
        let _ = writeln!(
            out,
            "\n1-minute load average after each phase: median {mid:.1}, max {:.1}.",
            loads.iter().copied().fold(0.0, f64::max),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::AttackAnswer;

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

    fn record(phase: Phase, run: usize, scale: f64) -> GraphqlRun {
        let attacks = if phase == Phase::Attack {
            vec![
                AttackAnswer {
                    query: "mempool-aliases",
                    status: 200,
                    ms: 100.0 * scale,
                    bytes: 1000,
                },
                AttackAnswer {
                    query: "mempool-aliases",
                    status: 0,
                    ms: 30_000.0,
                    bytes: 0,
                },
                AttackAnswer {
                    query: "megabyte-aliases",
                    status: 422,
                    ms: 5.0,
                    bytes: 200,
                },
            ]
        } else {
            Vec::new()
        };
        GraphqlRun {
            phase,
            run,
            propagated: 2000,
            phase_secs: 5.0,
            expected: 100,
            received: 100,
            sessions_closed: 0,
            events: latencies(1.0 * scale, 2.0 * scale, 3.0 * scale),
            info_probe: latencies(0.5 * scale, 0.75 * scale, 1.0 * scale),
            attacks,
            rss_start_kib: 10_240,
            rss_max_kib: 10_240 + (1024.0 * scale) as u64,
            loadavg: 1.5,
            error: None,
        }
    }

    #[test]
    fn one_column_per_phase_with_medians_and_the_targets() {
        let plan = crate::tests::plan(&["--scenarios", "graphql"]).expect("valid");
        let mut results = Results::default();
        for (run, scale) in [1.0, 3.0, 2.0].into_iter().enumerate() {
            results.graphql.push(record(Phase::Alone, run, 1.0));
            results.graphql.push(record(Phase::Attack, run, scale));
        }
        results.graphql[3].received = 90;
        let mut failed = record(Phase::Attack, 3, 1e6);
        failed.error = Some("no server".into());
        results.graphql.push(failed);
        let mut out = String::new();
        section(&mut out, &plan, &results);
        assert!(out.contains("| measure | alone | under attack |"), "{out}");
        assert!(
            out.contains("| event delivery p99 (ms) | 2.00 | 4.00 |"),
            "{out}"
        );
        assert!(
            out.contains("| server RSS peak growth in the phase (MiB) | 1.0 | 2.0 |"),
            "{out}"
        );
        assert!(out.contains("under attack / alone: 2.00×"), "{out}");
        assert!(out.contains("node/info p99 under attack: 1.50 ms"), "{out}");
        assert!(
            out.contains("with 10 events never delivered under attack;"),
            "{out}"
        );
        assert!(!out.contains("probes unanswered"), "{out}");
        assert!(
            out.contains("| mempool-aliases | 0: 3, 200: 3 | 15150.0 | 30000.0 | 1000 |"),
            "{out}"
        );
        assert!(
            out.contains("| megabyte-aliases | 422: 3 | 5.0 | 5.0 | 200 |"),
            "{out}"
        );
        assert!(out.contains("| nested-lists | — | — | — | — |"), "{out}");
    }
}
