//! The selective-delivery tables: server CPU per delivered event, and p99
//! latency in the same steps.

use std::fmt::Write as _;

use super::{Columns, fmt_num, header, median};
use crate::client::Kind;
use crate::plan::{Plan, Results};

/// The selective-delivery tables.
pub(super) fn section(out: &mut String, plan: &Plan, results: &Results, columns: &Columns<'_>) {
    let _ = writeln!(
        out,
        "\n### Selective delivery: server CPU per delivered event (µs)\n\n\
         Every session subscribed to its own entity; {} events/s of 256 B, each to a random \
         entity, for {} s. CPU = utime + stime of the serving process (/proc/<pid>/stat) over \
         the step, divided by the events delivered; for NATS the separate publisher's CPU is \
         in the last column, not in the NATS figure. Median over runs.\n",
        plan.selective_rate, plan.step_secs
    );
    let mut last: Vec<&str> = columns.ratio_names.clone();
    if columns.has(Kind::Nats) {
        last.push("NATS publisher");
    }
    header(out, &["N"], columns.servers(), &last);
    for &n in &plan.selective_n {
        let runs = |k: Kind| {
            results
                .selective
                .iter()
                .filter(move |r| r.server == k && r.n == n && r.error.is_none())
        };
        let row = columns.pick(&|k| median(runs(k).map(|r| r.us_per_event).collect()));
        let mut cols = vec![n.to_string()];
        cols.extend(row.iter().map(|v| fmt_num(*v, 2)));
        cols.extend(columns.ratios(&row));
        if columns.has(Kind::Nats) {
            cols.push(fmt_num(
                median(
                    runs(Kind::Nats)
                        .filter_map(|r| r.publisher_us_per_event)
                        .collect(),
                ),
                2,
            ));
        }
        let _ = writeln!(out, "| {} |", cols.join(" | "));
    }
    let _ = writeln!(out, "\np99 latency in the same steps (ms):\n");
    header(out, &["N"], columns.servers(), &[]);
    for &n in &plan.selective_n {
        let row = columns.pick(&|k| {
            median(
                results
                    .selective
                    .iter()
                    .filter(|r| r.server == k && r.n == n && r.error.is_none())
                    .map(|r| r.p99_ms)
                    .collect(),
            )
        });
        let mut cols = vec![n.to_string()];
        cols.extend(row.iter().map(|v| fmt_num(*v, 2)));
        let _ = writeln!(out, "| {} |", cols.join(" | "));
    }
}
