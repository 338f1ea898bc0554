//! docs/protocol.md §2 and §3: which paths open sessions, and what the core
//! answers off the RUES paths. These are the core's decisions, so every
//! adapter answers the same.

use http::{HeaderMap, Method, StatusCode};

use crate::harness::{Harness, assert_error, header, header_map};

#[test]
fn sessions_open_on_on_and_on_slash_only() {
    let mut h = Harness::new();
    for path in ["/on", "/on/"] {
        let session = h
            .node
            .handle_upgrade(h.now, path, &HeaderMap::new(), None)
            .unwrap_or_else(|_| panic!("{path} opens a session"));
        assert!(h.node.is_open(session.id), "{path}");
    }
    for path in [
        "/on/blocks/accepted",
        "/online",
        "/onx",
        "/",
        "",
        "/on//",
        "/ON",
        "/on?x=1",
    ] {
        let refused = h
            .node
            .handle_upgrade(h.now, path, &HeaderMap::new(), None)
            .expect_err(path);
        assert_error(
            &refused,
            StatusCode::NOT_FOUND,
            "sessions are opened on /on",
        );
        assert!(header(&refused, "rusk-version").is_some(), "{path}");
    }
    assert_eq!(h.node.stats().sessions_open, 2);
    assert_eq!(h.node.stats().sessions_opened, 2);
}

#[test]
fn the_path_is_checked_before_the_origin_and_the_session_limit() {
    let mut h = Harness::with_config(|c| {
        c.with_origins(rues_core::OriginPolicy::List(vec![
            "https://wallet.example".into(),
        ]))
    });
    let foreign = header_map(&[("origin", "https://evil.example")]);
    let refused = h
        .node
        .handle_upgrade(h.now, "/elsewhere", &foreign, None)
        .expect_err("wrong path");
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    let refused = h
        .node
        .handle_upgrade(h.now, "/on", &foreign, None)
        .expect_err("wrong origin");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

#[test]
fn a_plain_request_on_the_session_path_is_426() {
    let mut h = Harness::new();
    for method in [Method::GET, Method::POST, Method::DELETE, Method::OPTIONS] {
        for path in ["/on", "/on/", "/on?session=1"] {
            let response = h.request(method.clone(), path, &[], b"");
            assert_error(
                &response,
                StatusCode::UPGRADE_REQUIRED,
                "open a session with a WebSocket upgrade on /on",
            );
        }
    }
}

#[test]
fn requests_off_the_rues_paths_are_404_and_say_where_rues_lives() {
    let mut h = Harness::new();
    for path in [
        "/",
        "/online",
        "/onx/blocks/accepted",
        "/blocks/accepted",
        "/ON/blocks/accepted",
    ] {
        for method in [Method::GET, Method::POST, Method::DELETE] {
            let response = h.request(method, path, &[("x-request-id", "7")], b"");
            assert_error(
                &response,
                StatusCode::NOT_FOUND,
                "no such route: RUES lives under /on",
            );
            assert!(
                !String::from_utf8_lossy(response.body()).contains(path.trim_start_matches('/'))
                    || path == "/",
                "the message does not echo the path"
            );
            // The common headers of every response: version, echoed X-*.
            assert!(header(&response, "rusk-version").is_some());
            assert_eq!(header(&response, "x-request-id"), Some("7"));
        }
    }
}
