//! Embedding RUES in an application: register components and handlers, get
//! a publisher, publish events, serve until Ctrl-C.
//!
//! ```sh
//! cargo run -p rues-warp --example embed
//! # another terminal: open a session and subscribe
//! npx wscat -c ws://127.0.0.1:8090/on          # prints the session id
//! curl -H "Rusk-Session-Id: <id>" http://127.0.0.1:8090/on/clock/tick
//! curl -X POST http://127.0.0.1:8090/on/clock/now
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use rues_core::rues_target::{Component, EventPath, Topic};
use rues_core::{ComponentSpec, Config, DispatchRequest, EntityRule, Event, Registry, Reply};
use rues_warp::{Server, TransportConfig};

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // One component, `clock`, with an event topic `tick` (entity optional:
    // each tick's entity is its second, so `clock/tick` gets them all and
    // `clock:<second>/tick` one of them) and a dispatch topic `now`.
    let registry = Registry::new().with(
        ComponentSpec::new(Component::new("clock")?)
            .entity(EntityRule::Optional)
            .topic(Topic::new("tick")?)
            .handler(Topic::new("now")?, |_request: DispatchRequest| async {
                Ok(Reply::json(
                    &serde_json::json!({ "unix_seconds": unix_seconds() }),
                ))
            }),
    );
    let server = Server::bind(
        Config::new("1.0.0".parse()?),
        registry,
        TransportConfig::new("127.0.0.1:8090".parse()?),
    )
    .await?;
    println!("listening on http://{}/on", server.local_addr());

    // The application publishes through a cheap, cloneable handle. Publishing
    // never waits on a client.
    let publisher = server.publisher();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_secs(1));
        loop {
            interval.tick().await;
            let second = unix_seconds();
            let Ok(path) = EventPath::parse(&format!("/on/clock:{second}/tick")) else {
                continue;
            };
            let payload = Bytes::from(serde_json::json!({ "unix_seconds": second }).to_string());
            match publisher.publish(&Event::new(path, "application/json", payload)) {
                Ok(published) => println!("tick {second}: {} receivers", published.receivers),
                Err(error) => eprintln!("tick {second} not published: {error}"),
            }
        }
    });

    server.run(rues_warp::shutdown_signal()).await;
    Ok(())
}
