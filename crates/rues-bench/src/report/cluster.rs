//! The cluster tables: the same fan-out through a cluster and through one
//! node, local against forwarded `GET`s, and the three targets.

use std::fmt::Write as _;

use serde::Serialize;

use super::{
    Measure, fmt_num, header, measure_header, measure_rows, median, per_run_row, quotient,
};
use crate::plan::{ClusterRun, Gets, Latencies, Plan, Results, Topology};

/// The targets: cross-node event p99 at most twice one node's, a forwarded
/// `GET` at most 1 ms slower at p50 than a local one, the cluster's node
/// CPU per delivered event within 1.3 times one node's.
pub(crate) const MAX_P99_RATIO: f64 = 2.0;
pub(crate) const MAX_GET_P50_MS: f64 = 1.0;
pub(crate) const MAX_CPU_RATIO: f64 = 1.3;

/// The three figures the targets are about, each from medians over the
/// runs that ended without an error (`None`: a side is missing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub(crate) struct Targets {
    /// Cross-node event p99 / one node's event p99.
    pub(crate) cross_p99_ratio: Option<f64>,
    /// Forwarded `GET` p50 − local `GET` p50, in milliseconds.
    pub(crate) get_p50_diff_ms: Option<f64>,
    /// The cluster's node CPU per delivered event (summed over the nodes)
    /// / one node's.
    pub(crate) cpu_ratio: Option<f64>,
}

fn runs(results: &Results, topology: Topology) -> impl Iterator<Item = &ClusterRun> {
    results
        .cluster
        .iter()
        .filter(move |r| r.topology == topology && r.error.is_none())
}

fn median_of(
    results: &Results,
    topology: Topology,
    pick: impl Fn(&ClusterRun) -> Option<f64>,
) -> Option<f64> {
    median(runs(results, topology).filter_map(pick).collect())
}

/// The median of one GET measure over the cluster runs.
fn get_median(results: &Results, pick: impl Fn(&Gets) -> &Latencies, p99: bool) -> Option<f64> {
    median_of(results, Topology::Cluster, |r| {
        let latencies = pick(r.gets.as_ref()?);
        (latencies.ok > 0).then_some(if p99 {
            latencies.p99_ms
        } else {
            latencies.p50_ms
        })
    })
}

/// The three target figures of `results`.
pub(crate) fn targets(results: &Results) -> Targets {
    let single_p99 = median_of(results, Topology::Single, |r| Some(r.events.p99_ms));
    let cross_p99 = median_of(results, Topology::Cluster, |r| {
        r.cross_events.as_ref().map(|l| l.p99_ms)
    });
    let local = get_median(results, |g| &g.local_get, false);
    let forwarded = get_median(results, |g| &g.forwarded_get, false);
    let cpu = |t| median_of(results, t, |r| Some(r.node_us_per_event));
    Targets {
        cross_p99_ratio: quotient(cross_p99, single_p99),
        get_p50_diff_ms: forwarded.zip(local).map(|(f, l)| f - l),
        cpu_ratio: quotient(cpu(Topology::Cluster), cpu(Topology::Single)),
    }
}

/// "met" or "missed" against a bound, or "not measured".
fn verdict(value: Option<f64>, bound: f64) -> &'static str {
    match value {
        Some(v) if v <= bound => "met",
        Some(_) => "missed",
        None => "not measured",
    }
}

/// The three targets as a Markdown list (the report's summary).
pub(crate) fn target_lines(targets: &Targets) -> String {
    format!(
        "- cross-node event p99 / one node's p99: {} (target ≤ {MAX_P99_RATIO}×: {})\n\
         - forwarded `GET` p50 − local `GET` p50: {} ms (target ≤ {MAX_GET_P50_MS} ms: {})\n\
         - node CPU per delivered event, cluster (summed over the nodes) / one node: {} \
         (target ≤ {MAX_CPU_RATIO}×: {})\n",
        targets
            .cross_p99_ratio
            .map_or("—".into(), |r| format!("{r:.2}×")),
        verdict(targets.cross_p99_ratio, MAX_P99_RATIO),
        fmt_num(targets.get_p50_diff_ms, 3),
        verdict(targets.get_p50_diff_ms, MAX_GET_P50_MS),
        targets.cpu_ratio.map_or("—".into(), |r| format!("{r:.2}×")),
        verdict(targets.cpu_ratio, MAX_CPU_RATIO),
    )
}

/// The cluster tables.
pub(super) fn section(out: &mut String, plan: &Plan, results: &Results) {
    let _ = writeln!(
        out,
        "\n### One node against a cluster (rues)\n\n\
         {} sessions subscribed to the fan-out get {} events/s of {} B for {} s (after 0.5 s \
         unrecorded), served by **one node** alone, and by a **cluster** of {} nodes joined \
         through one nats-server, the sessions spread evenly over them, each connected to its \
         node directly; node 0 publishes; the cluster's resume history is {}. Latency: publish stamp to receipt. CPU: the node \
         processes' user+system time over the measurement, summed, per delivered event (one \
         message to one session); nats-server's apart. Medians over runs; the counts are each \
         run's.\n",
        plan.cluster_n,
        plan.cluster_rate,
        plan.cluster_size,
        plan.cluster_secs,
        plan.cluster_nodes,
        if plan.cluster_shared_history {
            "shared through JetStream"
        } else {
            "per node"
        },
    );
    let topologies = Topology::ALL;
    let names: Vec<&str> = topologies.iter().map(|t| t.name()).collect();
    measure_header(out, &names);
    let of = |pick: fn(&ClusterRun) -> Option<f64>| -> Measure<'_, Topology> {
        Box::new(move |t| median_of(results, t, pick))
    };
    let rows: [(&str, usize, Measure<'_, Topology>); 9] = [
        (
            "event delivery p50, all sessions (ms)",
            2,
            of(|r| Some(r.events.p50_ms)),
        ),
        (
            "event delivery p99, all sessions (ms)",
            2,
            of(|r| Some(r.events.p99_ms)),
        ),
        (
            "event delivery p50, publishing node's sessions (ms)",
            2,
            of(|r| Some(r.local_events.p50_ms)),
        ),
        (
            "event delivery p99, publishing node's sessions (ms)",
            2,
            of(|r| Some(r.local_events.p99_ms)),
        ),
        (
            "event delivery p50, other nodes' sessions (cross-node, ms)",
            2,
            of(|r| r.cross_events.as_ref().map(|l| l.p50_ms)),
        ),
        (
            "event delivery p99, other nodes' sessions (cross-node, ms)",
            2,
            of(|r| r.cross_events.as_ref().map(|l| l.p99_ms)),
        ),
        (
            "event delivery max, all sessions (ms)",
            2,
            of(|r| Some(r.events.max_ms)),
        ),
        (
            "node CPU per delivered event, summed over the nodes (µs)",
            2,
            of(|r| Some(r.node_us_per_event)),
        ),
        (
            "nats-server CPU per delivered event (µs)",
            2,
            of(|r| r.broker_us_per_event),
        ),
    ];
    measure_rows(out, &topologies, &rows);
    let row = per_run_row(
        "events delivered/expected, sessions closed, per run",
        &topologies,
        "; ",
        |t| {
            runs(results, t)
                .map(|r| format!("{}/{}, {}", r.received, r.expected, r.sessions_closed))
                .collect()
        },
    );
    let _ = writeln!(out, "{row}");

    let _ = writeln!(
        out,
        "\nGET latency in the cluster: a session on node 0; {} subscribe+unsubscribe pairs, each \
         to a path of its own, sent to node 0 (**local**) and as many to node 1 (**forwarded** \
         to node 0 over NATS), alternating, closed loop, each side on one keep-alive \
         connection. Medians over runs.\n",
        plan.cluster_gets
    );
    header(
        out,
        &["measure", "local", "forwarded", "forwarded − local"],
        &[],
        &[],
    );
    type Pick = fn(&Gets) -> &Latencies;
    let get_rows: [(&str, Pick, Pick, bool); 4] = [
        (
            "GET p50 (ms)",
            |g| &g.local_get,
            |g| &g.forwarded_get,
            false,
        ),
        ("GET p99 (ms)", |g| &g.local_get, |g| &g.forwarded_get, true),
        (
            "DELETE p50 (ms)",
            |g| &g.local_delete,
            |g| &g.forwarded_delete,
            false,
        ),
        (
            "DELETE p99 (ms)",
            |g| &g.local_delete,
            |g| &g.forwarded_delete,
            true,
        ),
    ];
    for (name, local, forwarded, p99) in get_rows {
        let (l, f) = (
            get_median(results, local, p99),
            get_median(results, forwarded, p99),
        );
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} |",
            fmt_num(l, 3),
            fmt_num(f, 3),
            fmt_num(f.zip(l).map(|(f, l)| f - l), 3)
        );
    }
    let answered = |pick: Pick| -> String {
        let each: Vec<String> = runs(results, Topology::Cluster)
            .filter_map(|r| r.gets.as_ref())
            .map(|g| {
                let l = pick(g);
                format!("{}/{}", l.ok, l.sent)
            })
            .collect();
        if each.is_empty() {
            "—".into()
        } else {
            each.join("; ")
        }
    };
    let _ = writeln!(
        out,
        "| GET answered 200 / sent, per run | {} | {} | |",
        answered(|g| &g.local_get),
        answered(|g| &g.forwarded_get)
    );
    let _ = writeln!(out, "\nAgainst the targets:\n");
    out.push_str(&target_lines(&targets(results)));
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn run(topology: Topology, p99: f64, cross_p99: Option<f64>, us: f64) -> ClusterRun {
        ClusterRun {
            topology,
            run: 0,
            nodes: if cross_p99.is_some() { 3 } else { 1 },
            sessions: vec![10],
            expected: 10,
            received: 10,
            sessions_closed: 0,
            publish_secs: 1.0,
            events: latencies(1.0, p99),
            local_events: latencies(1.0, p99),
            cross_events: cross_p99.map(|p| latencies(1.0, p)),
            node_cpu_s: vec![0.1],
            node_us_per_event: us,
            broker_cpu_s: None,
            broker_us_per_event: None,
            gets: cross_p99.map(|_| Gets {
                local_get: latencies(0.2, 0.5),
                forwarded_get: latencies(0.5, 0.9),
                ..Gets::default()
            }),
            loadavg: 1.0,
            error: None,
        }
    }

    #[test]
    fn the_targets_are_ratios_and_differences_of_medians_over_good_runs() {
        let mut results = Results::default();
        assert_eq!(targets(&results), Targets::default());
        results.cluster = vec![
            run(Topology::Single, 2.0, None, 10.0),
            run(Topology::Single, 4.0, None, 30.0),
            run(Topology::Single, 3.0, None, 20.0),
            // All sessions' p99 apart from the cross-node one, which is
            // the one the target is about.
            run(Topology::Cluster, 1.0, Some(9.0), 26.0),
            run(Topology::Cluster, 1.0, Some(4.5), 24.0),
            run(Topology::Cluster, 1.0, Some(5.0), 25.0),
        ];
        let mut failed = run(Topology::Cluster, 1000.0, Some(1000.0), 1000.0);
        failed.error = Some("a node would not start".into());
        results.cluster.push(failed);
        let t = targets(&results);
        let near = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-9);
        assert!(near(t.cross_p99_ratio, 5.0 / 3.0), "{t:?}");
        assert!(near(t.get_p50_diff_ms, 0.3), "{t:?}");
        assert!(near(t.cpu_ratio, 25.0 / 20.0), "{t:?}");
        let lines = target_lines(&t);
        assert_eq!(lines.matches(": met)").count(), 3, "{lines}");
        results.cluster.retain(|r| r.topology == Topology::Cluster);
        let t = targets(&results);
        assert_eq!((t.cross_p99_ratio, t.cpu_ratio), (None, None));
        assert!(target_lines(&t).contains("not measured"));
        assert_eq!(verdict(Some(2.01), MAX_P99_RATIO), "missed");
    }

    #[test]
    fn the_section_shows_both_topologies_and_the_targets() {
        let plan = crate::tests::plan(&["--quick", "--scenarios", "cluster"]).expect("valid");
        let results = Results {
            cluster: vec![
                run(Topology::Single, 2.0, None, 10.0),
                run(Topology::Cluster, 3.0, Some(3.0), 12.0),
            ],
            ..Results::default()
        };
        let mut out = String::new();
        section(&mut out, &plan, &results);
        assert!(out.contains("| measure | one node | cluster |"), "{out}");
        assert!(
            out.contains("| GET p50 (ms) | 0.200 | 0.500 | 0.300 |"),
            "{out}"
        );
        assert!(out.contains("1.50×"), "{out}");
        assert!(
            out.contains(
                "| events delivered/expected, sessions closed, per run | 10/10, 0 | 10/10, 0 |"
            ),
            "{out}"
        );
    }
}
