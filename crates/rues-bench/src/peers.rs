//! Starting and stopping the five servers as child processes, and installing
//! the peers (nats-server with apt-get, the `ws` package with `npm ci`) when
//! they are missing; the cluster scenario's [`Broker`], a nats-server
//! the rues nodes join; and the relay scenario's [`Relay`], `rues relay`
//! in front of a rues server, from a `rues` binary built for it
//! ([`rues_binary`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::client::{Endpoint, Kind};
use crate::control::Order;

/// How long a server may take to say `ready`.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an install step may take.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(900);

/// The Node.js peer's directory (package.json, lock file, server.js).
pub(crate) fn node_ws_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/node-ws")
}

fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

async fn run_bounded(command: &mut Command, what: &str) -> Result<()> {
    eprintln!("rues-bench: {what}");
    let mut child = command
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start: {what}"))?;
    let status = tokio::time::timeout(INSTALL_TIMEOUT, child.wait())
        .await
        .with_context(|| format!("timed out: {what}"))??;
    if !status.success() {
        bail!("failed ({status}): {what}");
    }
    Ok(())
}

async fn apt_install(packages: &[&str]) -> Result<()> {
    let install = |cmd: &mut Command| {
        cmd.args(["install", "-y", "--no-install-recommends"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive");
    };
    let mut first = Command::new("apt-get");
    install(&mut first);
    if run_bounded(
        &mut first,
        &format!("apt-get install {}", packages.join(" ")),
    )
    .await
    .is_ok()
    {
        return Ok(());
    }
    // The package lists may be missing or stale.
    run_bounded(Command::new("apt-get").arg("update"), "apt-get update").await?;
    let mut second = Command::new("apt-get");
    install(&mut second);
    run_bounded(
        &mut second,
        &format!("apt-get install {}", packages.join(" ")),
    )
    .await
}

/// Installs what the chosen servers need and is not there yet (and
/// nats-server when `broker`: the cluster scenario's).
pub(crate) async fn ensure_installed(kinds: &[Kind], broker: bool) -> Result<()> {
    if (broker || kinds.contains(&Kind::Nats)) && on_path("nats-server").is_none() {
        apt_install(&["nats-server"]).await?;
    }
    if kinds.contains(&Kind::NodeWs) {
        if on_path("node").is_none() || on_path("npm").is_none() {
            apt_install(&["nodejs", "npm"]).await?;
        }
        let dir = node_ws_dir();
        if !dir.join("node_modules/ws/package.json").is_file() {
            run_bounded(
                Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                    .current_dir(&dir),
                &format!("npm ci in {}", dir.display()),
            )
            .await?;
        }
    }
    Ok(())
}

/// Versions of the peers (and of nats-server when `broker`), for the report.
pub(crate) fn versions(kinds: &[Kind], broker: bool) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let capture = |program: &str, args: &[&str]| -> String {
        std::process::Command::new(program)
            .args(args)
            .output()
            .ok()
            .map(|o| {
                let text = String::from_utf8_lossy(&o.stdout).trim().to_owned();
                if text.is_empty() {
                    String::from_utf8_lossy(&o.stderr).trim().to_owned()
                } else {
                    text
                }
            })
            .unwrap_or_else(|| "unknown".into())
    };
    if broker || kinds.contains(&Kind::Nats) {
        out.push(("nats-server".into(), capture("nats-server", &["--version"])));
    }
    if kinds.contains(&Kind::NodeWs) {
        out.push(("node".into(), capture("node", &["--version"])));
        let ws = std::fs::read_to_string(node_ws_dir().join("node_modules/ws/package.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|json| json["version"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "unknown".into());
        out.push(("ws (npm)".into(), ws));
    }
    out
}

/// Starts nats-server with `conf` and a watchdog that kills it when this
/// process's end of the watchdog's stdin closes: nats-server does not read
/// our orders, so this makes it stop with the harness however the harness
/// ends. Returns (server, watchdog).
fn start_nats(conf: &Path) -> Result<(Child, Child)> {
    let nats = on_path("nats-server").context("nats-server is not installed")?;
    let server = Command::new(nats)
        .arg("-c")
        .arg(conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start nats-server")?;
    let watchdog = watchdog(server.id().context("nats-server exited at once")?)
        .context("cannot start the nats-server watchdog")?;
    Ok((server, watchdog))
}

/// `sh -c 'read _; kill <pid>'` on a pipe from this process, for a child
/// that does not read our orders: when the pipe closes (however the
/// harness ends), the watchdog stops the child by its pid.
fn watchdog(pid: u32) -> Result<Child> {
    Ok(Command::new("sh")
        .arg("-c")
        .arg(format!("read _; kill {pid} 2>/dev/null"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()?)
}

/// Waits until something listens on each of `addrs`, up to the start timeout.
async fn wait_listening(addrs: &[SocketAddr]) -> Result<()> {
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    for &addr in addrs {
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            if tokio::time::Instant::now() > deadline {
                bail!("nats-server did not listen on {addr} in time");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(())
}

/// The cluster scenario's nats-server: a plain client listener on a free
/// loopback port, the backplane of the rues nodes.
pub(crate) struct Broker {
    pub(crate) addr: SocketAddr,
    server: Child,
    _watchdog: Child,
}

impl Broker {
    /// Starts one; `scratch` is a directory for its configuration.
    pub(crate) async fn start(scratch: &Path) -> Result<Broker> {
        let port = free_port()?;
        let dir = scratch.join(format!("broker-{port}"));
        std::fs::create_dir_all(&dir)?;
        let conf = dir.join("nats.conf");
        // JetStream on, as docs/cluster.md runs it (the shared resume
        // history); its store in the scratch directory.
        let store = dir.join("js").display().to_string();
        // The nodes' events and forwarded answers fit in 1 MiB (the
        // scenario's payloads are at most 512 KiB, answers go in 256 KiB
        // chunks).
        std::fs::write(
            &conf,
            format!(
                "listen: \"127.0.0.1:{port}\"\n\
                 max_payload: 1048576\n\
                 write_deadline: \"10s\"\n\
                 jetstream {{ store_dir: {store:?}, max_memory_store: 256MB }}\n"
            ),
        )?;
        let (server, watchdog) = start_nats(&conf)?;
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let mut broker = Broker {
            addr,
            server,
            _watchdog: watchdog,
        };
        if let Err(error) = wait_listening(&[addr]).await {
            broker.stop().await;
            return Err(error);
        }
        Ok(broker)
    }

    /// The URL the nodes join.
    pub(crate) fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    pub(crate) fn pid(&self) -> Result<u32> {
        self.server.id().context("nats-server already exited")
    }

    /// Stops it (by its pid: a kill, as it has no `quit` to hear).
    pub(crate) async fn stop(&mut self) {
        let _ = self.server.kill().await;
    }
}

/// The `rues` binary for `rues relay`: `explicit` when given, else a
/// release build of the workspace's `rues` (`cargo build --release --locked
/// -p rues`, bounded like an install step, a no-op when it is up to date)
/// into the target directory this harness runs from, so that the relay
/// measured is the code of this checkout.
pub(crate) async fn rues_binary(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        anyhow::ensure!(
            path.is_file(),
            "--rues-bin {}: no such file",
            path.display()
        );
        return Ok(path.to_owned());
    }
    let me = std::env::current_exe()?;
    let target = target_dir(&me).with_context(|| {
        format!(
            "{} is not in a cargo target directory: give the rues binary with --rues-bin",
            me.display()
        )
    })?;
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run_bounded(
        Command::new(cargo)
            .args(["build", "--release", "--locked", "--quiet", "-p", "rues"])
            .arg("--target-dir")
            .arg(&target)
            .current_dir(&workspace),
        "cargo build --release -p rues (the relay scenario's `rues relay`)",
    )
    .await?;
    let binary = target.join("release/rues");
    anyhow::ensure!(binary.is_file(), "the build left no {}", binary.display());
    Ok(binary)
}

/// The cargo target directory of a binary it built: `<target>/<profile>/<name>`
/// (`release` or `debug`), or `<target>/<profile>/deps/<name>` for a test.
fn target_dir(binary: &Path) -> Option<PathBuf> {
    let mut dir = binary.parent()?;
    if dir.file_name()? == "deps" {
        dir = dir.parent()?;
    }
    matches!(dir.file_name()?.to_str()?, "release" | "debug")
        .then(|| dir.parent().map(Path::to_owned))?
}

/// How long a relay may take to answer `/health` with 200 (it waits for
/// its upstream's first answer itself).
const RELAY_START_TIMEOUT: Duration = Duration::from_secs(40);

/// A `rues relay` process of the relay scenario, in front of an upstream
/// node, with a watchdog that stops it when the harness ends.
pub(crate) struct Relay {
    pub(crate) addr: SocketAddr,
    child: Child,
    _watchdog: Child,
    /// Its stderr (the relay's log), for the error of a start that failed.
    log: PathBuf,
}

impl Relay {
    /// Starts `rues relay --upstream http://<upstream> --listen <free port>
    /// --config <file>` with `binary`, the limits raised in that file as the
    /// bench's own rues server raises them (every session comes from
    /// loopback); waits until its `/health` says 200 (its upstream session
    /// is up).
    pub(crate) async fn start(
        binary: &Path,
        upstream: SocketAddr,
        scratch: &Path,
    ) -> Result<Relay> {
        let port = free_port()?;
        let dir = scratch.join(format!("relay-{port}"));
        std::fs::create_dir_all(&dir)?;
        let conf = dir.join("relay.toml");
        std::fs::write(&conf, RELAY_CONFIG)?;
        let log = dir.join("stderr.log");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let child = Command::new(binary)
            .arg("relay")
            .arg("--upstream")
            .arg(format!("http://{upstream}"))
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--config")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {} relay", binary.display()))?;
        let pid = child.id().context("the relay exited at once")?;
        let mut relay = Relay {
            addr,
            child,
            _watchdog: watchdog(pid).context("cannot start the relay's watchdog")?,
            log,
        };
        if let Err(error) = relay.wait_healthy().await {
            relay.stop().await;
            return Err(error.context(format!(
                "the relay's log, {}, ends: {}",
                relay.log.display(),
                log_tail(&relay.log)
            )));
        }
        Ok(relay)
    }

    async fn wait_healthy(&mut self) -> Result<()> {
        let deadline = tokio::time::Instant::now() + RELAY_START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("the relay exited ({status})");
            }
            let last = crate::client::fetch(self.addr, "/health").await;
            if matches!(last, Ok((200, _))) {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                let last = match last {
                    Ok((status, _)) => format!("answered {status}"),
                    Err(error) => format!("{error:#}"),
                };
                bail!("the relay's /health was not 200 within {RELAY_START_TIMEOUT:?} ({last})");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) fn pid(&self) -> Result<u32> {
        self.child.id().context("the relay already exited")
    }

    /// Stops it by its pid: SIGTERM (a graceful stop), then a kill if it
    /// is not gone within 5 s.
    pub(crate) async fn stop(&mut self) {
        if let Some(pid) = self
            .child
            .id()
            .and_then(|p| rustix::process::Pid::from_raw(p as i32))
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// The last lines of a log, for an error message: at most the last 5 lines
/// of its last 2 KiB, joined by ` / `.
fn log_tail(path: &Path) -> String {
    use std::io::{Read, Seek, SeekFrom};
    const TAIL: u64 = 2048;
    // Only the tail is read, however much the relay logged.
    let read = || -> std::io::Result<Vec<u8>> {
        let mut file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(TAIL)))?;
        let mut bytes = Vec::new();
        file.take(TAIL).read_to_end(&mut bytes)?;
        Ok(bytes)
    };
    let Ok(bytes) = read() else {
        return "(unreadable)".to_owned();
    };
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return "(empty)".to_owned();
    }
    lines[lines.len().saturating_sub(5)..].join(" / ")
}

/// The relay's configuration: `rues serve`'s `[limits]` section, with
/// room for the scenario's sessions, all from loopback.
const RELAY_CONFIG: &str = "[limits]\nmax_sessions = 100000\nmax_sessions_per_client = 0\n";

/// A running server: its processes, its address and its publisher's pipes.
pub(crate) struct Peer {
    pub(crate) kind: Kind,
    pub(crate) addr: SocketAddr,
    /// The process that serves the WebSocket sessions (nats-server for NATS).
    server: Child,
    /// For NATS, the separate publisher process.
    publisher: Option<Child>,
    /// For NATS, `sh -c 'read _; kill <nats-server>'` on a pipe from this
    /// process: nats-server does not read our orders, so this makes it stop
    /// with the harness however the harness ends.
    _watchdog: Option<Child>,
    orders: ChildStdin,
    replies: Lines<BufReader<ChildStdout>>,
    _scratch: Option<PathBuf>,
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn control_child(command: &mut Command) -> Result<Child> {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {command:?}"))
}

async fn read_ready(replies: &mut Lines<BufReader<ChildStdout>>) -> Result<u16> {
    let line = tokio::time::timeout(START_TIMEOUT, replies.next_line())
        .await
        .context("server did not get ready in time")??
        .context("server exited before it was ready")?;
    line.strip_prefix("ready ")
        .and_then(|port| port.trim().parse().ok())
        .with_context(|| format!("expected `ready <port>`, got `{line}`"))
}

impl Peer {
    /// Starts a server of this kind; `scratch` is a directory for its files.
    pub(crate) async fn start(kind: Kind, scratch: &Path) -> Result<Peer> {
        Self::start_with(kind, scratch, &[]).await
    }

    /// Starts a server of this kind with `options` after `rues-bench server
    /// <kind>` (the Rust servers only; e.g. rues's `--publish-thread`).
    pub(crate) async fn start_with(kind: Kind, scratch: &Path, options: &[&str]) -> Result<Peer> {
        let me = std::env::current_exe()?;
        match kind {
            Kind::Rues | Kind::Baseline | Kind::Limit => {
                let mut child = control_child(
                    Command::new(&me)
                        .args(["server", kind.name()])
                        .args(options),
                )?;
                Self::attach(kind, child_pipes(&mut child)?, child, None, None).await
            }
            Kind::NodeWs => {
                let node = on_path("node").context("node is not installed")?;
                let mut child = control_child(
                    Command::new(node)
                        .arg(node_ws_dir().join("server.js"))
                        .current_dir(node_ws_dir()),
                )?;
                Self::attach(kind, child_pipes(&mut child)?, child, None, None).await
            }
            Kind::Nats => {
                let (client_port, ws_port) = (free_port()?, free_port()?);
                let dir = scratch.join(format!("nats-{client_port}"));
                std::fs::create_dir_all(&dir)?;
                let conf = dir.join("nats.conf");
                std::fs::write(
                    &conf,
                    format!(
                        "listen: \"127.0.0.1:{client_port}\"\n\
                         max_connections: 100000\n\
                         max_payload: 1048576\n\
                         write_deadline: \"10s\"\n\
                         websocket {{\n  listen: \"127.0.0.1:{ws_port}\"\n  no_tls: true\n  compression: false\n}}\n"
                    ),
                )?;
                let (server, watchdog) = start_nats(&conf)?;
                let client_addr: SocketAddr = format!("127.0.0.1:{client_port}").parse()?;
                let ws_addr: SocketAddr = format!("127.0.0.1:{ws_port}").parse()?;
                wait_listening(&[client_addr, ws_addr]).await?;
                let mut publisher = control_child(Command::new(&me).args([
                    "server",
                    "nats-pub",
                    "--addr",
                    &client_addr.to_string(),
                ]))?;
                let pipes = child_pipes(&mut publisher)?;
                let mut peer =
                    Self::attach(kind, pipes, server, Some(publisher), Some((ws_addr, dir)))
                        .await?;
                peer._watchdog = Some(watchdog);
                Ok(peer)
            }
        }
    }

    async fn attach(
        kind: Kind,
        (orders, stdout): (ChildStdin, ChildStdout),
        server: Child,
        publisher: Option<Child>,
        nats: Option<(SocketAddr, PathBuf)>,
    ) -> Result<Peer> {
        let mut replies = BufReader::new(stdout).lines();
        let port = read_ready(&mut replies)
            .await
            .with_context(|| format!("starting {}", kind.name()))?;
        let (addr, scratch) = match nats {
            Some((ws, dir)) => (ws, Some(dir)),
            None => (format!("127.0.0.1:{port}").parse()?, None),
        };
        Ok(Peer {
            kind,
            addr,
            server,
            publisher,
            _watchdog: None,
            orders,
            replies,
            _scratch: scratch,
        })
    }

    pub(crate) fn endpoint(&self) -> Endpoint {
        Endpoint {
            kind: self.kind,
            addr: self.addr,
        }
    }

    /// The pid of the process serving the sessions.
    pub(crate) fn server_pid(&self) -> Result<u32> {
        self.server.id().context("server already exited")
    }

    /// The pid of the separate publisher process (NATS only).
    pub(crate) fn publisher_pid(&self) -> Option<u32> {
        self.publisher.as_ref().and_then(Child::id)
    }

    /// Sends a publish order and waits for it to finish (bounded by
    /// `timeout`); returns the publishing time the server measured.
    pub(crate) async fn publish(&mut self, order: Order, timeout: Duration) -> Result<Duration> {
        self.orders.write_all(order.to_line().as_bytes()).await?;
        self.orders.flush().await?;
        let line = tokio::time::timeout(timeout, self.replies.next_line())
            .await
            .context("publishing did not finish in time")??
            .context("the server exited while publishing")?;
        let nanos: u64 = line
            .strip_prefix("done ")
            .and_then(|rest| rest.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("expected `done`, got `{line}`"))?;
        Ok(Duration::from_nanos(nanos))
    }

    /// Stops the server: `quit`, then a kill if it takes more than a few
    /// seconds.
    pub(crate) async fn stop(mut self) {
        let _ = self.orders.write_all(b"quit\n").await;
        let _ = self.orders.flush().await;
        if let Some(mut publisher) = self.publisher.take() {
            if tokio::time::timeout(Duration::from_secs(5), publisher.wait())
                .await
                .is_err()
            {
                let _ = publisher.kill().await;
            }
        }
        // nats-server has no `quit` to hear; the others stop on their own.
        let patience = if self.kind == Kind::Nats { 0 } else { 15 };
        if tokio::time::timeout(Duration::from_secs(patience), self.server.wait())
            .await
            .is_err()
        {
            let _ = self.server.kill().await;
        }
    }
}

fn child_pipes(child: &mut Child) -> Result<(ChildStdin, ChildStdout)> {
    Ok((
        child.stdin.take().context("no stdin")?,
        child.stdout.take().context("no stdout")?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_directory_is_above_the_profile_directory() {
        let target = |p: &str| target_dir(Path::new(p));
        assert_eq!(
            target("/w/target/release/rues-bench"),
            Some(PathBuf::from("/w/target"))
        );
        assert_eq!(
            target("/t/debug/deps/rues_bench-0123abcd"),
            Some(PathBuf::from("/t"))
        );
        assert_eq!(target("/usr/local/bin/rues-bench"), None);
        assert_eq!(target("rues-bench"), None);
    }

    #[test]
    fn a_log_tail_is_its_last_five_lines_of_its_last_2_kib() {
        let dir = std::env::temp_dir().join(format!("rues-bench-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let log = dir.join("stderr.log");
        let text: String = (0..100).map(|i| format!("line {i}\n\n")).collect();
        std::fs::write(&log, text).expect("write");
        assert_eq!(
            log_tail(&log),
            "line 95 / line 96 / line 97 / line 98 / line 99"
        );
        std::fs::write(&log, "x".repeat(10_000)).expect("write");
        assert_eq!(log_tail(&log).len(), 2048, "bounded");
        assert_eq!(log_tail(&dir.join("missing.log")), "(unreadable)");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_relay_that_exits_is_an_error_naming_its_log() {
        let scratch = std::env::temp_dir().join(format!("rues-bench-test-{}", std::process::id()));
        let upstream: SocketAddr = "127.0.0.1:9".parse().expect("addr");
        let started = Relay::start(Path::new("/bin/false"), upstream, &scratch).await;
        let error = format!("{:#}", started.err().expect("/bin/false is no relay"));
        assert!(error.contains("the relay exited"), "{error}");
        assert!(error.contains("stderr.log"), "{error}");
        assert!(error.contains("ends: (empty)"), "{error}");
        let missing = rues_binary(Some(Path::new("/nonexistent/rues"))).await;
        assert!(missing.is_err(), "an explicit binary must exist");
        let _ = std::fs::remove_dir_all(&scratch);
    }
}
