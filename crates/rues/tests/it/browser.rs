//! The browser event explorer (`rues serve` at `/`) in a real headless
//! Chromium, driven over WebDriver (chromedriver) with fantoccini: the page
//! uses the browser's own WebSocket and `fetch`, as a wallet does, served by
//! the node itself or from another origin (CORS preflights), and its resume
//! after a reconnect (docs/protocol.md §10), the connection cut by a proxy
//! in front of `rues serve` or of an in-process node whose history and
//! events the test controls.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium
//! chromium-driver`; `CHROMIUM` and `CHROMEDRIVER` name other binaries). A
//! missing browser fails the tests; it never skips them. Each test saves a
//! screenshot of its final page to `target/browser-artifacts/<test>.png`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper::{Method, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use rues_core::rues_target::EventPath;
use rues_core::{Event, HistoryLimits};
use rues_testkit::TestServer;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream as TokioTcpStream};
use tokio::task::JoinHandle;

use crate::node::{Node, PATIENCE};

/// Chromium's flags: headless, and quiet on a machine with no network
/// (without the background-networking flags its connection attempts are
/// refused and logged).
const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1800",
];

/// Starting Chromium can take a while on a loaded machine.
const BROWSER_START: Duration = Duration::from_secs(60);

/// How often the DOM is polled.
const POLL: Duration = Duration::from_millis(50);

/// The demo chain's transfer contract, whose `moonlight` events are binary.
const TRANSFER_CONTRACT: &str = "0100000000000000000000000000000000000000000000000000000000000000";

/// Where screenshots go: `target/browser-artifacts`.
fn artifacts() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is inside the target directory")
        .join("browser-artifacts")
}

/// `env`, or the first of `names` on `PATH`; a clear failure otherwise.
fn program(env: &str, names: &[&str], package: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env) {
        return path.into();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the browser tests need {} on PATH, and it is missing: install it \
                 (Debian: `apt-get install chromium chromium-driver`, package {package}), \
                 or set {env} to its path",
                names[0]
            )
        })
}

/// chromedriver and the Chromium it runs, with a fresh profile. Dropping it
/// ends the WebDriver session (which quits Chromium), kills chromedriver and
/// removes the profile.
struct Browser {
    client: Client,
    name: &'static str,
    driver: Child,
    driver_port: u16,
    /// The WebDriver session still to end on drop.
    session: Option<String>,
    profile: PathBuf,
}

/// Starts chromedriver on a free loopback port; `Err` holds what it said.
fn spawn_driver(chromedriver: &std::path::Path) -> Result<(std::process::Child, u16), String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))?;
    let mut driver = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", chromedriver.display()));
    let (ready_tx, ready_rx) = mpsc::channel();
    let output = Arc::new(Mutex::new(String::new()));
    // Both pipes are read to the end, so chromedriver never blocks on a
    // full one; what it says is kept for the failure message.
    let stderr = driver.stderr.take().expect("piped stderr");
    let stderr_output = Arc::clone(&output);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut output = stderr_output.lock().expect("not poisoned");
            output.push_str(&line);
            output.push('\n');
        }
    });
    let stdout = driver.stdout.take().expect("piped stdout");
    let stdout_output = Arc::clone(&output);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("started successfully on port") {
                let _ = ready_tx.send(());
            }
            let mut output = stdout_output.lock().expect("not poisoned");
            output.push_str(&line);
            output.push('\n');
        }
    });
    match ready_rx.recv_timeout(PATIENCE) {
        Ok(()) => Ok((driver, port)),
        Err(error) => {
            let _ = driver.kill();
            let status = driver.wait();
            let said = output.lock().expect("not poisoned").clone();
            Err(format!("({error}; exit: {status:?})\n{said}"))
        }
    }
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium session;
    /// `name` names the test (its screenshot and profile).
    async fn start(name: &'static str) -> Self {
        let chromium = program("CHROMIUM", &["chromium", "chromium-browser"], "chromium");
        let chromedriver = program("CHROMEDRIVER", &["chromedriver"], "chromium-driver");
        let profile =
            std::env::temp_dir().join(format!("rues-browser-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).expect("a profile directory");

        // chromedriver's own `--port=0` sometimes fails to bind under load
        // (it binds IPv4 and IPv6 separately), so pick a free port here and
        // retry a few times if it exits before saying it listens.
        let mut attempts = 0;
        let (mut driver, driver_port) = loop {
            attempts += 1;
            match spawn_driver(&chromedriver) {
                Ok(started) => break started,
                Err(said) if attempts < 5 => {
                    eprintln!("{name}: chromedriver attempt {attempts} failed, retrying:\n{said}");
                }
                Err(said) => {
                    let _ = std::fs::remove_dir_all(&profile);
                    panic!(
                        "{name}: {} did not start after {attempts} attempts; it said:\n{said}",
                        chromedriver.display()
                    );
                }
            }
        };

        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| (*a).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("an object")
        };
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities);
        let webdriver = format!("http://127.0.0.1:{driver_port}");
        let connect = builder.connect(&webdriver);
        let client = match tokio::time::timeout(BROWSER_START, connect).await {
            Ok(Ok(client)) => client,
            outcome => {
                let _ = driver.kill();
                let _ = driver.wait();
                let _ = std::fs::remove_dir_all(&profile);
                match outcome {
                    Ok(Err(error)) => panic!(
                        "{name}: chromedriver could not start {}: {error}",
                        chromium.display()
                    ),
                    _ => panic!("{name}: Chromium did not start within {BROWSER_START:?}"),
                }
            }
        };
        let session = client.session_id().await.ok().flatten();
        Self {
            client,
            name,
            driver,
            driver_port,
            session,
            profile,
        }
    }

    async fn open(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("{}: cannot open {url}: {e}", self.name));
        self.wait_js(
            "the page's script to run",
            "return document.body.dataset.ready === 'true';",
        )
        .await;
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{}: no {css}: {e}", self.name))
    }

    /// Replaces the text of an input like a user: clears it, types.
    async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("cleared");
        field.send_keys(text).await.expect("typed");
    }

    async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("{}: cannot click {css}: {e}", self.name));
    }

    async fn value(&self, css: &str) -> String {
        self.find(css)
            .await
            .prop("value")
            .await
            .expect("a value")
            .unwrap_or_default()
    }

    /// Polls `script` (a function body) until it returns something other
    /// than null or false, within [`PATIENCE`]; returns that value. On
    /// timeout, saves the screenshot and fails with what the page shows.
    async fn wait_js(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + PATIENCE;
        let mut last_error = None;
        loop {
            match self.client.execute(script, Vec::new()).await {
                Ok(Value::Null | Value::Bool(false)) => {}
                Ok(value) => return value,
                Err(error) => last_error = Some(error.to_string()),
            }
            if Instant::now() >= deadline {
                let state = self
                    .client
                    .execute(
                        "return 'connection: ' + document.getElementById('connection-state').textContent \
                         + ' | errors: ' + document.getElementById('error-list').innerText \
                         + ' | events: ' + document.querySelectorAll('#events .event').length \
                         + ' | subscribe: ' + document.getElementById('subscribe-message').textContent \
                         + ' | dispatch: ' + document.getElementById('dispatch-status').textContent;",
                        Vec::new(),
                    )
                    .await
                    .map(|v| v.as_str().unwrap_or_default().to_owned())
                    .unwrap_or_else(|e| format!("(unreadable: {e})"));
                let shot = self.screenshot().await;
                panic!(
                    "{}: {what}: not seen within {PATIENCE:?} (last script error: {last_error:?}); \
                     the page shows: {state}; screenshot: {}",
                    self.name,
                    shot.display()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Saves the page as `target/browser-artifacts/<test>.png`.
    async fn screenshot(&self) -> PathBuf {
        let dir = artifacts();
        std::fs::create_dir_all(&dir).expect("the artifacts directory");
        let path = dir.join(format!("{}.png", self.name));
        match self.client.screenshot().await {
            Ok(png) => std::fs::write(&path, png).expect("screenshot written"),
            Err(error) => eprintln!("{}: no screenshot: {error}", self.name),
        }
        path
    }

    /// The test passed: keeps the final page as the artifact, quits Chromium.
    async fn finish(mut self) {
        self.screenshot().await;
        let client = self.client.clone();
        if client.close().await.is_ok() {
            self.session = None;
        }
    }

    // The explorer's own controls.

    async fn connect(&self) -> String {
        self.click("#connect").await;
        let id = self
            .wait_js(
                "a session id",
                "const id = document.getElementById('session-id').textContent; \
                 return document.getElementById('connection-state').dataset.state === 'connected' \
                   && /^[0-9a-f]{32}$/.test(id) ? id : null;",
            )
            .await;
        id.as_str().expect("a string").to_owned()
    }

    async fn subscribe(&self, target: &str, path: &str) {
        self.fill("#subscribe-target", target).await;
        self.click("#subscribe").await;
        self.wait_js(
            &format!("the subscription {path} listed"),
            &format!(
                "return document.querySelector('#subscriptions .subscription[data-path=\"{path}\"]') !== null;"
            ),
        )
        .await;
    }

    /// At least `count` events whose location starts with `prefix`, as
    /// `{location, type, kind, payload}` objects.
    async fn events(&self, prefix: &str, count: usize) -> Vec<Value> {
        let found = self
            .wait_js(
                &format!("{count} events at {prefix}…"),
                &format!(
                    "const events = [...document.querySelectorAll('#events .event')] \
                       .filter(e => (e.dataset.location || '').startsWith({prefix:?})) \
                       .map(e => ({{location: e.dataset.location, type: e.dataset.contentType, \
                                   kind: e.dataset.kind, \
                                   payload: e.querySelector('.payload').textContent}})); \
                     return events.length >= {count} ? events : null;"
                ),
            )
            .await;
        found.as_array().expect("an array").clone()
    }

    /// Dispatches from the form; returns (status line, result text) once the
    /// reply is shown (or the error, `state` being "ok" or "error").
    async fn dispatch(&self, path: &str, state: &str) -> (String, String) {
        let seq = self
            .find("#dispatch-output")
            .await
            .attr("data-seq")
            .await
            .expect("an attribute")
            .unwrap_or_default();
        self.fill("#dispatch-path", path).await;
        self.click("#dispatch").await;
        let shown = self
            .wait_js(
                &format!("the {state} reply to {path}"),
                &format!(
                    "const out = document.getElementById('dispatch-output'); \
                     const result = document.getElementById('dispatch-result'); \
                     return out.dataset.seq !== {seq:?} \
                       && out.dataset.state === {state:?} && result.textContent.length > 0 \
                       && document.getElementById('dispatch').disabled === false \
                       ? [document.getElementById('dispatch-status').textContent, result.textContent] \
                       : null;"
                ),
            )
            .await;
        let text = |i: usize| shown[i].as_str().expect("text").to_owned();
        (text(0), text(1))
    }

    /// The text of every error the page lists, once it lists one containing
    /// `needle`.
    async fn error_containing(&self, needle: &str) -> String {
        let text = self
            .wait_js(
                &format!("an error mentioning {needle:?}"),
                &format!(
                    "const errors = document.getElementById('errors'); \
                     const text = document.getElementById('error-list').innerText; \
                     return !errors.hidden && text.includes({needle:?}) ? text : null;"
                ),
            )
            .await;
        text.as_str().expect("text").to_owned()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            end_session(self.driver_port, &session);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// `DELETE /session/<id>`, blocking and bounded: chromedriver quits the
/// browser, also when the test panicked and its runtime is gone.
fn end_session(port: u16, session: &str) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(PATIENCE));
    let _ = stream.set_write_timeout(Some(PATIENCE));
    let request = format!(
        "DELETE /session/{session} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return;
    }
    // chromedriver answers once the browser is gone; the status line is
    // enough (it may keep the connection open, so do not read to the end).
    let mut answer = Vec::new();
    let mut chunk = [0u8; 512];
    while !answer.windows(2).any(|w| w == b"\r\n") {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A TCP relay in front of a node whose connections a test can cut at once
/// (a reset, no WebSocket close: the page's network going away under it),
/// and which can refuse new ones for a while (the node unreachable).
struct CuttingProxy {
    addr: SocketAddr,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    refusing: Arc<AtomicBool>,
    accept: JoinHandle<()>,
}

impl CuttingProxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bound");
        let addr = listener.local_addr().expect("an address");
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let refusing = Arc::new(AtomicBool::new(false));
        let accept = {
            let connections = Arc::clone(&connections);
            let refusing = Arc::clone(&refusing);
            tokio::spawn(async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    // A reset, not a FIN, when the connection is dropped.
                    let _ = client.set_zero_linger();
                    if refusing.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    let task = tokio::spawn(async move {
                        let Ok(mut node) = TokioTcpStream::connect(target).await else {
                            return;
                        };
                        let _ = node.set_zero_linger();
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut node).await;
                    });
                    let mut connections = connections.lock().expect("not poisoned");
                    connections.retain(|task| !task.is_finished());
                    connections.push(task);
                }
            })
        };
        Self {
            addr,
            connections,
            refusing,
            accept,
        }
    }

    /// Cuts every connection open now.
    fn cut(&self) {
        for task in self.connections.lock().expect("not poisoned").drain(..) {
            task.abort();
        }
    }

    /// Resets new connections at once while `refusing`.
    fn refuse(&self, refusing: bool) {
        self.refusing.store(refusing, Ordering::SeqCst);
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// Checks a decoded block event: its location names the block hash, its
/// payload is the block as JSON.
fn assert_block_event(event: &Value) {
    let location = event["location"].as_str().expect("a location");
    let hash = location
        .strip_prefix("/on/blocks:")
        .and_then(|rest| rest.strip_suffix("/accepted"))
        .unwrap_or_else(|| panic!("not a block location: {location}"));
    assert!(
        hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
        "{location}"
    );
    assert_eq!(event["type"], "application/json", "{event}");
    assert_eq!(event["kind"], "json", "{event}");
    let payload = event["payload"].as_str().expect("a payload");
    let block: Value = serde_json::from_str(payload).expect("the payload shown as JSON");
    assert_eq!(block["header"]["hash"], hash, "{block}");
    assert!(
        payload.contains("\n  "),
        "JSON is pretty-printed: {payload}"
    );
}

#[tokio::test]
async fn explorer_assets_are_served_with_their_types() {
    let node = Node::start(&[]);
    for (path, content_type, needle) in [
        (
            "/",
            "text/html; charset=utf-8",
            "<title>RUES event explorer</title>",
        ),
        (
            "/index.html",
            "text/html; charset=utf-8",
            "<title>RUES event explorer</title>",
        ),
        (
            "/app.js",
            "text/javascript; charset=utf-8",
            "binaryType = \"arraybuffer\"",
        ),
        ("/style.css", "text/css; charset=utf-8", ".events"),
    ] {
        let answer = node.http(Method::GET, path, &[], b"").await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert_eq!(answer.header("content-type"), Some(content_type), "{path}");
        assert_eq!(answer.header("cache-control"), Some("no-cache"), "{path}");
        assert_eq!(
            answer.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        let body = String::from_utf8_lossy(&answer.body);
        assert!(body.contains(needle), "{path} lacks {needle:?}");
    }
    let head = node.http(Method::HEAD, "/", &[], b"").await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    // Everything else is still RUES's JSON 404.
    let missing = node.http(Method::GET, "/missing.js", &[], b"").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.json()["error"].is_string());
}

#[tokio::test]
async fn explorer_served_by_the_node_streams_events_and_dispatches() {
    let node = Node::start(&["--set", "chain.block_time_ms=300"]);
    let browser = Browser::start("explorer_served_by_the_node").await;
    let origin = format!("http://{}", node.addr);
    browser.open(&format!("{origin}/")).await;
    assert_eq!(
        browser.value("#node-url").await,
        origin,
        "the page's own origin by default"
    );

    browser.connect().await;

    // Live blocks, decoded from binary frames.
    browser
        .subscribe("blocks/accepted", "/on/blocks/accepted")
        .await;
    let blocks = browser.events("/on/blocks:", 2).await;
    for block in &blocks {
        assert_block_event(block);
    }
    assert_ne!(blocks[0]["location"], blocks[1]["location"]);

    // Binary payloads are shown as hex: moonlight events are 72 bytes.
    let moonlight = format!("/on/contracts:{TRANSFER_CONTRACT}/moonlight");
    browser.subscribe(&moonlight, &moonlight).await;
    let transfers = browser.events(&moonlight, 1).await;
    let transfer = &transfers[0];
    assert_eq!(transfer["type"], "application/octet-stream", "{transfer}");
    assert_eq!(transfer["kind"], "hex", "{transfer}");
    let digits: String = transfer["payload"]
        .as_str()
        .expect("a payload")
        .split_whitespace()
        .collect();
    assert_eq!(digits.len(), 144, "72 bytes as hex: {digits}");
    assert!(digits.bytes().all(|b| b.is_ascii_hexdigit()), "{digits}");

    // A typo is refused by the node, and its reason is shown.
    browser.fill("#subscribe-target", "blocks/acepted").await;
    browser.click("#subscribe").await;
    let errors = browser.error_containing("/on/blocks/acepted: 404").await;
    assert!(errors.contains("acepted"), "{errors}");

    // Unsubscribe from the list: blocks stop, transfers go on.
    browser
        .click("#subscriptions .subscription[data-path=\"/on/blocks/accepted\"] button")
        .await;
    browser
        .wait_js(
            "the blocks subscription gone",
            "return document.querySelector('#subscriptions [data-path=\"/on/blocks/accepted\"]') === null \
               && document.getElementById('subscription-count').textContent === '1';",
        )
        .await;

    // Dispatch: JSON replies pretty, binary replies as hex, errors shown.
    let (status, info) = browser.dispatch("node/info", "ok").await;
    assert!(status.starts_with("200"), "{status}");
    let info: Value = serde_json::from_str(&info).expect("node/info shown as JSON");
    assert!(info["version"].is_string(), "{info}");
    let (status, crs) = browser.dispatch("node/crs", "ok").await;
    assert!(status.starts_with("200"), "{status}");
    let digits: String = crs.split_whitespace().collect();
    assert_eq!(digits.len(), 8192, "4096 bytes as hex");
    // A suggestion brings its example body: three peers.
    let (status, peers) = browser.dispatch("network/peers", "ok").await;
    assert!(status.starts_with("200"), "{status}: {peers}");
    assert_eq!(browser.value("#dispatch-body").await, "3");
    let peers: Value = serde_json::from_str(&peers).expect("peers shown as JSON");
    assert_eq!(peers.as_array().map(Vec::len), Some(3), "{peers}");
    // Another suggestion replaces that example body (node/info has none),
    // while a body of the user's own is kept.
    let (status, _) = browser.dispatch("node/info", "ok").await;
    assert!(status.starts_with("200"), "{status}");
    assert_eq!(browser.value("#dispatch-body").await, "");
    browser.fill("#dispatch-body", "5").await;
    let (status, peers) = browser.dispatch("network/peers", "ok").await;
    assert!(status.starts_with("200"), "{status}: {peers}");
    assert_eq!(browser.value("#dispatch-body").await, "5");
    browser.fill("#dispatch-body", "").await;
    // A suggestion with a binary example body sets the body format too: the
    // data driver decodes the 16 bytes of an `account` reply.
    let (status, decoded) = browser
        .dispatch(
            &format!("driver:{TRANSFER_CONTRACT}/decode_output_fn:account"),
            "ok",
        )
        .await;
    assert!(status.starts_with("200"), "{status}: {decoded}");
    assert_eq!(
        browser.value("#dispatch-content-type").await,
        "application/octet-stream"
    );
    let decoded: Value = serde_json::from_str(&decoded).expect("decoded as JSON");
    assert_eq!(
        decoded,
        serde_json::json!({"balance": "1000000000", "nonce": "7"})
    );
    let (status, result) = browser.dispatch("node/nothing", "error").await;
    assert!(status.starts_with("404"), "{status}: {result}");
    browser
        .error_containing("Dispatch /on/node/nothing: 404")
        .await;

    // The final page shows fresh JSON events at the top.
    browser.dispatch("node/info", "ok").await;
    browser.finish().await;
}

#[tokio::test]
async fn explorer_from_another_origin_passes_cors() {
    let node = Node::start(&["--set", "chain.block_time_ms=300"]);
    // Another node serves the same page: another origin (another port).
    let page = Node::start(&[]);
    let browser = Browser::start("explorer_from_another_origin").await;
    let target = format!("http://{}", node.addr);
    browser
        .open(&format!("http://{}/?node={target}", page.addr))
        .await;
    assert_eq!(browser.value("#node-url").await, target, "?node= is used");

    browser.connect().await;
    // Subscribing sends Rusk-Session-Id and Rusk-Version: a preflight first.
    browser
        .subscribe("/on/blocks/accepted", "/on/blocks/accepted")
        .await;
    for block in browser.events("/on/blocks:", 2).await {
        assert_block_event(&block);
    }
    // With the session id too.
    browser.click("#dispatch-with-session").await;
    let (status, info) = browser.dispatch("node/info", "ok").await;
    assert!(status.starts_with("200"), "{status}");
    let info: Value = serde_json::from_str(&info).expect("node/info shown as JSON");
    assert!(info["version"].is_string(), "{info}");
    let shown_errors = browser
        .wait_js(
            "the error list",
            "return document.getElementById('error-list').innerText || 'none';",
        )
        .await;
    assert_eq!(shown_errors, "none", "no errors cross-origin");
    browser.finish().await;
}

#[tokio::test]
async fn explorer_shows_a_node_refusing_its_origin() {
    let node = Node::start(&["--allowed-origin", "http://example.invalid"]);
    let page = Node::start(&[]);
    let origin = format!("http://{}", page.addr);
    // The refusal is the origin's, not the node being unreachable.
    let refused = node
        .http(Method::POST, "/on/node/info", &[("origin", &origin)], b"")
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let browser = Browser::start("explorer_refused_origin").await;
    browser
        .open(&format!("{origin}/?node=http://{}", node.addr))
        .await;
    browser.click("#connect").await;
    browser
        .wait_js(
            "the connection refused",
            "return document.getElementById('connection-state').dataset.state === 'error';",
        )
        .await;
    browser.error_containing("Could not open a session").await;
    let (status, result) = browser.dispatch("node/info", "error").await;
    assert_eq!(status, "no answer", "{result}");
    assert!(result.contains("CORS"), "{result}");
    browser
        .error_containing("does not allow this page's origin")
        .await;
    browser.finish().await;
}

/// The number of rows in the event list, and of those shown (not filtered).
const ROWS: &str = "const rows = [...document.querySelectorAll('#events .event')];";

#[tokio::test]
async fn explorer_rows_expand_filter_and_pause() {
    let node = Node::start(&["--set", "chain.block_time_ms=200"]);
    let browser = Browser::start("explorer_rows_expand_filter_and_pause").await;
    browser.open(&format!("http://{}/", node.addr)).await;
    browser.connect().await;
    browser
        .subscribe("blocks/accepted", "/on/blocks/accepted")
        .await;
    let moonlight = format!("/on/contracts:{TRANSFER_CONTRACT}/moonlight");
    browser.subscribe(&moonlight, &moonlight).await;
    browser.events("/on/blocks:", 2).await;
    browser.events(&moonlight, 1).await;

    // A row is one line: time, path, content type, size; its payload is
    // not shown until the row is clicked.
    let row = browser
        .wait_js(
            "a collapsed block row",
            "const row = document.querySelector('#events .event[data-location^=\"/on/blocks:\"]'); \
             const head = row.querySelector('.event-head'); \
             return { payload: row.querySelector('.payload').offsetHeight, \
                      height: head.offsetHeight, \
                      parts: [...head.children].map(c => c.className || c.tagName) };",
        )
        .await;
    assert_eq!(row["payload"], 0, "collapsed rows hide the payload: {row}");
    assert_eq!(
        row["parts"],
        json!(["TIME", "location", "content-type", "content-length"]),
        "{row}"
    );
    assert!(
        row["height"].as_f64().expect("a height") < 40.0,
        "one line: {row}"
    );

    // A click expands it: headers and the pretty-printed JSON payload.
    browser
        .click("#events .event[data-location^=\"/on/blocks:\"] .event-head")
        .await;
    let expanded = browser
        .wait_js(
            "the clicked row expanded",
            "const row = document.querySelector('#events .event.expanded'); \
             return row && row.querySelector('.payload').offsetHeight > 0 \
               ? { headers: row.querySelector('.event-headers').innerText, \
                   payload: row.querySelector('.payload').innerText } : null;",
        )
        .await;
    let headers = expanded["headers"].as_str().expect("headers");
    assert!(headers.contains("Content-Location"), "{headers}");
    assert!(headers.contains("Content-Type"), "{headers}");
    let block: Value =
        serde_json::from_str(expanded["payload"].as_str().expect("a payload")).expect("JSON");
    assert!(block["header"]["hash"].is_string(), "{block}");

    // The filter hides rows whose path lacks the text, also new ones.
    browser.fill("#event-filter", "moonlight").await;
    let before = browser
        .wait_js(
            "only moonlight rows shown",
            &format!(
                "{ROWS} const shown = rows.filter(r => !r.hidden && r.offsetHeight > 0); \
                 return shown.length > 0 && shown.every(r => r.dataset.location.includes('moonlight')) \
                   && rows.some(r => r.hidden) ? rows.length : null;"
            ),
        )
        .await;
    browser
        .wait_js(
            "new block rows arrive hidden",
            &format!(
                "{ROWS} return rows.length > {before} \
                   && rows.filter(r => r.dataset.location.startsWith('/on/blocks:')).every(r => r.hidden) \
                   && rows.filter(r => !r.hidden).every(r => r.dataset.location.includes('moonlight'));"
            ),
        )
        .await;
    browser.fill("#event-filter", "").await;
    browser
        .wait_js(
            "every row shown again",
            &format!("{ROWS} return rows.every(r => !r.hidden);"),
        )
        .await;

    // Pause: events are counted but no row is added; resume shows them (the
    // list keeps 200 rows).
    browser.click("#pause").await;
    let paused_rows = browser
        .wait_js(
            "the list paused",
            &format!("{ROWS} return document.body.dataset.paused === 'true' ? rows.length : null;"),
        )
        .await;
    let waiting = browser
        .wait_js(
            "events waiting while paused",
            "const text = document.getElementById('pause-state').textContent; \
             const n = Number((text.match(/paused: (\\d+) event/) || [])[1]); \
             return n >= 3 ? n : null;",
        )
        .await;
    let rows_now = browser
        .wait_js("the rows", &format!("{ROWS} return rows.length;"))
        .await;
    assert_eq!(
        rows_now, paused_rows,
        "no row added while paused ({waiting} waiting)"
    );
    assert_eq!(
        browser.find("#pause").await.text().await.expect("text"),
        "Resume"
    );
    browser.click("#pause").await;
    let resumed = browser
        .wait_js(
            "the held rows shown on resume",
            &format!(
                "{ROWS} const text = document.getElementById('pause-state').textContent; \
                 return document.body.dataset.paused === 'false' \
                   && rows.length >= Math.min({paused_rows} + {waiting}, 200) ? text : null;"
            ),
        )
        .await;
    assert!(
        resumed.as_str().expect("text").starts_with("resumed: "),
        "{resumed}"
    );
    browser.finish().await;
}

#[tokio::test]
async fn explorer_charts_the_rate_and_follows_block_finality() {
    let node = Node::start(&["--set", "chain.block_time_ms=200"]);
    let browser = Browser::start("explorer_rate_and_blocks").await;
    browser.open(&format!("http://{}/", node.addr)).await;
    browser.connect().await;
    browser.click("#follow-blocks").await;
    for topic in ["accepted", "statechange"] {
        browser
            .wait_js(
                &format!("the subscription to blocks/{topic}"),
                &format!(
                    "return document.querySelector('#subscriptions [data-path=\"/on/blocks/{topic}\"]') !== null;"
                ),
            )
            .await;
    }

    // The strip shows blocks: height and transaction count from `accepted`.
    let newest = browser
        .wait_js(
            "an accepted block in the strip",
            "const block = document.querySelector('#blocks .block[data-finality=\"accepted\"]'); \
             return block && document.querySelectorAll('#blocks .block').length >= 2 \
               ? { hash: block.dataset.hash, height: Number(block.dataset.height), \
                   txs: block.dataset.txs, text: block.innerText, \
                   color: getComputedStyle(block.querySelector('.block-finality')).color } : null;",
        )
        .await;
    let hash = newest["hash"].as_str().expect("a hash").to_owned();
    let height = newest["height"].as_u64().expect("a height");
    assert!(height >= 1, "{newest}");
    let text = newest["text"].as_str().expect("text");
    assert!(text.contains(&format!("#{height}")), "{text}");
    assert!(text.contains("tx"), "{text}");
    // The shown height and count are those of the block's own event.
    let accepted = browser
        .events(&format!("/on/blocks:{hash}/accepted"), 1)
        .await;
    let block: Value =
        serde_json::from_str(accepted[0]["payload"].as_str().expect("a payload")).expect("JSON");
    assert_eq!(block["header"]["height"], height, "{block}");
    let txs = block["transactions"]
        .as_array()
        .expect("transactions")
        .len();
    assert_eq!(newest["txs"], txs.to_string(), "{newest}");

    // Statechange events turn blocks confirmed, then finalized: the finality
    // shown and its colour change. A tip may be reverted instead, so every
    // block seen as accepted while polling is watched.
    let finalized = browser
        .wait_js(
            "a block seen accepted, then finalized",
            "const seen = window.seenAccepted = window.seenAccepted || new Set(); \
             const blocks = [...document.querySelectorAll('#blocks .block')]; \
             for (const b of blocks) if (b.dataset.finality === 'accepted') seen.add(b.dataset.hash); \
             const block = blocks.find(b => seen.has(b.dataset.hash) && b.dataset.finality === 'finalized'); \
             return block \
               ? { text: block.innerText, \
                   color: getComputedStyle(block.querySelector('.block-finality')).color } : null;",
        )
        .await;
    assert!(
        finalized["text"]
            .as_str()
            .expect("text")
            .contains("finalized"),
        "{finalized}"
    );
    assert_ne!(finalized["color"], newest["color"], "the colour changes");

    // The chart counts events per second and moves on.
    let first = browser
        .wait_js(
            "events charted",
            "const chart = document.getElementById('rate-chart'); \
             const total = Number(chart.dataset.total); \
             return total > 0 && Number(chart.dataset.last) > 0 \
               && [...chart.querySelectorAll('rect')].some(r => Number(r.getAttribute('height')) > 0) \
               ? total : null;",
        )
        .await;
    browser
        .wait_js(
            "the chart updated",
            &format!(
                "return Number(document.getElementById('rate-chart').dataset.total) > {first} \
                   && document.getElementById('rate-text').textContent.includes('events/s');"
            ),
        )
        .await;
    browser.finish().await;
}

#[tokio::test]
async fn explorer_reconnects_after_a_node_restart_and_subscribes_again() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let listen = format!("127.0.0.1:{port}");
    let args = ["--listen", listen.as_str(), "--block-time-ms", "200"];
    let node = Node::serve(&args);
    let browser = Browser::start("explorer_reconnects").await;
    browser.open(&format!("http://{listen}/")).await;
    let first = browser.connect().await;
    browser
        .subscribe("blocks/accepted", "/on/blocks/accepted")
        .await;
    let moonlight = format!("/on/contracts:{TRANSFER_CONTRACT}/moonlight");
    browser.subscribe(&moonlight, &moonlight).await;
    browser.events("/on/blocks:", 1).await;

    // The node goes away: the page says it reconnects, and keeps trying
    // while nothing listens.
    drop(node);
    let shown = browser
        .wait_js(
            "the page reconnecting",
            "const s = document.getElementById('connection-state'); \
             return s.dataset.state === 'reconnecting' ? s.textContent : null;",
        )
        .await;
    assert!(
        shown.as_str().expect("text").contains("reconnecting in"),
        "{shown}"
    );
    browser
        .wait_js(
            "a failed attempt, then another",
            "return Number(document.body.dataset.reconnects) >= 2;",
        )
        .await;

    // The node is back on the same port: a new session, subscribed again.
    let _node = Node::serve(&args);
    let reconnected = browser
        .wait_js(
            "the page reconnected and subscribed again",
            "const s = document.getElementById('connection-state'); \
             return s.dataset.state === 'connected' && s.textContent.includes('subscribed again: 2 of 2') \
               ? { text: s.textContent, id: document.getElementById('session-id').textContent, \
                   events: Number(document.getElementById('event-count').textContent) } : null;",
        )
        .await;
    // A restarted node numbers under another epoch: its answer is `reset`
    // (or, for a stream with nothing received yet, there was nothing to
    // resume from), so the page cannot say nothing was lost.
    let text = reconnected["text"].as_str().expect("text");
    assert!(
        text.contains("events may have been lost on 2"),
        "{reconnected}"
    );
    let noted = browser
        .wait_js(
            "a note per path that events may have been lost",
            "const notes = [...document.querySelectorAll('#events .note[data-kind=\"unknown\"]')]; \
             return notes.length === 2 ? notes.map(n => n.innerText) : null;",
        )
        .await;
    let blocks_note = noted
        .as_array()
        .expect("notes")
        .iter()
        .filter_map(Value::as_str)
        .find(|note| note.contains("/on/blocks/accepted"))
        .unwrap_or_else(|| panic!("no note for blocks: {noted}"))
        .to_owned();
    assert!(
        blocks_note.contains("events may have been lost")
            && blocks_note.contains("another history"),
        "{blocks_note}"
    );
    let second = reconnected["id"].as_str().expect("an id");
    assert!(
        second.len() == 32 && second != first,
        "a new session: {reconnected}"
    );
    for path in ["/on/blocks/accepted", moonlight.as_str()] {
        browser
            .wait_js(
                &format!("{path} listed again"),
                &format!(
                    "return document.querySelector('#subscriptions .subscription[data-path=\"{path}\"]') !== null;"
                ),
            )
            .await;
    }
    // Events flow again, through the new session.
    let before = reconnected["events"].as_u64().expect("a count");
    browser
        .wait_js(
            "events after the reconnect",
            &format!(
                "return Number(document.getElementById('event-count').textContent) >= {before} + 2;"
            ),
        )
        .await;
    browser.finish().await;
}

/// The block rows of the list, oldest first: height and `Rues-Seq` of each.
const BLOCK_ROWS: &str = "return [...document.querySelectorAll('#events .event[data-location^=\"/on/blocks:\"]')] \
     .reverse().map(row => { \
       const headers = {}; \
       for (const dt of row.querySelectorAll('.event-headers dt')) \
         headers[dt.textContent.toLowerCase()] = dt.nextElementSibling.textContent; \
       return { height: JSON.parse(row.querySelector('.payload').textContent).header.height, \
                seq: Number(headers['rues-seq']) }; });";

#[tokio::test]
async fn explorer_resumes_after_its_websocket_is_cut() {
    // No reverts: each accepted block is one higher than the last.
    let node = Node::start(&["--set", "chain.revert_one_in=0"]);
    let proxy = CuttingProxy::start(node.addr).await;
    let browser = Browser::start("explorer_resumes").await;
    // The page and everything it opens go through the proxy.
    browser.open(&format!("http://{}/", proxy.addr)).await;
    let first = browser.connect().await;
    browser
        .subscribe("blocks/accepted", "/on/blocks/accepted")
        .await;
    let before = browser.events("/on/blocks:", 3).await.len();

    // The network goes away under the page (no close from it), and stays
    // away while the page tries once more: blocks go on meanwhile.
    proxy.refuse(true);
    proxy.cut();
    browser
        .wait_js(
            "the page reconnecting, a failed attempt, then another",
            "return document.getElementById('connection-state').dataset.state === 'reconnecting' \
               && Number(document.body.dataset.reconnects) >= 2;",
        )
        .await;
    proxy.refuse(false);

    let reconnected = browser
        .wait_js(
            "the page reconnected and resumed",
            &format!(
                "const s = document.getElementById('connection-state'); \
                 const id = document.getElementById('session-id').textContent; \
                 const sub = document.querySelector('#subscriptions .subscription[data-path=\"/on/blocks/accepted\"]'); \
                 return s.dataset.state === 'connected' && id !== {first:?} && sub && sub.dataset.resume \
                   ? {{ text: s.textContent, resume: sub.dataset.resume, replayed: Number(sub.dataset.replayed), \
                       badge: sub.querySelector('.resume').textContent, \
                       message: document.getElementById('subscribe-message').textContent }} : null;"
            ),
        )
        .await;
    assert_eq!(reconnected["resume"], "complete", "{reconnected}");
    let text = reconnected["text"].as_str().expect("text");
    assert!(
        text.contains("subscribed again: 1 of 1; nothing lost"),
        "{reconnected}"
    );
    // The outage lasted a failed attempt (1 s or more): blocks were made.
    let replayed = reconnected["replayed"].as_u64().expect("a count");
    assert!(replayed >= 1, "{reconnected}");
    assert!(text.contains(&format!("{replayed} event")), "{reconnected}");
    let message = reconnected["message"].as_str().expect("text");
    assert!(
        message.contains("/on/blocks/accepted: resumed, nothing lost"),
        "{reconnected}"
    );

    // Live blocks after the replayed ones.
    let wanted = before + usize::try_from(replayed).expect("small") + 3;
    let rows = browser
        .wait_js(
            "live blocks after the replay",
            &format!(
                "const rows = (() => {{ {BLOCK_ROWS} }})(); return rows.length >= {wanted} ? rows : null;"
            ),
        )
        .await;
    let rows = rows.as_array().expect("rows");
    let heights: Vec<u64> = rows
        .iter()
        .map(|row| row["height"].as_u64().expect("a height"))
        .collect();
    let seqs: Vec<u64> = rows
        .iter()
        .map(|row| row["seq"].as_u64().expect("a Rues-Seq"))
        .collect();
    // Consecutive across the reconnect: nothing lost, nothing twice.
    for pair in heights.windows(2) {
        assert_eq!(pair[1], pair[0] + 1, "heights {heights:?}");
    }
    for pair in seqs.windows(2) {
        assert_eq!(pair[1], pair[0] + 1, "Rues-Seq {seqs:?}");
    }
    let notes = browser
        .wait_js(
            "the notes",
            "return document.querySelectorAll('#events .note').length;",
        )
        .await;
    assert_eq!(notes, 0, "no loss noted");
    browser.finish().await;
}

#[tokio::test]
async fn explorer_shows_the_lost_numbers_and_gap_notices() {
    // Two events per stream kept: a longer outage is a gap.
    let server = TestServer::builder()
        .config(|config| config.with_history(HistoryLimits::default().per_stream(2, 1024 * 1024)))
        .start()
        .await;
    let proxy = CuttingProxy::start(server.addr).await;
    // The page comes from a `rues serve`: the proxied node is another origin.
    let page = Node::start(&[]);
    let browser = Browser::start("explorer_lost_numbers").await;
    browser
        .open(&format!("http://{}/?node=http://{}", page.addr, proxy.addr))
        .await;
    let first = browser.connect().await;
    browser
        .subscribe("blocks/accepted", "/on/blocks/accepted")
        .await;
    server.publish("/on/blocks:01/accepted", r#"{"n":1}"#);
    browser.events("/on/blocks:01/", 1).await;

    proxy.refuse(true);
    proxy.cut();
    browser
        .wait_js(
            "the page reconnecting, a failed attempt, then another",
            "return Number(document.body.dataset.reconnects) >= 2;",
        )
        .await;
    // Events 2 to 6 while the page is away; the node keeps 5 and 6.
    for n in 2..=6 {
        server.publish(
            &format!("/on/blocks:0{n}/accepted"),
            format!(r#"{{"n":{n}}}"#),
        );
    }
    proxy.refuse(false);

    let reconnected = browser
        .wait_js(
            "the page reconnected with a gap",
            &format!(
                "const s = document.getElementById('connection-state'); \
                 const id = document.getElementById('session-id').textContent; \
                 const sub = document.querySelector('#subscriptions .subscription[data-path=\"/on/blocks/accepted\"]'); \
                 const note = document.querySelector('#events .note[data-kind=\"gap\"]'); \
                 return s.dataset.state === 'connected' && id !== {first:?} && sub && sub.dataset.resume && note \
                   ? {{ text: s.textContent, resume: sub.dataset.resume, replayed: sub.dataset.replayed, \
                       badge: sub.querySelector('.resume').textContent, note: note.innerText, \
                       message: document.getElementById('subscribe-message').textContent }} : null;"
            ),
        )
        .await;
    assert_eq!(reconnected["resume"], "gap", "{reconnected}");
    assert_eq!(reconnected["replayed"], "2", "{reconnected}");
    assert_eq!(reconnected["badge"], "lost 2–4", "{reconnected}");
    let text = reconnected["text"].as_str().expect("text");
    assert!(text.contains("events lost on 1 (2–4)"), "{reconnected}");
    let note = reconnected["note"].as_str().expect("text");
    assert!(
        note.contains("/on/blocks/accepted") && note.contains("events 2–4 of blocks/accepted"),
        "{reconnected}"
    );
    let message = reconnected["message"].as_str().expect("text");
    assert!(
        message.contains("events 2–4 of its stream lost"),
        "{reconnected}"
    );
    // The replayed events, each once, then a live one.
    server.publish("/on/blocks:07/accepted", r#"{"n":7}"#);
    let events = browser.events("/on/blocks:07/", 1).await;
    assert_eq!(events.len(), 1);
    let shown = browser
        .wait_js(
            "the events shown",
            "return [...document.querySelectorAll('#events .event[data-location^=\"/on/blocks:\"]')] \
               .reverse().map(row => JSON.parse(row.querySelector('.payload').textContent).n);",
        )
        .await;
    assert_eq!(shown, json!([1, 5, 6, 7]));

    // A node's notice that events of a stream were lost is a note too.
    let notice = Event::new(
        EventPath::parse("/on/blocks/accepted").expect("valid"),
        "application/octet-stream",
        Bytes::new(),
    )
    .with_header("Rues-Gap", "upstream lost");
    server.publish_event(notice);
    let noticed = browser
        .wait_js(
            "the gap notice",
            "const note = document.querySelector('#events .note[data-kind=\"notice\"]'); \
             return note ? note.innerText : null;",
        )
        .await;
    assert!(
        noticed
            .as_str()
            .expect("text")
            .contains("the node lost events of /on/blocks/accepted: upstream lost"),
        "{noticed}"
    );
    browser.finish().await;
}

#[tokio::test]
async fn explorer_renews_the_path_without_entity_of_a_stream_first() {
    let server = TestServer::start().await;
    let proxy = CuttingProxy::start(server.addr).await;
    let page = Node::start(&[]);
    let browser = Browser::start("explorer_renews_widest_first").await;
    browser
        .open(&format!("http://{}/?node=http://{}", page.addr, proxy.addr))
        .await;
    let first = browser.connect().await;
    // The entity path subscribed first: renewed in that order, its replay
    // would hold the stream's numbers past the wildcard's events.
    browser
        .subscribe("blocks:01/accepted", "/on/blocks:01/accepted")
        .await;
    browser
        .subscribe("blocks/accepted", "/on/blocks/accepted")
        .await;
    server.publish("/on/blocks:01/accepted", r#"{"n":1}"#);
    browser.events("/on/blocks:01/", 1).await;

    proxy.refuse(true);
    proxy.cut();
    browser
        .wait_js(
            "the page reconnecting, a failed attempt, then another",
            "return Number(document.body.dataset.reconnects) >= 2;",
        )
        .await;
    for (n, entity) in [(2, "02"), (3, "01"), (4, "02")] {
        server.publish(
            &format!("/on/blocks:{entity}/accepted"),
            format!(r#"{{"n":{n}}}"#),
        );
    }
    proxy.refuse(false);

    let reconnected = browser
        .wait_js(
            "the page reconnected and resumed both paths",
            &format!(
                "const s = document.getElementById('connection-state'); \
                 const id = document.getElementById('session-id').textContent; \
                 const subs = [...document.querySelectorAll('#subscriptions .subscription')]; \
                 return s.dataset.state === 'connected' && id !== {first:?} && subs.length === 2 \
                   && subs.every(sub => sub.dataset.resume) && s.textContent.includes('subscribed again') \
                   ? {{ text: s.textContent, \
                       resumes: Object.fromEntries(subs.map(sub => [sub.dataset.path, sub.dataset.resume])) }} : null;"
            ),
        )
        .await;
    assert_eq!(
        reconnected["resumes"],
        json!({"/on/blocks/accepted": "complete", "/on/blocks:01/accepted": "complete"}),
        "{reconnected}"
    );
    assert!(
        reconnected["text"]
            .as_str()
            .expect("text")
            .contains("subscribed again: 2 of 2; nothing lost, 3 events replayed"),
        "{reconnected}"
    );
    let shown = browser
        .wait_js(
            "the events shown",
            "const rows = [...document.querySelectorAll('#events .event[data-location^=\"/on/blocks:\"]')] \
               .reverse().map(row => JSON.parse(row.querySelector('.payload').textContent).n); \
             return rows.length >= 4 ? rows : null;",
        )
        .await;
    assert_eq!(shown, json!([1, 2, 3, 4]), "each event once, in order");
    let notes = browser
        .wait_js(
            "the notes",
            "return document.querySelectorAll('#events .note').length;",
        )
        .await;
    assert_eq!(notes, 0, "no loss noted");
    browser.finish().await;
}
