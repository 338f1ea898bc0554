//! One task per WebSocket session: sends the session id, writes what the
//! session's outbox yields (frames, pings, the close) as fast as the socket
//! takes it, reads what the client sends, and reports what the socket does
//! to the core.
//!
//! Every close code comes from the core: the task reports transport facts
//! ([`SocketEnd`]) and sends whatever [`Transmit::Close`] then says.
//!
//! The task owns the upgraded byte stream itself. Output goes through the
//! frame writer (`ws_write`): the outbox's frames are the core's shared
//! encodings of events, written with a header in front and never copied
//! per session. Input is read into a per-thread scratch buffer when the
//! socket is readable and checked frame by frame as it passes (`ws_read`).
//! So a session that is not receiving holds no buffer of its own: its
//! state is its [`Wire`], a few hundred bytes, plus what its outbox queues.

use std::cell::RefCell;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rues_core::http::HeaderMap;
use rues_core::{CloseReason, NewSession, Outbox, Response, SessionId, SocketEnd, Transmit};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::state::Shared;
use crate::ws_read::{Reader, Received};
use crate::ws_write::{Opcode, Writer};

/// A session's socket: the upgraded connection's bytes, both ways.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// The most bytes taken from the outbox at a time: big enough to batch
/// writes, small enough that the outbox (not the socket) holds the backlog,
/// so the core's slow-consumer budget means what it says.
const DRAIN_BATCH_BYTES: usize = 64 * 1024;

/// How long a Close frame may take to get out before the socket is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Bytes read from a socket at a time, into the thread's scratch buffer.
const READ_CHUNK: usize = 16 * 1024;

/// Reads, and writes, per wake-up: a client that sends without pause, or an
/// outbox that never runs dry, gives the other tasks their turn after this
/// many.
const ROUNDS: usize = 16;

thread_local! {
    /// What sessions on this thread read into. It holds bytes only while
    /// one session handles what it just read, so no session keeps a read
    /// buffer of its own.
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_CHUNK].into_boxed_slice());
}

/// A session being served: its id and outbox. Dropping it reports the
/// socket gone, so nothing outlives its socket, not even a session whose
/// upgrade never completed (the client vanished between the 101 and the
/// first byte). Reporting twice is harmless: the core ignores sessions it
/// has released.
pub(crate) struct SessionGuard {
    pub(crate) shared: Arc<Shared>,
    pub(crate) id: SessionId,
    pub(crate) outbox: Outbox,
    /// The inbound limit: larger frames and messages close with 1009.
    pub(crate) max_inbound: usize,
}

impl SessionGuard {
    /// Asks the core to open a session for an upgrade on `path`: the guard
    /// of the new session, or the core's refusal (400 for malformed
    /// handshake headers, 404 off `/on`, 403, 503).
    // The refusal is the core's `Err(Response)`, moved once to the caller
    // (as in rues-core, boxing it would only add an allocation).
    #[allow(clippy::result_large_err)]
    pub(crate) fn open(
        shared: &Arc<Shared>,
        path: &str,
        headers: &HeaderMap,
        peer: Option<std::net::IpAddr>,
    ) -> Result<Self, Response> {
        let mut node = shared.node();
        let limit = node.config().limits.max_inbound_frame;
        node.check_handshake(headers)?;
        let NewSession { id, outbox, .. } =
            node.handle_upgrade(Instant::now(), path, headers, peer)?;
        drop(node);
        shared.session_opened();
        Ok(Self {
            shared: shared.clone(),
            id,
            outbox,
            max_inbound: limit,
        })
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
pub(crate) async fn run<S: Io>(guard: SessionGuard, mut io: S) {
    let id = guard.id;
    tracing::debug!(session = %id, "session opened");
    // In a cluster, the id is sent once every node can find the session's
    // owner: a request naming it may land anywhere right after.
    if let Some(backplane) = guard.shared.backplane() {
        backplane.sessions_settled().await;
    }
    let mut wire = Wire::new(guard.max_inbound);
    wire.writer.push(Opcode::Text, Bytes::from(id.to_string()));
    let reason = poll_fn(|cx| wire.poll_serve(cx, &mut io, &guard)).await;
    // The core has released the session by now, so its id is invalid
    // before the socket says goodbye.
    let (close, await_reply) = match reason.code() {
        // The closing handshake: our Close, then read until the client's
        // Close (or EOF) so the socket is not torn down with unread data,
        // which would reset the connection and lose our Close frame.
        Some(code) => (Some(close_payload(code, reason.text())), true),
        // The client closed (its Close is echoed, same code, RFC 6455
        // §5.5.1), or the socket is gone.
        None => (wire.echo.take(), false),
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, wire.close(&mut io, close, await_reply)).await;
    tracing::debug!(session = %id, ?reason, "session closed");
}

/// A Close frame's payload: the code, then as much of the reason as fits
/// in a control frame (125 bytes in all), cut at a character boundary.
fn close_payload(code: u16, reason: &str) -> Bytes {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(&reason.as_bytes()[..end]);
    Bytes::from(payload)
}

/// A session's WebSocket state between wake-ups: no buffers, only what
/// is under way.
pub(crate) struct Wire {
    reader: Reader,
    writer: Writer,
    /// Frames just taken from the outbox; empty, with no allocation, while
    /// the session is idle.
    batch: Vec<Bytes>,
    /// The Pong owed for the client's latest Ping: one at most, however
    /// many Pings a client sends while its socket takes nothing.
    pong: Option<Bytes>,
    /// The client's Close, to echo.
    echo: Option<Bytes>,
    /// Written since the last flush.
    unflushed: bool,
}

impl Wire {
    pub(crate) fn new(max_inbound: usize) -> Self {
        Self {
            reader: Reader::new(max_inbound),
            writer: Writer::default(),
            batch: Vec::new(),
            pong: None,
            echo: None,
            unflushed: false,
        }
    }

    /// Heap bytes the session's WebSocket state holds.
    #[cfg(test)]
    fn heap_bytes(&self) -> usize {
        self.reader.heap_bytes()
            + self.writer.heap_bytes()
            + self.batch.capacity() * std::mem::size_of::<Bytes>()
            + self.pong.as_ref().map_or(0, Bytes::len)
    }

    /// Serves the session until it is over; ready with the core's reason.
    /// A close from the core comes first, then what the client sent, then
    /// output. Output is written as long as the outbox has more and the
    /// socket takes it; a socket that stops taking it blocks only this
    /// session, which keeps reading while the core keeps queueing, until
    /// the core closes it with 4008 once its budget is spent.
    fn poll_serve<S: Io>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut S,
        guard: &SessionGuard,
    ) -> Poll<CloseReason> {
        let outbox = &guard.outbox;
        if let Some(reason) = outbox.close_reason() {
            return Poll::Ready(reason);
        }
        let mut received = Received::default();
        let read = read_available(Some(&mut self.reader), cx, io, &mut received);
        if received.alive {
            // Text and binary frames are accepted and ignored (w3sper's
            // keep-alive); every frame is a sign of life.
            guard.shared.node().handle_inbound(guard.id, Instant::now());
        }
        if let Some(ping) = received.ping {
            self.pong = Some(ping);
        }
        if let Some(echo) = received.close {
            self.echo = Some(echo);
            return Poll::Ready(guard.end(SocketEnd::ClientClose));
        }
        if let Err(end) = read {
            return Poll::Ready(guard.end(end));
        }
        for _ in 0..ROUNDS {
            if self.writer.is_empty() {
                if let Some(pong) = self.pong.take() {
                    self.writer.push(Opcode::Pong, pong);
                } else {
                    match outbox.poll_next(cx, DRAIN_BATCH_BYTES, &mut self.batch) {
                        Poll::Ready(Transmit::Close(reason)) => return Poll::Ready(reason),
                        Poll::Ready(Transmit::Ping) => self.writer.push(Opcode::Ping, Bytes::new()),
                        Poll::Ready(Transmit::Frames(_)) => {
                            for frame in self.batch.drain(..) {
                                self.writer.push(Opcode::Binary, frame);
                            }
                        }
                        // `Transmit` is non-exhaustive: an output this
                        // adapter does not know yet has nothing to write.
                        Poll::Ready(_) => continue,
                        Poll::Pending => return self.poll_idle(cx, io, guard),
                    }
                }
            }
            match self.writer.poll_write(cx, io) {
                Poll::Ready(Ok(())) => self.unflushed = true,
                Poll::Ready(Err(_)) => return Poll::Ready(guard.end(SocketEnd::Vanished)),
                // Woken by the socket when it takes more, or by the close.
                Poll::Pending => return outbox.poll_closed(cx),
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Nothing left to write: flushes, lets the write state go, and waits
    /// (woken by the outbox's next output or the client's next bytes).
    fn poll_idle<S: Io>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut S,
        guard: &SessionGuard,
    ) -> Poll<CloseReason> {
        self.batch = Vec::new();
        self.writer.release();
        if self.unflushed {
            match Pin::new(io).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(_)) => return Poll::Ready(guard.end(SocketEnd::Vanished)),
                Poll::Pending => {}
            }
        }
        Poll::Pending
    }

    /// Ends the connection: writes what was under way and `close` if any,
    /// then (when the close is ours) reads until the client's Close or
    /// EOF, then shuts the socket down.
    async fn close<S: Io>(&mut self, io: &mut S, close: Option<Bytes>, await_reply: bool) {
        self.pong = None;
        if let Some(payload) = close {
            self.writer.push(Opcode::Close, payload);
        }
        if poll_fn(|cx| self.writer.poll_write(cx, io)).await.is_err() || io.flush().await.is_err()
        {
            return;
        }
        self.writer.release();
        if await_reply {
            // Bytes the reader refuses (what made us close, say) are read
            // and dropped until EOF: the client's Close cannot be found in
            // them any more, but unread data would still reset the
            // connection.
            let mut reader = Some(&mut self.reader);
            poll_fn(|cx| {
                loop {
                    let mut received = Received::default();
                    match read_available(reader.as_deref_mut(), cx, io, &mut received) {
                        Ok(()) if received.close.is_some() => return Poll::Ready(()),
                        Ok(()) => return Poll::Pending,
                        Err(SocketEnd::Vanished) => return Poll::Ready(()),
                        Err(_) => reader = None,
                    }
                }
            })
            .await;
        }
        let _ = io.shutdown().await;
    }
}

/// Reads what the socket has, up to [`ROUNDS`] times, into the thread's
/// scratch buffer, and feeds it to `reader` (or drops it, without one);
/// stops early at the client's Close. `Err` when the socket ended (EOF, an
/// error: [`SocketEnd::Vanished`]) or the client broke the rules.
fn read_available<S: AsyncRead + Unpin>(
    mut reader: Option<&mut Reader>,
    cx: &mut Context<'_>,
    io: &mut S,
    received: &mut Received,
) -> Result<(), SocketEnd> {
    SCRATCH.with(|cell| {
        let mut own = Vec::new();
        let mut borrowed = cell.try_borrow_mut();
        let scratch: &mut [u8] = match &mut borrowed {
            Ok(scratch) => scratch,
            // Only if a stream's read came back into a session on the same
            // thread: then this read pays for a buffer of its own.
            Err(_) => {
                own.resize(READ_CHUNK, 0);
                &mut own
            }
        };
        for _ in 0..ROUNDS {
            if received.close.is_some() {
                return Ok(());
            }
            let mut buf = ReadBuf::new(&mut scratch[..]);
            match Pin::new(&mut *io).poll_read(cx, &mut buf) {
                Poll::Pending => return Ok(()),
                Poll::Ready(Err(_)) => return Err(SocketEnd::Vanished),
                Poll::Ready(Ok(())) => {
                    let read = buf.filled().len();
                    if read == 0 {
                        // A TCP close without a Close frame: a client that
                        // went away, not one that broke the protocol.
                        return Err(SocketEnd::Vanished);
                    }
                    if let Some(reader) = reader.as_deref_mut() {
                        reader.feed(&mut scratch[..read], received)?;
                    }
                }
            }
        }
        // Still readable: back after the other tasks.
        cx.waker().wake_by_ref();
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use futures_util::{SinkExt, StreamExt};
    use rues_core::http::{HeaderValue, Method};
    use rues_core::rues_target::EventPath;
    use rues_core::{Config, Decision, Event, RUSK_SESSION_ID};
    use tokio_tungstenite::WebSocketStream;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::Role;

    use super::*;
    use crate::Endpoint;

    /// The state a session keeps between wake-ups, whatever it went
    /// through: no read or write buffer (heap bytes 0 once it is idle) and
    /// a small fixed size, so that a buffer reintroduced in a session,
    /// on the heap or inline, fails here before the idle benchmark shows
    /// it.
    #[tokio::test]
    async fn an_idle_session_holds_no_buffer() {
        let endpoint = Endpoint::new(
            Config::new(rues_testkit::VERSION.parse().expect("a version")),
            rues_testkit::registry(),
        );
        let shared = endpoint.shared().clone();
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("host", "localhost"),
            ("upgrade", "websocket"),
            ("connection", "upgrade"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        let guard = match SessionGuard::open(&shared, "/on", &headers, None) {
            Ok(guard) => guard,
            Err(refusal) => panic!("the session was refused: {refusal:?}"),
        };
        let mut request = HeaderMap::new();
        request.insert(
            RUSK_SESSION_ID,
            HeaderValue::from_str(&guard.id.to_string()).expect("a header"),
        );
        let subscribed =
            shared
                .node()
                .handle_request(&Method::GET, "/on/blocks/accepted", &request);
        assert!(
            matches!(&subscribed, Decision::Respond(response) if response.status() == 200),
            "not subscribed"
        );
        let path = EventPath::parse("/on/blocks:a/accepted").expect("a path");
        for size in [300, 70_000, 5] {
            let event = Event::new(
                path.clone(),
                "application/octet-stream",
                vec![7u8; size].into(),
            );
            endpoint.publisher().publish(&event).expect("published");
        }

        let (mut io, client) = tokio::io::duplex(4096);
        let (done, finished) = tokio::sync::oneshot::channel();
        let client = tokio::spawn(async move {
            let mut ws = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
            let first = ws.next().await.expect("a message").expect("valid");
            assert!(first.is_text(), "the session id first");
            for _ in 0..3 {
                let event = ws.next().await.expect("a message").expect("valid");
                assert!(event.is_binary());
            }
            // A text frame and a Ping, answered: by the time the Pong is
            // here the session has read and written everything.
            ws.send(Message::text("keep-alive")).await.expect("sent");
            ws.send(Message::Ping(Bytes::from_static(b"p")))
                .await
                .expect("sent");
            let pong = ws.next().await.expect("a message").expect("valid");
            assert_eq!(pong, Message::Pong(Bytes::from_static(b"p")));
            let _ = done.send(());
            ws
        });

        let mut wire = Wire::new(guard.max_inbound);
        wire.writer
            .push(Opcode::Text, Bytes::from(guard.id.to_string()));
        tokio::select! {
            biased;
            _ = finished => {}
            reason = poll_fn(|cx| wire.poll_serve(cx, &mut io, &guard)) => {
                panic!("the session ended: {reason:?}")
            }
        }
        // Idle now: the session's socket has nothing to read, its outbox
        // nothing to write.
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(wire.poll_serve(&mut cx, &mut io, &guard).is_pending());
        assert_eq!(wire.heap_bytes(), 0, "an idle session holds buffers");
        let size = std::mem::size_of::<Wire>();
        assert!(size <= 384, "a session's WebSocket state is {size} bytes");
        drop(client.await.expect("the client"));
    }
}
