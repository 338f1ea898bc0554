//! What the kernel says about a server process: CPU time from
//! `/proc/<pid>/stat`, resident memory from `/proc/<pid>/status`.

use anyhow::{Context, Result, bail};

/// User plus system CPU time of `pid` so far, in seconds.
pub(crate) fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("cannot read /proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may hold spaces: the
    // fields after the last ')' are space-separated, starting at field 3.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("malformed /proc/<pid>/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15, so 11 and 12 after field 3.
    let (Some(utime), Some(stime)) = (fields.get(11), fields.get(12)) else {
        bail!("short /proc/{pid}/stat");
    };
    let ticks: u64 = utime.parse::<u64>()? + stime.parse::<u64>()?;
    let per_second = rustix::param::clock_ticks_per_second();
    Ok(ticks as f64 / per_second as f64)
}

/// Resident set size of `pid`, in KiB (`VmRSS`, read by rues-testkit, as
/// the tests and the soak read it).
pub(crate) fn rss_kib(pid: u32) -> Result<u64> {
    Ok(rues_testkit::rss_kib(pid)?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_own_process() {
        let pid = std::process::id();
        assert!(super::cpu_seconds(pid).expect("stat") >= 0.0);
        assert!(super::rss_kib(pid).expect("status") > 0);
    }
}
