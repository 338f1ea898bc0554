//! A real `nats-server` on a loopback port, for the cluster tests.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::daemon::{self, TempDir, Unavailable};

/// Where Debian installs `nats-server`, beside `PATH`.
const DIRS: &[&str] = &["/usr/sbin", "/usr/bin"];

/// How many fresh ports [`NatsServer::start`] tries: another process may
/// take the free port it picked before the server binds it.
const ATTEMPTS: usize = 3;

/// The memory JetStream may use for streams kept in memory.
const JETSTREAM_MAX_MEMORY: &str = "64MB";

/// The disk JetStream may use for streams kept in files (in the fixture's
/// temp dir).
const JETSTREAM_MAX_FILE: &str = "256MB";

/// A `nats-server` child process on `127.0.0.1`, with JetStream on (its
/// store in the fixture's temp dir, kept across [`restart`](Self::restart));
/// killed on drop.
///
/// JetStream's limits are small, for a test machine shared by several
/// test runs: 64 MB of memory storage and 256 MB of file storage
/// (nats-server 2.9 has no flag for them, so they are in a configuration
/// file beside the log).
///
/// Only the child this fixture started is ever signalled, by its pid.
/// [`stop`](Self::stop) and [`kill`](Self::kill) take the server away as a
/// failure of the backplane would; [`restart`](Self::restart) brings it
/// back on the same port, so clients reconnecting to [`url`](Self::url)
/// find it again.
///
/// ```no_run
/// let Ok(mut nats) = rues_testkit::NatsServer::start() else { return };
/// println!("connect to {}", nats.url());
/// nats.kill();
/// nats.restart();
/// ```
#[derive(Debug)]
pub struct NatsServer {
    program: PathBuf,
    port: u16,
    child: Option<Child>,
    // The server's log (and working directory), removed on drop.
    dir: TempDir,
}

impl NatsServer {
    /// Starts `nats-server -c nats.conf -a 127.0.0.1 -p PORT` (the
    /// configuration turns JetStream on) on a free port and waits (at most
    /// 10 s) until it sends its `INFO` line to a new connection.
    ///
    /// # Errors
    ///
    /// [`Unavailable`] when `nats-server` is not installed (found on `PATH`,
    /// then in `/usr/sbin` and `/usr/bin`).
    ///
    /// # Panics
    ///
    /// When `nats-server` is missing and the environment variable `CI` is
    /// set (CI must never skip), and when the server does not come up.
    pub fn start() -> Result<NatsServer, Unavailable> {
        let program = daemon::find_program("nats-server", DIRS, daemon::in_ci())?;
        let mut failures = Vec::new();
        for _ in 0..ATTEMPTS {
            let mut server = NatsServer {
                program: program.clone(),
                port: daemon::free_port(),
                child: None,
                dir: TempDir::new("nats"),
            };
            match server.spawn() {
                Ok(()) => return Ok(server),
                Err(failure) => failures.push(failure),
            }
        }
        panic!(
            "nats-server did not start in {ATTEMPTS} attempts: {}",
            failures.join("; ")
        );
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The server's client port on 127.0.0.1; the same after a restart.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's client address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// Whether the server process is running (started, and neither
    /// stopped nor killed, nor exited by itself).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// Stops the server gracefully (SIGTERM) and waits until it exited.
    /// Does nothing when it is not running.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            daemon::terminate(&mut child);
        }
    }

    /// Kills the server (SIGKILL), as a crash would, and waits until it
    /// exited. Does nothing when it is not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            daemon::kill(&mut child);
        }
    }

    /// Starts the server again on the same port, stopping it first (SIGTERM)
    /// when it still runs, and waits (at most 10 s) until it answers.
    ///
    /// # Panics
    ///
    /// When it does not come up (the port was taken meanwhile, say).
    pub fn restart(&mut self) {
        self.stop();
        if let Err(failure) = self.spawn() {
            panic!("nats-server did not restart: {failure}");
        }
    }

    /// The server's name: unique to this fixture (process, port, temp dir).
    fn name(&self) -> String {
        let dir = self
            .dir
            .path()
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        format!("rues-test-{}-{}-{dir}", std::process::id(), self.port).replace(
            |c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "_",
        )
    }

    /// Writes the configuration file: JetStream, stored under the temp dir.
    fn write_config(&self) -> Result<PathBuf, String> {
        let store = self.dir.path().join("js");
        // A JSON string is a quoted string nats-server's parser reads as is.
        let store = serde_json::Value::String(store.to_string_lossy().into_owned());
        let config = format!(
            "jetstream {{\n  store_dir: {store}\n  max_memory_store: {JETSTREAM_MAX_MEMORY}\n  max_file_store: {JETSTREAM_MAX_FILE}\n}}\n"
        );
        let path = self.dir.path().join("nats.conf");
        std::fs::write(&path, config)
            .map_err(|err| format!("cannot write {}: {err}", path.display()))?;
        Ok(path)
    }

    /// Starts the child on `self.port` and waits until it sends `INFO`;
    /// on failure, the child is gone.
    fn spawn(&mut self) -> Result<(), String> {
        let config = self.write_config()?;
        let log = self.dir.path().join("nats-server.log");
        let stderr = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|err| format!("cannot create {}: {err}", log.display()))?;
        let port = self.port.to_string();
        // A name of its own, checked in the greeting: another test's server
        // may hold the port this one picked (the pick and the bind are not
        // one step), and must not be taken for this one while this one
        // fails to bind.
        let name = self.name();
        let mut child = Command::new(&self.program)
            .arg("-c")
            .arg(&config)
            .args(["-a", "127.0.0.1", "-p", &port, "--server_name", &name])
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|err| format!("cannot run {}: {err}", self.program.display()))?;
        let addr = self.addr();
        let greeting = format!("\"server_name\":\"{name}\"");
        // Ready once JetStream answers too: it starts after the listener,
        // and a node that asks it too early waits for its timeout.
        let ours = || {
            greeting_of(addr).is_some_and(|line| line.contains(&greeting))
                && jetstream_request(addr, "$JS.API.INFO").is_some()
        };
        match daemon::wait_until_ready(&mut child, &log, ours) {
            Ok(()) => {
                self.child = Some(child);
                Ok(())
            }
            Err(failure) => {
                daemon::kill(&mut child);
                Err(format!("port {}: {failure}", self.port))
            }
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether a NATS server on `addr` greets a new connection with `INFO {...}`,
/// as every NATS server does before anything else.
#[cfg(test)]
fn sends_info(addr: SocketAddr) -> bool {
    greeting_of(addr).is_some()
}

/// The `INFO {...}` line a NATS server on `addr` greets a new connection with.
fn greeting_of(addr: SocketAddr) -> Option<String> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .ok()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    line.starts_with("INFO {").then_some(line)
}

/// The answer of the server on `addr` to a JetStream API request on
/// `subject` with an empty body (e.g. `$JS.API.INFO`), over a raw
/// connection: the JSON body of the reply, or `None` when nothing answers
/// within 2 s (a server without JetStream has no responder there).
fn jetstream_request(addr: SocketAddr, subject: &str) -> Option<serde_json::Value> {
    use std::io::{Read, Write};

    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let request = format!(
        "CONNECT {{\"verbose\":false,\"pedantic\":false}}\r\nSUB _INBOX.js 1\r\nPUB {subject} _INBOX.js 0\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    // At most a few lines: INFO (greeting), perhaps PING, then the MSG.
    for _ in 0..8 {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line.starts_with("PING") {
            reader.get_mut().write_all(b"PONG\r\n").ok()?;
            continue;
        }
        let Some(rest) = line.strip_prefix("MSG _INBOX.js 1 ") else {
            continue;
        };
        // `MSG <subject> <sid> [reply-to] <#bytes>`: the size is last.
        let size: usize = rest.split_whitespace().last()?.parse().ok()?;
        if size > 1 << 20 {
            return None;
        }
        let mut body = vec![0; size];
        reader.read_exact(&mut body).ok()?;
        return serde_json::from_slice(&body).ok();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start() -> Option<NatsServer> {
        match NatsServer::start() {
            Ok(nats) => Some(nats),
            Err(unavailable) => {
                eprintln!("skipped: {unavailable}");
                None
            }
        }
    }

    #[test]
    fn starts_and_answers_on_its_url() {
        let Some(mut nats) = start() else { return };
        assert_eq!(nats.url(), format!("nats://127.0.0.1:{}", nats.port()));
        assert!(nats.is_running());
        assert!(sends_info(nats.addr()));
    }

    #[test]
    fn jetstream_answers_its_api() {
        let Some(mut nats) = start() else { return };
        let info = jetstream_request(nats.addr(), "$JS.API.INFO")
            .expect("an answer on $JS.API.INFO: JetStream is on");
        assert_eq!(
            info["type"], "io.nats.jetstream.api.v1.account_info_response",
            "{info}"
        );
        assert!(info.get("error").is_none(), "{info}");
        // Still on after a restart, with its store where it was.
        nats.restart();
        let info = jetstream_request(nats.addr(), "$JS.API.INFO").expect("JetStream after restart");
        assert!(info.get("error").is_none(), "{info}");
        assert!(
            nats.dir.path().join("js").is_dir(),
            "the store is in the temp dir"
        );
    }

    #[test]
    fn stop_kill_and_restart_keep_the_port() {
        let Some(mut nats) = start() else { return };
        let port = nats.port();
        nats.stop();
        assert!(!nats.is_running());
        assert!(!daemon::accepts(nats.addr(), Duration::from_millis(200)));
        nats.restart();
        assert_eq!(nats.port(), port);
        assert!(nats.is_running());
        assert!(sends_info(nats.addr()));
        nats.kill();
        assert!(!daemon::accepts(nats.addr(), Duration::from_millis(200)));
        nats.restart();
        assert!(sends_info(nats.addr()));
        // A restart of a running server replaces it.
        nats.restart();
        assert!(sends_info(nats.addr()));
    }

    #[test]
    fn drop_ends_the_server() {
        let Some(nats) = start() else { return };
        let addr = nats.addr();
        drop(nats);
        assert!(!daemon::accepts(addr, Duration::from_millis(200)));
    }
}
