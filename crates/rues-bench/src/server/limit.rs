//! (e) limit: the fastest broadcast this machine's sockets allow, with no
//! protocol at all, so every other server can be read as a distance from it.
//!
//! A server-to-client WebSocket frame is unmasked, so the bytes of one event
//! are the same for every receiver: each published payload is framed ONCE
//! (header and payload in one shared [`Bytes`]), and every receiver's queue
//! gets a clone of that handle (a reference count, no copy). Each
//! connection's task writes its queued frames with vectored writes, up to
//! [`MAX_SLICES`] frames per syscall, resuming exactly where a partial write
//! stopped. An idle connection holds no buffer of its own: reads go into a
//! per-thread scratch buffer, and a write's slices live on the stack of one
//! poll.
//!
//! It speaks just what the scenarios need, as the baseline does: the
//! upgrade (parsed with `httparse`, the accept key from tungstenite), the
//! subscription by the upgrade's path (`/all` or `/e/<i>`), a Text `ok`
//! once registered, and an answer to the client's Close frame (churn closes
//! every session politely and waits for the server's Close). Everything
//! else it reads is skipped frame by frame unread: no pings, no UTF-8 or
//! size checks, no keep-alive.
//!
//! Bounds: at most [`MAX_CONNECTIONS`] connections, an upgrade request of
//! at most [`MAX_REQUEST`] bytes, and at most [`MAX_QUEUED`] bytes queued
//! per connection; a connection past that is dropped without a Close
//! (limit has no close codes), which no passing fan-out rung comes near.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::io::IoSlice;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use anyhow::Result;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use crate::control::{self, Outlet};

/// Frames handed to one vectored write, at most (Linux's `IOV_MAX` is
/// 1024): 256 frames of 256 B are already 66 KB for one syscall.
pub(crate) const MAX_SLICES: usize = 256;
/// Bytes queued for one connection before it is dropped.
pub(crate) const MAX_QUEUED: usize = 64 * 1024 * 1024;
/// Open connections, at most (rues's benchmark session limit).
const MAX_CONNECTIONS: usize = 100_000;
/// The largest upgrade request read.
const MAX_REQUEST: usize = 8 * 1024;
/// The per-thread buffer connections read into (and throw away).
const SCRATCH_LEN: usize = 4096;

/// WebSocket opcodes (RFC 6455 §5.2).
const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;

/// One unmasked, final server frame: header and payload in one buffer,
/// with the shortest of the three length encodings that fits.
pub(crate) fn frame(opcode: u8, payload: &[u8]) -> Bytes {
    let len = payload.len();
    let mut out = BytesMut::with_capacity(len + 10);
    out.put_u8(0x80 | (opcode & 0x0f));
    if len < 126 {
        out.put_u8(len as u8);
    } else if let Ok(short) = u16::try_from(len) {
        out.put_u8(126);
        out.put_u16(short);
    } else {
        out.put_u8(127);
        out.put_u64(len as u64);
    }
    out.put_slice(payload);
    out.freeze()
}

/// One receiver's end of the hub: its queue, the bytes on it, and the
/// signal that it overflowed.
struct Receiver {
    id: u64,
    tx: mpsc::UnboundedSender<Bytes>,
    queued: Arc<AtomicUsize>,
    dropped: Arc<Dropped>,
}

/// Set (and notified) when a connection's queue went past [`MAX_QUEUED`].
#[derive(Default)]
struct Dropped {
    flag: AtomicBool,
    notify: Notify,
}

struct Hub {
    next_id: u64,
    connections: usize,
    topics: HashMap<String, Vec<Receiver>>,
    /// Bytes queued for one connection before it is dropped.
    max_queued: usize,
}

impl Hub {
    fn new(max_queued: usize) -> Arc<Mutex<Hub>> {
        Arc::new(Mutex::new(Hub {
            next_id: 0,
            connections: 0,
            topics: HashMap::new(),
            max_queued,
        }))
    }
}

fn lock(hub: &Mutex<Hub>) -> std::sync::MutexGuard<'_, Hub> {
    hub.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct LimitOutlet {
    hub: Arc<Mutex<Hub>>,
    keys: super::EntityNames,
}

impl Outlet for LimitOutlet {
    fn publish(&mut self, entity: Option<u32>, payload: Bytes) {
        let key = self.keys.of(entity);
        let hub = lock(&self.hub);
        let Some(receivers) = hub.topics.get(key) else {
            return;
        };
        // Framed once per event: every receiver's queue gets these bytes.
        let framed = frame(BINARY, &payload);
        for receiver in receivers {
            let queued = receiver.queued.fetch_add(framed.len(), Ordering::Relaxed);
            if queued + framed.len() > hub.max_queued {
                receiver.dropped.flag.store(true, Ordering::Relaxed);
                receiver.dropped.notify.notify_one();
                continue;
            }
            let _ = receiver.tx.send(framed.clone());
        }
    }
}

/// Runs the limit server until the harness says `quit`.
pub(crate) async fn run() -> Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let hub = Hub::new(MAX_QUEUED);
    let accepting = tokio::spawn(accept(listener, hub.clone()));
    let mut outlet = LimitOutlet {
        hub,
        keys: super::EntityNames::default(),
    };
    let result = control::serve_orders(port, &mut outlet).await;
    accepting.abort();
    result
}

/// Accepts connections for as long as it runs.
async fn accept(listener: TcpListener, hub: Arc<Mutex<Hub>>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(connection(stream, hub.clone()));
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
}

/// Reads the upgrade request; answers 101 and returns the subscription key
/// (`all`, `e<i>`), or `None` (after a 400 where one can be sent) for
/// anything that is not a WebSocket upgrade.
async fn handshake(stream: &mut TcpStream) -> Option<String> {
    // Read straight into the request: no buffer of the task's own stays
    // behind in an idle connection's state.
    let mut request = Vec::with_capacity(1024);
    loop {
        if stream.read_buf(&mut request).await.ok()? == 0 {
            return None;
        }
        // The client sends nothing after its request before our `ok`, so
        // a read never takes more than the request.
        if request.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
        if request.len() > MAX_REQUEST {
            return None;
        }
    }
    let Some((accept, key)) = upgrade(&request) else {
        let _ = stream
            .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            .await;
        return None;
    };
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: {accept}\r\n\r\n"
    );
    stream.write_all(response.as_bytes()).await.ok()?;
    Some(key)
}

/// The accept key and the subscription key of an upgrade request, if it is
/// one (a complete request with a `Sec-WebSocket-Key`).
fn upgrade(request: &[u8]) -> Option<(String, String)> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut parsed = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(_) = parsed.parse(request).ok()? else {
        return None;
    };
    let accept = parsed
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-key"))
        .map(|h| derive_accept_key(h.value))?;
    let key = match parsed.path?.strip_prefix("/e/") {
        Some(entity) => format!("e{entity}"),
        None => "all".to_owned(),
    };
    Some((accept, key))
}

async fn connection(mut stream: TcpStream, hub: Arc<Mutex<Hub>>) {
    {
        // A slot before the upgrade, so a connection past the bound is
        // refused before it is answered.
        let mut hub = lock(&hub);
        if hub.connections >= MAX_CONNECTIONS {
            return;
        }
        hub.connections += 1;
    }
    let _ = stream.set_nodelay(true);
    if let Some(key) = handshake(&mut stream).await {
        subscribed(stream, &hub, key).await;
    }
    lock(&hub).connections -= 1;
}

/// Serves an upgraded connection as a subscriber of `key` until it ends.
async fn subscribed(mut stream: TcpStream, hub: &Mutex<Hub>, key: String) {
    let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
    let queued = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(Dropped::default());
    let id = {
        let mut hub = lock(hub);
        hub.next_id += 1;
        let id = hub.next_id;
        hub.topics.entry(key.clone()).or_default().push(Receiver {
            id,
            tx,
            queued: queued.clone(),
            dropped: dropped.clone(),
        });
        id
    };
    let (reader, writer) = stream.split();
    let _ = serve(reader, writer, rx, &queued, &dropped).await;
    let mut hub = lock(hub);
    if let Some(receivers) = hub.topics.get_mut(&key) {
        receivers.retain(|r| r.id != id);
    }
}

/// Writes the connection's queue and skips what it reads, until the client
/// closes (answered with a Close frame), the socket fails or the queue
/// overflows.
async fn serve<R, W>(
    mut reader: R,
    mut writer: W,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
    queued: &AtomicUsize,
    dropped: &Dropped,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let ok = frame(TEXT, b"ok");
    // Counted like the frames behind it, so every byte written is taken
    // off the count.
    queued.fetch_add(ok.len(), Ordering::Relaxed);
    let mut pending = VecDeque::from([ok]);
    // Whether the front frame was written in part.
    let mut partial = false;
    let mut inbound = Inbound::default();
    let mut closing = false;
    loop {
        if dropped.flag.load(Ordering::Relaxed) {
            return Ok(());
        }
        if pending.is_empty() {
            if closing {
                return writer.shutdown().await;
            }
            tokio::select! {
                frame = rx.recv() => {
                    let Some(frame) = frame else { return Ok(()) };
                    pending.push_back(frame);
                }
                ended = poll_fn(|cx| poll_inbound(cx, &mut reader, &mut inbound)) => {
                    if ended {
                        closing = true;
                        pending.push_back(frame(CLOSE, &1000u16.to_be_bytes()));
                    }
                }
                () = dropped.notify.notified() => return Ok(()),
            }
            continue;
        }
        // Everything already queued, up to what one write takes.
        while !closing && pending.len() < MAX_SLICES {
            let Ok(frame) = rx.try_recv() else { break };
            pending.push_back(frame);
        }
        tokio::select! {
            written = poll_fn(|cx| poll_frames(cx, &mut writer, &pending)) => {
                let written = written?;
                if written == 0 {
                    return Err(std::io::ErrorKind::WriteZero.into());
                }
                partial = advance(&mut pending, written);
                if !closing {
                    queued.fetch_sub(written, Ordering::Relaxed);
                }
            }
            ended = poll_fn(|cx| poll_inbound(cx, &mut reader, &mut inbound)), if !closing => {
                if ended {
                    closing = true;
                    // Whole frames not begun are dropped; one written in
                    // part is finished first, or the Close would land in
                    // its middle.
                    pending.truncate(usize::from(partial));
                    pending.push_back(frame(CLOSE, &1000u16.to_be_bytes()));
                }
            }
            () = dropped.notify.notified() => return Ok(()),
        }
    }
}

thread_local! {
    /// What connections read into (and throw away): one buffer per thread,
    /// so an idle connection holds none of its own.
    static SCRATCH: RefCell<[u8; SCRATCH_LEN]> = const { RefCell::new([0; SCRATCH_LEN]) };
}

/// Reads what the client sent into the thread's scratch buffer and skips
/// it; ready with whether the inbound side ended (EOF, an error, a Close).
fn poll_inbound<R: AsyncRead + Unpin>(
    cx: &mut Context<'_>,
    reader: &mut R,
    inbound: &mut Inbound,
) -> Poll<bool> {
    SCRATCH.with_borrow_mut(|scratch| {
        let mut buf = ReadBuf::new(scratch);
        match Pin::new(reader).poll_read(cx, &mut buf) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(_)) => Poll::Ready(true),
            Poll::Ready(Ok(())) => {
                let read = buf.filled();
                Poll::Ready(read.is_empty() || inbound.feed(read))
            }
        }
    })
}

/// One vectored write of the front of `pending`. The slices live on the
/// stack of this poll only, so a waiting connection holds none.
fn poll_frames<W: AsyncWrite + Unpin>(
    cx: &mut Context<'_>,
    writer: &mut W,
    pending: &VecDeque<Bytes>,
) -> Poll<std::io::Result<usize>> {
    let mut slices = [IoSlice::new(&[]); MAX_SLICES];
    let count = fill_slices(pending, &mut slices);
    Pin::new(writer).poll_write_vectored(cx, &slices[..count])
}

/// Points `slices` at the front of `pending`; returns how many it filled.
fn fill_slices<'a>(pending: &'a VecDeque<Bytes>, slices: &mut [IoSlice<'a>]) -> usize {
    let mut count = 0;
    for (slot, frame) in slices.iter_mut().zip(pending) {
        *slot = IoSlice::new(frame);
        count += 1;
    }
    count
}

/// Takes `written` bytes off the front of `pending`: whole frames are
/// popped, a frame written in part keeps its unwritten tail. Returns
/// whether the front frame is now one written in part.
fn advance(pending: &mut VecDeque<Bytes>, mut written: usize) -> bool {
    while written > 0 {
        let Some(front) = pending.front_mut() else {
            return false;
        };
        if written < front.len() {
            front.advance(written);
            return true;
        }
        written -= front.len();
        pending.pop_front();
    }
    false
}

/// Skips client frames unread, watching only for a Close: a small state
/// machine over the byte stream (header bytes gathered across reads, then
/// the payload's length skipped).
#[derive(Default)]
struct Inbound {
    /// The header being gathered (2 to 14 bytes).
    header: [u8; 14],
    have: usize,
    /// Payload bytes still to skip.
    skip: u64,
}

impl Inbound {
    /// Feeds bytes read; true once a Close frame's header went by.
    fn feed(&mut self, mut bytes: &[u8]) -> bool {
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = usize::try_from(self.skip)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                self.skip -= n as u64;
                bytes = &bytes[n..];
                continue;
            }
            self.header[self.have] = bytes[0];
            self.have += 1;
            bytes = &bytes[1..];
            if self.have < 2 {
                continue;
            }
            let masked = self.header[1] & 0x80 != 0;
            let extended = match self.header[1] & 0x7f {
                126 => 2,
                127 => 8,
                _ => 0,
            };
            let need = 2 + extended + if masked { 4 } else { 0 };
            if self.have < need {
                continue;
            }
            if self.header[0] & 0x0f == CLOSE {
                return true;
            }
            let len = match extended {
                0 => u64::from(self.header[1] & 0x7f),
                2 => u64::from(u16::from_be_bytes([self.header[2], self.header[3]])),
                _ => u64::from_be_bytes(self.header[2..10].try_into().unwrap_or([0xff; 8])),
            };
            self.skip = len;
            self.have = 0;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use tokio_tungstenite::tungstenite::protocol::{Role, WebSocket};
    use tokio_tungstenite::tungstenite::{Message, protocol::frame::coding::CloseCode};

    use super::*;

    /// Decodes `bytes` as a client would, with tungstenite's reader.
    fn decode(bytes: Vec<u8>) -> Vec<Message> {
        let config = crate::server::baseline::ws_config()
            .max_message_size(Some(1 << 20))
            .max_frame_size(Some(1 << 20));
        let mut ws =
            WebSocket::from_raw_socket(std::io::Cursor::new(bytes), Role::Client, Some(config));
        let mut messages = Vec::new();
        loop {
            match ws.read() {
                Ok(message) => messages.push(message),
                Err(_) => return messages,
            }
        }
    }

    /// Payloads across the three length encodings and their edges.
    const SIZES: [usize; 7] = [0, 1, 125, 126, 65_535, 65_536, 200_000];

    fn payload(size: usize) -> Vec<u8> {
        (0..size).map(|i| (i * 7 + size) as u8).collect()
    }

    #[test]
    fn frames_decode_byte_exact_in_every_length_encoding() {
        for size in SIZES {
            let data = payload(size);
            let framed = frame(BINARY, &data);
            let header = match size {
                0..=125 => 2,
                126..=65_535 => 4,
                _ => 10,
            };
            assert_eq!(framed.len(), header + size, "size {size}");
            assert_eq!(
                decode(framed.to_vec()),
                [Message::binary(data)],
                "size {size}"
            );
        }
        assert_eq!(decode(frame(TEXT, b"ok").to_vec()), [Message::text("ok")]);
    }

    /// A socket that takes at most `step` bytes per write (vectored or
    /// not) and keeps them, counting them in `written`; and reads `input`
    /// `step` bytes at a time once `written` reached `open_at`, then pends
    /// forever.
    struct Trickle {
        step: usize,
        out: Vec<u8>,
        writes: usize,
        written: Arc<AtomicUsize>,
        input: Vec<u8>,
        open_at: usize,
    }

    impl Trickle {
        fn new(step: usize, input: Vec<u8>, written: Arc<AtomicUsize>, open_at: usize) -> Self {
            Trickle {
                step,
                out: Vec::new(),
                writes: 0,
                written,
                input,
                open_at,
            }
        }
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            self.poll_write_vectored(cx, &[IoSlice::new(buf)])
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<std::io::Result<usize>> {
            let mut room = self.step;
            let mut taken = 0;
            for buf in bufs {
                let n = buf.len().min(room);
                self.out.extend_from_slice(&buf[..n]);
                room -= n;
                taken += n;
                if room == 0 {
                    break;
                }
            }
            self.writes += 1;
            self.written.fetch_add(taken, Ordering::Relaxed);
            Poll::Ready(Ok(taken))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncRead for Trickle {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            if self.input.is_empty() {
                return Poll::Pending;
            }
            if self.written.load(Ordering::Relaxed) < self.open_at {
                // The writer is always ready, so it runs before this again.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let n = self.input.len().min(buf.remaining()).min(self.step);
            buf.put_slice(&self.input[..n]);
            self.input.drain(..n);
            Poll::Ready(Ok(()))
        }
    }

    /// Serves `payloads` (queued before the task starts) over a writer
    /// taking `step` bytes a write, reading `input` a byte at a time once
    /// `open_at` bytes were written; without input the queue's sender is
    /// dropped, which ends the task once all is written. Returns what was
    /// written and in how many writes.
    async fn serve_all(
        payloads: &[Vec<u8>],
        step: usize,
        input: Vec<u8>,
        open_at: usize,
    ) -> (Vec<u8>, usize) {
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = AtomicUsize::new(0);
        for data in payloads {
            let framed = frame(BINARY, data);
            queued.fetch_add(framed.len(), Ordering::Relaxed);
            tx.send(framed).expect("open");
        }
        let closes = !input.is_empty();
        if !closes {
            drop(tx);
        }
        let written = Arc::new(AtomicUsize::new(0));
        let mut writer = Trickle::new(step, Vec::new(), written.clone(), 0);
        let mut reader = Trickle::new(1, input, written, open_at);
        let dropped = Dropped::default();
        let serving = serve(&mut reader, &mut writer, rx, &queued, &dropped);
        tokio::time::timeout(std::time::Duration::from_secs(10), serving)
            .await
            .expect("the task ended")
            .expect("served");
        if !closes {
            assert_eq!(
                queued.load(Ordering::Relaxed),
                0,
                "every queued byte written"
            );
        }
        (writer.out, writer.writes)
    }

    #[tokio::test]
    async fn partial_vectored_writes_resume_exactly() {
        let payloads: Vec<Vec<u8>> = SIZES.iter().map(|&s| payload(s)).collect();
        let mut expected = vec![Message::text("ok")];
        expected.extend(payloads.iter().cloned().map(Message::binary));
        for step in [1, 3, 125, 4096, 70_000, usize::MAX] {
            let (out, _) = serve_all(&payloads, step, Vec::new(), 0).await;
            assert_eq!(decode(out), expected, "step {step}");
        }
    }

    #[tokio::test]
    async fn many_frames_go_in_one_write() {
        let payloads = vec![payload(256); 1000];
        let (out, writes) = serve_all(&payloads, usize::MAX, Vec::new(), 0).await;
        assert_eq!(decode(out).len(), 1001);
        // 1001 frames at most MAX_SLICES a write.
        assert_eq!(writes, 1001usize.div_ceil(MAX_SLICES), "{writes}");
    }

    /// A masked client frame, as tungstenite's client writes it.
    fn client_frames(messages: Vec<Message>) -> Vec<u8> {
        let mut ws =
            WebSocket::from_raw_socket(std::io::Cursor::new(Vec::new()), Role::Client, None);
        for message in messages {
            ws.send(message).expect("written");
        }
        ws.get_ref().get_ref().clone()
    }

    #[tokio::test]
    async fn a_close_from_the_client_is_answered_after_skipped_frames() {
        let input = client_frames(vec![
            Message::binary(payload(70_000)),
            Message::text("x".repeat(300)),
            Message::Ping(Bytes::from_static(b"p")),
            Message::Close(None),
        ]);
        // Sent a byte at a time, so headers arrive across reads.
        let (out, _) = serve_all(&[payload(10)], 1, input, 0).await;
        let messages = decode(out);
        assert_eq!(
            messages[..2],
            [Message::text("ok"), Message::binary(payload(10))]
        );
        let Some(Message::Close(Some(close))) = messages.get(2) else {
            panic!("no Close: {messages:?}")
        };
        assert_eq!(close.code, CloseCode::Normal);
    }

    #[tokio::test]
    async fn a_close_in_the_middle_of_a_frame_waits_for_its_end() {
        let input = client_frames(vec![Message::Close(None)]);
        // The Close arrives after 5 000 bytes of the 200 000-byte frame.
        let (out, _) = serve_all(&[payload(200_000), payload(10)], 1000, input, 5000).await;
        let messages = decode(out);
        assert_eq!(messages.len(), 3, "the frame not begun is dropped");
        assert_eq!(
            messages[..2],
            [Message::text("ok"), Message::binary(payload(200_000))]
        );
        assert!(
            matches!(messages[2], Message::Close(Some(_))),
            "{:?}",
            messages[2]
        );
    }

    #[test]
    fn inbound_frames_without_a_close_are_skipped() {
        let input = client_frames(vec![
            Message::binary(payload(70_000)),
            Message::binary(payload(126)),
        ]);
        let mut inbound = Inbound::default();
        for chunk in input.chunks(7) {
            assert!(!inbound.feed(chunk));
        }
        assert_eq!((inbound.have, inbound.skip), (0, 0));
        assert!(inbound.feed(&client_frames(vec![Message::Close(None)])));
    }

    /// A limit server on loopback dropping connections past `max_queued`,
    /// and its outlet.
    async fn server(max_queued: usize) -> (std::net::SocketAddr, LimitOutlet) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bound");
        let addr = listener.local_addr().expect("an address");
        let hub = Hub::new(max_queued);
        tokio::spawn(accept(listener, hub.clone()));
        let outlet = LimitOutlet {
            hub,
            keys: crate::server::EntityNames::default(),
        };
        (addr, outlet)
    }

    type Client = tokio_tungstenite::WebSocketStream<TcpStream>;

    /// A client subscribed by `path`, once it has read the `ok`.
    async fn subscribe(addr: std::net::SocketAddr, path: &str) -> Client {
        let stream = TcpStream::connect(addr).await.expect("connected");
        let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}{path}"), stream)
            .await
            .expect("upgraded");
        assert_eq!(next(&mut ws).await, Some(Message::text("ok")));
        ws
    }

    async fn next(ws: &mut Client) -> Option<Message> {
        use futures_util::StreamExt;
        let read = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next());
        read.await.expect("in time").and_then(Result::ok)
    }

    #[tokio::test]
    async fn over_tcp_each_subscriber_gets_its_events_and_a_close_is_answered() {
        let (addr, mut outlet) = server(MAX_QUEUED).await;
        let mut all = subscribe(addr, "/all").await;
        let mut three = subscribe(addr, "/e/3").await;
        outlet.publish(Some(4), Bytes::from_static(b"nobody"));
        outlet.publish(Some(3), Bytes::from(payload(70_000)));
        outlet.publish(None, Bytes::from_static(b"everyone"));
        assert_eq!(
            next(&mut three).await,
            Some(Message::binary(payload(70_000)))
        );
        assert_eq!(
            next(&mut all).await,
            Some(Message::binary(&b"everyone"[..]))
        );
        all.close(None).await.expect("sent");
        let Some(Message::Close(Some(close))) = next(&mut all).await else {
            panic!("no Close")
        };
        assert_eq!(close.code, CloseCode::Normal);
        assert_eq!(next(&mut all).await, None, "then the socket ends");
        // The one left still gets its events; the closed one left the hub.
        outlet.publish(None, Bytes::from_static(b"again"));
        outlet.publish(Some(3), Bytes::from_static(b"three"));
        assert_eq!(next(&mut three).await, Some(Message::binary(&b"three"[..])));
        assert!(lock(&outlet.hub).topics["all"].is_empty());
    }

    #[tokio::test]
    async fn a_client_that_stops_reading_is_dropped_at_the_bound() {
        let (addr, mut outlet) = server(256 * 1024).await;
        let mut stalled = subscribe(addr, "/all").await;
        let mut reader = subscribe(addr, "/e/1").await;
        // 64 MiB queued at once (the server's tasks run only once this
        // test awaits), far past the bound.
        let event = Bytes::from(payload(64 * 1024));
        for _ in 0..1024 {
            outlet.publish(None, event.clone());
        }
        let mut read = 0;
        while let Some(message) = next(&mut stalled).await {
            assert!(
                message.is_binary(),
                "no Close, the socket just ends: {message:?}"
            );
            read += 1;
        }
        assert!(read < 1024, "dropped after {read} messages");
        // Nobody else was held up.
        outlet.publish(Some(1), Bytes::from_static(b"fine"));
        assert_eq!(next(&mut reader).await, Some(Message::binary(&b"fine"[..])));
    }

    #[test]
    fn an_upgrade_needs_a_complete_request_with_a_key() {
        let request =
            b"GET /e/7 HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
        // RFC 6455 §1.3's example key and answer.
        assert_eq!(
            upgrade(request),
            Some(("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".to_owned(), "e7".to_owned()))
        );
        let all = b"GET /all HTTP/1.1\r\nsec-websocket-key: a\r\n\r\n";
        assert_eq!(upgrade(all).map(|(_, key)| key), Some("all".to_owned()));
        assert_eq!(upgrade(b"GET /all HTTP/1.1\r\nHost: x\r\n\r\n"), None);
        assert_eq!(
            upgrade(b"GET /all HTTP/1.1\r\nSec-WebSocket-Key: a\r\n"),
            None
        );
        assert_eq!(upgrade(b"\xff\xff\r\n\r\n"), None);
    }

    #[test]
    fn advance_pops_whole_frames_and_cuts_the_partial_one() {
        let mut pending = VecDeque::from([
            Bytes::from_static(b"abc"),
            Bytes::from_static(b"de"),
            Bytes::from_static(b"fgh"),
        ]);
        assert!(advance(&mut pending, 4), "`de` cut");
        assert_eq!(pending, [&b"e"[..], b"fgh"]);
        assert!(!advance(&mut pending, 1), "`e` finished");
        assert_eq!(pending, [&b"fgh"[..]]);
        assert!(!advance(&mut pending, 3));
        assert!(pending.is_empty());
        assert!(!advance(&mut pending, 5));
    }
}
