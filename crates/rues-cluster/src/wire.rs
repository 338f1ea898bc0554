//! How a forwarded request and its answer travel over NATS
//! (docs/cluster.md, "Forwarded requests").
//!
//! - **Request**: one NATS request. Its headers are the HTTP request's
//!   headers plus `Rues-Method` and `Rues-Path`; its payload is the body.
//! - **Answer head**: the reply. Its headers are the HTTP answer's plus
//!   `Rues-Status` and `Rues-Chunk` (`end`, `more` or `error`); its
//!   payload is the first chunk of the body. With `more`, `Rues-Pull`
//!   names the subject to pull the rest from. `Rues-Body` says whether the
//!   body is `whole` (the requester gathers it and sends it with its
//!   length, as the owner would) or a `stream` (sent on as it comes).
//! - **Further chunks**: one NATS request to the pull subject per chunk
//!   (empty payload), answered with the chunk and its `Rues-Chunk`.
//! - **Refusal**: a head with `Rues-Status` and `Rues-Failed` (a short
//!   reason) instead of an answer, when the node that took the request
//!   could not run it (it is answering too many, or the request was
//!   malformed).
//!
//! Values that are not visible ASCII cannot be NATS header values; HTTP
//! headers with such values are not forwarded (the core reads only ASCII
//! values in any case).

use bytes::Bytes;
use rues_core::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use rues_warp::ForwardedRequest;

/// The forwarded request's method.
pub const METHOD: &str = "Rues-Method";
/// The forwarded request's path.
pub const PATH: &str = "Rues-Path";
/// The answer's HTTP status.
pub const STATUS: &str = "Rues-Status";
/// Whether more of the body follows: `end`, `more` or `error`.
pub const CHUNK: &str = "Rues-Chunk";
/// Where to pull the next chunk from (in an answer head with `more`).
pub const PULL: &str = "Rues-Pull";
/// Why the request was not run (a refusal head).
pub const FAILED: &str = "Rues-Failed";
/// What the body is (in an answer head): `whole` (sent with its length)
/// or `stream` (a streamed reply, sent as its chunks come).
pub const BODY: &str = "Rues-Body";

const ENVELOPE: [&str; 7] = [METHOD, PATH, STATUS, CHUNK, PULL, FAILED, BODY];

/// HTTP headers the receiving side's HTTP layer frames itself.
const FRAMING: [&str; 3] = ["content-length", "transfer-encoding", "connection"];

/// Why a message is not a forwarded request or answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// A header the envelope needs is missing or malformed.
    #[error("forwarded message without a valid {0} header")]
    Envelope(&'static str),
    /// An HTTP header carried in it is not a valid HTTP header.
    #[error("forwarded message with an invalid HTTP header")]
    Header,
}

/// Whether a body chunk is the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkState {
    /// More follows: pull it.
    More,
    /// The body is whole.
    End,
    /// The body failed after this chunk: it is cut short.
    Error,
}

impl ChunkState {
    fn as_str(self) -> &'static str {
        match self {
            Self::More => "more",
            Self::End => "end",
            Self::Error => "error",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value {
            "more" => Some(Self::More),
            "end" => Some(Self::End),
            "error" => Some(Self::Error),
            _ => None,
        }
    }
}

fn is_envelope(name: &str) -> bool {
    ENVELOPE.iter().any(|own| own.eq_ignore_ascii_case(name))
}

/// HTTP headers as NATS headers (see the module docs for what is left out).
fn to_nats(http: &HeaderMap, nats: &mut async_nats::HeaderMap) {
    for (name, value) in http {
        let name = name.as_str();
        if is_envelope(name) || FRAMING.contains(&name) {
            continue;
        }
        let (Ok(value), Ok(name)) = (value.to_str(), name.parse::<async_nats::HeaderName>()) else {
            continue;
        };
        nats.append(name, value);
    }
}

/// NATS headers back as HTTP headers, without the envelope's.
fn to_http(nats: &async_nats::HeaderMap) -> Result<HeaderMap, WireError> {
    let mut http = HeaderMap::new();
    for (name, values) in nats.iter() {
        let name = name.to_string();
        if is_envelope(&name) {
            continue;
        }
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| WireError::Header)?;
        for value in values {
            let value = HeaderValue::from_str(value.as_str()).map_err(|_| WireError::Header)?;
            http.append(name.clone(), value);
        }
    }
    Ok(http)
}

fn envelope<'a>(
    headers: &'a async_nats::HeaderMap,
    name: &'static str,
) -> Result<&'a str, WireError> {
    headers
        .get(name)
        .map(async_nats::HeaderValue::as_str)
        .ok_or(WireError::Envelope(name))
}

/// The headers of a forwarded request (its payload is the body).
pub fn request_headers(request: &ForwardedRequest) -> async_nats::HeaderMap {
    let mut headers = async_nats::HeaderMap::new();
    to_nats(&request.headers, &mut headers);
    headers.insert(METHOD, request.method.as_str());
    headers.insert(PATH, request.path.as_str());
    headers
}

/// A forwarded request, as the node that answers it reads it.
pub fn decode_request(message: &async_nats::Message) -> Result<ForwardedRequest, WireError> {
    let empty = async_nats::HeaderMap::new();
    let headers = message.headers.as_ref().unwrap_or(&empty);
    let method = envelope(headers, METHOD)?;
    let method = Method::from_bytes(method.as_bytes()).map_err(|_| WireError::Envelope(METHOD))?;
    let path = envelope(headers, PATH)?;
    if !path.starts_with('/') {
        return Err(WireError::Envelope(PATH));
    }
    Ok(ForwardedRequest {
        method,
        path: path.to_owned(),
        headers: to_http(headers)?,
        body: message.payload.clone(),
    })
}

/// The head of an answer: status, HTTP headers, the first chunk's state,
/// and where to pull more from.
pub fn answer_head(
    status: StatusCode,
    http: &HeaderMap,
    whole: bool,
    state: ChunkState,
    pull: Option<&str>,
) -> async_nats::HeaderMap {
    let mut headers = async_nats::HeaderMap::new();
    to_nats(http, &mut headers);
    headers.insert(STATUS, status.as_str());
    headers.insert(BODY, if whole { "whole" } else { "stream" });
    headers.insert(CHUNK, state.as_str());
    if let Some(pull) = pull {
        headers.insert(PULL, pull);
    }
    headers
}

/// A refusal head: the request was not run, for `reason`.
pub fn refusal(status: StatusCode, reason: &str) -> async_nats::HeaderMap {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(STATUS, status.as_str());
    headers.insert(FAILED, reason.replace(['\r', '\n'], " ").as_str());
    headers
}

/// The headers of a further chunk.
pub fn chunk_headers(state: ChunkState) -> async_nats::HeaderMap {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(CHUNK, state.as_str());
    headers
}

/// An answer head as the requester reads it.
#[derive(Debug)]
pub enum Head {
    /// The answer: status, headers, first chunk and what follows.
    Answer {
        /// The HTTP status.
        status: StatusCode,
        /// The HTTP headers.
        headers: HeaderMap,
        /// Whether the body is whole (else a streamed reply).
        whole: bool,
        /// The first chunk of the body.
        first: Bytes,
        /// Whether more follows.
        state: ChunkState,
        /// Where to pull it from (with [`ChunkState::More`]).
        pull: Option<String>,
    },
    /// A refusal: the request was not run.
    Refused(StatusCode, String),
}

/// Reads an answer head.
pub fn decode_head(message: &async_nats::Message) -> Result<Head, WireError> {
    let empty = async_nats::HeaderMap::new();
    let headers = message.headers.as_ref().unwrap_or(&empty);
    let status = envelope(headers, STATUS)?;
    let status = status
        .parse::<u16>()
        .ok()
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or(WireError::Envelope(STATUS))?;
    if let Ok(reason) = envelope(headers, FAILED) {
        return Ok(Head::Refused(status, reason.to_owned()));
    }
    let whole = match envelope(headers, BODY)? {
        "whole" => true,
        "stream" => false,
        _ => return Err(WireError::Envelope(BODY)),
    };
    let state = chunk_state(message)?;
    let pull = match state {
        ChunkState::More => Some(envelope(headers, PULL)?.to_owned()),
        ChunkState::End | ChunkState::Error => None,
    };
    Ok(Head::Answer {
        status,
        headers: to_http(headers)?,
        whole,
        first: message.payload.clone(),
        state,
        pull,
    })
}

/// A chunk's state.
pub fn chunk_state(message: &async_nats::Message) -> Result<ChunkState, WireError> {
    message
        .headers
        .as_ref()
        .and_then(|headers| headers.get(CHUNK))
        .and_then(|value| ChunkState::parse(value.as_str()))
        .ok_or(WireError::Envelope(CHUNK))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(headers: async_nats::HeaderMap, payload: &'static [u8]) -> async_nats::Message {
        async_nats::Message {
            subject: "x".into(),
            reply: None,
            payload: Bytes::from_static(payload),
            headers: Some(headers),
            status: None,
            description: None,
            length: 0,
        }
    }

    #[test]
    fn a_request_crosses_whole() {
        let mut http = HeaderMap::new();
        http.insert("rusk-session-id", HeaderValue::from_static("00ff"));
        http.append("x-a", HeaderValue::from_static("1"));
        http.append("x-a", HeaderValue::from_static("2"));
        http.insert("content-length", HeaderValue::from_static("3"));
        let request = ForwardedRequest {
            method: Method::POST,
            path: "/on/blocks/gas-price".into(),
            headers: http,
            body: Bytes::from_static(b"abc"),
        };
        let decoded = decode_request(&message(request_headers(&request), b"abc")).unwrap();
        assert_eq!(decoded.method, Method::POST);
        assert_eq!(decoded.path, request.path);
        assert_eq!(decoded.body, request.body);
        assert_eq!(decoded.headers["rusk-session-id"], "00ff");
        let xs: Vec<_> = decoded.headers.get_all("x-a").iter().collect();
        assert_eq!(xs, ["1", "2"]);
        assert!(
            decoded.headers.get("content-length").is_none(),
            "framing is not forwarded"
        );
    }

    #[test]
    fn a_client_cannot_forge_the_envelope() {
        let mut http = HeaderMap::new();
        http.insert("rues-method", HeaderValue::from_static("DELETE"));
        http.insert("rues-path", HeaderValue::from_static("/on/other/x"));
        let request = ForwardedRequest {
            method: Method::GET,
            path: "/on/blocks/accepted".into(),
            headers: http,
            body: Bytes::new(),
        };
        let decoded = decode_request(&message(request_headers(&request), b"")).unwrap();
        assert_eq!(decoded.method, Method::GET);
        assert_eq!(decoded.path, "/on/blocks/accepted");
        assert!(decoded.headers.is_empty());
    }

    #[test]
    fn malformed_envelopes_are_refused() {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(METHOD, "GET");
        assert_eq!(
            decode_request(&message(headers.clone(), b"")).unwrap_err(),
            WireError::Envelope(PATH)
        );
        headers.insert(PATH, "no-slash");
        assert!(decode_request(&message(headers, b"")).is_err());
        let mut head = async_nats::HeaderMap::new();
        head.insert(STATUS, "999999");
        assert!(decode_head(&message(head, b"")).is_err());
        let mut head = async_nats::HeaderMap::new();
        head.insert(STATUS, "200");
        head.insert(BODY, "stream");
        head.insert(CHUNK, "more");
        assert_eq!(
            decode_head(&message(head, b"")).unwrap_err(),
            WireError::Envelope(PULL),
            "more without a pull subject"
        );
    }

    #[test]
    fn an_answer_head_and_a_refusal_read_back() {
        let mut http = HeaderMap::new();
        http.insert("content-type", HeaderValue::from_static("application/json"));
        let head = answer_head(
            StatusCode::ACCEPTED,
            &http,
            false,
            ChunkState::More,
            Some("_INBOX.1"),
        );
        match decode_head(&message(head, b"{")).unwrap() {
            Head::Answer {
                status,
                headers,
                whole,
                first,
                state,
                pull,
            } => {
                assert_eq!(status, StatusCode::ACCEPTED);
                assert!(!whole);
                assert_eq!(headers["content-type"], "application/json");
                assert_eq!(first, "{");
                assert_eq!(state, ChunkState::More);
                assert_eq!(pull.as_deref(), Some("_INBOX.1"));
            }
            Head::Refused(..) => panic!("an answer"),
        }
        let refused = refusal(StatusCode::SERVICE_UNAVAILABLE, "busy\r\nnow");
        match decode_head(&message(refused, b"")).unwrap() {
            Head::Refused(status, reason) => {
                assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
                assert_eq!(reason, "busy  now");
            }
            Head::Answer { .. } => panic!("a refusal"),
        }
    }
}
