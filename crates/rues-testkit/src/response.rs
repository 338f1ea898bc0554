//! Header maps, polling ready futures, and assertions on whole responses:
//! the ones the core hands back ([`rues_core::Response`], or a
//! [`rues_core::Answer`] made whole by [`collect`]) and, with the `server`
//! feature, the ones read off a socket (`Answer`).

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

use bytes::BytesMut;
use rues_core::futures_core::Stream;
use rues_core::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use rues_core::{Answer, Response, Stats};

use crate::VERSION;

/// A response whose body is wholly in memory.
pub trait WholeResponse {
    /// The status code.
    fn status(&self) -> StatusCode;
    /// The headers.
    fn headers(&self) -> &HeaderMap;
    /// The whole body.
    fn body(&self) -> &[u8];
}

impl WholeResponse for Response {
    fn status(&self) -> StatusCode {
        Response::status(self)
    }

    fn headers(&self) -> &HeaderMap {
        Response::headers(self)
    }

    fn body(&self) -> &[u8] {
        Response::body(self)
    }
}

/// A header map from `(name, value)` pairs, in order (a repeated name is
/// appended, not replaced).
///
/// # Panics
///
/// If a name or a value is not valid in HTTP.
pub fn header_map(headers: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).expect("valid header name"),
            HeaderValue::from_bytes(value.as_bytes()).expect("valid header value"),
        );
    }
    map
}

/// Polls `future` to completion with a waker that does nothing, on no
/// runtime: for futures that are ready at once (the fixture registry's
/// handlers). A future that waits on a timer or a socket spins forever.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

/// The whole response of a dispatch's [`Answer`]: a streamed body polled
/// to its end with [`block_on`] (so its chunks must be ready at once, as
/// the fixture registry's are) and put together.
///
/// # Panics
///
/// If the stream ends abnormally (an error item), naming the error.
pub fn collect(answer: Answer) -> Response {
    let response = match answer {
        Answer::Whole(response) => return response,
        Answer::Stream(response) => response,
    };
    let (parts, mut body) = response.into_parts();
    let mut whole = BytesMut::new();
    while let Some(chunk) = block_on(poll_fn(|cx| Pin::new(&mut body).poll_next(cx))) {
        match chunk {
            Ok(chunk) => whole.extend_from_slice(&chunk),
            Err(error) => panic!("the streamed reply ended abnormally: {error}"),
        }
    }
    Response::from_parts(parts, whole.freeze())
}

/// The value of header `name`, if it is present and visible ASCII.
pub fn header<'a, R: WholeResponse + ?Sized>(response: &'a R, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The body as text (invalid UTF-8 replaced).
pub fn body_text<R: WholeResponse + ?Sized>(response: &R) -> String {
    String::from_utf8_lossy(response.body()).into_owned()
}

/// The message of a JSON error body, `{"error": "<message>"}`.
///
/// # Panics
///
/// If the body is not such an object.
#[track_caller]
pub fn error_message<R: WholeResponse + ?Sized>(response: &R) -> String {
    let body: serde_json::Value = serde_json::from_slice(response.body())
        .unwrap_or_else(|e| panic!("not a JSON error body ({e}): {:?}", body_text(response)));
    body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {body}"))
        .to_owned()
}

/// Asserts a JSON error response from the node: `status`, content type
/// `application/json`, `Rusk-Version` [`VERSION`], and an `error` message
/// containing `needle`.
#[track_caller]
pub fn assert_error<R: WholeResponse + ?Sized>(response: &R, status: StatusCode, needle: &str) {
    assert_eq!(response.status(), status, "body: {:?}", body_text(response));
    assert_eq!(header(response, "content-type"), Some("application/json"));
    assert_eq!(header(response, "rusk-version"), Some(VERSION));
    let message = error_message(response);
    assert!(
        message.contains(needle),
        "{message:?} does not contain {needle:?}"
    );
}

/// Asserts an empty-bodied answer from the node: `status`, no body, and
/// `Rusk-Version` [`VERSION`].
#[track_caller]
pub fn assert_empty<R: WholeResponse + ?Sized>(response: &R, status: StatusCode) {
    assert_eq!(response.status(), status, "body: {:?}", body_text(response));
    assert!(response.body().is_empty());
    assert_eq!(header(response, "rusk-version"), Some(VERSION));
}

/// Asserts that a node holds nothing for any session any more: no session
/// open, no subscription, no queued byte, no topic left in its index (what
/// every session's end must leave behind).
///
/// # Panics
///
/// If any of the four is not zero.
pub fn assert_holds_nothing(stats: &Stats) {
    assert_eq!(
        (
            stats.sessions_open,
            stats.subscriptions,
            stats.bytes_queued,
            stats.index_topics
        ),
        (0, 0, 0, 0),
        "(sessions open, subscriptions, bytes queued, index topics)"
    );
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use rues_core::{Config, Decision, Node, SeededIds};

    use super::*;

    fn post(path: &str, headers: &[(&str, &str)], body: &'static [u8]) -> Response {
        let config = Config::new(VERSION.parse().expect("valid version"));
        let mut node = Node::new(config, crate::registry(), SeededIds::new(1));
        match node.handle_request(&rues_core::http::Method::POST, path, &header_map(headers)) {
            Decision::Respond(response) => response,
            Decision::Forward(forward) => forward.fallback,
            Decision::ReadBody(ticket) => match ticket.with_body(Bytes::from_static(body)) {
                Ok(call) => collect(block_on(call.run())),
                Err(response) => response,
            },
        }
    }

    #[test]
    fn the_fixture_handlers_answer_without_a_runtime() {
        let info = post("/on/node/info", &[], b"");
        assert_eq!(info.status(), StatusCode::OK);
        assert_eq!(body_text(&info), r#"{"version":"1.6.0"}"#);
        assert_empty(&post("/on/node/accept", &[], b""), StatusCode::ACCEPTED);
        assert_error(
            &post("/on/node/reject", &[], b""),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not a transaction",
        );
        let binary = [("content-type", "application/octet-stream")];
        assert_eq!(
            body_text(&post("/on/node/text", &binary, b"ab")),
            "binary:2"
        );
        assert_eq!(body_text(&post("/on/node/words", &[], b"")), "plain words");
        assert_eq!(
            post("/on/contracts:c/f", &binary, b"xy").body().as_ref(),
            b"xy"
        );
        let feeder = [("rusk-feeder", "")];
        assert_eq!(body_text(&post("/on/node/feed", &feeder, b"ab")), "6162");
        assert_eq!(body_text(&post("/on/node/feed", &[], b"ab")), "6162");
        assert_eq!(
            body_text(&post("/on/node/feed-json", &feeder, b"ab")),
            "[97,98]"
        );
    }

    #[test]
    #[should_panic(expected = "does not contain")]
    fn assert_error_checks_the_message() {
        assert_error(
            &post("/on/node/broken", &[], b""),
            StatusCode::INTERNAL_SERVER_ERROR,
            "something else",
        );
    }

    #[test]
    fn header_map_appends_repeated_names() {
        let map = header_map(&[("x-a", "1"), ("X-A", "2"), ("x-b", "3")]);
        let values: Vec<_> = map.get_all("x-a").iter().collect();
        assert_eq!(values, ["1", "2"]);
        assert_eq!(map.len(), 3);
    }
}
