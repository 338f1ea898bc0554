//! A `rues serve` process on a free loopback port, and clients for it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use hyper::{Method, StatusCode};
pub(crate) use rues_testkit::Answer;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Every wait in these tests is bounded by this.
pub(crate) const PATIENCE: Duration = Duration::from_secs(15);

pub(crate) fn rues() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rues"))
}

/// A running `rues serve`; killed on drop.
pub(crate) struct Node {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
    pub(crate) banner: String,
    /// Where `/metrics` and `/health` are served (the banner's last line).
    pub(crate) admin: SocketAddr,
}

impl Node {
    /// Starts `rues serve --listen 127.0.0.1:0` with fast blocks and `extra`
    /// arguments, and reads the address it prints.
    pub(crate) fn start(extra: &[&str]) -> Self {
        let mut command = rues();
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--block-time-ms", "200"])
            .args(extra);
        Self::spawn(command)
    }

    /// `rues serve` with exactly `args` (no `--listen` of its own).
    pub(crate) fn serve(args: &[&str]) -> Self {
        let mut command = rues();
        command.arg("serve").args(args);
        Self::spawn(command)
    }

    /// `rues serve --nats URL` (`role` "serve") or `rues edge --nats URL`
    /// (`role` "edge") on a free loopback port, with fast blocks.
    pub(crate) fn in_cluster(role: &str, nats: &str) -> Self {
        let mut command = rues();
        command.args([
            role,
            "--listen",
            "127.0.0.1:0",
            "--block-time-ms",
            "200",
            "--nats",
            nats,
        ]);
        Self::spawn(command)
    }

    /// `rues relay --upstream URL` on a free loopback port, with `extra`
    /// arguments.
    pub(crate) fn relay(upstream: &str, extra: &[&str]) -> Self {
        let mut command = rues();
        command
            .args(["relay", "--upstream", upstream, "--listen", "127.0.0.1:0"])
            .args(extra);
        Self::spawn(command)
    }

    /// As [`Node::start`], with the open-file limit lowered to `limit` (via
    /// the shell's `ulimit -n`, so the test needs no libc binding).
    pub(crate) fn start_with_fd_limit(limit: u32, extra: &[&str]) -> Self {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_rues"))
            .args(["serve", "--listen", "127.0.0.1:0", "--block-time-ms", "200"])
            .args(extra);
        Self::spawn(command)
    }

    /// As [`Node::start`], logging at `info` into a pipe (`child.stderr`),
    /// with NO_COLOR unset (so no colour is the node's own decision).
    pub(crate) fn start_logging(extra: &[&str]) -> Self {
        let mut command = rues();
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--block-time-ms", "200"])
            .args(extra)
            .env_remove("NO_COLOR");
        Self::spawn_with(command, "info", Stdio::piped())
    }

    fn spawn(command: Command) -> Self {
        Self::spawn_with(command, "warn", Stdio::inherit())
    }

    fn spawn_with(mut command: Command, log: &str, stderr: Stdio) -> Self {
        let mut child = command
            .env("RUST_LOG", log)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("rues starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stdout = BufReader::new(stdout);
        let mut banner = String::new();
        stdout.read_line(&mut banner).expect("a banner line");
        // The banner ends with the line that says where the metrics are.
        let mut admin = None;
        let mut line = String::new();
        while stdout.read_line(&mut line).unwrap_or(0) > 0 {
            if line.starts_with("rues: metrics at ") {
                admin = line
                    .split_whitespace()
                    .find_map(|word| {
                        let url = word
                            .strip_prefix("http://")
                            .or_else(|| word.strip_prefix("https://"))?;
                        url.strip_suffix("/metrics,")
                    })
                    .and_then(|addr| addr.parse().ok());
                break;
            }
            line.clear();
        }
        let addr = banner
            .split_whitespace()
            .find_map(|word| {
                word.strip_prefix("http://")
                    .or_else(|| word.strip_prefix("https://"))
            })
            .and_then(|url| url.trim_end_matches("/on").parse().ok())
            .unwrap_or_else(|| panic!("no address in {banner:?}"));
        Self {
            child,
            addr,
            banner,
            admin: admin.unwrap_or(addr),
        }
    }

    pub(crate) async fn http(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Answer {
        rues_testkit::http(self.addr, method, path, headers, body).await
    }

    pub(crate) async fn session(&self) -> Session {
        let url = format!("ws://{}/on", self.addr);
        let (mut ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("upgraded");
        let id = rues_testkit::read_session_id(&mut ws).await;
        Session { ws, id }
    }

    /// Sends SIGTERM (through `kill`, so the test needs no libc binding).
    pub(crate) fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the process to exit, bounded.
    pub(crate) fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("waitable") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "rues did not exit within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) struct Session {
    pub(crate) ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub(crate) id: String,
}

/// A decoded event: the frame's headers and payload.
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) location: String,
    pub(crate) content_type: String,
    pub(crate) content_length: String,
    pub(crate) payload: Bytes,
}

impl Session {
    pub(crate) async fn subscribe(&self, node: &Node, path: &str) {
        let answer = node
            .http(Method::GET, path, &[("rusk-session-id", &self.id)], b"")
            .await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "GET {path}: {:?}",
            String::from_utf8_lossy(&answer.body)
        );
    }

    /// The next event, decoded by hand (u32 LE header length, JSON, payload)
    /// so this test does not trust our own codec.
    pub(crate) async fn next_event(&mut self) -> Received {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("an event in time")
                .expect("open")
                .expect("ok");
            let Message::Binary(bytes) = message else {
                continue;
            };
            let len = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes")) as usize;
            let headers: serde_json::Value =
                serde_json::from_slice(&bytes[4..4 + len]).expect("JSON headers");
            let field = |name: &str| {
                headers[name]
                    .as_str()
                    .unwrap_or_else(|| panic!("no {name} in {headers}"))
                    .to_owned()
            };
            return Received {
                location: field("Content-Location"),
                content_type: field("Content-Type"),
                content_length: field("Content-Length"),
                payload: bytes.slice(4 + len..),
            };
        }
    }

    pub(crate) async fn close_code(&mut self) -> Option<u16> {
        rues_testkit::close_code(&mut self.ws).await
    }
}
