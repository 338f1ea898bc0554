//! What a process reports about itself: resident memory from
//! `/proc/<pid>/status`, and samples of the Prometheus text a node serves on
//! `/metrics`. Parsing only: fetching `/metrics` is the caller's (with the
//! `server` feature, `http(addr, GET, "/metrics", ..)`).

use std::io;

/// `VmRSS` in KiB, from the text of a `/proc/<pid>/status` file. `None` when
/// the line is missing (a zombie process has none) or malformed.
pub fn vm_rss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

/// The resident set size of process `pid`, in KiB (`VmRSS` of
/// `/proc/<pid>/status`).
///
/// # Errors
///
/// If the file cannot be read (no such process, no procfs), or has no
/// `VmRSS` line (`InvalidData`).
pub fn rss_kib(pid: u32) -> io::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot read {path}: {e}")))?;
    vm_rss_kib(&status)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("no VmRSS in {path}")))
}

/// The value of the first sample named `name` in a Prometheus text
/// exposition (what `/metrics` serves). `name` may carry labels exactly as
/// they are printed (`rues_sessions_closed_total{reason="idle"}`); trailing
/// whitespace in it is ignored, so `"rues_sessions_open "` and
/// `"rues_sessions_open"` are the same. `None` when there is no such sample or
/// its value is not a whole number.
pub fn metric(text: &str, name: &str) -> Option<u64> {
    let name = name.trim_end();
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        if !rest.starts_with([' ', '\t']) {
            return None;
        }
        rest.split_whitespace().next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const METRICS: &str = "\
# HELP rues_sessions_open Sessions open now.
# TYPE rues_sessions_open gauge
rues_sessions_open 3
rues_sessions_opened_total 17
rues_sessions_closed_total{reason=\"idle\"} 2
rues_subscriptions 5 1700000000000
";

    #[test]
    fn metric_finds_the_exact_name() {
        assert_eq!(metric(METRICS, "rues_sessions_open "), Some(3));
        assert_eq!(metric(METRICS, "rues_sessions_open"), Some(3));
        assert_eq!(metric(METRICS, "rues_sessions_opened_total"), Some(17));
        assert_eq!(
            metric(METRICS, "rues_sessions_closed_total{reason=\"idle\"}"),
            Some(2)
        );
        assert_eq!(metric(METRICS, "rues_subscriptions"), Some(5));
        assert_eq!(metric(METRICS, "rues_sessions"), None);
        assert_eq!(metric(METRICS, "rues_missing"), None);
    }

    #[test]
    fn vm_rss_is_read_from_status_text() {
        let status = "Name:\trues\nVmPeak:\t  9000 kB\nVmRSS:\t  4242 kB\nThreads:\t3\n";
        assert_eq!(vm_rss_kib(status), Some(4242));
        assert_eq!(vm_rss_kib("Name:\tzombie\nState:\tZ (zombie)\n"), None);
    }

    #[test]
    fn reads_own_process() {
        assert!(rss_kib(std::process::id()).expect("VmRSS") > 0);
        let error = rss_kib(u32::MAX).expect_err("no such process");
        assert!(error.to_string().contains("/proc/"), "{error}");
    }
}
