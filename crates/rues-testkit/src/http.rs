//! A raw HTTP/1.1 client: one request on a fresh connection ([`http`], or
//! [`try_http`] for callers that count failures rather than panic) or on a
//! stream the caller opened, e.g. over TLS ([`try_request_on`]); the response
//! read whole. Or the response read as it comes ([`http_stream`]).

use std::io;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use rues_core::http::{HeaderMap, Method, Request, StatusCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::response::{self, WholeResponse};
use crate::server::PATIENCE;

/// An HTTP response, read whole.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl WholeResponse for Answer {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    fn body(&self) -> &[u8] {
        &self.body
    }
}

impl Answer {
    /// The value of header `name`, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        response::header(self, name)
    }

    /// The message of a JSON error body.
    ///
    /// # Panics
    ///
    /// If the body is not `{"error": "<message>"}`.
    #[track_caller]
    pub fn error(&self) -> String {
        response::error_message(self)
    }

    /// The body as JSON.
    ///
    /// # Panics
    ///
    /// If the body is not JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// Asserts a JSON error from the node; see [`crate::assert_error`].
    #[track_caller]
    pub fn assert_error(&self, status: StatusCode, needle: &str) {
        response::assert_error(self, status, needle);
    }
}

/// One HTTP/1.1 request to `addr` on a fresh connection, answered within
/// [`PATIENCE`].
///
/// # Panics
///
/// If the connection, the request or the response fails; see [`try_http`].
pub async fn http(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let what = format!("{method} {path}");
    try_http(addr, method, path, headers, body)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// [`http`], failing with an error instead of a panic (for load tools that
/// count failures).
///
/// # Errors
///
/// If the connection cannot be made; otherwise as [`try_request_on`].
pub async fn try_http(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Answer> {
    let stream = TcpStream::connect(addr).await?;
    try_request_on(stream, addr, method, path, headers, body).await
}

/// One HTTP/1.1 request on `io`, a stream already connected to `addr` (which
/// names the `Host`; e.g. a TLS stream), answered within [`PATIENCE`].
///
/// # Errors
///
/// If the handshake fails, a header is invalid, no response comes within
/// [`PATIENCE`] (`TimedOut`), or the connection breaks.
pub async fn try_request_on<T>(
    io: T,
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Answer>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (response, _connection) = send(io, addr, method, path, headers, body).await?;
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| io::Error::other(format!("a broken body: {e}")))?
        .to_bytes();
    Ok(Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

/// The connection's task: it owns the socket.
type Connection = JoinHandle<Result<(), hyper::Error>>;

/// Sends one request on `io` and waits for the response head; the body is
/// the caller's to read, while the returned task drives the connection.
async fn send<T>(
    io: T,
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<(hyper::Response<Incoming>, Connection)>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
            .await
            .map_err(|e| io::Error::other(format!("HTTP handshake: {e}")))?;
    let connection = tokio::spawn(conn);
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::copy_from_slice(body)))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let response = tokio::time::timeout(PATIENCE, sender.send_request(request))
        .await
        .map_err(|_| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no answer within {PATIENCE:?}"),
            )
        })?
        .map_err(|e| io::Error::other(format!("no response: {e}")))?;
    Ok((response, connection))
}

/// An HTTP response whose body is read as it arrives ([`http_stream`]):
/// chunk by chunk, never gathered. Dropping it closes the connection.
#[derive(Debug)]
pub struct Streamed {
    /// The status code.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    body: Incoming,
    connection: Connection,
}

impl Streamed {
    /// The value of header `name`, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The next piece of the body, as it came off the socket (its
    /// boundaries need not be the server's chunks); `None` at the body's
    /// clean end.
    ///
    /// # Errors
    ///
    /// If the body broke off before its end (a chunked body cut short: the
    /// server aborted it), or nothing came within [`PATIENCE`] (`TimedOut`).
    pub async fn chunk(&mut self) -> Option<io::Result<Bytes>> {
        loop {
            let frame = match tokio::time::timeout(PATIENCE, self.body.frame()).await {
                Ok(frame) => frame?,
                Err(_) => {
                    return Some(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no body within {PATIENCE:?}"),
                    )));
                }
            };
            match frame {
                // Trailers, which RUES never sends, are passed over.
                Ok(frame) => match frame.into_data() {
                    Ok(data) if data.is_empty() => {}
                    Ok(data) => return Some(Ok(data)),
                    Err(_trailers) => {}
                },
                Err(e) => return Some(Err(io::Error::other(format!("a broken body: {e}")))),
            }
        }
    }

    /// Closes the connection now, mid-body or not: the socket is dropped
    /// (what dropping `self` does too).
    pub fn disconnect(self) {}
}

impl Drop for Streamed {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

/// One HTTP/1.1 request to `addr` on a fresh connection, its response head
/// read within [`PATIENCE`] and its body left to be read as it comes.
///
/// # Panics
///
/// If the connection, the request or the response head fails.
pub async fn http_stream(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Streamed {
    let what = format!("{method} {path}");
    let stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let (response, connection) = send(stream, addr, method, path, headers, body)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let (parts, body) = response.into_parts();
    Streamed {
        status: parts.status,
        headers: parts.headers,
        body,
        connection,
    }
}

/// Reads a raw HTTP/1 response head from `stream`, byte by byte so that
/// nothing after it (a WebSocket frame) is consumed, within [`PATIENCE`];
/// returns its status and the head's text.
///
/// # Panics
///
/// If the stream fails or ends before the head does, the head does not come
/// in time, or it has no status.
pub async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> (u16, String) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = tokio::time::timeout(PATIENCE, stream.read(&mut byte))
            .await
            .expect("a response head in time")
            .expect("read");
        assert_eq!(read, 1, "closed before the head ended");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, head)
}
