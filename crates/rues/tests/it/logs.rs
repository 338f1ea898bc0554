//! The logs of `rues serve`: plain text off a terminal, coloured on one
//! unless NO_COLOR says otherwise, and JSON lines for log shippers.

use std::io::Read;
use std::process::{Command, Stdio};

use crate::node::{Node, PATIENCE};

/// Starts a node logging onto a pipe, stops it with SIGTERM, and returns
/// everything it logged (startup and shutdown lines included).
fn logs_of(extra: &[&str]) -> String {
    let mut node = Node::start_logging(extra);
    let mut stderr = node.child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    node.terminate();
    let status = node.wait_exit(PATIENCE);
    let logs = reader.join().expect("stderr read");
    assert!(status.success(), "{status}: {logs}");
    assert!(logs.contains("RUES node started"), "{logs}");
    assert!(logs.contains("RUES node stopped"), "{logs}");
    logs
}

#[test]
fn logs_to_a_pipe_have_no_colour_codes() {
    let logs = logs_of(&[]);
    assert!(!logs.contains("\x1b["), "escape codes in {logs:?}");
    assert!(
        logs.contains(" INFO rues::serve: RUES node started"),
        "{logs}"
    );
}

#[test]
fn json_logs_are_one_object_per_line_with_level_target_and_message() {
    let logs = logs_of(&["--log-format", "json"]);
    let mut messages = Vec::new();
    for line in logs.lines() {
        let entry: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}"));
        assert!(entry["timestamp"].is_string(), "{line}");
        assert!(entry["level"].is_string(), "{line}");
        assert!(entry["target"].is_string(), "{line}");
        messages.push(entry["message"].as_str().expect("a message").to_owned());
        if entry["message"] == "RUES node started" {
            assert_eq!(entry["level"], "INFO", "{line}");
            assert_eq!(entry["target"], "rues::serve", "{line}");
            // The event's fields beside the message, not nested.
            assert_eq!(entry["tls"], false, "{line}");
            assert!(entry["addr"].is_string(), "{line}");
        }
    }
    assert!(
        messages.iter().any(|m| m == "RUES node stopped"),
        "{messages:?}"
    );
}

#[test]
fn an_unknown_log_format_is_a_usage_error() {
    let output = crate::node::rues()
        .args(["--log-format", "xml", "serve"])
        .output()
        .expect("rues runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("possible values: text, json"), "{stderr}");
}

/// What `rues serve` logs on a terminal (a pseudo-terminal from util-linux
/// `script`), stopped by `timeout` with SIGTERM; `None` without `script`.
fn logs_on_a_terminal(no_color: Option<&str>) -> Option<String> {
    let bin = env!("CARGO_BIN_EXE_rues");
    let mut command = Command::new("script");
    command
        .args(["-qec"])
        .arg(format!(
            "timeout -s TERM 1.5 '{bin}' serve --listen 127.0.0.1:0"
        ))
        .arg("/dev/null")
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null());
    if let Some(value) = no_color {
        command.env("NO_COLOR", value);
    }
    let output = command.output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(text.contains("RUES node started"), "{text:?}");
    Some(text)
}

#[test]
fn logs_on_a_terminal_are_coloured_unless_no_color_is_set() {
    let Some(coloured) = logs_on_a_terminal(None) else {
        eprintln!("note: no `script` command (util-linux): terminal logs not checked");
        return;
    };
    assert!(
        coloured.contains("\x1b["),
        "no colour on a terminal: {coloured:?}"
    );
    let plain = logs_on_a_terminal(Some("1")).expect("script ran before");
    assert!(
        !plain.contains("\x1b["),
        "colour despite NO_COLOR=1: {plain:?}"
    );
    // no-color.org: an empty NO_COLOR does not disable colour.
    let empty = logs_on_a_terminal(Some("")).expect("script ran before");
    assert!(
        empty.contains("\x1b["),
        "no colour with NO_COLOR empty: {empty:?}"
    );
}
