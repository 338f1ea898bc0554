//! Calls a few of a node's dispatch handlers: JSON, binary, and an error.
//!
//! ```text
//! cargo run -p rues -- serve &          # the demo node, on 127.0.0.1:8080
//! cargo run -p rues-client --example dispatch [NODE_URL]
//! ```
//!
//! No WebSocket session is opened: a [`Dispatcher`] is HTTP only.

use rues_client::{Dispatcher, Error};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let node = Dispatcher::new(&url)?;

    // A JSON reply.
    let reply = node.dispatch("node/info", ()).await?;
    let info: serde_json::Value = reply.json()?;
    println!(
        "node/info ({}): {}",
        reply.content_type().unwrap_or("?"),
        serde_json::to_string_pretty(&info)?
    );

    // A binary reply comes raw.
    let crs = node.dispatch("node/crs", ()).await?;
    println!(
        "node/crs: {} bytes, binary: {}",
        crs.body().len(),
        crs.is_binary()
    );

    // An error carries the node's status and message.
    match node.dispatch("nope/info", ()).await {
        Err(Error::Status {
            status, message, ..
        }) => println!("nope/info: {status}: {message}"),
        other => println!("nope/info: unexpected {other:?}"),
    }
    Ok(())
}
