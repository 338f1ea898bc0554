//! `/health` and `/metrics` (docs/protocol.md §13): on the public listener
//! by default, or on an admin listener of their own, with the application's
//! health checks and the process's metrics.

use std::net::SocketAddr;

use rues_core::Config;
use rues_core::http::{Method, StatusCode};
use rues_warp::{Server, TransportConfig};

use crate::support::{Running, http};

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn bind(transport: TransportConfig) -> Server {
    Server::bind(
        Config::new(rues_testkit::VERSION.parse().expect("version")),
        rues_testkit::registry(),
        transport,
    )
    .await
    .expect("bound")
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).expect("JSON")
}

#[tokio::test]
async fn health_and_metrics_are_on_the_public_listener_by_default() {
    let server = bind(TransportConfig::new(loopback()))
        .await
        .with_health_check("disk", || Ok("plenty".to_owned()));
    assert_eq!(server.admin_addr(), None);
    let running = Running::start(server);
    let addr = running.addr;

    let health = http(addr, Method::GET, "/health", &[], b"").await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.header("cache-control"), Some("no-store"));
    let body = json(&health.body);
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["checks"]["node"]["status"], "ok", "{body}");
    assert_eq!(body["checks"]["disk"]["detail"], "plenty", "{body}");

    let metrics = http(addr, Method::GET, "/metrics", &[], b"").await;
    let text = String::from_utf8_lossy(&metrics.body);
    let info = format!(
        "rues_build_info{{version=\"{}\",node_version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION"),
        rues_testkit::VERSION
    );
    assert!(text.contains(&info), "{text}");
    #[cfg(target_os = "linux")]
    for name in [
        "process_cpu_seconds_total ",
        "process_resident_memory_bytes ",
        "process_virtual_memory_bytes ",
        "process_start_time_seconds ",
        "process_open_fds ",
        "process_max_fds ",
    ] {
        assert!(text.contains(name), "no {name}in {text}");
    }
    assert!(text.contains("rues_sessions_open 0"), "{text}");
    // OpenMetrics: one `# EOF`, at the end.
    assert_eq!(text.matches("# EOF").count(), 1, "{text}");
    assert!(text.ends_with("# EOF\n"), "{text}");
    running.stop().await;
}

#[tokio::test]
async fn an_admin_listener_serves_health_and_metrics_alone() {
    let mut transport = TransportConfig::new(loopback());
    transport.admin_listen = Some(loopback());
    let server = bind(transport)
        .await
        .with_health_check("upstream", || Err("no answer for 12 s".to_owned()));
    let admin = server.admin_addr().expect("an admin listener");
    let running = Running::start(server);
    let public = running.addr;

    // The public listener serves RUES, not the admin routes.
    for path in ["/health", "/metrics"] {
        let answer = http(public, Method::GET, path, &[], b"").await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(
        http(public, Method::POST, "/on/node/info", &[], b"")
            .await
            .status,
        StatusCode::OK
    );

    // The admin listener: a failing check is a 503 that names it.
    let health = http(admin, Method::GET, "/health", &[], b"").await;
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE);
    let body = json(&health.body);
    assert_eq!(body["status"], "unavailable", "{body}");
    assert_eq!(body["checks"]["node"]["status"], "ok", "{body}");
    assert_eq!(body["checks"]["upstream"]["status"], "failing", "{body}");
    assert_eq!(
        body["checks"]["upstream"]["reason"], "no answer for 12 s",
        "{body}"
    );
    let metrics = http(admin, Method::GET, "/metrics", &[], b"").await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&metrics.body).contains("rues_sessions_open"));
    // Never RUES there.
    let elsewhere = http(admin, Method::POST, "/on/node/info", &[], b"").await;
    elsewhere.assert_error(StatusCode::NOT_FOUND, "/metrics and /health only");

    running.stop().await;
}
