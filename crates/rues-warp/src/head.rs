//! Every request head on a connection is read and checked here before
//! hyper sees it, so that every refusal of a head is the node's own, shaped
//! as all its answers are (docs/protocol.md §5: `Rusk-Version` and a JSON
//! error): hyper answers a head it cannot parse with a bare 400, 414 or
//! 431 that no service ever sees and no hook can shape.
//!
//! [`Guarded`] wraps a connection's byte stream. It holds back the bytes of
//! each request head until the head is whole and checked (parsed with
//! httparse, the parser hyper uses, against [`HeadLimits`]), then releases
//! it, and releases a body's bytes as they arrive while following its
//! framing (`Content-Length` or chunked, by the rules hyper applies) to
//! find where the next head starts. A head it refuses is never released:
//! hyper sees the end of the stream instead, and on its way out (it shuts
//! the stream down) the refusal is written. After a head asking for an
//! upgrade (or a `CONNECT`), everything passes straight through: the
//! listener closes the connection after any answer but 101, so those bytes
//! are either the WebSocket's or nobody's.
//!
//! [`HeadCheck`] is the part without I/O: bytes in, decisions out.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use rues_core::http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What a request head may be. Below hyper's own limits (a 64 KiB URI, 100
/// headers, a ~400 KiB buffer), so hyper never refuses a head itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeadLimits {
    /// The whole head: request line and header fields.
    pub(crate) max_head: usize,
    /// The request target (path and query).
    pub(crate) max_uri: usize,
    /// The number of header fields.
    pub(crate) max_headers: usize,
}

impl Default for HeadLimits {
    /// 32 KiB of head, an 8 KiB URI, 100 header fields.
    fn default() -> Self {
        Self {
            max_head: 32 * 1024,
            max_uri: 8 * 1024,
            max_headers: MAX_HEADERS,
        }
    }
}

/// hyper's own default, and the size of the parse's header array.
const MAX_HEADERS: usize = 100;

/// The longest chunk-size line (with extensions) and the most trailer
/// bytes a chunked body is followed through; past them the body is left to
/// hyper (which refuses it), and the connection's remaining bytes with it.
const MAX_CHUNK_LINE: usize = 4 * 1024;
const MAX_TRAILERS: usize = 16 * 1024;

/// A head the node refuses: the status and a fixed message (never a quote
/// of the request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) message: &'static str,
}

impl Refusal {
    const fn new(status: StatusCode, message: &'static str) -> Self {
        Self { status, message }
    }

    /// The whole HTTP/1.1 answer, closing the connection.
    pub(crate) fn encode(&self, version: &str) -> Vec<u8> {
        let body = format!("{{\"error\":\"{}\"}}", self.message);
        format!(
            "HTTP/1.1 {} {}\r\nrusk-version: {version}\r\ncontent-type: application/json\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            self.status.as_str(),
            self.status.canonical_reason().unwrap_or(""),
            body.len(),
        )
        .into_bytes()
    }
}

/// Where the stream is, between heads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// At (or inside) a request head.
    Head,
    /// Inside a body of this many more bytes.
    Fixed(u64),
    /// Inside a chunked body.
    Chunked(Chunk),
    /// Past an upgrade, or a body it could not follow: the rest is hyper's.
    Through,
}

/// Where a chunked body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// The chunk-size line: its value so far, whether a hex digit was seen,
    /// whether the digits have ended (an extension or whitespace), and the
    /// line's length.
    Size {
        value: u64,
        digits: bool,
        ended: bool,
        len: usize,
    },
    /// Inside a chunk's data.
    Data(u64),
    /// The CR, then the LF, after a chunk's data.
    DataCr,
    DataLf,
    /// The trailer section after the last chunk: the current line's length
    /// and the section's.
    Trailers {
        line: usize,
        total: usize,
    },
}

impl Chunk {
    const START: Self = Self::Size {
        value: 0,
        digits: false,
        ended: false,
        len: 0,
    };
}

/// What [`HeadCheck::advance`] found in the bytes it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// The first `len` bytes are checked and may go to hyper (with a
    /// request head among them when `head`); the rest (an unfinished head,
    /// or the next one) must wait.
    Release { len: usize, head: bool },
    /// A head is refused; the bytes before it (`released`) may still go.
    Refuse { released: usize, refusal: Refusal },
}

/// Follows a connection's requests: heads checked, bodies framed.
#[derive(Debug, Clone)]
pub(crate) struct HeadCheck {
    limits: HeadLimits,
    framing: Framing,
}

impl HeadCheck {
    pub(crate) fn new(limits: HeadLimits) -> Self {
        Self {
            limits,
            framing: Framing::Head,
        }
    }

    /// Whether everything from here on goes straight to hyper.
    pub(crate) fn is_through(&self) -> bool {
        self.framing == Framing::Through
    }

    /// Whether the next bytes start a request head.
    pub(crate) fn is_at_head(&self) -> bool {
        self.framing == Framing::Head
    }

    /// Looks at `bytes`, which start where the last call's release ended
    /// (so a held head is given again, whole, with whatever followed). It
    /// goes through at most one request head, and none unless
    /// `may_start_head`: a body's bytes always pass, but the next request
    /// waits until the last one is answered.
    pub(crate) fn advance(&mut self, bytes: &[u8], may_start_head: bool) -> Step {
        let mut at = 0;
        let mut head = false;
        loop {
            let rest = &bytes[at..];
            if rest.is_empty() {
                return Step::Release { len: at, head };
            }
            match self.framing {
                Framing::Through => {
                    return Step::Release {
                        len: bytes.len(),
                        head,
                    };
                }
                Framing::Fixed(left) => {
                    let take =
                        usize::try_from(left).map_or(rest.len(), |left| left.min(rest.len()));
                    at += take;
                    let left = left - take as u64;
                    self.framing = if left == 0 {
                        Framing::Head
                    } else {
                        Framing::Fixed(left)
                    };
                }
                Framing::Chunked(chunk) => {
                    let (used, next) = follow_chunks(chunk, rest);
                    at += used;
                    self.framing = next;
                }
                Framing::Head if head || !may_start_head => {
                    return Step::Release { len: at, head };
                }
                Framing::Head => match self.head(rest) {
                    Ok(Some(Parsed::Blank(len))) => at += len,
                    Ok(Some(Parsed::Request(len))) => {
                        at += len;
                        head = true;
                    }
                    Ok(None) => return Step::Release { len: at, head },
                    Err(refusal) => {
                        return Step::Refuse {
                            released: at,
                            refusal,
                        };
                    }
                },
            }
        }
    }

    /// A head at the start of `bytes`: `Some` once whole and accepted (the
    /// framing set for what follows), `None` while it may still become one.
    fn head(&mut self, bytes: &[u8]) -> Result<Option<Parsed>, Refusal> {
        // RFC 9112 §2.2: empty lines before a request line are ignored (and
        // hyper skips them too).
        let blank = bytes
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        if blank > 0 {
            return Ok(Some(Parsed::Blank(blank)));
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let headers = &mut headers[..self.limits.max_headers.min(MAX_HEADERS)];
        let mut request = httparse::Request::new(headers);
        let len = match request.parse(bytes) {
            Ok(httparse::Status::Complete(len)) => len,
            // Over the limit with the request line still unfinished: it is
            // the target that is too long.
            Ok(httparse::Status::Partial) if bytes.len() > self.limits.max_head => {
                return Err(if bytes.contains(&b'\n') {
                    HEAD_TOO_LARGE
                } else {
                    URI_TOO_LONG
                });
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => return Err(TOO_MANY_HEADERS),
            // Which answer a bad version gets depends on the whole request
            // line: wait for it.
            Err(httparse::Error::Version)
                if !bytes.contains(&b'\n') && bytes.len() <= self.limits.max_head =>
            {
                return Ok(None);
            }
            Err(httparse::Error::Version) if names_a_version(bytes) => return Err(VERSION),
            Err(_) => return Err(NOT_HTTP),
        };
        let path = request.path.unwrap_or("");
        if path.len() > self.limits.max_uri {
            return Err(URI_TOO_LONG);
        }
        if len > self.limits.max_head {
            return Err(HEAD_TOO_LARGE);
        }
        if rues_core::http::Uri::try_from(path).is_err() {
            return Err(BAD_URI);
        }
        self.framing = framing(&request)?;
        Ok(Some(Parsed::Request(len)))
    }
}

/// What [`HeadCheck::head`] accepted: empty lines before a request line,
/// or a request head; each with its length.
enum Parsed {
    Blank(usize),
    Request(usize),
}

/// Whether the request line is three words, the last a well-formed
/// `HTTP/x.y` (then a version httparse refuses is one the node does not
/// serve: 505; anything else is a broken line, e.g. a raw space in the
/// target: 400).
fn names_a_version(bytes: &[u8]) -> bool {
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or(b"");
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let words: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    matches!(words[..], [_, _, [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]]
        if major.is_ascii_digit() && minor.is_ascii_digit())
}

const HEAD_TOO_LARGE: Refusal = Refusal::new(
    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
    "the request head is too large",
);
const TOO_MANY_HEADERS: Refusal = Refusal::new(
    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
    "the request has too many header fields",
);
const URI_TOO_LONG: Refusal =
    Refusal::new(StatusCode::URI_TOO_LONG, "the request target is too long");
const VERSION: Refusal = Refusal::new(
    StatusCode::HTTP_VERSION_NOT_SUPPORTED,
    "only HTTP/1.0 and HTTP/1.1 are served",
);
const NOT_HTTP: Refusal = Refusal::new(
    StatusCode::BAD_REQUEST,
    "the request head is not valid HTTP/1.1",
);
const BAD_URI: Refusal = Refusal::new(
    StatusCode::BAD_REQUEST,
    "the request target is not a valid URI",
);
const BAD_LENGTH: Refusal = Refusal::new(StatusCode::BAD_REQUEST, "invalid Content-Length");
const BAD_TRANSFER_ENCODING: Refusal = Refusal::new(
    StatusCode::BAD_REQUEST,
    "a request's Transfer-Encoding must end in chunked, and needs HTTP/1.1",
);

/// How the body after an accepted head is framed, by the rules hyper
/// applies (RFC 9112 §6): a `Transfer-Encoding` (HTTP/1.1 only, its last
/// line's last coding `chunked`) wins over `Content-Length`, whose values
/// must all be the same number.
fn framing(request: &httparse::Request<'_, '_>) -> Result<Framing, Refusal> {
    let upgrade = request.method == Some("CONNECT")
        || request
            .headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case("upgrade"));
    let mut chunked = None;
    let mut length: Option<u64> = None;
    for header in request.headers.iter() {
        if header.name.eq_ignore_ascii_case("transfer-encoding") {
            if request.version != Some(1) {
                return Err(BAD_TRANSFER_ENCODING);
            }
            let last = header.value.rsplit(|&b| b == b',').next().unwrap_or(b"");
            chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if header.name.eq_ignore_ascii_case("content-length") {
            for value in header.value.split(|&b| b == b',') {
                let value = value.trim_ascii();
                if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
                    return Err(BAD_LENGTH);
                }
                let value = std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or(BAD_LENGTH)?;
                if length.is_some_and(|seen| seen != value) {
                    return Err(BAD_LENGTH);
                }
                length = Some(value);
            }
        }
    }
    let body = match (chunked, length) {
        (Some(false), _) => return Err(BAD_TRANSFER_ENCODING),
        (Some(true), _) => Framing::Chunked(Chunk::START),
        (None, Some(length)) if length > 0 => Framing::Fixed(length),
        (None, _) => Framing::Head,
    };
    // An upgrade's body (if any) is framed as any other would be, but what
    // follows it is the upgraded protocol's.
    Ok(match (upgrade, body) {
        (true, _) => Framing::Through,
        (false, body) => body,
    })
}

/// Follows a chunked body through `bytes`: how many it used, and where the
/// stream is after them. A body it cannot follow is left to hyper
/// ([`Framing::Through`]): hyper refuses it, and the connection ends.
fn follow_chunks(mut chunk: Chunk, bytes: &[u8]) -> (usize, Framing) {
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        let mut used = 1;
        chunk = match chunk {
            Chunk::Data(left) => {
                let take = usize::try_from(left)
                    .map_or(bytes.len() - at, |left| left.min(bytes.len() - at));
                used = take;
                match left - take as u64 {
                    0 => Chunk::DataCr,
                    left => Chunk::Data(left),
                }
            }
            Chunk::Size { len, .. } if len >= MAX_CHUNK_LINE => return (at, Framing::Through),
            Chunk::Size { digits: false, .. } if byte == b'\n' => return (at, Framing::Through),
            Chunk::Size { value: 0, .. } if byte == b'\n' => Chunk::Trailers { line: 0, total: 0 },
            Chunk::Size { value, .. } if byte == b'\n' => Chunk::Data(value),
            Chunk::Size {
                value,
                ended: false,
                len,
                ..
            } if byte.is_ascii_hexdigit() => {
                let digit = u64::from(char::from(byte).to_digit(16).unwrap_or(0));
                match value.checked_mul(16).and_then(|v| v.checked_add(digit)) {
                    Some(value) => Chunk::Size {
                        value,
                        digits: true,
                        ended: false,
                        len: len + 1,
                    },
                    None => return (at, Framing::Through),
                }
            }
            // CR, whitespace or an extension: the digits have ended.
            Chunk::Size {
                value, digits, len, ..
            } => Chunk::Size {
                value,
                digits,
                ended: true,
                len: len + 1,
            },
            Chunk::DataCr if byte == b'\r' => Chunk::DataLf,
            Chunk::DataLf if byte == b'\n' => Chunk::START,
            Chunk::DataCr | Chunk::DataLf => return (at, Framing::Through),
            Chunk::Trailers { total, .. } if total >= MAX_TRAILERS => {
                return (at, Framing::Through);
            }
            Chunk::Trailers { line: 0, .. } if byte == b'\n' => return (at + 1, Framing::Head),
            Chunk::Trailers { total, .. } if byte == b'\n' => Chunk::Trailers {
                line: 0,
                total: total + 1,
            },
            Chunk::Trailers { line, total } if byte == b'\r' => Chunk::Trailers {
                line,
                total: total + 1,
            },
            Chunk::Trailers { line, total } => Chunk::Trailers {
                line: line + 1,
                total: total + 1,
            },
        };
        at += used;
    }
    (at, Framing::Chunked(chunk))
}

/// How much [`Guarded`] reads from the socket at a time while it checks.
const READ_CHUNK: usize = 8 * 1024;

/// What [`Guarded`] holds a connection to.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    pub(crate) limits: HeadLimits,
    /// An answer whose bytes make no progress for this long (the client
    /// stopped reading) ends its connection, so a client that sends
    /// requests and never reads the answers holds nothing for long.
    /// Not applied past an upgrade: sessions have rules of their own.
    pub(crate) write_stall: Duration,
    /// The node's version, for a refusal's `Rusk-Version`.
    pub(crate) version: Arc<str>,
}

/// A connection's byte stream with every request head checked before hyper
/// reads it, and a deadline on answers that stall (see the module's docs).
pub(crate) struct Guarded<S> {
    inner: S,
    check: HeadCheck,
    write_stall: Duration,
    /// Running while a write waits on a client that does not read.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Read from the socket, not yet given to hyper; its first `released`
    /// bytes are checked.
    held: BytesMut,
    released: usize,
    /// The answer to a refused head, written when hyper shuts the stream
    /// down; `written` counts what of it has gone out.
    refusal: Option<(Vec<u8>, usize)>,
    /// The node's version, for the refusal's `Rusk-Version`.
    version: Arc<str>,
    /// A request head went to hyper and hyper has written nothing since:
    /// the next head waits (so hyper never holds a request it has not
    /// begun to answer when a refused head makes the stream end).
    answer_pending: bool,
    /// `held` has bytes (or a reason to look again) that the check has not
    /// seen since it last looked.
    unexamined: bool,
    /// hyper's read, waiting for the answer to go out.
    parked: Option<Waker>,
}

impl<S> Guarded<S> {
    pub(crate) fn new(inner: S, rules: &Rules) -> Self {
        Self {
            inner,
            check: HeadCheck::new(rules.limits),
            write_stall: rules.write_stall,
            stalled: None,
            held: BytesMut::new(),
            released: 0,
            refusal: None,
            version: rules.version.clone(),
            answer_pending: false,
            unexamined: false,
            parked: None,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.released > 0 {
                let n = this.released.min(out.remaining());
                out.put_slice(&this.held[..n]);
                this.held.advance(n);
                this.released -= n;
                return Poll::Ready(Ok(()));
            }
            if this.refusal.is_some() {
                // hyper sees the stream end, and shuts it down.
                return Poll::Ready(Ok(()));
            }
            if this.check.is_through() && this.held.is_empty() {
                // Past an upgrade the bytes pass straight through: a
                // session keeps no buffer of the head it came with (an
                // emptied `BytesMut` still holds its allocation).
                if this.held.capacity() > 0 {
                    this.held = BytesMut::new();
                }
                return Pin::new(&mut this.inner).poll_read(cx, out);
            }
            if out.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            if this.answer_pending && this.check.is_at_head() {
                this.parked = Some(cx.waker().clone());
                return Poll::Pending;
            }
            if this.unexamined {
                this.unexamined = false;
                match this.check.advance(&this.held, !this.answer_pending) {
                    Step::Release { len, head } => {
                        this.released = len;
                        this.answer_pending |= head;
                    }
                    Step::Refuse { released, refusal } => {
                        tracing::debug!(status = %refusal.status, "request head refused");
                        this.released = released;
                        this.held.truncate(released);
                        this.refusal = Some((refusal.encode(&this.version), 0));
                    }
                }
                continue;
            }
            let mut scratch = [0u8; READ_CHUNK];
            let mut read = ReadBuf::new(&mut scratch);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                // The peer is gone (or stopped sending) in the middle of a
                // head: no request, so nothing to answer.
                this.held.clear();
                return Poll::Ready(Ok(()));
            }
            this.held.extend_from_slice(read.filled());
            this.unexamined = true;
        }
    }
}

impl<S> Guarded<S> {
    /// Passes a write's outcome on, with the stall deadline: a write that
    /// is still pending `write_stall` after it first was fails.
    fn deadline<T>(
        &mut self,
        cx: &mut Context<'_>,
        outcome: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if outcome.is_ready() || self.check.is_through() {
            self.stalled = None;
            return outcome;
        }
        let write_stall = self.write_stall;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(write_stall)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => {
                tracing::debug!("the client stopped reading an answer: connection closed");
                Poll::Ready(Err(io::ErrorKind::TimedOut.into()))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// hyper wrote (part of) an answer: the next request head may go.
    fn answered(&mut self) {
        if self.answer_pending {
            self.answer_pending = false;
            self.unexamined = true;
            if let Some(reader) = self.parked.take() {
                reader.wake();
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.inner).poll_write(cx, buf);
        let written = ready!(this.deadline(cx, outcome))?;
        this.answered();
        Poll::Ready(Ok(written))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        let written = ready!(this.deadline(cx, outcome))?;
        this.answered();
        Poll::Ready(Ok(written))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.inner).poll_flush(cx);
        this.deadline(cx, outcome)
    }

    /// Writes the refusal of a head, if there is one, before shutting down.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some((answer, mut written)) = this.refusal.take() {
            while written < answer.len() {
                let outcome = Pin::new(&mut this.inner).poll_write(cx, &answer[written..]);
                match this.deadline(cx, outcome) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(n)) => written += n,
                    Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                    Poll::Pending => {
                        this.refusal = Some((answer, written));
                        return Poll::Pending;
                    }
                }
            }
            // Written: the stream stays ended for hyper.
            this.refusal = Some((answer, written));
        }
        let outcome = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.deadline(cx, outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check() -> HeadCheck {
        HeadCheck::new(HeadLimits::default())
    }

    /// Feeds `bytes` in pieces of `piece` bytes the way [`Guarded`] does
    /// (held bytes given again with the new ones); returns how many bytes
    /// were released and the refusal, if any.
    fn feed(bytes: &[u8], piece: usize) -> (usize, Option<Refusal>) {
        let mut check = check();
        let mut released = 0;
        for end in (piece..bytes.len() + piece).step_by(piece) {
            let end = end.min(bytes.len());
            // Each request answered at once: the check is asked again until
            // it releases nothing more.
            loop {
                match check.advance(&bytes[released..end], true) {
                    Step::Release { len: 0, .. } => break,
                    Step::Release { len, .. } => released += len,
                    Step::Refuse {
                        released: len,
                        refusal,
                    } => return (released + len, Some(refusal)),
                }
            }
        }
        (released, None)
    }

    fn chunked(body: &[u8], size: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in body.chunks(size) {
            out.extend_from_slice(format!("{:X};ext=1\r\n", piece.len()).as_bytes());
            out.extend_from_slice(piece);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\nX-Trailer: yes\r\n\r\n");
        out
    }

    /// Three pipelined requests: one with a fixed body, one chunked, one
    /// without a body. The body bytes look like heads, and like broken ones,
    /// so a lost framing would show.
    fn pipelined() -> Vec<u8> {
        let trap = b"GET / HTTP/1.1\r\n\x00\r\n\r\n".repeat(3);
        let mut bytes = format!(
            "POST /on/a/b HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            trap.len()
        )
        .into_bytes();
        bytes.extend_from_slice(&trap);
        bytes.extend_from_slice(
            b"\r\nPOST /on/a/b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        );
        bytes.extend_from_slice(&chunked(&trap, 7));
        bytes.extend_from_slice(b"GET /on HTTP/1.1\r\nHost: x\r\n\r\n");
        bytes
    }

    #[test]
    fn pipelined_requests_are_released_whole_however_they_are_cut() {
        let bytes = pipelined();
        for piece in 1..=bytes.len() {
            assert_eq!(
                feed(&bytes, piece),
                (bytes.len(), None),
                "pieces of {piece}"
            );
        }
    }

    #[test]
    fn the_next_head_waits_until_the_last_request_is_answered() {
        let first = b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
        let bytes = [&first[..], b"GET / HTTP/1.1\r\n\r\n"].concat();
        let mut check = check();
        assert_eq!(
            check.advance(&bytes, true),
            Step::Release {
                len: first.len(),
                head: true
            }
        );
        let rest = &bytes[first.len()..];
        assert_eq!(
            check.advance(rest, false),
            Step::Release {
                len: 0,
                head: false
            }
        );
        assert_eq!(
            check.advance(rest, true),
            Step::Release {
                len: rest.len(),
                head: true
            }
        );
        // A body's bytes pass whether or not its request is answered.
        let mut check = HeadCheck::new(HeadLimits::default());
        let head = b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n";
        assert_eq!(
            check.advance(head, true),
            Step::Release {
                len: head.len(),
                head: true
            }
        );
        assert_eq!(
            check.advance(b"abc", false),
            Step::Release {
                len: 3,
                head: false
            }
        );
    }

    #[test]
    fn a_bad_head_after_good_requests_is_refused_and_only_it_held() {
        let good = pipelined();
        let mut bytes = good.clone();
        bytes.extend_from_slice(b"GET /on HTTP/1.1\r\nBad Header: x\r\n\r\n");
        for piece in [1, 5, 64, bytes.len()] {
            let (released, refusal) = feed(&bytes, piece);
            assert_eq!(released, good.len(), "pieces of {piece}");
            assert_eq!(refusal, Some(NOT_HTTP));
        }
    }

    #[test]
    fn each_kind_of_bad_head_gets_its_answer() {
        let limits = HeadLimits::default();
        let long_uri = format!(
            "GET /{} HTTP/1.1\r\nHost: x\r\n\r\n",
            "a".repeat(limits.max_uri)
        );
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "X-A: 1\r\n".repeat(MAX_HEADERS + 1)
        );
        let huge = format!(
            "GET / HTTP/1.1\r\nX-A: {}\r\n\r\n",
            "a".repeat(limits.max_head)
        );
        let cases: [(&[u8], Refusal); 12] = [
            (b"GET /a b/c HTTP/1.1\r\nHost: x\r\n\r\n", NOT_HTTP),
            (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", NOT_HTTP),
            (b"GET / HTTP/1.1\r\nHost: x\r\nNo-Colon\r\n\r\n", NOT_HTTP),
            (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", VERSION),
            (b"GET / HTTP/1.2\r\n\r\n", VERSION),
            (long_uri.as_bytes(), URI_TOO_LONG),
            (many.as_bytes(), TOO_MANY_HEADERS),
            (huge.as_bytes(), HEAD_TOO_LARGE),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n",
                BAD_LENGTH,
            ),
            (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", BAD_LENGTH),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
                BAD_TRANSFER_ENCODING,
            ),
            (
                b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                BAD_TRANSFER_ENCODING,
            ),
        ];
        for (bytes, expected) in cases {
            assert_eq!(
                feed(bytes, bytes.len()).1,
                Some(expected),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        // A head that never ends is refused as soon as it passes the limit,
        // not when it ends.
        let endless = format!("GET / HTTP/1.1\r\nX-A: {}", "a".repeat(limits.max_head));
        assert_eq!(feed(endless.as_bytes(), 1024).1, Some(HEAD_TOO_LARGE));
    }

    #[test]
    fn repeated_equal_lengths_and_chunked_over_a_length_are_accepted() {
        let bytes = b"POST / HTTP/1.1\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc\
                      POST / HTTP/1.1\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n\
                      3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n";
        assert_eq!(feed(bytes, 3), (bytes.len(), None));
    }

    #[test]
    fn after_an_upgrade_everything_passes_through() {
        let mut bytes =
            b"GET /on HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
                .to_vec();
        bytes.extend_from_slice(&[0x82, 0x85, 0, 0, 0, 0, b'n', b'o', b't', 0, b'\r']);
        assert_eq!(feed(&bytes, 4), (bytes.len(), None));
    }

    #[test]
    fn a_chunked_body_it_cannot_follow_is_left_to_hyper() {
        for body in [&b"zz\r\n"[..], b"5\r\nabcdeXX", b"\r\n"] {
            let mut bytes = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            bytes.extend_from_slice(body);
            bytes.extend_from_slice(b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n");
            assert_eq!(feed(&bytes, 2), (bytes.len(), None), "{body:?}");
        }
    }

    #[test]
    fn a_refusal_is_a_whole_json_answer_that_closes() {
        let answer = String::from_utf8(URI_TOO_LONG.encode("1.6.0")).expect("text");
        let body = "{\"error\":\"the request target is too long\"}";
        assert_eq!(
            answer,
            format!(
                "HTTP/1.1 414 URI Too Long\r\nrusk-version: 1.6.0\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
        );
    }

    /// Pieces streams are made of: requests of every framing, and the
    /// ways they go wrong.
    const PIECES: [&[u8]; 12] = [
        b"GET /on/a HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /on/a HTTP/1.1\r\nContent-Length: 5\r\n\r\nGET /",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
        b"GET /on HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
        b"\r\n",
        b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"\x00\xff\r\n\r\n",
        b"GET / HTTP/1.1\r\n",
        b"Content-Length: 3\r\n\r\nabc",
    ];

    proptest::proptest! {
        /// However a stream is cut into reads, the check releases the same
        /// bytes and makes the same decision, and never releases a byte
        /// past a refused head.
        #[test]
        fn the_decision_does_not_depend_on_how_the_bytes_arrive(
            picks in proptest::collection::vec(0..PIECES.len(), 0..12),
            noise in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
            piece in 1usize..64,
        ) {
            let mut bytes: Vec<u8> = picks.iter().flat_map(|&i| PIECES[i].to_vec()).collect();
            bytes.extend_from_slice(&noise);
            let whole = feed(&bytes, bytes.len().max(1));
            let cut = feed(&bytes, piece);
            proptest::prop_assert_eq!(whole, cut);
            proptest::prop_assert!(whole.0 <= bytes.len());
        }
    }
}
