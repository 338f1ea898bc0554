//! Building HTTP responses: every response carries `Rusk-Version`, the echoed
//! `X-*` request headers and, for allowed browser origins, the CORS headers.

use bytes::Bytes;
use http::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, CONTENT_TYPE, HeaderName,
    HeaderValue, VARY,
};
use http::{HeaderMap, StatusCode};

use rues_wire::RUSK_VERSION;

use crate::cors::OriginVerdict;
use crate::stream::ReplyBody;

/// An HTTP response as the core produces it; adapters send it as is.
pub type Response = http::Response<Bytes>;

/// What a dispatch answers ([`Call::run`](crate::Call::run), a
/// [`Job::Async`](crate::Job::Async)): a whole response, or the head of a
/// streamed reply and its body.
#[derive(Debug)]
#[must_use]
pub enum Answer {
    /// A whole response: send it as is, with its length.
    Whole(Response),
    /// A streamed reply (docs/protocol.md §5.2): send the head (status and
    /// headers, no `Content-Length`), then each chunk of the [`ReplyBody`]
    /// as it comes, as a chunked body; see [`ReplyBody`] for how it ends.
    Stream(http::Response<ReplyBody>),
}

impl Answer {
    /// The status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Whole(response) => response.status(),
            Self::Stream(response) => response.status(),
        }
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        match self {
            Self::Whole(response) => response.headers(),
            Self::Stream(response) => response.headers(),
        }
    }
}

impl From<Response> for Answer {
    fn from(response: Response) -> Self {
        Self::Whole(response)
    }
}

pub(crate) const APPLICATION_JSON: &str = "application/json";
pub(crate) const OCTET_STREAM: &str = "application/octet-stream";
pub(crate) const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// Per-request state for building responses, captured from the request head
/// so that the response can be built later (after a handler ran) without
/// the request or the node.
#[derive(Debug, Clone)]
pub(crate) struct ResponseContext {
    version: HeaderValue,
    origin: OriginVerdict,
    echo: Vec<(HeaderName, HeaderValue)>,
}

impl ResponseContext {
    pub(crate) fn new(version: HeaderValue, origin: OriginVerdict, request: &HeaderMap) -> Self {
        let echo = request
            .iter()
            .filter(|(name, _)| name.as_str().starts_with("x-"))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        Self {
            version,
            origin,
            echo,
        }
    }

    pub(crate) fn origin(&self) -> &OriginVerdict {
        &self.origin
    }

    /// A response with the common headers, whole or (with a
    /// [`ReplyBody`]) streamed: both carry the same headers.
    pub(crate) fn respond<B>(
        &self,
        status: StatusCode,
        content_type: Option<&'static str>,
        body: B,
    ) -> http::Response<B> {
        let mut response = http::Response::new(body);
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(RUSK_VERSION, self.version.clone());
        if let Some(content_type) = content_type {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        for (name, value) in &self.echo {
            headers.append(name.clone(), value.clone());
        }
        if let OriginVerdict::Allowed { allow_origin, vary } = &self.origin {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin.clone());
            if *vary {
                headers.insert(VARY, HeaderValue::from_static("Origin"));
            }
            headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, self.expose_headers());
        }
        response
    }

    /// An empty-bodied response.
    pub(crate) fn empty(&self, status: StatusCode) -> Response {
        self.respond(status, None, Bytes::new())
    }

    /// An error: JSON `{"error": message}` (docs/protocol.md §5).
    pub(crate) fn error(&self, status: StatusCode, message: &str) -> Response {
        self.respond(status, Some(APPLICATION_JSON), error_body(message))
    }

    fn expose_headers(&self) -> HeaderValue {
        let mut value = String::from("Rusk-Version, Content-Type");
        for (name, _) in &self.echo {
            value.push_str(", ");
            value.push_str(name.as_str());
        }
        // Header names are valid header-value text, so this cannot fail; fall
        // back to the fixed part if it somehow does.
        HeaderValue::from_str(&value)
            .unwrap_or_else(|_| HeaderValue::from_static("Rusk-Version, Content-Type"))
    }
}

/// `{"error": message}` with the message JSON-escaped.
pub(crate) fn error_body(message: &str) -> Bytes {
    Bytes::from(serde_json::json!({ "error": message }).to_string())
}
