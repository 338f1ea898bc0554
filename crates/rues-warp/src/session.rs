//! One task per WebSocket session: sends the session id, writes what the
//! session's outbox yields (frames, pings, the close) as fast as the socket
//! takes it, and reports what the socket does to the core.
//!
//! Every close code comes from the core: the task reports transport facts
//! ([`SocketEnd`]) and sends whatever [`Transmit::Close`] then says.

use std::future::poll_fn;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use rues_core::http::HeaderMap;
use rues_core::{CloseReason, NewSession, Outbox, Response, SessionId, SocketEnd, Transmit};
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::state::Shared;

/// A session's socket, as the session task needs it: tungstenite messages
/// in and out. The hyper-level upgrade gives tungstenite's own stream; the
/// warp filter adapts warp's (see `filter.rs`).
pub(crate) trait Socket:
    Stream<Item = Result<Message, Self::Failure>>
    + Sink<Message, Error = Self::Failure>
    + Send
    + Unpin
    + 'static
{
    /// What reads and writes fail with.
    type Failure: ReadError;
}

impl<S, E> Socket for S
where
    S: Stream<Item = Result<Message, E>> + Sink<Message, Error = E> + Send + Unpin + 'static,
    E: ReadError,
{
    type Failure = E;
}

/// What a failed read says about the socket.
pub(crate) trait ReadError: Send + 'static {
    /// The transport fact to report to the core.
    fn socket_end(&self) -> SocketEnd;
}

impl ReadError for WsError {
    /// tungstenite refuses frames over the limit it was configured with
    /// (the core's inbound limit) and frames that break RFC 6455; anything
    /// else means the socket is gone. A TCP close without a Close frame is
    /// a `Protocol` error to tungstenite, but to the node it is a client
    /// that went away, not one that broke the protocol: nothing it sent was
    /// refused.
    fn socket_end(&self) -> SocketEnd {
        match self {
            WsError::Capacity(_) => SocketEnd::FrameTooBig,
            WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => SocketEnd::Vanished,
            WsError::Protocol(_) | WsError::Utf8(_) => SocketEnd::ProtocolViolation,
            _ => SocketEnd::Vanished,
        }
    }
}

/// The most bytes taken from the outbox at a time: big enough to batch
/// writes, small enough that the outbox (not the socket) holds the backlog,
/// so the core's slow-consumer budget means what it says.
const DRAIN_BATCH_BYTES: usize = 64 * 1024;

/// How long a Close frame may take to get out before the socket is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// A session being served: its id and outbox. Dropping it reports the
/// socket gone, so nothing outlives its socket, not even a session whose
/// upgrade never completed (the client vanished between the 101 and the
/// first byte). Reporting twice is harmless: the core ignores sessions it
/// has released.
pub(crate) struct SessionGuard {
    pub(crate) shared: Arc<Shared>,
    pub(crate) id: SessionId,
    pub(crate) outbox: Outbox,
}

impl SessionGuard {
    /// Asks the core to open a session for an upgrade on `path`: the guard
    /// of the new session and the inbound limit to configure the WebSocket
    /// layer with, or the core's refusal (400 for malformed handshake
    /// headers, 404 off `/on`, 403, 503).
    // The refusal is the core's `Err(Response)`, moved once to the caller
    // (as in rues-core, boxing it would only add an allocation).
    #[allow(clippy::result_large_err)]
    pub(crate) fn open(
        shared: &Arc<Shared>,
        path: &str,
        headers: &HeaderMap,
        peer: Option<std::net::IpAddr>,
    ) -> Result<(Self, usize), Response> {
        let mut node = shared.node();
        let limit = node.config().limits.max_inbound_frame;
        node.check_handshake(headers)?;
        let NewSession { id, outbox, .. } =
            node.handle_upgrade(Instant::now(), path, headers, peer)?;
        drop(node);
        shared.session_opened();
        let guard = Self {
            shared: shared.clone(),
            id,
            outbox,
        };
        Ok((guard, limit))
    }

    /// Reports how the socket ended and returns the reason the core closed
    /// the session with (which may be an earlier one, e.g. 4008, if the core
    /// had closed it first).
    fn end(&self, end: SocketEnd) -> CloseReason {
        self.shared.node().handle_closed(self.id, end);
        self.outbox
            .close_reason()
            .unwrap_or(CloseReason::Disconnected)
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.shared
            .node()
            .handle_closed(self.id, SocketEnd::Vanished);
    }
}

/// Runs a session until its socket closes.
pub(crate) async fn run<S: Socket>(guard: SessionGuard, socket: S) {
    let id = guard.id;
    let (mut sink, mut stream) = socket.split();
    tracing::debug!(session = %id, "session opened");
    let reason = if sink.send(Message::text(id.to_string())).await.is_err() {
        guard.end(SocketEnd::Vanished)
    } else {
        drive(&guard, &mut sink, &mut stream).await
    };
    // The core has released the session by now, so its id is invalid
    // before the socket says goodbye.
    match reason.code() {
        Some(code) => {
            // The closing handshake: send Close, then read until the
            // client's Close (or EOF) so the socket is not torn down with
            // unread data, which would reset the connection and lose our
            // Close frame.
            let _ = tokio::time::timeout(CLOSE_GRACE, async {
                let frame = CloseFrame {
                    code: code.into(),
                    reason: reason.text().into(),
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
        }
        // The client closed (tungstenite has already queued the echo of its
        // Close, same code, RFC 6455 §5.5.1, which this flushes) or the
        // socket is gone.
        None => {
            let _ = tokio::time::timeout(CLOSE_GRACE, sink.close()).await;
        }
    }
    tracing::debug!(session = %id, ?reason, "session closed");
}

/// Serves the session until it is over; returns the core's reason.
async fn drive<S: Socket>(
    guard: &SessionGuard,
    sink: &mut SplitSink<S, Message>,
    stream: &mut SplitStream<S>,
) -> CloseReason {
    let outbox = &guard.outbox;
    let mut batch: Vec<Bytes> = Vec::new();
    loop {
        tokio::select! {
            // A close from the core first, then the client's frames, then
            // output. (All three wait on this task's one waker: the outbox
            // keeps the one the last poll left, here `poll_next`'s.)
            biased;
            reason = poll_fn(|cx| outbox.poll_closed(cx)) => return reason,
            inbound = stream.next() => {
                let end = match inbound {
                    Some(Ok(message)) if !message.is_close() => {
                        // Pings are answered by tungstenite itself; text and
                        // binary frames are accepted and ignored (w3sper's
                        // keep-alive). Each is a sign of life.
                        guard.shared.node().handle_inbound(guard.id, Instant::now());
                        continue;
                    }
                    Some(Ok(_close)) => SocketEnd::ClientClose,
                    Some(Err(error)) => error.socket_end(),
                    None => SocketEnd::Vanished,
                };
                return guard.end(end);
            }
            first = poll_fn(|cx| outbox.poll_next(cx, DRAIN_BATCH_BYTES, &mut batch)) => {
                // Write output after output while the outbox has more, then
                // go back to waiting. A socket that stops taking data blocks
                // only this task; the core keeps queueing and closes the
                // session with 4008 once its budget is spent, which ends the
                // race below.
                let write = write_all(outbox, sink, &mut batch, first);
                tokio::select! {
                    biased;
                    reason = poll_fn(|cx| outbox.poll_closed(cx)) => return reason,
                    written = write => match written {
                        Ok(None) => {}
                        Ok(Some(reason)) => return reason,
                        Err(_) => return guard.end(SocketEnd::Vanished),
                    },
                }
            }
        }
    }
}

/// Writes `first` and every output the outbox has after it, flushing after
/// each; `Some` when the outbox says the session is closed.
async fn write_all<S: Socket>(
    outbox: &Outbox,
    sink: &mut SplitSink<S, Message>,
    batch: &mut Vec<Bytes>,
    first: Transmit,
) -> Result<Option<CloseReason>, S::Failure> {
    let mut next = Some(first);
    while let Some(transmit) = next {
        match transmit {
            Transmit::Close(reason) => return Ok(Some(reason)),
            Transmit::Ping => sink.feed(Message::Ping(Bytes::new())).await?,
            Transmit::Frames(_) => {
                for frame in batch.drain(..) {
                    sink.feed(Message::Binary(frame)).await?;
                }
            }
            // `Transmit` is non-exhaustive: an output this adapter does not
            // know yet has nothing to write.
            _ => {}
        }
        sink.flush().await?;
        next = outbox.try_next(DRAIN_BATCH_BYTES, batch);
    }
    Ok(None)
}
