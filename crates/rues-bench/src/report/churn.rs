//! The churn table: the highest sustained rate of session opens, and the
//! p99s at that rate.

use std::fmt::Write as _;

use super::{Columns, Measure, fmt_num, header, median};
use crate::client::Kind;
use crate::plan::{ChurnStep, Plan, Results};

/// The churn table.
pub(super) fn section(out: &mut String, plan: &Plan, results: &Results, columns: &Columns<'_>) {
    let _ = writeln!(
        out,
        "\n### Churn: sustained session opens per second\n\n\
         Sessions opened, subscribed and closed at a steady offered rate for {} s per rung; a rung \
         passes when every cycle succeeded with p99 of open-and-subscribe (TCP connect to \
         confirmed subscription) under {} ms. Median over runs of the highest passing rung, \
         then the p99s at that rung.\n",
        plan.churn_secs, plan.churn_p99_ms
    );
    header(out, &["measure"], columns.servers(), &columns.ratio_names);
    let best_steps = |k: Kind| -> Vec<ChurnStep> {
        results
            .churn
            .iter()
            .filter(|r| r.server == k)
            .filter_map(|r| {
                r.steps
                    .iter()
                    .filter(|s| s.ok)
                    .max_by(|a, b| a.rate.total_cmp(&b.rate))
                    .cloned()
            })
            .collect()
    };
    let rows: [(&str, Measure<'_>); 3] = [
        (
            "max opens/s",
            Box::new(|k| {
                median(
                    results
                        .churn
                        .iter()
                        .filter(|r| r.server == k)
                        .map(|r| r.max_rate)
                        .collect(),
                )
            }),
        ),
        (
            "open+subscribe p99 at max (ms)",
            Box::new(|k| median(best_steps(k).iter().map(|s| s.p99_ms).collect())),
        ),
        (
            "subscribe request p99 at max (ms)",
            Box::new(|k| median(best_steps(k).iter().map(|s| s.subscribe_p99_ms).collect())),
        ),
    ];
    for (name, value) in rows.iter() {
        let row = columns.pick(&|k| value(k));
        let mut cols = vec![(*name).to_owned()];
        cols.extend(
            row.iter()
                .map(|v| fmt_num(*v, if name.contains("ms") { 2 } else { 0 })),
        );
        cols.extend(columns.ratios(&row));
        let _ = writeln!(out, "| {} |", cols.join(" | "));
    }
}
