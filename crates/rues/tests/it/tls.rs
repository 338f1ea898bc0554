//! `rues dispatch` and `rues listen` against a `rues serve` with TLS.

use std::path::Path;
use std::process::Command;

use rues_testkit::cert::{CertFiles, date_time_ymd};

use crate::cli::{failed, succeeded, text};
use crate::node::Node;

/// A node serving TLS with these files.
fn tls_node(files: &CertFiles) -> Node {
    let (cert, key) = (path(&files.cert), path(&files.key));
    let node = Node::start(&["--tls-cert", cert, "--tls-key", key]);
    assert!(node.banner.contains("https://"), "{}", node.banner);
    node
}

fn path(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

/// `rues dispatch node/info` and `rues listen -n 1 blocks/accepted` at
/// `base` (https://HOST:PORT), with `extra` options, both succeeding.
fn dispatch_and_listen(base: &str, extra: &[&str]) -> (String, String) {
    let mut args = vec!["dispatch", base, "node/info"];
    args.extend_from_slice(extra);
    let dispatched = succeeded(&args);
    let info: serde_json::Value = serde_json::from_slice(&dispatched.stdout).expect("JSON");
    assert!(info["version"].is_string(), "{info}");

    let wss = base.replacen("https://", "wss://", 1);
    let mut args = vec!["listen", &wss, "blocks/accepted", "-n", "1", "--no-headers"];
    args.extend_from_slice(extra);
    let listened = succeeded(&args);
    let block: serde_json::Value =
        serde_json::from_str(text(&listened.stdout).trim()).expect("one JSON block");
    assert!(block["header"]["height"].is_u64(), "{block}");
    (text(&dispatched.stderr), text(&listened.stderr))
}

#[test]
fn a_self_signed_ca_certificate_given_with_cacert_is_accepted() {
    let files = CertFiles::self_signed_ca("cli-ca", &["localhost", "127.0.0.1"]);
    let node = tls_node(&files);
    let port = node.addr.port();
    for host in ["localhost", "127.0.0.1"] {
        let base = format!("https://{host}:{port}");
        dispatch_and_listen(&base, &["--cacert", path(&files.cert)]);
    }

    // Without it, the reason, what was trusted, and the flag to pass.
    let base = format!("https://localhost:{port}");
    let stderr = failed(&["dispatch", &base, "node/info"]);
    assert!(
        stderr.contains("the node's certificate is a CA certificate (CA:TRUE, e.g. self-signed) that is not a trusted root certificate"),
        "{stderr}"
    );
    assert!(
        stderr.contains("trusted: Mozilla's root certificates\n"),
        "{stderr}"
    );
    assert!(stderr.contains("pass it with --cacert FILE"), "{stderr}");
    assert!(!stderr.contains("CaUsedAsEndEntity"), "{stderr}");
}

/// The line docs/operations.md gives, run as is where openssl is installed.
#[test]
fn the_openssl_certificate_of_the_docs_is_accepted_with_cacert() {
    let files = CertFiles::empty("cli-openssl");
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            path(&files.key),
            "-out",
            path(&files.cert),
            "-days",
            "365",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        .output();
    match made {
        Err(error) => {
            eprintln!("skipped: openssl cannot be run here ({error})");
            return;
        }
        Ok(output) => assert!(
            output.status.success(),
            "openssl failed: {}",
            text(&output.stderr)
        ),
    }
    let node = tls_node(&files);
    let base = format!("https://localhost:{}", node.addr.port());
    dispatch_and_listen(&base, &["--cacert", path(&files.cert)]);
}

#[test]
fn an_expired_certificate_says_when_it_expired() {
    let files = CertFiles::self_signed("cli-expired", &["localhost"], |params| {
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2021, 1, 1);
    });
    let node = tls_node(&files);
    let base = format!("https://localhost:{}", node.addr.port());
    let stderr = dispatch_trusting(&base, &files);
    assert!(
        stderr.contains("the node's certificate expired on 2021-01-01 00:00:00 UTC (it is now 20"),
        "{stderr}"
    );
    assert!(!stderr.contains("--cacert"), "{stderr}");
}

#[test]
fn a_certificate_for_another_name_says_which_names_it_has() {
    let files = CertFiles::self_signed_ca("cli-name", &["node.example", "10.1.2.3"]);
    let node = tls_node(&files);
    let base = format!("https://localhost:{}", node.addr.port());
    let stderr = dispatch_trusting(&base, &files);
    assert!(
        stderr.contains(
            "the node's certificate is not valid for localhost: it is for node.example, 10.1.2.3"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("--cacert"), "{stderr}");
}

#[test]
fn a_cacert_that_is_not_the_nodes_names_the_file_trusted() {
    let served = CertFiles::self_signed_ca("cli-served", &["localhost"]);
    let other = CertFiles::self_signed_ca("cli-other", &["localhost"]);
    let node = tls_node(&served);
    let base = format!("https://localhost:{}", node.addr.port());
    let stderr = dispatch_trusting(&base, &other);
    let trusted = format!(
        "trusted: Mozilla's root certificates and {}\n  {} holds neither the node's certificate nor its issuer's",
        path(&other.cert),
        path(&other.cert)
    );
    assert!(stderr.contains(&trusted), "{stderr}");
    assert!(!stderr.contains("pass it with --cacert"), "{stderr}");
}

#[test]
fn insecure_skips_verification_and_warns() {
    let files = CertFiles::self_signed_ca("cli-insecure", &["node.example"]);
    let node = tls_node(&files);
    let base = format!("https://localhost:{}", node.addr.port());
    let warning = "rues: warning: --insecure: the node's TLS certificate is not verified";
    for flag in ["-k", "--insecure"] {
        let (dispatched, listened) = dispatch_and_listen(&base, &[flag]);
        assert_eq!(dispatched.matches(warning).count(), 1, "{dispatched}");
        assert_eq!(listened.matches(warning).count(), 1, "{listened}");
    }
}

/// `rues dispatch BASE node/info --cacert FILES.cert`, expected to fail:
/// its stderr.
fn dispatch_trusting(base: &str, files: &CertFiles) -> String {
    failed(&["dispatch", base, "node/info", "--cacert", path(&files.cert)])
}
