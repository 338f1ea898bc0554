//! The idle-memory table: server RSS per open session.

use std::fmt::Write as _;

use super::{Columns, fmt_num, header, median};
use crate::plan::{Plan, Results};

/// The idle-memory table.
pub(super) fn section(out: &mut String, plan: &Plan, results: &Results, columns: &Columns<'_>) {
    let _ = writeln!(
        out,
        "\n### Idle memory: server RSS per open session with one subscription (KiB)\n\n\
         ({{VmRSS with {} sessions open and subscribed, 2 s after the last}} − {{VmRSS before the \
         first}}) / {}; median over runs.\n",
        plan.idle_n, plan.idle_n
    );
    header(out, &["N"], columns.servers(), &columns.ratio_names);
    let row = columns.pick(&|k| {
        median(
            results
                .idle
                .iter()
                .filter(|r| r.server == k && r.error.is_none())
                .map(|r| r.kib_per_session)
                .collect(),
        )
    });
    let mut cols = vec![plan.idle_n.to_string()];
    cols.extend(row.iter().map(|v| fmt_num(*v, 1)));
    cols.extend(columns.ratios(&row));
    let _ = writeln!(out, "| {} |", cols.join(" | "));
}
