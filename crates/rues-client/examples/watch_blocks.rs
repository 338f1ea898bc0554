//! Watches accepted blocks on a RUES node and prints their heights.
//!
//! ```text
//! cargo run -p rues -- serve &          # the demo node, on 127.0.0.1:8080
//! cargo run -p rues-client --example watch_blocks [NODE_URL] [COUNT]
//! ```
//!
//! The session reconnects if the node restarts; the gap is reported.

use futures_util::StreamExt;
use rues_client::Client;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let count: usize = match args.next() {
        Some(count) => count.parse()?,
        None => 5,
    };

    let client = Client::builder(&url).reconnect(true).connect().await?;
    println!("session {} on {}", client.session_id(), client.url());

    let mut blocks = client.subscribe("blocks/accepted").await?;
    let mut seen = 0;
    while let Some(item) = blocks.next().await {
        match item {
            Ok(event) => {
                let block: serde_json::Value = event.json()?;
                println!(
                    "{}  height {}",
                    event.content_location(),
                    block["header"]["height"]
                );
                seen += 1;
                if seen == count {
                    break;
                }
            }
            Err(gap) => eprintln!("note: {gap}"),
        }
    }
    if let Some(error) = blocks.error() {
        return Err(error.into());
    }
    // Unsubscribe and close politely (dropping both would do it too).
    blocks.unsubscribe().await?;
    client.close().await;
    Ok(())
}
