//! The fan-out tables: the highest sustained rate, and the p99 latency
//! and server CPU per message at the moderate rate.

use std::fmt::Write as _;

use super::{Columns, fmt_num, header, median};
use crate::client::Kind;
use crate::plan::{FanoutRun, Plan, Results, fanout_bound_ms};

/// The fan-out tables.
pub(super) fn section(out: &mut String, plan: &Plan, results: &Results, columns: &Columns<'_>) {
    let _ = writeln!(
        out,
        "### Fan-out: highest sustained rate, delivered messages per second\n\n\
         Median over {} run(s) of the highest offered rate at which every event reached \
         every subscriber with p99 latency under the bound (50 ms, 500 ms from N = 5000); \
         messages/s = events/s × N. Ladder: first rung at the moderate rate, doubling until \
         a rung fails, then {} bisection(s).\n",
        plan.runs, plan.refine
    );
    header(
        out,
        &["N", "payload", "bound"],
        columns.servers(),
        &columns.ratio_names,
    );
    // The runs of one server, N and payload size.
    let runs = |k: Kind, n: usize, size: usize| {
        results
            .fanout
            .iter()
            .filter(move |r| r.server == k && r.n == n && r.size == size)
    };
    for &n in &plan.fanout_n {
        for &size in &plan.payloads {
            let row = columns
                .pick(&|k| median(runs(k, n, size).map(|r| r.max_rate * n as f64).collect()));
            let mut cols = vec![
                n.to_string(),
                format!("{size} B"),
                format!("{} ms", fanout_bound_ms(n)),
            ];
            cols.extend(row.iter().map(|v| fmt_num(*v, 0)));
            cols.extend(columns.ratios(&row));
            let _ = writeln!(out, "| {} |", cols.join(" | "));
        }
    }
    let p99_title = format!(
        "\n### Fan-out: p99 latency at the common moderate rate (ms)\n\n\
         The ladder's first rung: {} msgs/s delivered with 256 B payloads, {} msgs/s with 16 KiB \
         (events/s = that / N). Median over runs; — where not every event arrived.\n",
        plan.moderate_small, plan.moderate_large
    );
    let cpu_title = "\n### Fan-out: server CPU per delivered message at the moderate rate (µs)\n\n\
         CPU time (utime + stime) of the process serving the sessions over the first rung, \
         divided by the messages delivered. Median over runs.\n"
        .to_owned();
    type AtModerate = fn(&FanoutRun) -> Option<f64>;
    let tables: [(String, AtModerate); 2] = [
        (p99_title, |r| r.moderate_p99_ms),
        (cpu_title, |r| r.moderate_us_per_msg),
    ];
    for (title, measure) in tables {
        let _ = writeln!(out, "{title}");
        header(
            out,
            &["N", "payload"],
            columns.servers(),
            &columns.ratio_names,
        );
        for &n in &plan.fanout_n {
            for &size in &plan.payloads {
                let row = columns.pick(&|k| median(runs(k, n, size).filter_map(measure).collect()));
                let mut cols = vec![n.to_string(), format!("{size} B")];
                cols.extend(row.iter().map(|v| fmt_num(*v, 2)));
                cols.extend(columns.ratios(&row));
                let _ = writeln!(out, "| {} |", cols.join(" | "));
            }
        }
    }
}
