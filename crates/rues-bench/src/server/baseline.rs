//! (b) baseline: a minimal broadcast server on plain tokio-tungstenite, with
//! no protocol logic: the limit of this stack. A client subscribes by the
//! upgrade's path (`/all` or `/e/<i>`) and gets a Text `ok` once registered;
//! each event's payload is sent as one Binary message, the same `Bytes` to
//! every receiver, through an unbounded per-connection queue that the
//! connection's task drains in batches (feed, feed, ..., flush).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::control::{self, Outlet};

/// tokio-tungstenite's read buffer for these connections: 4 KiB (the
/// default is 128 KiB), as in the anchor figures for this stack's
/// idle memory, and as rues-warp configures its sessions.
pub(crate) const READ_BUFFER: usize = 4 * 1024;

type Tx = mpsc::UnboundedSender<Bytes>;

#[derive(Default)]
struct Hub {
    next_id: u64,
    /// Subscribers by key (`all`, `e<i>`), each with its connection id.
    topics: HashMap<String, Vec<(u64, Tx)>>,
}

fn lock(hub: &Mutex<Hub>) -> std::sync::MutexGuard<'_, Hub> {
    hub.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The socket config of every connection: the same buffer sizes and inbound
/// limit as rues-warp's sessions (4 KiB read buffer, writes of 16 KiB).
pub(crate) fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(16 * 1024)
        .max_message_size(Some(64 * 1024))
        .max_frame_size(Some(64 * 1024))
}

struct BaselineOutlet {
    hub: Arc<Mutex<Hub>>,
    keys: super::EntityNames,
}

impl Outlet for BaselineOutlet {
    fn publish(&mut self, entity: Option<u32>, payload: Bytes) {
        let key = self.keys.of(entity);
        let hub = lock(&self.hub);
        if let Some(subscribers) = hub.topics.get(key) {
            for (_, tx) in subscribers {
                let _ = tx.send(payload.clone());
            }
        }
    }
}

/// Runs the baseline server until the harness says `quit`.
pub(crate) async fn run() -> Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let hub = Arc::new(Mutex::new(Hub::default()));
    let accepting = {
        let hub = hub.clone();
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        tokio::spawn(connection(stream, hub.clone()));
                    }
                    Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
                }
            }
        })
    };
    let mut outlet = BaselineOutlet {
        hub,
        keys: super::EntityNames::default(),
    };
    let result = control::serve_orders(port, &mut outlet).await;
    accepting.abort();
    result
}

// tungstenite's handshake callback returns its (large) error response by value.
#[allow(clippy::result_large_err)]
async fn connection(stream: TcpStream, hub: Arc<Mutex<Hub>>) {
    let _ = stream.set_nodelay(true);
    let mut key = String::new();
    let callback = |request: &Request, response: Response| {
        let path = request.uri().path();
        key = match path.strip_prefix("/e/") {
            Some(entity) => format!("e{entity}"),
            None => "all".to_owned(),
        };
        Ok(response)
    };
    let Ok(socket) =
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(ws_config())).await
    else {
        return;
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
    let id = {
        let mut hub = lock(&hub);
        hub.next_id += 1;
        let id = hub.next_id;
        hub.topics.entry(key.clone()).or_default().push((id, tx));
        id
    };
    let (mut sink, mut stream) = socket.split();
    if sink.send(Message::text("ok")).await.is_ok() {
        loop {
            tokio::select! {
                frame = rx.recv() => {
                    let Some(frame) = frame else { break };
                    if sink.feed(Message::binary(frame)).await.is_err() {
                        break;
                    }
                    let mut failed = false;
                    for _ in 0..64 {
                        let Ok(frame) = rx.try_recv() else { break };
                        if sink.feed(Message::binary(frame)).await.is_err() {
                            failed = true;
                            break;
                        }
                    }
                    if failed || sink.flush().await.is_err() {
                        break;
                    }
                }
                inbound = stream.next() => match inbound {
                    Some(Ok(message)) if !message.is_close() => {}
                    _ => break,
                },
            }
        }
    }
    {
        let mut hub = lock(&hub);
        if let Some(subscribers) = hub.topics.get_mut(&key) {
            subscribers.retain(|(other, _)| *other != id);
        }
    }
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), sink.close()).await;
}
