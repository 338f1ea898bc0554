//! What the process fixtures ([`NatsServer`](crate::NatsServer),
//! [`Nginx`](crate::Nginx)) share: finding their program, a free loopback
//! port, a private directory, and stopping only the child they started.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

/// How long a fixture may take to answer after it was started.
pub(crate) const STARTUP: Duration = Duration::from_secs(10);

/// A fixture's program is not installed, so the test cannot run here.
///
/// Only returned outside CI: when the environment variable `CI` is set, a
/// missing program panics instead, so CI never skips a test silently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    message: String,
}

impl Unavailable {
    /// What is missing and how to install it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Unavailable {}

/// Whether this runs in CI, where a missing program is a failure, not a skip.
pub(crate) fn in_ci() -> bool {
    std::env::var_os("CI").is_some()
}

/// `program` from `PATH`, else from `dirs` (where Debian installs it, which
/// a non-root `PATH` may lack: `/usr/sbin`).
///
/// # Panics
///
/// When the program is missing and `ci` holds.
pub(crate) fn find_program(program: &str, dirs: &[&str], ci: bool) -> Result<PathBuf, Unavailable> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    let found = on_path
        .into_iter()
        .chain(dirs.iter().map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file());
    match found {
        Some(path) => Ok(path),
        None => {
            let message =
                format!("{program} is not installed: run `cargo xtask test`, which installs it");
            assert!(!ci, "{message}");
            Err(Unavailable { message })
        }
    }
}

/// A 127.0.0.1 port nothing listened on a moment ago. Another process may
/// take it before the fixture binds it; the fixtures retry with a new one.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("the loopback interface accepts a listener on port 0")
}

/// A fresh directory under the system's temporary directory, removed with
/// everything in it on drop.
#[derive(Debug)]
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(label: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rues-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        TempDir(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How long a child may take to exit after SIGTERM before it is killed.
const GRACE: Duration = Duration::from_secs(5);

/// Sends SIGTERM to `child` (ours, by its pid) unless it already exited,
/// and waits for it; kills it if it is still there after [`GRACE`], so a
/// test never hangs on a stuck server.
pub(crate) fn terminate(child: &mut Child) {
    if !matches!(child.try_wait(), Ok(None)) {
        return;
    }
    // Only a child not yet reaped is signalled, so the pid is still ours:
    // the kernel keeps it until `wait`.
    let _ = kill_process(Pid::from_child(child), Signal::TERM);
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    kill(child);
}

/// Sends SIGKILL to `child` unless it already exited, and waits for it.
pub(crate) fn kill(child: &mut Child) {
    // `Child::kill` signals only a child not yet reaped.
    let _ = child.kill();
    let _ = child.wait();
}

/// Whether a TCP connection to `addr` is accepted within `timeout`.
pub(crate) fn accepts(addr: SocketAddr, timeout: Duration) -> bool {
    TcpStream::connect_timeout(&addr, timeout).is_ok()
}

/// Polls `ready` until it holds, `child` exits, or [`STARTUP`] passes.
///
/// Err says which, with the end of `log` (the child's own messages).
pub(crate) fn wait_until_ready(
    child: &mut Child,
    log: &Path,
    mut ready: impl FnMut() -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + STARTUP;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited ({status}): {}", tail(log)));
        }
        if ready() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "not answering after {} s: {}",
                STARTUP.as_secs(),
                tail(log)
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The last 2 KiB of a log file, for a failure message.
fn tail(log: &Path) -> String {
    let mut text = Vec::new();
    if let Ok(mut file) = File::open(log) {
        let _ = file.read_to_end(&mut text);
    }
    let start = text.len().saturating_sub(2048);
    let text = String::from_utf8_lossy(&text[start..]);
    if text.trim().is_empty() {
        "(nothing logged)".to_owned()
    } else {
        text.trim().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_program_is_unavailable_outside_ci() {
        let err = find_program("rues-no-such-program", &["/usr/sbin"], false).unwrap_err();
        assert_eq!(
            err.message(),
            "rues-no-such-program is not installed: run `cargo xtask test`, which installs it"
        );
    }

    #[test]
    fn a_missing_program_panics_in_ci() {
        let panic = std::panic::catch_unwind(|| find_program("rues-no-such-program", &[], true))
            .unwrap_err();
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(
            message.contains("rues-no-such-program is not installed"),
            "{message}"
        );
    }

    #[test]
    fn programs_are_found_in_the_extra_dirs() {
        let dir = TempDir::new("find");
        let program = dir.path().join("rues-fixture-program");
        std::fs::write(&program, "").unwrap();
        let dirs = [dir.path().to_str().unwrap()];
        assert_eq!(
            find_program("rues-fixture-program", &dirs, true),
            Ok(program)
        );
    }

    #[test]
    fn terminate_kills_a_child_that_ignores_sigterm() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "trap '' TERM; while :; do sleep 0.05; done"])
            .spawn()
            .unwrap();
        // Give the shell time to install its trap.
        std::thread::sleep(Duration::from_millis(200));
        let started = Instant::now();
        terminate(&mut child);
        assert!(started.elapsed() >= GRACE);
        assert!(child.try_wait().unwrap().is_some());
    }

    #[test]
    fn terminate_ends_a_child_at_once() {
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let started = Instant::now();
        terminate(&mut child);
        assert!(started.elapsed() < GRACE);
        assert!(child.try_wait().unwrap().is_some());
    }

    #[test]
    fn temp_dirs_are_removed_on_drop() {
        let dir = TempDir::new("drop");
        let path = dir.path().to_owned();
        std::fs::write(path.join("file"), "x").unwrap();
        drop(dir);
        assert!(!path.exists());
    }
}
