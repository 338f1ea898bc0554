//! `rues listen` and `rues dispatch` against a real `rues serve`.

use std::io::Read;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use crate::node::{Node, PATIENCE, rues};

/// Runs `rues <args>` to completion, bounded by [`PATIENCE`].
pub(crate) fn run(args: &[&str]) -> Output {
    let mut child = rues()
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rues starts");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waitable") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stdout = out.join().unwrap_or_default();
            let stderr = err.join().unwrap_or_default();
            panic!(
                "rues {args:?} did not finish within {PATIENCE:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&stdout),
                String::from_utf8_lossy(&stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().expect("stdout read"),
        stderr: err.join().expect("stderr read"),
    }
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
pub(crate) fn succeeded(args: &[&str]) -> Output {
    let output = run(args);
    assert!(
        output.status.success(),
        "rues {args:?} failed ({})\nstdout: {}\nstderr: {}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    output
}

/// Runs a command that must fail, and returns its stderr.
#[track_caller]
pub(crate) fn failed(args: &[&str]) -> String {
    let output = run(args);
    assert!(
        !output.status.success(),
        "rues {args:?} succeeded\nstdout: {}",
        text(&output.stdout)
    );
    text(&output.stderr)
}

/// A URL where nothing listens: a port that was just free.
fn unreachable_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bound");
    let port = listener.local_addr().expect("an address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[test]
fn listen_prints_events_with_their_headers_and_stops_after_count() {
    let node = Node::start(&[]);
    // The address as the banner prints it, /on included.
    let url = format!("http://{}/on", node.addr);
    let output = succeeded(&["listen", &url, "blocks/accepted", "--count", "2"]);
    let stdout = text(&output.stdout);
    let locations: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("Content-Location: "))
        .collect();
    assert_eq!(locations.len(), 2, "{stdout}");
    for location in &locations {
        assert!(location.starts_with("/on/blocks:"), "{location}");
        assert!(location.ends_with("/accepted"), "{location}");
    }
    assert_eq!(
        stdout.matches("Content-Type: application/json").count(),
        2,
        "{stdout}"
    );
    // Pretty-printed JSON: the block's fields on lines of their own.
    assert!(stdout.contains("\"header\": {"), "{stdout}");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("rues: session "), "{stderr}");
    assert!(
        stderr.contains("subscribed to /on/blocks/accepted"),
        "{stderr}"
    );
}

#[test]
fn listen_without_headers_prints_only_payloads() {
    let node = Node::start(&[]);
    let url = format!("http://{}", node.addr);
    let output = succeeded(&[
        "listen",
        &url,
        "/on/blocks/accepted",
        "-n",
        "1",
        "--no-headers",
    ]);
    let stdout = text(&output.stdout);
    assert!(!stdout.contains("Content-Location"), "{stdout}");
    let block: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON block");
    assert!(block["header"]["height"].is_u64(), "{block}");
}

#[test]
fn listen_refuses_a_bad_path_before_connecting() {
    let stderr = failed(&["listen", &unreachable_url(), "blocks"]);
    assert!(stderr.contains("invalid event path \"blocks\""), "{stderr}");
    assert!(!stderr.contains("cannot connect"), "{stderr}");
}

#[test]
fn dispatch_prints_a_json_reply_pretty() {
    let node = Node::start(&[]);
    let url = format!("http://{}", node.addr);
    let output = succeeded(&["dispatch", &url, "node/info"]);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("\n  \"version\": "), "not pretty: {stdout}");
    let info: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert!(info["version"].is_string(), "{info}");

    // A text body: how many peers.
    let output = succeeded(&["dispatch", &url, "/on/network/peers", "--data", "2"]);
    let peers: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert!(
        peers.as_array().is_some_and(|list| list.len() <= 2),
        "{peers}"
    );
}

#[test]
fn dispatch_prints_a_binary_reply_as_hex_or_raw() {
    let node = Node::start(&[]);
    let url = format!("http://{}", node.addr);
    let hex_out = succeeded(&["dispatch", &url, "node/crs"]).stdout;
    let hex_text = text(&hex_out);
    let hex_text = hex_text.trim();
    assert!(!hex_text.is_empty());
    assert!(
        hex_text.bytes().all(|b| b.is_ascii_hexdigit()),
        "{hex_text:.80}"
    );
    let raw = succeeded(&["dispatch", &url, "node/crs", "--raw"]).stdout;
    assert_eq!(hex::encode(&raw), hex_text);
}

#[test]
fn dispatch_error_status_exits_non_zero_with_the_nodes_message() {
    let node = Node::start(&[]);
    let url = format!("http://{}", node.addr);
    let stderr = failed(&["dispatch", &url, "nope/info"]);
    assert!(stderr.contains("404 Not Found"), "{stderr}");
    assert!(stderr.contains("nope"), "{stderr}");

    // A body the handler cannot process: the node's 4xx and message.
    let stderr = failed(&[
        "dispatch",
        &url,
        "transactions/propagate",
        "--data-hex",
        "0x00",
    ]);
    assert!(stderr.contains("422"), "{stderr}");
}

#[test]
fn a_version_mismatch_says_how_to_change_the_requirement() {
    let node = Node::start(&[]);
    let url = format!("http://{}", node.addr);
    let stderr = failed(&["dispatch", &url, "node/info", "--rusk-version", "^9"]);
    assert!(stderr.contains("400 Bad Request"), "{stderr}");
    assert!(stderr.contains("the node's version is 1.6.0"), "{stderr}");
    assert!(stderr.contains("--rusk-version"), "{stderr}");
}

#[test]
fn an_unreachable_node_is_a_helpful_error() {
    let url = unreachable_url();
    let expected =
        format!("cannot connect to {url}: connection refused — is `rues serve` running?");
    let stderr = failed(&["dispatch", &url, "node/info"]);
    assert!(stderr.contains(&expected), "{stderr}");
    let stderr = failed(&["listen", &url, "blocks/accepted"]);
    assert!(stderr.contains(&expected), "{stderr}");
}

#[test]
fn a_bad_url_is_a_helpful_error() {
    for url in ["127.0.0.1:8080", "ftp://127.0.0.1"] {
        let stderr = failed(&["dispatch", url, "node/info"]);
        assert!(stderr.contains("invalid node URL"), "{url}: {stderr}");
        assert!(stderr.contains("http://127.0.0.1:8080"), "{url}: {stderr}");
    }
}

#[test]
fn dispatch_takes_one_body_option_only() {
    let output = run(&[
        "dispatch",
        "http://127.0.0.1:9",
        "node/info",
        "--data",
        "1",
        "--json",
        "2",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    let stderr = failed(&["dispatch", "http://127.0.0.1:9", "node/info", "--json", "{"]);
    assert!(stderr.contains("--json: not valid JSON"), "{stderr}");
}

#[test]
fn listen_exits_non_zero_with_the_close_code_when_the_node_stops() {
    use std::io::{BufRead, BufReader};

    let mut node = Node::start(&[]);
    let url = format!("http://{}", node.addr);
    let mut child = rues()
        .args(["listen", &url, "blocks/accepted", "--no-reconnect"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rues starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let (first_tx, first_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = first_tx.send(line);
        }
        for _ in lines {}
    });
    let first = first_rx.recv_timeout(PATIENCE).expect("an event in time");
    assert!(
        first.starts_with("Content-Location: /on/blocks:"),
        "{first}"
    );

    node.terminate();
    node.wait_exit(PATIENCE);
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waitable") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("rues listen did not exit after the node stopped");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = reader.join();
    let mut err = String::new();
    let _ = stderr.read_to_string(&mut err);
    assert!(!status.success(), "{err}");
    assert!(
        err.contains("the subscription to /on/blocks/accepted ended"),
        "{err}"
    );
    assert!(err.contains("session closed by the node: 1001"), "{err}");
}

#[test]
fn a_transaction_from_rues_tx_piped_into_dispatch_data_stdin_is_accepted() {
    use std::io::{BufRead, BufReader};

    let node = Node::start(&[]);
    let url = format!("http://{}", node.addr);
    // Watch for its `included` event, so "accepted" means the chain took it.
    // Killed on drop, so a failing assertion leaves no process behind.
    struct Listener(std::process::Child);
    impl Drop for Listener {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut listener = rues()
        .args(["listen", &url, "transactions/included", "--no-headers"])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map(Listener)
        .expect("rues listen starts");
    let listener = &mut listener.0;
    let mut listener_err = BufReader::new(listener.stderr.take().expect("piped stderr"));
    let mut line = String::new();
    while !line.contains("subscribed to") {
        line.clear();
        assert_ne!(listener_err.read_line(&mut line).expect("stderr"), 0);
    }

    let mut tx = rues()
        .arg("tx")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rues tx starts");
    let piped = tx.stdout.take().expect("piped stdout");
    let dispatch = rues()
        .args([
            "dispatch",
            &url,
            "/on/transactions/propagate",
            "--data",
            "@-",
        ])
        .stdin(Stdio::from(piped))
        .output()
        .expect("rues dispatch runs");
    let tx = tx.wait_with_output().expect("rues tx ends");
    assert!(tx.status.success(), "{}", text(&tx.stderr));
    assert!(dispatch.status.success(), "{}", text(&dispatch.stderr));
    assert!(
        text(&dispatch.stderr).contains("202 Accepted"),
        "{}",
        text(&dispatch.stderr)
    );

    // The id `rues tx` printed is in an `included` event.
    let id = text(&tx.stderr)
        .trim()
        .strip_prefix("rues: transaction ")
        .expect("the id on stderr")
        .to_owned();
    let (found_tx, found_rx) = std::sync::mpsc::channel();
    let stdout = listener.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains(&id) {
                let _ = found_tx.send(());
                return;
            }
        }
    });
    let found = found_rx.recv_timeout(PATIENCE);
    assert!(found.is_ok(), "no included event names the transaction");
}
