//! One task per WebSocket session: sends the session id, drains the core's
//! queue to the socket as fast as the socket takes it, answers the core's
//! pings and closes, and feeds inbound frames back to the core.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use rues_core::{CloseReason, Outbox, SessionId};
use tokio::sync::futures::Notified;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::state::{SessionSignal, Shared};

/// A session's socket: tungstenite over the connection hyper upgraded.
pub(crate) type WebSocket = tokio_tungstenite::WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// The most bytes moved from the core's queue per lock: big enough to batch
/// writes, small enough that the queue (not the socket) holds the backlog, so
/// the core's slow-consumer budget means what it says.
const DRAIN_BATCH_BYTES: usize = 64 * 1024;

/// How long a Close frame may take to get out before the socket is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Releases the session in the core if the upgrade never completes (the
/// client vanished between the 101 and the first byte): nothing outlives
/// its socket, not even a half-opened one.
pub(crate) struct SessionGuard {
    pub(crate) shared: Arc<Shared>,
    pub(crate) id: SessionId,
    pub(crate) signal: Arc<SessionSignal>,
    /// The session's frames, drained without locking the core.
    pub(crate) outbox: Outbox,
    reason: CloseReason,
}

impl SessionGuard {
    pub(crate) fn new(
        shared: Arc<Shared>,
        id: SessionId,
        signal: Arc<SessionSignal>,
        outbox: Outbox,
    ) -> Self {
        Self {
            shared,
            id,
            signal,
            outbox,
            reason: CloseReason::Disconnected,
        }
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.shared.session_ended(self.id, self.reason);
    }
}

enum End {
    /// The core closed the session: send a Close frame with its code.
    Core(CloseReason),
    /// The client sent Close.
    Client,
    /// The client sent a frame over the limit: close with 1009.
    TooBig,
    /// The client broke the WebSocket protocol: close with 1002.
    Protocol,
    /// The socket failed or reached EOF: nothing to send.
    Gone,
}

/// Runs a session until its socket closes.
pub(crate) async fn run(mut guard: SessionGuard, socket: WebSocket) {
    let id = guard.id;
    let (mut sink, mut stream) = socket.split();
    tracing::debug!(session = %id, "session opened");
    let end = if sink.send(Message::text(id.to_string())).await.is_err() {
        End::Gone
    } else {
        drive(&guard, &mut sink, &mut stream).await
    };
    let (reason, close) = match end {
        End::Core(reason) => (reason, reason.code().map(|c| (c, reason.text().to_owned()))),
        // tungstenite has already queued the echo of the client's Close
        // (same code, RFC 6455 §5.5.1); flushing it below sends it.
        End::Client => (CloseReason::ClientClosed, None),
        End::TooBig | End::Protocol => {
            let reason = if matches!(end, End::TooBig) {
                CloseReason::MessageTooBig
            } else {
                CloseReason::ProtocolError
            };
            (reason, reason.code().map(|c| (c, reason.text().to_owned())))
        }
        End::Gone => (CloseReason::Disconnected, None),
    };
    // Release first, so the id is invalid before the socket says goodbye.
    guard.reason = reason;
    guard.shared.session_ended(id, reason);
    if let Some((code, text)) = close {
        // The closing handshake: send Close, then read until the client's
        // Close (or EOF) so the socket is not torn down with unread data,
        // which would reset the connection and lose our Close frame.
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            let frame = CloseFrame {
                code: code.into(),
                reason: text.into(),
            };
            if sink.send(Message::Close(Some(frame))).await.is_err() {
                return;
            }
            while let Some(Ok(message)) = stream.next().await {
                if message.is_close() {
                    break;
                }
            }
            let _ = sink.close().await;
        })
        .await;
    } else {
        let _ = tokio::time::timeout(CLOSE_GRACE, sink.close()).await;
    }
    tracing::debug!(session = %id, ?reason, "session closed");
}

type Sink = futures_util::stream::SplitSink<WebSocket, Message>;
type Stream = futures_util::stream::SplitStream<WebSocket>;

async fn drive(guard: &SessionGuard, sink: &mut Sink, stream: &mut Stream) -> End {
    let shared = &guard.shared;
    let id = guard.id;
    let signal = &guard.signal;
    let outbox = &guard.outbox;
    let mut batch: Vec<Bytes> = Vec::new();
    // Both waits live across iterations: a `Notified` registers with its
    // `Notify` once, not on every wake-up of this (busy) loop.
    let closed = signal.closed.notified();
    let ping = signal.ping.notified();
    tokio::pin!(closed, ping);
    loop {
        tokio::select! {
            // A close from the core, then the client's frames, then pings
            // win over more sending.
            biased;
            () = &mut closed => {
                if let Some(reason) = signal.take_close() {
                    return End::Core(reason);
                }
                closed.set(signal.closed.notified());
            }
            inbound = stream.next() => {
                let message = match inbound {
                    Some(Ok(message)) => message,
                    Some(Err(error)) => return classify_read_error(&error),
                    None => return End::Gone,
                };
                let len = message.len();
                shared.with_core(|node| {
                    // The session may already be released (closed by the
                    // core); the close signal tells the loop.
                    let _ = node.handle_inbound(id, Shared::now(), len);
                });
                if message.is_close() {
                    return End::Client;
                }
                // Pings are answered by tungstenite itself; text and binary
                // frames are accepted and ignored (w3sper's keep-alive).
            }
            () = &mut ping => {
                ping.set(signal.ping.notified());
                let pending = signal.take();
                if let Some(reason) = pending.close {
                    return End::Core(reason);
                }
                if pending.ping {
                    let send = sink.send(Message::Ping(Bytes::new()));
                    if let Some(end) = until_closed(signal, closed.as_mut(), send).await {
                        return end;
                    }
                }
            }
            // The outbox had frames, or its first frame woke this task.
            _ = std::future::poll_fn(|cx| outbox.poll_drain(cx, DRAIN_BATCH_BYTES, &mut batch)) => {
                // Send batch after batch while the outbox has more, then go
                // back to waiting. A socket that stops taking data blocks only
                // this task; the core keeps queueing and closes the session
                // with 4008 once its budget is spent, which interrupts the
                // write below.
                let write = async {
                    while !batch.is_empty() {
                        for frame in batch.drain(..) {
                            sink.feed(Message::Binary(frame)).await?;
                        }
                        sink.flush().await?;
                        outbox.drain(DRAIN_BATCH_BYTES, &mut batch);
                    }
                    Ok::<(), WsError>(())
                };
                if let Some(end) = until_closed(signal, closed.as_mut(), write).await {
                    return end;
                }
            }
        }
    }
}

/// Runs a write until it ends or the core closes the session, whichever
/// comes first; `Some` when the session must end.
async fn until_closed<'s>(
    signal: &'s SessionSignal,
    mut closed: Pin<&mut Notified<'s>>,
    write: impl Future<Output = Result<(), WsError>>,
) -> Option<End> {
    tokio::pin!(write);
    loop {
        tokio::select! {
            result = &mut write => return result.is_err().then_some(End::Gone),
            () = &mut closed => {
                if let Some(reason) = signal.take_close() {
                    return Some(End::Core(reason));
                }
                closed.set(signal.closed.notified());
            }
        }
    }
}

fn classify_read_error(error: &WsError) -> End {
    match error {
        // A frame or message over `max_frame_size` / `max_message_size`.
        WsError::Capacity(_) => End::TooBig,
        WsError::Protocol(_) | WsError::Utf8(_) => End::Protocol,
        _ => End::Gone,
    }
}
