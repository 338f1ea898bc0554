//! The HTTP side of RUES: [`Dispatcher`] (dispatch, and the subscribe and
//! unsubscribe requests of a session), [`DispatchRequest`], [`Body`],
//! [`Reply`], and the [`Error::Status`] of a refused request.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use rues_target::EventPath;
use rues_wire::{
    Position, RUES_RESUME, RUES_RESUME_RESULT, RUSK_SESSION_ID, RUSK_VERSION, ResumeResult,
    SessionId,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::endpoint::{Endpoint, IntoEventPath};
use crate::error::{Error, Source, short_reason};
use crate::event::{is_json_type, media_type};

const OCTET_STREAM: &str = "application/octet-stream";

/// A dispatch request body.
///
/// The variant decides the `Content-Type` (docs/protocol.md §5.2): the node uses
/// a [`Binary`](Body::Binary) body's bytes as is; it reads the others as
/// text (and, for compatibility, hex-decodes a text body of `0x` + hex).
///
/// ```
/// use rues_client::Body;
///
/// let binary: Body = vec![1u8, 2, 3].into();
/// let text: Body = "10".into();
/// let json: Body = serde_json::json!({ "query": "{ block(height: 1) { hash } }" }).into();
/// assert_eq!(binary.content_type(), Some("application/octet-stream"));
/// assert_eq!(text.content_type(), Some("text/plain; charset=utf-8"));
/// assert_eq!(json.content_type(), Some("application/json"));
/// assert_eq!(Body::Empty.content_type(), None);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Body {
    /// No body and no `Content-Type`.
    #[default]
    Empty,
    /// Bytes, sent as `application/octet-stream`.
    Binary(Bytes),
    /// Serialized JSON, sent as `application/json`.
    Json(Bytes),
    /// Text, sent as `text/plain; charset=utf-8`.
    Text(String),
}

impl Body {
    /// A JSON body from any serializable value.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Body, Error> {
        serde_json::to_vec(value)
            .map(|bytes| Body::Json(Bytes::from(bytes)))
            .map_err(|source| Error::Json {
                what: "request body",
                source: Arc::new(source),
            })
    }

    /// The `Content-Type` this body is sent with.
    pub fn content_type(&self) -> Option<&'static str> {
        match self {
            Body::Empty => None,
            Body::Binary(_) => Some(OCTET_STREAM),
            Body::Json(_) => Some("application/json"),
            Body::Text(_) => Some("text/plain; charset=utf-8"),
        }
    }

    fn into_bytes(self) -> Bytes {
        match self {
            Body::Empty => Bytes::new(),
            Body::Binary(bytes) | Body::Json(bytes) => bytes,
            Body::Text(text) => Bytes::from(text),
        }
    }
}

impl From<()> for Body {
    fn from((): ()) -> Self {
        Body::Empty
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Body::Binary(bytes)
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Body::Binary(Bytes::from(bytes))
    }
}

impl From<&[u8]> for Body {
    fn from(bytes: &[u8]) -> Self {
        Body::Binary(Bytes::copy_from_slice(bytes))
    }
}

impl<const N: usize> From<&[u8; N]> for Body {
    fn from(bytes: &[u8; N]) -> Self {
        Body::Binary(Bytes::copy_from_slice(bytes))
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Body::Text(text)
    }
}

impl From<&str> for Body {
    fn from(text: &str) -> Self {
        Body::Text(text.to_owned())
    }
}

impl From<serde_json::Value> for Body {
    fn from(value: serde_json::Value) -> Self {
        Body::Json(Bytes::from(value.to_string()))
    }
}

/// A node's successful answer to a dispatch: `200` with a body, or `202`
/// with none.
#[derive(Clone)]
pub struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    /// The status: `200 OK`, `202 Accepted`, or another 2xx.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response headers (`X-*` request headers are echoed here).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// A response header's value, when it is valid text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Content-Type` of the body, when the node sent one.
    pub fn content_type(&self) -> Option<&str> {
        self.header(CONTENT_TYPE.as_str())
    }

    /// The node's version, from its `Rusk-Version` response header.
    pub fn node_version(&self) -> Option<&str> {
        self.header(RUSK_VERSION)
    }

    /// Whether the body is JSON by its `Content-Type`.
    pub fn is_json(&self) -> bool {
        self.content_type().is_some_and(is_json_type)
    }

    /// Whether the body is binary by its `Content-Type`
    /// (`application/octet-stream`). Binary replies always come raw: the
    /// client asks for it with `Accept: application/octet-stream`.
    pub fn is_binary(&self) -> bool {
        self.content_type()
            .is_some_and(|ct| media_type(ct).eq_ignore_ascii_case(OCTET_STREAM))
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The body, by value.
    pub fn into_body(self) -> Bytes {
        self.body
    }

    /// The body as text, when it is UTF-8.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }

    /// The body parsed as JSON into `T` (e.g. [`serde_json::Value`]).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|source| Error::Json {
            what: "reply body",
            source: Arc::new(source),
        })
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("content_type", &self.content_type())
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Dispatches to a node over HTTP, with no WebSocket session.
///
/// For callers that only call the node's handlers, as rusk-wallet does:
/// it opens no session, so it costs the node nothing between requests.
/// [`Client`](crate::Client) has one inside for its own requests.
///
/// Every request carries the `Rusk-Version` requirement (unlike w3sper's
/// dispatches), has a timeout (unlike rusk-wallet's), and asks for binary
/// replies raw (`Accept: application/octet-stream`), so a binary reply is
/// never confused with hex text. Cheap to clone.
///
/// ```no_run
/// # async fn run() -> Result<(), rues_client::Error> {
/// let node = rues_client::Dispatcher::new("http://127.0.0.1:8080")?;
/// let info: serde_json::Value = node.dispatch("node/info", ()).await?.json()?;
/// println!("node version {}", info["version"]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Dispatcher {
    http: reqwest::Client,
    endpoint: Endpoint,
    timeout: Option<Duration>,
    connect_timeout: Duration,
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("url", &self.endpoint.base())
            .finish_non_exhaustive()
    }
}

/// What [`Dispatcher::build`] needs from the builder.
pub(crate) struct HttpSettings {
    pub(crate) headers: HeaderMap,
    pub(crate) tls: Arc<tokio_rustls::rustls::ClientConfig>,
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Option<Duration>,
}

// `Dispatcher::new` is in `builder.rs`, with the defaults it takes.
impl Dispatcher {
    pub(crate) fn build(endpoint: Endpoint, settings: HttpSettings) -> Result<Self, Error> {
        let mut builder = reqwest::Client::builder()
            .use_preconfigured_tls((*settings.tls).clone())
            .default_headers(settings.headers)
            .user_agent(concat!("rues-client/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(settings.connect_timeout);
        if let Some(timeout) = settings.timeout {
            builder = builder.timeout(timeout);
        }
        let http = builder.build().map_err(|e| Error::Connect {
            url: endpoint.base().to_owned(),
            reason: format!("cannot set up the HTTP client: {}", short_reason(&e)),
            source: Some(Arc::new(e) as Source),
        })?;
        Ok(Dispatcher {
            http,
            endpoint,
            timeout: settings.timeout,
            connect_timeout: settings.connect_timeout,
        })
    }

    /// The node's base URL, normalized: `http(s)://host[:port][/prefix]`.
    pub fn url(&self) -> &str {
        self.endpoint.base()
    }

    /// Dispatches `body` to `path` and returns the node's reply.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPath`] before anything is sent; [`Error::Status`]
    /// with the node's message for a 4xx or 5xx (404 unknown component or
    /// topic, 400 version mismatch, 413 body too large, 422 body the handler
    /// cannot process...); [`Error::Connect`], [`Error::Transport`] or
    /// [`Error::Timeout`] when the exchange fails.
    pub async fn dispatch(
        &self,
        path: impl IntoEventPath,
        body: impl Into<Body>,
    ) -> Result<Reply, Error> {
        self.request(path).body(body).send().await
    }

    /// A dispatch request to finish with headers, a session or a timeout,
    /// then [`send`](DispatchRequest::send).
    pub fn request(&self, path: impl IntoEventPath) -> DispatchRequest {
        DispatchRequest {
            dispatcher: self.clone(),
            path: path.into_event_path(),
            body: Body::Empty,
            headers: Ok(HeaderMap::new()),
            session: None,
            timeout: None,
        }
    }

    /// `GET`: subscribes `session` to `path`.
    pub(crate) async fn subscribe(
        &self,
        session: SessionId,
        path: &EventPath,
    ) -> Result<(), Error> {
        self.session_request(Method::GET, session, path).await
    }

    /// `GET` with `Rues-Resume: <from>` when there is a point to resume
    /// from (docs/protocol.md §10); the node's `Rues-Resume-Result`, if it
    /// sent one (a node without resume ignores the header).
    pub(crate) async fn subscribe_from(
        &self,
        session: SessionId,
        path: &EventPath,
        from: Option<Position>,
    ) -> Result<Option<ResumeResult>, Error> {
        let mut headers = HeaderMap::new();
        if let Some(from) = from {
            if let Ok(value) = HeaderValue::from_str(&from.to_string()) {
                headers.insert(RUES_RESUME, value);
            }
        }
        let reply = self
            .execute(Exchange::bodiless(Method::GET, path, session, headers))
            .await?;
        let Some(result) = reply.headers.get(RUES_RESUME_RESULT) else {
            return Ok(None);
        };
        ResumeResult::parse(result.as_bytes())
            .map(Some)
            .map_err(|e| {
                Error::protocol(format!("malformed Rues-Resume-Result from the node: {e}"))
            })
    }

    /// `DELETE`: unsubscribes `session` from `path`.
    pub(crate) async fn unsubscribe(
        &self,
        session: SessionId,
        path: &EventPath,
    ) -> Result<(), Error> {
        self.session_request(Method::DELETE, session, path).await
    }

    /// A bodiless request on `session`'s subscription to `path`.
    async fn session_request(
        &self,
        method: Method,
        session: SessionId,
        path: &EventPath,
    ) -> Result<(), Error> {
        self.execute(Exchange::bodiless(method, path, session, HeaderMap::new()))
            .await
            .map(drop)
    }

    /// Sends one request and reads its whole answer; a 4xx or 5xx is an
    /// [`Error::Status`].
    async fn execute(&self, exchange: Exchange) -> Result<Reply, Error> {
        let timeout = exchange.timeout;
        let (response, context) = self.send(exchange).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| self.request_error(e, &context, timeout))?;
        if status.is_client_error() || status.is_server_error() {
            return Err(status_error(status, &headers, &body));
        }
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// Sends one request and waits for the head of the answer; returns it
    /// with the request's description for errors.
    async fn send(&self, exchange: Exchange) -> Result<(reqwest::Response, String), Error> {
        let Exchange {
            method,
            path,
            session,
            body,
            headers,
            timeout,
        } = exchange;
        let url = self.endpoint.event_url(&path)?;
        let context = format!("{method} {url}");
        let mut request = self.http.request(method.clone(), url);
        if let Some(session) = session {
            request = request.header(RUSK_SESSION_ID, session.to_string());
        }
        if method == Method::POST {
            if let Some(content_type) = body.content_type() {
                request = request.header(CONTENT_TYPE, content_type);
            }
            if !headers.contains_key(ACCEPT) {
                request = request.header(ACCEPT, OCTET_STREAM);
            }
            request = request.body(body.into_bytes());
        }
        request = request.headers(headers);
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        let response = request
            .send()
            .await
            .map_err(|e| self.request_error(e, &context, timeout))?;
        Ok((response, context))
    }

    fn request_error(
        &self,
        error: reqwest::Error,
        context: &str,
        timeout: Option<Duration>,
    ) -> Error {
        let reason = short_reason(&error);
        if error.is_connect() {
            let reason = if error.is_timeout() {
                format!("no connection within {:?}", self.connect_timeout)
            } else {
                reason
            };
            return Error::Connect {
                url: self.endpoint.base().to_owned(),
                reason,
                source: Some(Arc::new(error)),
            };
        }
        if error.is_timeout() {
            return Error::Timeout {
                context: context.to_owned(),
                after: timeout.or(self.timeout).unwrap_or_default(),
            };
        }
        Error::Transport {
            context: context.to_owned(),
            reason,
            source: Some(Arc::new(error)),
        }
    }
}

/// One request, as [`Dispatcher::send`] sends it.
struct Exchange {
    method: Method,
    path: EventPath,
    session: Option<SessionId>,
    body: Body,
    headers: HeaderMap,
    timeout: Option<Duration>,
}

impl Exchange {
    /// A session's subscribe or unsubscribe: no body, the client's timeout.
    fn bodiless(method: Method, path: &EventPath, session: SessionId, headers: HeaderMap) -> Self {
        Exchange {
            method,
            path: path.clone(),
            session: Some(session),
            body: Body::Empty,
            headers,
            timeout: None,
        }
    }
}

/// A dispatch's answer whose body is read as it comes: from
/// [`DispatchRequest::send_streamed`]. Any status, 4xx and 5xx included,
/// is an answer here, for a caller that passes answers on as they are (a
/// relay); the body is not read until [`into_stream`](Self::into_stream).
pub struct StreamedReply {
    response: reqwest::Response,
    context: String,
    dispatcher: Dispatcher,
    timeout: Option<Duration>,
}

impl StreamedReply {
    /// The node's status.
    pub fn status(&self) -> StatusCode {
        self.response.status()
    }

    /// The node's headers.
    pub fn headers(&self) -> &HeaderMap {
        self.response.headers()
    }

    /// Whether the node sent the body without a length (chunked, as a
    /// streamed reply is) rather than whole.
    pub fn is_chunked(&self) -> bool {
        !self
            .response
            .headers()
            .contains_key(http::header::CONTENT_LENGTH)
    }

    /// The body, chunk by chunk as the node sends it; the request's timeout
    /// (if any) bounds the whole exchange.
    pub fn into_stream(self) -> impl Stream<Item = Result<Bytes, Error>> + Send + 'static {
        let StreamedReply {
            response,
            context,
            dispatcher,
            timeout,
        } = self;
        futures_util::stream::try_unfold(
            (response, context, dispatcher),
            move |(mut response, context, dispatcher)| async move {
                match response.chunk().await {
                    Ok(Some(chunk)) => Ok(Some((chunk, (response, context, dispatcher)))),
                    Ok(None) => Ok(None),
                    Err(error) => Err(dispatcher.request_error(error, &context, timeout)),
                }
            },
        )
    }
}

impl fmt::Debug for StreamedReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamedReply")
            .field("status", &self.status())
            .field("chunked", &self.is_chunked())
            .finish_non_exhaustive()
    }
}

/// The error of a 4xx or 5xx answer: the node's message from its JSON
/// `{"error": "..."}` body, or its plain-text body (rusk), or the reason
/// phrase.
pub(crate) fn status_error(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
    let from_json = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|value| {
            value
                .get("error")
                .and_then(|e| e.as_str())
                .map(str::to_owned)
        });
    let message = from_json.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            status.canonical_reason().unwrap_or("no message").to_owned()
        } else {
            truncate(text, 1000)
        }
    });
    Error::Status {
        status,
        message,
        node_version: headers
            .get(RUSK_VERSION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// A dispatch being built: add headers, a session or a timeout, then
/// [`send`](DispatchRequest::send) it.
///
/// ```no_run
/// # async fn run(client: rues_client::Client) -> Result<(), rues_client::Error> {
/// let reply = client
///     .request("transactions/preverify")
///     .body(vec![0u8; 32])
///     .header("X-Request-Id", "42")
///     .session(client.session_id())
///     .send()
///     .await?;
/// assert_eq!(reply.header("x-request-id"), Some("42"));
/// # Ok(())
/// # }
/// ```
#[must_use = "a request does nothing until sent"]
pub struct DispatchRequest {
    dispatcher: Dispatcher,
    path: Result<EventPath, Error>,
    body: Body,
    headers: Result<HeaderMap, Error>,
    session: Option<SessionId>,
    timeout: Option<Duration>,
}

impl fmt::Debug for DispatchRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DispatchRequest")
            .field("path", &self.path.as_ref().map(ToString::to_string))
            .field("body", &self.body)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl DispatchRequest {
    /// The body (default: none).
    pub fn body(mut self, body: impl Into<Body>) -> Self {
        self.body = body.into();
        self
    }

    /// Adds a header, e.g. an `X-*` correlation header the node echoes.
    ///
    /// An `Accept` header replaces the default `application/octet-stream`
    /// (with `text/plain`, a node answers binary replies as hex text).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let Ok(headers) = &mut self.headers {
            match (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                (Ok(name), Ok(value)) => {
                    headers.append(name, value);
                }
                (Err(e), _) => {
                    self.headers = Err(Error::InvalidHeader {
                        name: name.to_owned(),
                        reason: e.to_string(),
                    });
                }
                (_, Err(e)) => {
                    self.headers = Err(Error::InvalidHeader {
                        name: name.to_owned(),
                        reason: e.to_string(),
                    });
                }
            }
        }
        self
    }

    /// Sends `Rusk-Session-Id`, e.g. [`Client::session_id`](crate::Client::session_id),
    /// for handlers that answer a session. Without it the dispatch is
    /// fire-and-forget, which the protocol allows.
    pub fn session(mut self, session: SessionId) -> Self {
        self.session = Some(session);
        self
    }

    /// A timeout for this request, replacing the client's.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the request and returns the head of the answer, whatever its
    /// status, with the body to read as it comes ([`StreamedReply`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPath`] or [`Error::InvalidHeader`] before anything
    /// is sent; [`Error::Connect`], [`Error::Transport`] or
    /// [`Error::Timeout`] when no answer came. A 4xx or 5xx is an answer.
    pub async fn send_streamed(self) -> Result<StreamedReply, Error> {
        let (dispatcher, exchange) = self.into_exchange()?;
        let timeout = exchange.timeout;
        let (response, context) = dispatcher.send(exchange).await?;
        Ok(StreamedReply {
            response,
            context,
            dispatcher,
            timeout,
        })
    }

    /// Sends the request; see [`Dispatcher::dispatch`] for the errors.
    pub async fn send(self) -> Result<Reply, Error> {
        let (dispatcher, exchange) = self.into_exchange()?;
        dispatcher.execute(exchange).await
    }

    /// The request as its dispatcher sends it, once its path and headers
    /// are known to be valid.
    fn into_exchange(self) -> Result<(Dispatcher, Exchange), Error> {
        let exchange = Exchange {
            method: Method::POST,
            path: self.path?,
            session: self.session,
            body: self.body,
            headers: self.headers?,
            timeout: self.timeout,
        };
        Ok((self.dispatcher, exchange))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_errors_read_json_then_text_then_the_reason() {
        let mut headers = HeaderMap::new();
        headers.insert(RUSK_VERSION, HeaderValue::from_static("1.6.0"));
        let json = status_error(
            StatusCode::NOT_FOUND,
            &headers,
            br#"{"error":"unknown component"}"#,
        );
        assert!(
            matches!(&json, Error::Status { message, node_version: Some(v), .. } if message == "unknown component" && v == "1.6.0"),
            "{json:?}"
        );
        let text = status_error(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            b"Version error: Mismatched rusk version: requested ^9, node 1.6.0\n",
        );
        assert_eq!(
            text.to_string(),
            "400 Bad Request: Version error: Mismatched rusk version: requested ^9, node 1.6.0"
        );
        assert!(text.is_version_mismatch());
        let empty = status_error(StatusCode::SERVICE_UNAVAILABLE, &HeaderMap::new(), b"");
        assert_eq!(
            empty.to_string(),
            "503 Service Unavailable: Service Unavailable"
        );
        let array = status_error(StatusCode::INTERNAL_SERVER_ERROR, &HeaderMap::new(), b"[1]");
        assert_eq!(array.to_string(), "500 Internal Server Error: [1]");
    }

    #[test]
    fn long_text_bodies_are_cut_on_a_char_boundary() {
        let text = "é".repeat(600);
        let cut = truncate(&text, 1001);
        assert!(cut.ends_with('…'));
        assert_eq!(cut.len(), 1000 + '…'.len_utf8());
    }
}
