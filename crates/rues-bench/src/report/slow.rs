//! The slow-consumer table: what stalled clients cost the readers beside
//! them, and how the stalled clients ended.

use std::fmt::Write as _;

use super::{Columns, Measure, header, measure_rows, median};
use crate::client::Kind;
use crate::plan::{Plan, Results};

/// The slow-consumer table: one column per server.
pub(super) fn section(out: &mut String, plan: &Plan, results: &Results, columns: &Columns<'_>) {
    let servers = columns.servers();
    let _ = writeln!(
        out,
        "\n### Slow consumers: what {} stalled clients cost {} readers\n\n\
         Fan-out of {} events/s × {} B to {} readers for {} s, on a fresh server, twice: alone, \
         then beside {} clients that subscribe and never read (4 KiB kernel receive buffer). \
         Medians over runs; RSS growth is the highest VmRSS sampled every 50 ms during the \
         step minus VmRSS at its start. \"Stalled clients ended\" counts, over all runs, the \
         Close code each stalled client found behind its backlog when it finally read \
         (\"open\": none within 5 s).\n",
        plan.slow_stalled,
        plan.slow_n,
        plan.slow_rate,
        plan.slow_size,
        plan.slow_n,
        plan.slow_secs,
        plan.slow_stalled
    );
    header(out, &["measure"], servers, &[]);
    let runs = |k: Kind| {
        results
            .slow
            .iter()
            .filter(move |r| r.server == k && r.error.is_none())
    };
    let kib = |v: u64| v as f64 / 1024.0;
    let rows: [(&str, usize, Measure<'_>); 5] = [
        (
            "readers' p99 alone (ms)",
            2,
            Box::new(|k| median(runs(k).map(|r| r.without.p99_ms).collect())),
        ),
        (
            "readers' p99 beside the stalled (ms)",
            2,
            Box::new(|k| median(runs(k).map(|r| r.with.p99_ms).collect())),
        ),
        (
            "p99 ratio, beside / alone (target ≤ 2)",
            2,
            Box::new(|k| median(runs(k).map(|r| r.p99_ratio).collect())),
        ),
        (
            "RSS growth alone (MiB)",
            1,
            Box::new(|k| {
                median(
                    runs(k)
                        .map(|r| {
                            kib(r
                                .without
                                .rss_max_kib
                                .saturating_sub(r.without.rss_start_kib))
                        })
                        .collect(),
                )
            }),
        ),
        (
            "RSS growth beside the stalled (MiB)",
            1,
            Box::new(|k| {
                median(
                    runs(k)
                        .map(|r| kib(r.with.rss_max_kib.saturating_sub(r.with.rss_start_kib)))
                        .collect(),
                )
            }),
        ),
    ];
    measure_rows(out, servers, &rows);
    let mut cols = vec!["stalled clients ended".to_owned()];
    cols.extend(servers.iter().map(|&k| {
        let mut codes: Vec<(String, usize)> = Vec::new();
        for stalled in runs(k).flat_map(|r| r.stalled.iter()) {
            let code = stalled
                .close_code
                .map_or("open".to_owned(), |c| c.to_string());
            match codes.iter_mut().find(|(c, _)| *c == code) {
                Some((_, n)) => *n += 1,
                None => codes.push((code, 1)),
            }
        }
        if codes.is_empty() {
            "—".to_owned()
        } else {
            codes
                .iter()
                .map(|(c, n)| format!("{c} ×{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    }));
    let _ = writeln!(out, "| {} |", cols.join(" | "));
    let mut cols = vec!["closed with 4008 by the server (rues /metrics)".to_owned()];
    cols.extend(servers.iter().map(|&k| {
        let counts: Vec<u64> = runs(k)
            .filter_map(|r| r.with.slow_consumers_closed)
            .collect();
        if counts.is_empty() {
            "—".to_owned()
        } else {
            format!(
                "{} of {}",
                counts.iter().sum::<u64>(),
                counts.len() * plan.slow_stalled
            )
        }
    }));
    let _ = writeln!(out, "| {} |", cols.join(" | "));
    let mut cols = vec!["readers closed / events missed".to_owned()];
    cols.extend(servers.iter().map(|&k| {
        let closed: usize = runs(k)
            .map(|r| r.with.readers_closed + r.without.readers_closed)
            .sum();
        let missed: u64 = runs(k)
            .map(|r| {
                r.with.expected.saturating_sub(r.with.received)
                    + r.without.expected.saturating_sub(r.without.received)
            })
            .sum();
        format!("{closed} / {missed}")
    }));
    let _ = writeln!(out, "| {} |", cols.join(" | "));
}
