//! (c) the NATS publisher: a NATS client speaking the raw text protocol over
//! TCP to nats-server (`CONNECT`, then `PUB <subject> <len>` per event,
//! answering the server's `PING`s), driven by the same publish orders as the
//! other servers. The subscribers speak NATS over nats-server's WebSocket
//! listener (see `client`).

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::Mutex;

use crate::control::{self, Outlet};

struct NatsOutlet {
    writer: Arc<Mutex<OwnedWriteHalf>>,
    buffer: Vec<u8>,
}

impl Outlet for NatsOutlet {
    fn publish(&mut self, entity: Option<u32>, payload: Bytes) {
        let subject = super::entity_name(entity);
        self.buffer
            .extend_from_slice(format!("PUB bench.{subject} {}\r\n", payload.len()).as_bytes());
        self.buffer.extend_from_slice(&payload);
        self.buffer.extend_from_slice(b"\r\n");
    }

    async fn flush(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let mut writer = self.writer.lock().await;
        writer.write_all(&self.buffer).await?;
        self.buffer.clear();
        Ok(())
    }
}

/// Connects to nats-server at `addr` and publishes what the harness orders.
pub(crate) async fn run(addr: &str) -> Result<()> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("cannot connect to nats-server at {addr}"))?;
    stream.set_nodelay(true)?;
    let (read, write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let info = lines.next_line().await?.unwrap_or_default();
    if !info.starts_with("INFO") {
        bail!("nats-server said `{info}` instead of INFO");
    }
    let writer = Arc::new(Mutex::new(write));
    writer
        .lock()
        .await
        .write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":false,\"protocol\":1,\"name\":\"rues-bench\"}\r\nPING\r\n")
        .await?;
    let pong = lines.next_line().await?.unwrap_or_default();
    if pong != "PONG" {
        bail!("nats-server said `{pong}` instead of PONG");
    }
    // Answer the server's keep-alive pings for as long as we run.
    let keep_alive = {
        let writer = writer.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if line == "PING" {
                    let _ = writer.lock().await.write_all(b"PONG\r\n").await;
                } else if line.starts_with("-ERR") {
                    eprintln!("rues-bench nats-pub: nats-server: {line}");
                }
            }
        })
    };
    let mut outlet = NatsOutlet {
        writer,
        buffer: Vec::new(),
    };
    let port = addr
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or(0);
    let result = control::serve_orders(port, &mut outlet).await;
    keep_alive.abort();
    result
}
