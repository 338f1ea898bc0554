//! A real nginx on a loopback port, as the plain round-robin load balancer
//! in front of several nodes, for the cluster tests.

use std::fmt::Write as _;
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::daemon::{self, TempDir, Unavailable};

/// Where Debian installs nginx, beside `PATH`.
const DIRS: &[&str] = &["/usr/sbin"];

/// How many fresh ports [`Nginx::start`] tries: another process may take
/// the free port it picked before nginx binds it.
const ATTEMPTS: usize = 3;

/// An nginx child process on `127.0.0.1` proxying to `upstreams` in plain
/// round robin; stopped on drop.
///
/// It runs in the foreground as a single process (`daemon off;
/// master_process off;`), so the child's pid is nginx itself, and every
/// file it writes (pid, logs, temporary bodies) is in a directory of its
/// own: it never touches `/var/log`, `/run` or port 80.
///
/// The configuration is what a cluster of RUES nodes needs from a load
/// balancer, and nothing more:
/// - round robin, no `ip_hash`, no sticky sessions: consecutive requests
///   (and WebSockets) land on different nodes, strictly in turn, even when
///   one is down (`max_fails=0`: no node is ever skipped);
/// - WebSocket upgrades passed through (`Upgrade`, `Connection`);
/// - no buffering either way, so streamed replies and events flow as sent;
/// - `proxy_next_upstream off`: a request that fails on one node is never
///   retried silently on another, so a test sees which node answered;
/// - the request URI passed unchanged (percent-encoding included), and no
///   body size limit of its own (the node's limits answer, as without it).
///
/// ```no_run
/// let upstreams = ["127.0.0.1:8081".parse().unwrap(), "127.0.0.1:8082".parse().unwrap()];
/// let Ok(nginx) = rues_testkit::Nginx::start(&upstreams) else { return };
/// println!("the cluster is at {}/on", nginx.url());
/// ```
#[derive(Debug)]
pub struct Nginx {
    port: u16,
    child: Child,
    // The configuration, logs and temporary files, removed on drop.
    dir: TempDir,
}

impl Nginx {
    /// Writes the configuration for `upstreams` and starts nginx on a free
    /// port, waiting (at most 10 s) until the port accepts connections.
    ///
    /// # Errors
    ///
    /// [`Unavailable`] when nginx is not installed (found on `PATH`, then in
    /// `/usr/sbin`).
    ///
    /// # Panics
    ///
    /// When nginx is missing and the environment variable `CI` is set (CI
    /// must never skip), when `upstreams` is empty (nginx refuses an empty
    /// `upstream` block), and when nginx does not come up.
    pub fn start(upstreams: &[SocketAddr]) -> Result<Nginx, Unavailable> {
        let program = daemon::find_program("nginx", DIRS, daemon::in_ci())?;
        assert!(
            !upstreams.is_empty(),
            "Nginx::start needs at least one upstream"
        );
        let mut failures = Vec::new();
        for _ in 0..ATTEMPTS {
            let dir = TempDir::new("nginx");
            let port = daemon::free_port();
            match spawn(&program, dir.path(), port, upstreams) {
                Ok(child) => return Ok(Nginx { port, child, dir }),
                Err(failure) => failures.push(failure),
            }
        }
        panic!(
            "nginx did not start in {ATTEMPTS} attempts: {}",
            failures.join("; ")
        );
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The directory holding nginx's configuration and logs
    /// (`nginx.conf`, `error.log`, `access.log`), for a failing test to
    /// read.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM is nginx's fast shutdown: open connections are closed at
        // once, which is what a test ending wants.
        daemon::terminate(&mut self.child);
    }
}

/// Writes `nginx.conf` into `dir` and starts nginx on `port`; on failure,
/// the child is gone.
fn spawn(program: &Path, dir: &Path, port: u16, upstreams: &[SocketAddr]) -> Result<Child, String> {
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, config(dir, port, upstreams))
        .map_err(|err| format!("cannot write {}: {err}", conf.display()))?;
    let error_log = dir.join("error.log");
    let stderr = File::create(dir.join("stderr.log"))
        .map_err(|err| format!("cannot create a log in {}: {err}", dir.display()))?;
    let mut child = Command::new(program)
        // `-e` before the configuration is read, so the compiled-in
        // /var/log/nginx/error.log is never opened.
        .arg("-p")
        .arg(with_slash(dir))
        .arg("-c")
        .arg(&conf)
        .arg("-e")
        .arg(&error_log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|err| format!("cannot run {}: {err}", program.display()))?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    match daemon::wait_until_ready(&mut child, &error_log, || {
        daemon::accepts(addr, Duration::from_millis(200))
    }) {
        Ok(()) => Ok(child),
        Err(failure) => {
            daemon::kill(&mut child);
            Err(format!("port {port}: {failure}"))
        }
    }
}

/// nginx's `-p` prefix is joined to relative paths as a string: it needs
/// its trailing slash.
fn with_slash(dir: &Path) -> PathBuf {
    let mut text = dir.as_os_str().to_owned();
    text.push("/");
    PathBuf::from(text)
}

/// The whole configuration (see [`Nginx`] for why each part is there).
fn config(dir: &Path, port: u16, upstreams: &[SocketAddr]) -> String {
    let dir = dir.display();
    let mut servers = String::new();
    for upstream in upstreams {
        // Writing to a String cannot fail.
        // `max_fails=0`: a node that fails is not taken out of the rotation
        // for a while, so requests keep alternating exactly.
        let _ = writeln!(servers, "        server {upstream} max_fails=0;");
    }
    format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;

events {{
    worker_connections 1024;
}}

http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;

    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}

    upstream rues {{
{servers}    }}

    server {{
        listen 127.0.0.1:{port};

        location / {{
            # No URI after the upstream: the request URI goes through as
            # the client sent it, percent-encoding untouched.
            proxy_pass http://rues;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 3600s;
            proxy_send_timeout 3600s;
            proxy_next_upstream off;
            client_max_body_size 0;
        }}
    }}
}}
"#
    )
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::thread;

    use super::*;

    /// A loopback HTTP/1.1 server that answers every request with its
    /// `name` and the request head it received, then closes.
    fn upstream(name: &'static str) -> SocketAddr {
        serve(move |mut stream, head| {
            let body = format!("{name}\n{head}");
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        })
    }

    /// A loopback server handing each connection, after its request head,
    /// to `answer` on a thread of its own.
    fn serve(answer: impl Fn(TcpStream, String) + Send + Sync + 'static) -> SocketAddr {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let answer = std::sync::Arc::new(answer);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let answer = answer.clone();
                thread::spawn(move || {
                    let head = read_head(&mut stream);
                    answer(stream, head);
                });
            }
        });
        addr
    }

    fn read_head(stream: &mut TcpStream) -> String {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => break,
            }
        }
        String::from_utf8_lossy(&head).into_owned()
    }

    /// One request through nginx: the status code and the body.
    fn get(nginx: &Nginx, path: &str, extra: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(nginx.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: rues.test\r\n{extra}Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {response:?}"));
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    fn start(upstreams: &[SocketAddr]) -> Option<Nginx> {
        match Nginx::start(upstreams) {
            Ok(nginx) => Some(nginx),
            Err(unavailable) => {
                eprintln!("skipped: {unavailable}");
                None
            }
        }
    }

    #[test]
    fn requests_alternate_between_the_upstreams() {
        let Some(nginx) = start(&[upstream("one"), upstream("two")]) else {
            return;
        };
        assert_eq!(
            nginx.url(),
            format!("http://127.0.0.1:{}", nginx.addr().port())
        );
        let names: Vec<String> = (0..6)
            .map(|_| {
                let (status, body) = get(&nginx, "/on/node/info", "");
                assert_eq!(status, 200, "{body}");
                body.lines().next().unwrap_or_default().to_owned()
            })
            .collect();
        for pair in names.windows(2) {
            assert_ne!(pair[0], pair[1], "not round robin: {names:?}");
        }
        assert!(names.iter().all(|name| name == "one" || name == "two"));
    }

    #[test]
    fn upgrades_and_raw_paths_reach_the_upstream() {
        let Some(nginx) = start(&[upstream("one")]) else {
            return;
        };
        let (status, body) = get(
            &nginx,
            "/on/contracts:a%3Ab%2Fc/transfer?x=%20",
            "Upgrade: websocket\r\nConnection: Upgrade\r\n",
        );
        assert_eq!(status, 200);
        let head = body.to_ascii_lowercase();
        assert!(
            body.starts_with("one\nGET /on/contracts:a%3Ab%2Fc/transfer?x=%20 HTTP/1.1\r\n"),
            "{body}"
        );
        assert!(head.contains("\r\nupgrade: websocket\r\n"), "{body}");
        assert!(head.contains("\r\nconnection: upgrade\r\n"), "{body}");
        assert!(head.contains("\r\nhost: rues.test\r\n"), "{body}");
        // Without an upgrade, the upstream connection is not kept open.
        let (_, body) = get(&nginx, "/on/node/info", "");
        assert!(
            body.to_ascii_lowercase()
                .contains("\r\nconnection: close\r\n"),
            "{body}"
        );
    }

    #[test]
    fn websocket_upgrades_become_a_tunnel_both_ways() {
        let echo = serve(|mut stream, head| {
            assert!(
                head.to_ascii_lowercase()
                    .contains("\r\nupgrade: websocket\r\n")
            );
            let _ = stream.write_all(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            );
            let mut buf = [0u8; 64];
            while let Ok(n @ 1..) = stream.read(&mut buf) {
                let _ = stream.write_all(&buf[..n]);
            }
        });
        let Some(nginx) = start(&[echo]) else {
            return;
        };
        let mut stream = TcpStream::connect(nginx.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
            .write_all(b"GET /on HTTP/1.1\r\nHost: rues.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
            .unwrap();
        let head = read_head(&mut stream);
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        for message in [&b"ping"[..], b"second frame"] {
            stream.write_all(message).unwrap();
            let mut echoed = vec![0u8; message.len()];
            stream.read_exact(&mut echoed).unwrap();
            assert_eq!(echoed, message);
        }
    }

    #[test]
    fn streamed_replies_pass_before_they_end() {
        // The upstream sends its first chunk, then waits until the client
        // saw it: a proxy that held replies back until they end would make
        // the test fail (nginx's own buffering only shows under a slow
        // client, which this does not reproduce).
        let (seen, wait) = std::sync::mpsc::channel::<()>();
        let wait = std::sync::Mutex::new(wait);
        let streaming = serve(move |mut stream, _| {
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nfirst\r\n",
            );
            let _ = stream.flush();
            let seen = wait.lock().unwrap().recv_timeout(Duration::from_secs(5));
            let last = if seen.is_ok() {
                "4\r\nlast\r\n0\r\n\r\n"
            } else {
                "0\r\n\r\n"
            };
            let _ = stream.write_all(last.as_bytes());
        });
        let Some(nginx) = start(&[streaming]) else {
            return;
        };
        let mut stream = TcpStream::connect(nginx.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
            .write_all(b"POST /on/node/stream HTTP/1.1\r\nHost: rues.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut received = Vec::new();
        let mut buf = [0u8; 256];
        while !String::from_utf8_lossy(&received).contains("first") {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "closed before the first chunk");
            received.extend_from_slice(&buf[..n]);
        }
        seen.send(()).unwrap();
        stream.read_to_end(&mut received).unwrap();
        let text = String::from_utf8_lossy(&received);
        assert!(text.starts_with("HTTP/1.1 200 "), "{text}");
        assert!(text.contains("last"), "{text}");
    }

    #[test]
    fn a_failed_upstream_is_not_retried_on_another() {
        // A port nothing listens on: every other request fails there.
        let dead = SocketAddr::from((Ipv4Addr::LOCALHOST, daemon::free_port()));
        let Some(nginx) = start(&[upstream("one"), dead]) else {
            return;
        };
        let statuses: Vec<u16> = (0..4).map(|_| get(&nginx, "/", "").0).collect();
        assert_eq!(
            statuses.iter().filter(|&&s| s == 502).count(),
            2,
            "{statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|&&s| s == 200).count(),
            2,
            "{statuses:?}"
        );
    }

    #[test]
    fn nginx_writes_only_into_its_own_directory() {
        let Some(nginx) = start(&[upstream("one")]) else {
            return;
        };
        let _ = get(&nginx, "/", "");
        let dir = nginx.dir().to_owned();
        assert!(dir.join("nginx.pid").is_file());
        let pid = std::fs::read_to_string(dir.join("nginx.pid")).unwrap();
        assert_eq!(pid.trim(), nginx.child.id().to_string());
        drop(nginx);
        assert!(!dir.exists());
    }
}
