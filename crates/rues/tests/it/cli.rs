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

/// Runs a command that must fail with exit status `code`, and returns its
/// stderr.
#[track_caller]
fn failed_with(code: i32, args: &[&str]) -> String {
    let output = run(args);
    let stderr = text(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(code),
        "rues {args:?}\nstdout: {}\nstderr: {stderr}",
        text(&output.stdout)
    );
    stderr
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
    let stderr = failed_with(1, &["listen", &unreachable_url(), "blocks"]);
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

/// A near miss of a component or topic: the node's 404 says what was
/// probably meant, so every client shows it.
#[test]
fn a_misspelt_component_or_topic_gets_a_suggestion() {
    let node = Node::start(&[]);
    let url = format!("http://{}", node.addr);
    let stderr = failed_with(3, &["dispatch", &url, "nod/info"]);
    assert!(
        stderr.contains("unknown component `nod`; did you mean `node`?"),
        "{stderr}"
    );
    let stderr = failed_with(3, &["dispatch", &url, "node/inf"]);
    assert!(stderr.contains("did you mean `info`?"), "{stderr}");
    let stderr = failed_with(3, &["dispatch", &url, "zzzzzz/info"]);
    assert!(!stderr.contains("did you mean"), "{stderr}");
}

#[test]
fn dispatch_error_status_exits_non_zero_with_the_nodes_message() {
    let node = Node::start(&[]);
    let url = format!("http://{}", node.addr);
    let stderr = failed_with(3, &["dispatch", &url, "nope/info"]);
    assert!(stderr.contains("404 Not Found"), "{stderr}");
    assert!(stderr.contains("nope"), "{stderr}");

    // A body the handler cannot process: the node's 4xx and message.
    let stderr = failed_with(
        3,
        &[
            "dispatch",
            &url,
            "transactions/propagate",
            "--data-hex",
            "0x00",
        ],
    );
    assert!(stderr.contains("422"), "{stderr}");
}

#[test]
fn a_version_mismatch_says_how_to_change_the_requirement() {
    let node = Node::start(&[]);
    let url = format!("http://{}", node.addr);
    let stderr = failed_with(3, &["dispatch", &url, "node/info", "--rusk-version", "^9"]);
    assert!(stderr.contains("400 Bad Request"), "{stderr}");
    assert!(stderr.contains("the node's version is 1.6.0"), "{stderr}");
    assert!(stderr.contains("--rusk-version"), "{stderr}");
}

#[test]
fn an_unreachable_node_is_a_helpful_error() {
    let url = unreachable_url();
    let expected =
        format!("cannot connect to {url}: connection refused — is `rues serve` running?");
    let stderr = failed_with(4, &["dispatch", &url, "node/info"]);
    assert!(stderr.contains(&expected), "{stderr}");
    let stderr = failed_with(4, &["listen", &url, "blocks/accepted"]);
    assert!(stderr.contains(&expected), "{stderr}");
}

#[test]
fn a_bad_url_is_a_helpful_error() {
    for url in ["127.0.0.1:8080", "ftp://127.0.0.1"] {
        let stderr = failed_with(1, &["dispatch", url, "node/info"]);
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
fn listen_exits_5_with_the_close_code_when_the_node_stops() {
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
    assert_eq!(status.code(), Some(5), "{err}");
    assert!(
        err.contains("the subscription to /on/blocks/accepted ended"),
        "{err}"
    );
    assert!(err.contains("session closed by the node: 1001"), "{err}");
}

#[test]
fn listen_json_prints_one_object_per_event_json_payloads_as_json() {
    let node = Node::start(&[]);
    let url = format!("http://{}", node.addr);
    let output = succeeded(&["listen", &url, "blocks/accepted", "--json", "--count", "2"]);
    let stdout = text(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    for line in lines {
        let event: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let location = event["headers"]["Content-Location"]
            .as_str()
            .expect("a location");
        assert!(location.starts_with("/on/blocks:"), "{line}");
        assert_eq!(
            event["headers"]["Content-Type"], "application/json",
            "{line}"
        );
        assert!(event["payload"]["header"]["height"].is_u64(), "{line}");
        assert!(event.get("payload_hex").is_none(), "{line}");
    }
}

#[test]
fn listen_json_prints_binary_payloads_as_hex() {
    let node = Node::start(&[]);
    let url = format!("http://{}", node.addr);
    // The transfer contract's events: binary, with Rusk-Origin.
    let contract = format!("contracts:01{}/moonlight", "0".repeat(62));
    let output = succeeded(&["listen", &url, &contract, "--json", "-n", "1"]);
    let stdout = text(&output.stdout);
    let event: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(
        event["headers"]["Content-Type"], "application/octet-stream",
        "{stdout}"
    );
    assert!(event["headers"]["Rusk-Origin"].is_string(), "{stdout}");
    let hex_payload = event["payload_hex"].as_str().expect("payload_hex");
    let bytes = hex::decode(hex_payload).expect("hex");
    let length: usize = event["headers"]["Content-Length"]
        .as_str()
        .and_then(|n| n.parse().ok())
        .expect("a length");
    assert_eq!(bytes.len(), length, "{stdout}");
    assert!(event.get("payload").is_none(), "{stdout}");
}

#[test]
fn listen_json_excludes_raw_and_no_headers() {
    for flag in ["--raw", "--no-headers"] {
        let stderr = failed_with(
            2,
            &[
                "listen",
                "http://127.0.0.1:9",
                "blocks/accepted",
                "--json",
                flag,
            ],
        );
        assert!(stderr.contains("cannot be used with"), "{flag}: {stderr}");
    }
}

#[test]
fn listen_exits_3_when_the_node_refuses_a_subscription() {
    let node = Node::start(&[]);
    let url = format!("http://{}", node.addr);
    let stderr = failed_with(3, &["listen", &url, "nope/info", "-n", "1"]);
    assert!(
        stderr.contains("cannot subscribe to /on/nope/info"),
        "{stderr}"
    );
    assert!(stderr.contains("404 Not Found"), "{stderr}");
}

#[test]
fn exit_statuses_are_in_the_help() {
    for command in ["listen", "dispatch"] {
        let help = text(&succeeded(&[command, "--help"]).stdout);
        for line in [
            "Exit status:",
            "  3  the node refused the request",
            "  4  the node cannot be reached",
            "  5  the session ended",
        ] {
            assert!(
                help.contains(line),
                "{command} --help lacks {line:?}: {help}"
            );
        }
    }
}

#[test]
fn serve_listens_on_a_host_name() {
    let node = Node::serve(&["--listen", "localhost:0"]);
    // `localhost` is served on its IPv4 address, which every client tries.
    assert!(
        node.banner
            .starts_with("rues: listening on http://127.0.0.1:"),
        "{}",
        node.banner
    );
    let url = format!("http://localhost:{}", node.addr.port());
    let info = succeeded(&["dispatch", &url, "node/info"]);
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).expect("JSON");
    assert!(info["version"].is_string(), "{info}");
}

#[test]
fn serve_refuses_a_listen_address_it_cannot_use() {
    // `.invalid` never resolves (RFC 6761).
    let stderr = failed_with(1, &["serve", "--listen", "no-such-host.invalid:8080"]);
    assert!(
        stderr.contains("cannot resolve `no-such-host.invalid`"),
        "{stderr}"
    );
    assert!(stderr.contains("give an IP address"), "{stderr}");
    let stderr = failed_with(1, &["serve", "--listen", "localhost"]);
    assert!(
        stderr.contains("listen address `localhost` is not HOST:PORT"),
        "{stderr}"
    );
}

#[test]
fn completions_name_every_subcommand() {
    // How each shell's script offers a subcommand.
    type Offer = fn(&str) -> String;
    let offers: [(&str, Offer); 5] = [
        ("bash", |c| format!("rues,{c})")),
        ("zsh", |c| format!("'{c}:")),
        ("fish", |c| format!("-a \"{c}\"")),
        ("elvish", |c| format!("cand {c} '")),
        ("powershell", |c| format!("new('{c}', '{c}'")),
    ];
    for (shell, offer) in offers {
        let script = text(&succeeded(&["completions", shell]).stdout);
        for command in [
            "serve",
            "relay",
            "tx",
            "listen",
            "dispatch",
            "completions",
            "man",
        ] {
            let needle = offer(command);
            assert!(script.contains(&needle), "{shell}: no {needle:?}");
        }
        // Options too, e.g. listen's.
        assert!(
            script.contains("no-reconnect"),
            "{shell}: no --no-reconnect"
        );
    }
    let script = succeeded(&["completions", "bash"]).stdout;
    assert!(text(&script).contains("complete -F _rues"), "not bash");
    // The script must at least parse in bash, where bash is installed.
    let Ok(mut bash) = std::process::Command::new("bash")
        .args(["-n", "/dev/stdin"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        eprintln!("note: no bash: the bash completions were not parsed");
        return;
    };
    {
        use std::io::Write;
        let mut stdin = bash.stdin.take().expect("piped stdin");
        stdin.write_all(&script).expect("script written");
    }
    let checked = bash.wait_with_output().expect("bash ran");
    assert!(checked.status.success(), "{}", text(&checked.stderr));
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let stderr = failed_with(2, &["completions", "tcsh"]);
    assert!(stderr.contains("possible values"), "{stderr}");
}

#[test]
fn man_prints_a_roff_page_naming_every_subcommand() {
    let page = text(&succeeded(&["man"]).stdout);
    assert!(page.contains(".TH rues 1"), "{page:.200}");
    assert!(page.contains(".SH SUBCOMMANDS"), "{page}");
    for command in [
        "serve",
        "relay",
        "tx",
        "listen",
        "dispatch",
        "completions",
        "man",
    ] {
        assert!(
            page.contains(&format!("rues\\-{command}")),
            "no {command}: {page}"
        );
    }
}

#[test]
fn man_prints_each_subcommands_page_that_rues_1_refers_to() {
    let page = text(&succeeded(&["man", "listen"]).stdout);
    assert!(page.contains(".TH rues-listen 1"), "{page:.200}");
    assert!(page.contains("\\fBrues listen\\fR"), "{page:.400}");
    assert!(page.contains("\\-\\-json"), "{page}");
    assert!(page.contains("Exit status:"), "{page}");
    let stderr = failed_with(1, &["man", "nope"]);
    assert!(
        stderr.contains(
            "no subcommand `nope`; pages exist for serve, edge, relay, tx, listen, dispatch, completions, man"
        ),
        "{stderr}"
    );
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
