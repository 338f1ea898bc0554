//! Mounting RUES into an existing axum application: the app keeps its own
//! routes (`GET /hello`) and serves RUES on the same listener, with one
//! publisher and one graceful shutdown.
//!
//! ```sh
//! cargo run -p rues-warp --example axum
//! # another terminal:
//! curl http://127.0.0.1:8091/hello
//! npx wscat -c ws://127.0.0.1:8091/on          # prints the session id
//! curl -H "Rusk-Session-Id: <id>" http://127.0.0.1:8091/on/clock/tick
//! curl -X POST http://127.0.0.1:8091/on/clock/now
//! ```
//!
//! `crates/rues-warp/tests/it/mount.rs` runs this application in a test.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use rues_core::rues_target::{Component, EventPath, Topic};
use rues_core::{ComponentSpec, Config, DispatchRequest, EntityRule, Event, Registry, Reply};
use rues_warp::{Endpoint, Publisher};

/// The RUES side of the application: a `clock` component with an event
/// topic `tick` and a dispatch topic `now`.
pub fn registry() -> Registry {
    let name = |s: &str| Component::new(s).expect("a valid component name");
    let topic = |s: &str| Topic::new(s).expect("a valid topic");
    Registry::new().with(
        ComponentSpec::new(name("clock"))
            .entity(EntityRule::Optional)
            .topic(topic("tick"))
            .handler(topic("now"), |_request: DispatchRequest| async {
                Ok(Reply::json(
                    &serde_json::json!({ "unix_seconds": unix_seconds() }),
                ))
            }),
    )
}

/// The application: its own route, and RUES on `/on` and `/on/...`.
pub fn app(endpoint: &Endpoint) -> Router {
    Router::new()
        .route("/hello", get(|| async { "hello from the application" }))
        .route_service("/on", endpoint.service())
        .route_service("/on/{*rest}", endpoint.service())
}

/// Publishes one `clock:<second>/tick` event.
pub fn tick(publisher: &Publisher) {
    let second = unix_seconds();
    let path = format!("/on/clock:{second}/tick");
    let Ok(path) = EventPath::parse(&path) else {
        return;
    };
    let payload = Bytes::from(serde_json::json!({ "unix_seconds": second }).to_string());
    // Publishing never waits on a client; an encode error cannot happen
    // for these small headers.
    let _ = publisher.publish(&Event::new(path, "application/json", payload));
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = Endpoint::new(Config::new("1.0.0".parse()?), registry());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8091").await?;
    println!(
        "listening on http://{}/hello and /on",
        listener.local_addr()?
    );

    let publisher = endpoint.publisher();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_secs(1));
        loop {
            ticks.tick().await;
            tick(&publisher);
        }
    });

    let app = app(&endpoint);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            rues_warp::shutdown_signal().await;
            // Every session gets its 1001 before the server stops.
            endpoint.shutdown(Duration::from_secs(10)).await;
        })
        .await?;
    Ok(())
}
