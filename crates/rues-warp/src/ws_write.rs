//! The server side of RFC 6455 framing, for writing only.
//!
//! A server's frames are never masked (§5.1), so the bytes of an event frame
//! are the same for every receiver: the core encodes an event once into a
//! shared [`Bytes`], and this writer puts a 2-, 4- or 10-byte header in front
//! of it per write (§5.2: FIN set, no extension bits, then the 7-bit, 16-bit
//! or 64-bit length) without copying the payload. A batch of frames goes out
//! as one vectored write (header, payload, header, payload, ...), up to
//! [`MAX_SLICES`] pieces per call; what the socket did not take is resumed
//! exactly where it stopped, inside a header or inside a payload.
//!
//! A stream that does not write vectors well (`is_write_vectored()` false;
//! plain TCP, hyper's upgraded connection and tokio-rustls all say true)
//! gets the pieces coalesced into one per-thread buffer of at most
//! [`COALESCE_BYTES`] for that one call, or, for a payload that fills such a
//! buffer alone, the payload itself. The writer holds frames only while they
//! are being written: once a batch is out, it holds no memory.
//!
//! Reading and validating what clients send stays with tungstenite (see
//! `ws_read`); this module is the one part of the WebSocket layer written
//! here, because it is where the copies were.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use tokio::io::AsyncWrite;

/// The frame types the server sends (RFC 6455 §5.2, §11.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opcode {
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA,
}

/// The longest unmasked header: two bytes and a 64-bit length.
const MAX_HEADER: usize = 10;

/// The most pieces (headers and payloads) given to one vectored write: 128
/// frames a call (a 64 KiB batch of 256-byte events in two calls), under
/// every system's `IOV_MAX` (1024 on Linux), in 4 KiB of stack.
pub(crate) const MAX_SLICES: usize = 256;

/// The most bytes copied into one write for a stream without vectored
/// writes: a TLS record's worth.
pub(crate) const COALESCE_BYTES: usize = 16 * 1024;

/// One frame's header, built on the stack.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    bytes: [u8; MAX_HEADER],
    len: u8,
}

impl Header {
    /// A final, unmasked frame of `opcode` carrying `payload_len` bytes.
    pub(crate) fn new(opcode: Opcode, payload_len: usize) -> Self {
        let mut bytes = [0u8; MAX_HEADER];
        bytes[0] = 0x80 | opcode as u8;
        let len = match (u8::try_from(payload_len), u16::try_from(payload_len)) {
            (Ok(short), _) if short < 126 => {
                bytes[1] = short;
                2
            }
            (_, Ok(medium)) => {
                bytes[1] = 126;
                bytes[2..4].copy_from_slice(&medium.to_be_bytes());
                4
            }
            _ => {
                bytes[1] = 127;
                // usize is at most 64 bits on every target Rust supports.
                let long = u64::try_from(payload_len).unwrap_or(u64::MAX);
                bytes[2..10].copy_from_slice(&long.to_be_bytes());
                10
            }
        };
        Self { bytes, len }
    }

    /// The header's bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// A frame waiting to be written: its header and its shared payload.
#[derive(Debug)]
struct Frame {
    header: Header,
    payload: Bytes,
}

impl Frame {
    fn len(&self) -> usize {
        usize::from(self.header.len) + self.payload.len()
    }

    /// What is left of the frame past its first `written` bytes, as at most
    /// two pieces (the rest of the header, the rest of the payload); empty
    /// pieces are `None`.
    fn rest(&self, written: usize) -> [Option<&[u8]>; 2] {
        let header = self.header.as_bytes();
        let header_rest = header.get(written..).filter(|rest| !rest.is_empty());
        let payload_rest = self
            .payload
            .get(written.saturating_sub(header.len())..)
            .filter(|rest| !rest.is_empty());
        [header_rest, payload_rest]
    }
}

/// Frames on their way to one socket, in order.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    frames: VecDeque<Frame>,
    /// Bytes of the front frame (header, then payload) already written.
    written: usize,
}

thread_local! {
    /// The buffer coalesced writes are built in, one per thread: it holds
    /// bytes only during one `poll_write` call, so no session keeps one.
    static COALESCE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Writer {
    /// Queues a frame of `opcode` around `payload`, which is not copied.
    pub(crate) fn push(&mut self, opcode: Opcode, payload: Bytes) {
        self.frames.push_back(Frame {
            header: Header::new(opcode, payload.len()),
            payload,
        });
    }

    /// Whether every queued frame has been written.
    pub(crate) fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Bytes queued and not written yet.
    #[cfg(test)]
    pub(crate) fn unwritten(&self) -> usize {
        self.frames.iter().map(Frame::len).sum::<usize>() - self.written
    }

    /// Heap bytes the writer holds: its list of frames (the payloads are
    /// shared, not the writer's).
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self) -> usize {
        self.frames.capacity() * std::mem::size_of::<Frame>()
    }

    /// Lets the list of frames go once they are written: a writer between
    /// bursts holds no memory. (It keeps it during a burst, so that batch
    /// after batch reuses one allocation.)
    pub(crate) fn release(&mut self) {
        if self.frames.is_empty() {
            self.frames = VecDeque::new();
            self.written = 0;
        }
    }

    /// Writes the queued frames until all are written, the stream is not
    /// ready (`Pending`, with the frames still queued where they stopped),
    /// or it fails. Flushing is the caller's.
    pub(crate) fn poll_write<W>(&mut self, cx: &mut Context<'_>, io: &mut W) -> Poll<io::Result<()>>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        while !self.frames.is_empty() {
            let written = if io.is_write_vectored() {
                ready!(self.poll_vectored(cx, io))?
            } else {
                ready!(self.poll_coalesced(cx, io))?
            };
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.advance(written);
        }
        Poll::Ready(Ok(()))
    }

    /// The unwritten pieces, in order.
    fn pieces(&self) -> impl Iterator<Item = &[u8]> {
        self.frames
            .iter()
            .enumerate()
            .flat_map(|(i, frame)| frame.rest(if i == 0 { self.written } else { 0 }))
            .flatten()
    }

    fn poll_vectored<W>(&self, cx: &mut Context<'_>, io: &mut W) -> Poll<io::Result<usize>>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let mut count = 0;
        for (slot, piece) in slices.iter_mut().zip(self.pieces()) {
            *slot = IoSlice::new(piece);
            count += 1;
        }
        Pin::new(io).poll_write_vectored(cx, &slices[..count])
    }

    fn poll_coalesced<W>(&self, cx: &mut Context<'_>, io: &mut W) -> Poll<io::Result<usize>>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        let mut pieces = self.pieces().peekable();
        // A payload as large as the buffer goes as it is: copying it would
        // buy nothing.
        if let Some(first) = pieces.peek().filter(|first| first.len() >= COALESCE_BYTES) {
            return Pin::new(io).poll_write(cx, first);
        }
        let fill = |buffer: &mut Vec<u8>| {
            buffer.clear();
            for piece in pieces {
                let room = COALESCE_BYTES - buffer.len();
                if room == 0 {
                    break;
                }
                buffer.extend_from_slice(&piece[..piece.len().min(room)]);
            }
        };
        COALESCE.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buffer) => {
                fill(&mut buffer);
                let outcome = Pin::new(io).poll_write(cx, &buffer);
                buffer.clear();
                outcome
            }
            // Only if a stream's write came back into a writer on the same
            // thread: then this call pays for a buffer of its own.
            Err(_) => {
                let mut buffer = Vec::new();
                fill(&mut buffer);
                Pin::new(io).poll_write(cx, &buffer)
            }
        })
    }

    /// Drops what the stream took: `written` bytes from the front.
    fn advance(&mut self, mut written: usize) {
        while let Some(front) = self.frames.front() {
            let left = front.len() - self.written;
            if written < left {
                self.written += written;
                return;
            }
            written -= left;
            self.written = 0;
            self.frames.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use proptest::prelude::*;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};
    use tokio_tungstenite::tungstenite::protocol::frame::{FrameHeader, FrameSocket};
    use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocket};
    use tokio_tungstenite::tungstenite::{self, Message};

    use super::*;

    /// A stream that takes at most the next of `cuts` bytes per write, says
    /// `Pending` (and wakes itself) every `pending_every`-th call, and writes
    /// vectors or not.
    struct Trickle {
        taken: Vec<u8>,
        cuts: Vec<usize>,
        calls: usize,
        pending_every: usize,
        vectored: bool,
    }

    impl Trickle {
        fn new(cuts: Vec<usize>, pending_every: usize, vectored: bool) -> Self {
            Self {
                taken: Vec::new(),
                cuts,
                calls: 0,
                pending_every,
                vectored,
            }
        }

        /// How much the next write may take, or `None` for `Pending`.
        fn allowance(&mut self, cx: &mut Context<'_>) -> Option<usize> {
            self.calls += 1;
            if self.pending_every > 0 && self.calls % self.pending_every == 0 {
                cx.waker().wake_by_ref();
                return None;
            }
            let cut = self.cuts.get(self.calls % self.cuts.len().max(1));
            Some(cut.copied().unwrap_or(usize::MAX).max(1))
        }
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let Some(allowed) = self.allowance(cx) else {
                return Poll::Pending;
            };
            let n = allowed.min(buf.len());
            self.taken.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            assert!(self.vectored, "vectored write on a stream that said no");
            assert!(bufs.len() <= MAX_SLICES, "{} slices", bufs.len());
            let Some(mut allowed) = self.allowance(cx) else {
                return Poll::Pending;
            };
            let mut n = 0;
            for buf in bufs {
                let take = allowed.min(buf.len());
                self.taken.extend_from_slice(&buf[..take]);
                n += take;
                allowed -= take;
                if allowed == 0 {
                    break;
                }
            }
            Poll::Ready(Ok(n))
        }

        fn is_write_vectored(&self) -> bool {
            self.vectored
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// Writes everything in `writer` to `io`, polling until done.
    fn drive<W: AsyncWrite + Unpin>(writer: &mut Writer, io: &mut W) {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        for _ in 0..1_000_000 {
            match writer.poll_write(&mut cx, io) {
                Poll::Ready(result) => {
                    result.expect("written");
                    assert_eq!(writer.unwritten(), 0);
                    writer.release();
                    assert_eq!(writer.heap_bytes(), 0, "write state kept after the write");
                    return;
                }
                Poll::Pending => {}
            }
        }
        panic!("the writer never finished");
    }

    /// tungstenite's own encoding of the same frame, unmasked as a server's.
    fn reference(opcode: Opcode, payload: &[u8]) -> Vec<u8> {
        let code = match opcode {
            Opcode::Text => OpCode::Data(Data::Text),
            Opcode::Binary => OpCode::Data(Data::Binary),
            Opcode::Close => OpCode::Control(Control::Close),
            Opcode::Ping => OpCode::Control(Control::Ping),
            Opcode::Pong => OpCode::Control(Control::Pong),
        };
        let header = FrameHeader {
            opcode: code,
            ..FrameHeader::default()
        };
        let mut out = Vec::new();
        tungstenite::protocol::frame::Frame::from_payload(header, Bytes::copy_from_slice(payload))
            .format(&mut out)
            .expect("formatted");
        out
    }

    #[test]
    fn headers_use_the_shortest_of_the_three_length_encodings() {
        for (len, header_len) in [
            (0, 2),
            (125, 2),
            (126, 4),
            (65_535, 4),
            (65_536, 10),
            (1 << 32, 10),
        ] {
            let header = Header::new(Opcode::Binary, len);
            assert_eq!(header.as_bytes().len(), header_len, "payload of {len}");
            let mut cursor = Cursor::new(header.as_bytes());
            let (parsed, parsed_len) = FrameHeader::parse(&mut cursor)
                .expect("valid")
                .expect("whole");
            assert_eq!(parsed_len, len as u64);
            assert!(parsed.is_final && parsed.mask.is_none());
            assert!(!parsed.rsv1 && !parsed.rsv2 && !parsed.rsv3);
        }
    }

    #[test]
    fn frames_of_every_length_encoding_read_back_by_tungstenite() {
        let sizes = [0usize, 1, 125, 126, 127, 65_535, 65_536, 70_000];
        let mut writer = Writer::default();
        for &size in &sizes {
            writer.push(Opcode::Binary, Bytes::from(vec![size as u8; size]));
        }
        writer.push(Opcode::Text, Bytes::from_static(b"0123456789abcdef"));
        writer.push(Opcode::Ping, Bytes::new());
        writer.push(Opcode::Pong, Bytes::from_static(b"pong"));
        let mut close = 4008u16.to_be_bytes().to_vec();
        close.extend_from_slice(b"slow consumer");
        writer.push(Opcode::Close, Bytes::from(close));
        let mut out = Vec::new();
        drive(&mut writer, &mut out);

        // Frame by frame, as the frame parser sees them.
        let mut frames = FrameSocket::new(Cursor::new(out.clone()));
        for &size in &sizes {
            let frame = frames.read(None).expect("valid").expect("a frame");
            assert_eq!(frame.header().opcode, OpCode::Data(Data::Binary));
            assert!(frame.header().is_final && frame.header().mask.is_none());
            assert_eq!(frame.payload(), &vec![size as u8; size][..]);
        }
        // As messages, as a client reads them.
        let mut client = WebSocket::from_raw_socket(Cursor::new(out), Role::Client, None);
        for &size in &sizes {
            assert_eq!(
                client.read().expect("a message"),
                Message::binary(vec![size as u8; size])
            );
        }
        assert_eq!(
            client.read().expect("text"),
            Message::text("0123456789abcdef")
        );
        assert_eq!(client.read().expect("ping"), Message::Ping(Bytes::new()));
        assert_eq!(
            client.read().expect("pong"),
            Message::Pong(Bytes::from_static(b"pong"))
        );
        assert_eq!(
            client.read().expect("close"),
            Message::Close(Some(CloseFrame {
                code: 4008.into(),
                reason: "slow consumer".into(),
            }))
        );
    }

    fn opcode() -> impl Strategy<Value = Opcode> {
        prop_oneof![
            Just(Opcode::Binary),
            Just(Opcode::Text),
            Just(Opcode::Ping),
            Just(Opcode::Pong),
            Just(Opcode::Close),
        ]
    }

    fn payload_len() -> impl Strategy<Value = usize> {
        prop_oneof![
            0usize..=3,
            120usize..=130,
            65_530usize..=65_540,
            0usize..=40_000,
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// Any batch, cut anywhere by a stream that takes a few bytes at a
        /// time (vectored or not, sometimes not ready), comes out as
        /// exactly tungstenite's encoding of the same frames, and decodes
        /// back to them.
        #[test]
        fn any_cut_of_any_batch_gives_tungstenites_bytes(
            frames in proptest::collection::vec((opcode(), payload_len(), any::<u8>()), 1..12),
            cuts in proptest::collection::vec(1usize..40_000, 1..16),
            small in any::<bool>(),
            pending_every in 0usize..5,
            vectored in any::<bool>(),
        ) {
            // Small cuts end writes inside headers; large ones inside
            // payloads and across many frames.
            let cuts = if small { cuts.iter().map(|cut| cut % 7 + 1).collect() } else { cuts };
            // Never every call: a stream that is never ready takes nothing.
            let pending_every = if pending_every == 0 { 0 } else { pending_every + 1 };
            let mut writer = Writer::default();
            let mut expected = Vec::new();
            for &(opcode, len, fill) in &frames {
                let payload = vec![fill; len];
                expected.extend_from_slice(&reference(opcode, &payload));
                writer.push(opcode, Bytes::from(payload));
            }
            prop_assert_eq!(writer.unwritten(), expected.len());
            let mut io = Trickle::new(cuts, pending_every, vectored);
            drive(&mut writer, &mut io);
            prop_assert!(io.taken == expected, "bytes differ from tungstenite's");
            let mut decoder = FrameSocket::new(Cursor::new(io.taken));
            for (opcode, len, fill) in frames {
                let frame = decoder.read(None).expect("valid").expect("a frame");
                prop_assert_eq!(frame.payload(), &vec![fill; len][..]);
                prop_assert_eq!(frame.header().mask, None);
                prop_assert_eq!(reference(opcode, &[])[0], 0x80 | opcode as u8);
            }
            prop_assert!(decoder.read(None).expect("valid").is_none());
        }
    }

    #[test]
    fn small_frames_go_out_many_to_a_write() {
        let mut writer = Writer::default();
        for _ in 0..300 {
            writer.push(Opcode::Binary, Bytes::from_static(&[1; 256]));
        }
        // A socket that takes everything it is given.
        let mut io = Trickle::new(vec![usize::MAX], 0, true);
        drive(&mut writer, &mut io);
        // 600 pieces: three calls of at most 256.
        assert_eq!(io.calls, 3);
        // A 4-byte header each (a 16-bit length).
        assert_eq!(io.taken.len(), 300 * (4 + 256));
    }

    #[test]
    fn a_stream_that_takes_nothing_is_an_error_not_a_loop() {
        struct Zero;
        impl AsyncWrite for Zero {
            fn poll_write(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
                _: &[u8],
            ) -> Poll<io::Result<usize>> {
                Poll::Ready(Ok(0))
            }
            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
            fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
        }
        let mut writer = Writer::default();
        writer.push(Opcode::Binary, Bytes::from_static(b"x"));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match writer.poll_write(&mut cx, &mut Zero) {
            Poll::Ready(Err(error)) => assert_eq!(error.kind(), io::ErrorKind::WriteZero),
            other => panic!("{other:?}"),
        }
    }
}
