//! `/graphql`: GraphQL over HTTP, as rusk serves it beside RUES. `POST`
//! with a JSON body `{"query", "variables", "operationName"}`, or `GET`
//! with those as query parameters; the answer is `application/json` in
//! the standard shape.
//!
//! It is not a second GraphQL server: each request is handed to the
//! endpoint as a dispatch to `graphql/query` (so the same version check,
//! access rules, body limits and deadlines, blocking pool and at-most
//! cores-1 queries at once, cost bounds and metrics apply), asking with
//! `Accept` for the standard answer shape. What comes back is made
//! standard here: an answer without `data` (the request did not run) is
//! 400, and the core's `{"error"}` refusals become `{"errors": [...]}`
//! with their status.

use std::collections::HashMap;

use bytes::{Buf, Bytes};
use futures_util::StreamExt;
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};
use rues_warp::EndpointService;
use rues_warp::warp::filters::BoxedFilter;
use rues_warp::warp::http::header::{
    ACCEPT, ALLOW, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, TRANSFER_ENCODING,
};
use rues_warp::warp::http::{HeaderMap, Method, Request, StatusCode};
use rues_warp::warp::reply::Response;
use rues_warp::warp::{self, Filter};
use serde_json::{Value, json};

/// The dispatch every `/graphql` request becomes.
const TARGET: &str = "/on/graphql/query";

/// The media type that asks `graphql/query` for the standard shape.
const STANDARD_SHAPE: &str = rues_demo::graphql_http::STANDARD_SHAPE;

/// Most bytes of answer read back to be made standard: the engine's answer
/// budget and some room for its errors.
const MAX_ANSWER: usize = rues_demo::graphql::MAX_RESPONSE_BYTES * 2;

/// `GET` and `POST` of `/graphql`, and `OPTIONS` (a CORS preflight, the
/// core's answer); any other method is 405 with `Allow: GET, POST`. `version` is the node's, for
/// `Rusk-Version` on the answers made here.
pub(crate) fn routes(service: EndpointService, version: String) -> BoxedFilter<(Response,)> {
    let path = warp::path("graphql").and(warp::path::end());
    let get = {
        let service = service.clone();
        warp::get()
            .and(path)
            .and(
                warp::query::<HashMap<String, String>>()
                    .or(warp::any().map(HashMap::new))
                    .unify(),
            )
            .and(warp::header::headers_cloned())
            .then(move |params: HashMap<String, String>, headers: HeaderMap| {
                let service = service.clone();
                async move {
                    let body = get_body(&params);
                    let request = forward(&headers, Full::new(Bytes::from(body)));
                    standard(service, request).await
                }
            })
    };
    // A browser's CORS preflight: the core's answer for `graphql/query`.
    let options = {
        let service = service.clone();
        warp::options()
            .and(path)
            .and(warp::header::headers_cloned())
            .then(move |headers: HeaderMap| {
                let mut service = service.clone();
                async move {
                    use tower_service::Service;
                    let mut request = forward(&headers, Full::new(Bytes::new()));
                    *request.method_mut() = Method::OPTIONS;
                    let Ok(response) = service.call(request).await;
                    response
                }
            })
    };
    let post = warp::post()
        .and(path)
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .then(move |headers: HeaderMap, body| {
            let service = service.clone();
            async move {
                let body = StreamBody::new(frames(body));
                standard(service, forward(&headers, body)).await
            }
        });
    let other = warp::path("graphql").and(warp::path::end()).map(move || {
        let mut response = error(
            StatusCode::METHOD_NOT_ALLOWED,
            "/graphql takes GET and POST",
            &version,
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, POST"));
        response
    });
    get.or(post)
        .unify()
        .or(options)
        .unify()
        .or(other)
        .unify()
        .boxed()
}

/// A body stream as the frames of an HTTP body.
fn frames<S, B>(stream: S) -> impl futures_util::Stream<Item = Result<Frame<Bytes>, warp::Error>>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    stream.map(|chunk| chunk.map(|mut buf| Frame::data(buf.copy_to_bytes(buf.remaining()))))
}

/// A `GET`'s query parameters as the JSON body `graphql/query` reads.
fn get_body(params: &HashMap<String, String>) -> String {
    let mut body = json!({"query": params.get("query").cloned().unwrap_or_default()});
    if let Some(variables) = params.get("variables") {
        body["variables"] = Value::String(variables.clone());
    }
    if let Some(name) = params.get("operationName") {
        body["operationName"] = Value::String(name.clone());
    }
    body.to_string()
}

/// The dispatch to `graphql/query`: the client's headers (its
/// `Rusk-Version`, `Origin`, `rusk-gqlvar-*`...), a JSON body, and the
/// standard shape asked for.
fn forward<B>(headers: &HeaderMap, body: B) -> Request<B> {
    let mut request = Request::new(body);
    *request.method_mut() = Method::POST;
    *request.uri_mut() = rues_warp::warp::http::Uri::from_static(TARGET);
    let mine = request.headers_mut();
    for (name, value) in headers {
        if name != CONTENT_TYPE && name != ACCEPT {
            mine.append(name, value.clone());
        }
    }
    // A GET's body is made here: its length is its own.
    mine.remove(CONTENT_LENGTH);
    mine.remove(TRANSFER_ENCODING);
    if let Some(length) = headers.get(CONTENT_LENGTH) {
        mine.insert(CONTENT_LENGTH, length.clone());
    }
    mine.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    mine.insert(ACCEPT, HeaderValue::from_static(STANDARD_SHAPE));
    request
}

/// Dispatches `request` and makes the answer standard.
async fn standard<B>(mut service: EndpointService, request: Request<B>) -> Response
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: std::fmt::Display,
{
    use tower_service::Service;
    let Ok(response) = service.call(request).await;
    let (mut parts, body) = response.into_parts();
    let bytes = match http_body_util::Limited::new(body, MAX_ANSWER)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            parts.status = StatusCode::INTERNAL_SERVER_ERROR;
            Bytes::from_static(br#"{"errors":[{"message":"the answer could not be read"}]}"#)
        }
    };
    let value: Option<Value> = serde_json::from_slice(&bytes).ok();
    let body = match value {
        // The core refused (404, 403, 413, 400 for the version...): its
        // message, in the standard shape.
        Some(Value::Object(mut object)) if !parts.status.is_success() => {
            let message = object.remove("error").unwrap_or(Value::Null);
            Bytes::from(json!({"errors": [{"message": message}]}).to_string())
        }
        Some(Value::Object(object)) if !object.contains_key("data") => {
            // The request did not run (GraphQL over HTTP: no `data`, 4xx).
            parts.status = StatusCode::BAD_REQUEST;
            bytes
        }
        _ => bytes,
    };
    parts.headers.remove(CONTENT_LENGTH);
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, body.into())
}

/// An answer made here: `{"errors": [{"message"}]}` with `Rusk-Version`.
fn error(status: StatusCode, message: &str, version: &str) -> Response {
    let mut response = Response::new(json!({"errors": [{"message": message}]}).to_string().into());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(version) = HeaderValue::from_str(version) {
        headers.insert(rues_core::RUSK_VERSION, version);
    }
    response
}
