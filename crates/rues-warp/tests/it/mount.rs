//! RUES mounted into an existing server: the axum example application runs
//! here as it is, and one listener serves the application's own route and a
//! whole RUES session (subscription, event, dispatch, graceful shutdown).

use std::net::SocketAddr;
use std::time::Duration;

use rues_core::Config;
use rues_core::http::{Method, StatusCode};
use rues_warp::Endpoint;
use rues_warp::warp::{self, Filter};

use crate::support::{Client, http};
use rues_testkit::VERSION;

#[path = "../../examples/axum.rs"]
#[allow(dead_code, unreachable_pub)]
mod example;

fn endpoint() -> Endpoint {
    Endpoint::new(
        Config::new(VERSION.parse().expect("valid")),
        example::registry(),
    )
}

/// What any application with RUES mounted must serve on its one listener:
/// its own `GET /hello` and a whole RUES session. Returns the session's
/// client, still open.
async fn serves_its_route_and_a_rues_session(addr: SocketAddr, endpoint: &Endpoint) -> Client {
    // The application's own route.
    let hello = http(addr, Method::GET, "/hello", &[], b"").await;
    assert_eq!(hello.status, StatusCode::OK);
    assert_eq!(hello.body.as_ref(), b"hello from the application");

    // A RUES session on the same listener.
    let mut client = Client::connect(&format!("ws://{addr}/on")).await;
    let subscribed = http(
        addr,
        Method::GET,
        "/on/clock/tick",
        &[("rusk-session-id", &client.session_text)],
        b"",
    )
    .await;
    assert_eq!(subscribed.status, StatusCode::OK);
    assert_eq!(subscribed.header("rusk-version"), Some(VERSION));

    // An event published by the application reaches it.
    example::tick(&endpoint.publisher());
    let event = client.next_event().await;
    assert!(
        event
            .content_location()
            .is_some_and(|location| location.starts_with("/on/clock:")),
        "{:?}",
        event.content_location()
    );
    assert_eq!(event.content_type(), Some("application/json"));

    // A dispatch.
    let now = http(addr, Method::POST, "/on/clock/now", &[], b"").await;
    assert_eq!(now.status, StatusCode::OK);
    assert!(now.json()["unix_seconds"].is_u64());

    // The core's answers hold when mounted: 426 on `/on`, 404 for an
    // unknown component.
    http(addr, Method::GET, "/on", &[], b"")
        .await
        .assert_error(StatusCode::UPGRADE_REQUIRED, "WebSocket upgrade");
    http(
        addr,
        Method::GET,
        "/on/nope/tick",
        &[("rusk-session-id", &client.session_text)],
        b"",
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "unknown component");
    assert!(endpoint.metrics().contains("sessions_opened"));
    client
}

/// Graceful shutdown, mounted: the host server's hook calls
/// `Endpoint::shutdown`, the session gets 1001, the server stops.
async fn stops_gracefully(
    stop: tokio::sync::oneshot::Sender<()>,
    client: &mut Client,
    server: tokio::task::JoinHandle<()>,
) {
    let _ = stop.send(());
    assert_eq!(client.close_code().await, Some(1001));
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("stopped in time")
        .expect("no panic");
}

#[tokio::test]
async fn the_axum_example_serves_its_own_route_and_rues_on_one_listener() {
    let endpoint = endpoint();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bound");
    let addr = listener.local_addr().expect("an address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn({
        let endpoint = endpoint.clone();
        let app = example::app(&endpoint);
        async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                    assert!(endpoint.shutdown(Duration::from_secs(5)).await);
                })
                .await
                .expect("served");
        }
    });
    let mut client = serves_its_route_and_a_rues_session(addr, &endpoint).await;

    stops_gracefully(stop, &mut client, server).await;
}

#[tokio::test]
async fn the_warp_filter_serves_rues_beside_a_warp_application() {
    let endpoint = endpoint();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bound");
    let addr = listener.local_addr().expect("an address");
    let hello = warp::path("hello").map(|| "hello from the application");
    let routes = hello.or(endpoint.filter());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn({
        let endpoint = endpoint.clone();
        warp::serve(routes)
            .incoming(listener)
            .graceful(async move {
                let _ = stopped.await;
                assert!(endpoint.shutdown(Duration::from_secs(5)).await);
            })
            .run()
    });
    let mut client = serves_its_route_and_a_rues_session(addr, &endpoint).await;

    // The inbound limit holds through warp's WebSocket too: 1009, from the core.
    let mut big = Client::connect(&format!("ws://{addr}/on")).await;
    big.send(tokio_tungstenite::tungstenite::Message::binary(vec![
        0u8;
        64 * 1024
            + 1
    ]))
    .await;
    assert_eq!(big.close_code().await, Some(1009));

    stops_gracefully(stop, &mut client, server).await;
}
