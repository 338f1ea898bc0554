//! HTTP requests on `/on/...`: upgrade, subscribe, unsubscribe, dispatch and
//! CORS preflight, with the check order and statuses of docs/protocol.md §5.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{
    ACCEPT, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_METHOD, ALLOW, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, VARY,
};
use http::{HeaderMap, Method, StatusCode};
use rues_target::EventPath;
use rues_wire::{
    Position, RUES_RESUME, RUES_RESUME_RESULT, RUSK_FEEDER, RUSK_SESSION_ID, RUSK_VERSION,
    RUSK_VERSION_STRICT, ResumeResult,
};

use crate::access::Operation;
use crate::cluster::{Arrival, Change, Destination, Forward};
use crate::cors::{self, OriginVerdict};
use crate::node::{Node, Since};
use crate::outbox::Outbox;
use crate::registry::{BlockingHandler, DispatchRequest, RequestBody, Route};
use crate::reply::{HandlerError, Reply};
use crate::response::{
    APPLICATION_JSON, Answer, OCTET_STREAM, Response, ResponseContext, TEXT_PLAIN,
};
use crate::stream::ReplyBody;
use rues_wire::SessionId;

/// What to do with a request.
#[derive(Debug)]
#[must_use]
pub enum Decision {
    /// Send this response; the request is fully handled.
    Respond(Response),
    /// A dispatch passed every check that needs no body: read at most
    /// [`BodyLimit::max`] bytes of body ([`DispatchTicket::body_limit`]) and continue with the ticket.
    ReadBody(DispatchTicket),
    /// In a cluster only: another node must answer (the session's owner,
    /// or a service for the dispatch's topic). Forward the request (with
    /// its body, for a dispatch) and send back that node's answer as it
    /// is, or [`Forward::fallback`] when nobody takes it.
    Forward(Forward),
}

/// A dispatch waiting for its body. Holds everything needed to finish the
/// request, so the adapter can release the node while it reads and while
/// the handler runs.
pub struct DispatchTicket {
    context: ResponseContext,
    path: EventPath,
    session: Option<SessionId>,
    content_type: Option<String>,
    feeder: bool,
    /// Boxed: the ticket travels in a [`Decision`] beside small responses.
    headers: Box<HeaderMap>,
    binary_reply: bool,
    handler: Route,
    body: BodyLimit,
}

impl std::fmt::Debug for DispatchTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DispatchTicket")
            .field("path", &self.path)
            .field("session", &self.session)
            .field("content_type", &self.content_type)
            .field("feeder", &self.feeder)
            .field("binary_reply", &self.binary_reply)
            .field("max_body", &self.body.max)
            .finish_non_exhaustive()
    }
}

/// How much request body may be read, and the answers for a body that
/// cannot be: for a dispatch ([`DispatchTicket::body_limit`]) and for a
/// request forwarded with its body ([`Forward::body`]).
#[derive(Debug, Clone)]
pub struct BodyLimit {
    context: ResponseContext,
    max: usize,
}

impl BodyLimit {
    /// The most body bytes to read. One byte more means
    /// [`too_large`](Self::too_large): stop reading there.
    pub fn max(&self) -> usize {
        self.max
    }

    /// The 413 response for a body that passed [`max`](Self::max).
    pub fn too_large(&self) -> Response {
        self.context.error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("request body exceeds {} bytes", self.max),
        )
    }

    /// A response for a body that could not be read (the client went away
    /// or sent a broken chunked encoding): 400.
    pub fn unreadable(&self, reason: &str) -> Response {
        self.context.error(
            StatusCode::BAD_REQUEST,
            &format!("cannot read the request body: {reason}"),
        )
    }
}

impl DispatchTicket {
    /// How much body to read, and the answers when it cannot be.
    pub fn body_limit(&self) -> &BodyLimit {
        &self.body
    }

    /// The event path the request is for.
    pub fn path(&self) -> &EventPath {
        &self.path
    }

    /// Decodes the body by the content-type rules of docs/protocol.md §5.2 and
    /// readies the handler call; a body that cannot be decoded is 422.
    pub fn with_body(self, body: Bytes) -> Result<Call, Response> {
        if body.len() > self.body.max {
            return Err(self.body.too_large());
        }
        let binary_content = self.content_type.as_deref().is_some_and(is_octet_stream);
        let body = if binary_content {
            RequestBody::Binary(body)
        } else {
            match decode_text_body(body) {
                Ok(body) => body,
                Err(message) => {
                    return Err(self
                        .context
                        .error(StatusCode::UNPROCESSABLE_ENTITY, &message));
                }
            }
        };
        Ok(Call {
            request: DispatchRequest {
                path: self.path,
                session: self.session,
                content_type: self.content_type,
                feeder: self.feeder,
                headers: *self.headers,
                body,
            },
            context: self.context,
            binary_reply: self.binary_reply,
            handler: self.handler,
        })
    }
}

/// A session just opened by [`Node::handle_upgrade`]: what the adapter
/// needs to serve it.
#[derive(Debug)]
#[non_exhaustive]
pub struct NewSession {
    /// The session's id: send it as the first Text frame.
    pub id: SessionId,
    /// The session's output, for the task that writes its socket.
    pub outbox: Outbox,
}

/// Whether `path` is where sessions open: `/on`, or `/on/` (a trailing slash
/// is tolerated as everywhere in RUES).
fn is_session_path(path: &str) -> bool {
    path == "/on" || path == "/on/"
}

/// The client a request comes from: `peer`, unless `peer` is a trusted
/// proxy, in which case the nearest forwarded address that is not itself a
/// trusted proxy (the rightmost: earlier entries are whatever the client
/// wrote). `Forwarded` (RFC 7239) is read before `X-Forwarded-For`; a
/// header that names no address leaves `peer`.
fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| parse_node(value.trim().trim_matches('"')))
                    .flatten()
            })
        })
        .collect();
    let forwarded = if forwarded.is_empty() {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|item| parse_node(item.trim()))
            .collect()
    } else {
        forwarded
    };
    forwarded
        .into_iter()
        .rev()
        .find(|address| !trusted.contains(address))
        .unwrap_or(peer)
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:80`,
/// `2001:db8::1` or `[2001:db8::1]:80`.
fn parse_node(text: &str) -> Option<IpAddr> {
    if let Ok(address) = text.parse::<IpAddr>() {
        return Some(address);
    }
    if let Ok(socket) = text.parse::<std::net::SocketAddr>() {
        return Some(socket.ip());
    }
    text.strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(address, _)| address.parse().ok())
}

/// A text body: UTF-8, hex-decoded when it is `0x` + hex.
fn decode_text_body(body: Bytes) -> Result<RequestBody, String> {
    let text = String::from_utf8(body.into()).map_err(|e| {
        format!(
            "request body is not UTF-8 text (invalid byte at offset {}); send binary data with Content-Type: application/octet-stream",
            e.utf8_error().valid_up_to()
        )
    })?;
    match text.strip_prefix("0x") {
        Some(digits) => hex::decode(digits)
            .map(|bytes| RequestBody::Binary(Bytes::from(bytes)))
            .map_err(|e| format!("request body starts with 0x but is not hex: {e}")),
        None => Ok(RequestBody::Text(text)),
    }
}

/// A dispatch ready to run: the handler and the request it gets.
pub struct Call {
    request: DispatchRequest,
    context: ResponseContext,
    binary_reply: bool,
    handler: Route,
}

/// A [`Call`] made ready for where it must run: see [`Call::into_job`].
#[must_use]
pub enum Job {
    /// An async handler: await the future on the adapter's runtime. Its
    /// [`Answer`] is whole, or streamed ([`Reply::Stream`]).
    Async(Pin<Box<dyn Future<Output = Answer> + Send>>),
    /// A blocking handler: run it on the adapter's bounded blocking pool.
    Blocking(BlockingJob),
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Async(_) => f.write_str("Job::Async"),
            Self::Blocking(_) => f.write_str("Job::Blocking"),
        }
    }
}

/// A call to a blocking handler, to run on a thread set apart for such work.
pub struct BlockingJob {
    // Boxed so that a `Job` is as small as its `Async` arm.
    call: Box<Call>,
    handler: Arc<dyn BlockingHandler>,
    at_once: Option<usize>,
}

impl std::fmt::Debug for BlockingJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingJob")
            .field("call", &self.call)
            .finish_non_exhaustive()
    }
}

impl BlockingJob {
    /// Runs the handler on this thread (which blocks for as long as it
    /// takes) and maps its outcome to the response of docs/protocol.md §5.2,
    /// always whole. A handler that panics, or that answers
    /// [`Reply::Stream`] (see [`BlockingHandler`]), is the node's fault:
    /// 500.
    pub fn run(self) -> Response {
        let BlockingJob { call, handler, .. } = self;
        let Call {
            request,
            context,
            binary_reply,
            ..
        } = *call;
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler.call(request)))
                .unwrap_or_else(|_| Err(HandlerError::internal("the handler failed")));
        match answer(&context, binary_reply, result) {
            Answer::Whole(response) => response,
            Answer::Stream(_) => context.error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "a blocking handler cannot stream its reply",
            ),
        }
    }

    /// The handler's own bound, when it was registered with
    /// [`ComponentSpec::blocking_handler_at_most`](crate::ComponentSpec::blocking_handler_at_most):
    /// a key that is the same for every call to that handler (and differs
    /// between handlers), and how many of its calls may run at once. The
    /// adapter keeps a set of slots per key.
    pub fn own_slots(&self) -> Option<(usize, usize)> {
        // The handler's address: stable while the registry lives, distinct
        // between live handlers.
        let key = Arc::as_ptr(&self.handler).cast::<()>() as usize;
        self.at_once.map(|at_once| (key, at_once))
    }

    /// The 503 for a call that found every one of the adapter's `slots`
    /// blocking slots busy for as long as it was allowed to wait.
    pub fn busy(&self, slots: usize) -> Response {
        self.call.context.error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "the node is busy: all {slots} slots for slow handlers are taken; try again later"
            ),
        )
    }

    /// The 503 for a call the adapter could not finish running (its pool
    /// went away, as when the node shuts down mid-call).
    pub fn unfinished(&self) -> Response {
        self.call.context.error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the node stopped before the handler finished",
        )
    }
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("request", &self.request)
            .field("binary_reply", &self.binary_reply)
            .finish_non_exhaustive()
    }
}

impl Call {
    /// The request the handler will get.
    pub fn request(&self) -> &DispatchRequest {
        &self.request
    }

    /// Whether the handler is a blocking one ([`Job::Blocking`]).
    pub fn is_blocking(&self) -> bool {
        matches!(self.handler, Route::Blocking(_))
    }

    /// Readies the call for where it must run: an async handler's future
    /// for the adapter's runtime, or a blocking handler for its blocking
    /// pool. Both give the response of docs/protocol.md §5.2; only an async
    /// handler's may be streamed.
    pub fn into_job(self) -> Job {
        match self.handler.clone() {
            Route::Async(handler) => Job::Async(Box::pin(async move {
                let result = handler.call(self.request).await;
                answer(&self.context, self.binary_reply, result)
            })),
            Route::Blocking(route) => Job::Blocking(BlockingJob {
                call: Box::new(self),
                handler: route.handler,
                at_once: route.at_once,
            }),
        }
    }

    /// Runs the handler where the caller is: awaits an async handler, and
    /// runs a blocking one on the calling thread. For adapters without a
    /// blocking pool and for tests; a server runs [`Call::into_job`]'s
    /// [`Job::Blocking`] on its pool instead.
    pub async fn run(self) -> Answer {
        match self.into_job() {
            Job::Async(future) => future.await,
            Job::Blocking(job) => job.run().into(),
        }
    }
}

/// The answer of docs/protocol.md §5.2 to a handler's outcome.
fn answer(
    context: &ResponseContext,
    binary_reply: bool,
    result: Result<Reply, HandlerError>,
) -> Answer {
    let reply = match result {
        Ok(reply) => reply,
        Err(error) => return context.error(error.status(), error.message()).into(),
    };
    let response = match reply {
        Reply::Json(body) => context.respond(StatusCode::OK, Some(APPLICATION_JSON), body),
        Reply::Binary(body) if binary_reply => {
            context.respond(StatusCode::OK, Some(OCTET_STREAM), body)
        }
        Reply::Binary(body) => context.respond(
            StatusCode::OK,
            Some(TEXT_PLAIN),
            Bytes::from(hex::encode(body)),
        ),
        Reply::Text(text) => context.respond(StatusCode::OK, Some(TEXT_PLAIN), Bytes::from(text)),
        Reply::Accepted => context.empty(StatusCode::ACCEPTED),
        Reply::Stream(stream) => {
            let body = ReplyBody::new(stream, binary_reply);
            let content_type = body.content_type();
            return Answer::Stream(context.respond(StatusCode::OK, Some(content_type), body));
        }
    };
    Answer::Whole(response)
}

/// The 200 of a subscribe, with its `Rues-Resume-Result` when it resumed
/// (exposed to browsers, which otherwise could not read it).
fn subscribed(context: &ResponseContext, result: Option<ResumeResult>) -> Response {
    let mut response = context.empty(StatusCode::OK);
    let Some(result) = result else {
        return response;
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&result.to_string()) {
        headers.insert(RUES_RESUME_RESULT, value);
    }
    if let Some(exposed) = headers.get(ACCESS_CONTROL_EXPOSE_HEADERS) {
        let exposed = format!(
            "{}, Rues-Resume-Result",
            exposed.to_str().unwrap_or("Rusk-Version, Content-Type")
        );
        if let Ok(value) = HeaderValue::from_str(&exposed) {
            headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, value);
        }
    }
    response
}

/// Whether a `Content-Type` or `Accept` value names `application/octet-stream`.
fn is_octet_stream(value: &str) -> bool {
    value
        .split(',')
        .map(|item| item.split(';').next().unwrap_or("").trim())
        .any(|media| media.eq_ignore_ascii_case(OCTET_STREAM))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

impl Node {
    fn context(&self, headers: &HeaderMap) -> ResponseContext {
        ResponseContext::new(
            self.version_header.clone(),
            self.config.origins.verdict(headers),
            headers,
        )
    }

    /// The handshake headers of a WebSocket upgrade request, which the
    /// adapter checks with this before [`Node::handle_upgrade`]: exactly one
    /// `Host` and one `Sec-WebSocket-Key` that is base64 of 16 bytes
    /// (RFC 6455 §4.2.1, RFC 9112 §3.2), else 400 with a message that never
    /// quotes them.
    // The refusal is moved once to the caller, as handle_upgrade's.
    #[allow(clippy::result_large_err)]
    pub fn check_handshake(&self, headers: &HeaderMap) -> Result<(), Response> {
        crate::handshake::check(headers).map_err(|message| {
            self.context(headers)
                .error(StatusCode::BAD_REQUEST, message)
        })
    }

    /// A WebSocket upgrade request (the adapter has checked that it is
    /// one: `GET` with the upgrade headers) for `path`. Sessions open only
    /// on `/on` and `/on/`: any other path is 404 (fix: the reference node
    /// accepts any path that starts with `/on`). Then the origin (403), a
    /// node that is shutting down (503), the session limit (503) and the
    /// per-client limit (429). On success the adapter completes the
    /// upgrade, sends [`NewSession::id`] as the first Text frame and hands
    /// [`NewSession::outbox`] to the session's writer.
    ///
    /// `peer` is the address of the TCP peer the request came from, `None`
    /// when the adapter cannot know it (a session with no address counts
    /// against no per-client limit). When `peer` is one of
    /// [`Limits::trusted_proxies`](crate::Limits::trusted_proxies), the
    /// client is the address the proxy forwarded (`Forwarded: for=`, else
    /// `X-Forwarded-For`); each client address may hold at most
    /// [`Limits::max_sessions_per_client`](crate::Limits::max_sessions_per_client)
    /// sessions (429 past it).
    pub fn handle_upgrade(
        &mut self,
        now: Instant,
        path: &str,
        headers: &HeaderMap,
        peer: Option<IpAddr>,
    ) -> Result<NewSession, Response> {
        let context = self.context(headers);
        if !is_session_path(path) {
            return Err(context.error(
                StatusCode::NOT_FOUND,
                "sessions are opened on /on (with a WebSocket upgrade), not on this path",
            ));
        }
        if *context.origin() == OriginVerdict::Denied {
            return Err(context.error(StatusCode::FORBIDDEN, "origin not allowed"));
        }
        if self.shutting_down {
            return Err(context.error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the node is shutting down; open a session on another node",
            ));
        }
        if self.sessions.len() >= self.config.limits.max_sessions {
            return Err(context.error(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!(
                    "session limit reached ({} sessions); try again later",
                    self.config.limits.max_sessions
                ),
            ));
        }
        let client =
            peer.map(|peer| client_address(peer, headers, &self.config.limits.trusted_proxies));
        let per_client = self.config.limits.max_sessions_per_client;
        if let Some(client) = client {
            if per_client > 0 && self.clients.get(&client).copied().unwrap_or(0) >= per_client {
                return Err(context.error(
                    StatusCode::TOO_MANY_REQUESTS,
                    &format!(
                        "this client address already holds the maximum of {per_client} sessions; close one first"
                    ),
                ));
            }
        }
        let (id, outbox) = self
            .open_session(now, client)
            .map_err(|e| context.error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?;
        Ok(NewSession { id, outbox })
    }

    /// Any HTTP request that is not a WebSocket upgrade and that the
    /// adapter does not serve itself (its metrics, its application routes).
    /// `path` is the request path; a query string is ignored.
    ///
    /// - On `/on/...`: subscribe (`GET`), unsubscribe (`DELETE`), dispatch
    ///   (`POST`) or CORS preflight (`OPTIONS`), with the checks of
    ///   docs/protocol.md §5.
    /// - On `/on` itself: 426, since sessions need a WebSocket upgrade.
    /// - Anywhere else: 404, with a message saying where RUES lives.
    pub fn handle_request(&mut self, method: &Method, path: &str, headers: &HeaderMap) -> Decision {
        self.handle_request_from(Arrival::Client, method, path, headers)
    }

    /// [`Node::handle_request`] for a request that may have been forwarded
    /// by another node of the cluster (docs/protocol.md §11): `arrival`
    /// says why it came here, which decides what may be forwarded on.
    pub fn handle_request_from(
        &mut self,
        arrival: Arrival,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Decision {
        let context = self.context(headers);
        let path = path.split_once('?').map_or(path, |(path, _query)| path);
        if is_session_path(path) {
            // RFC 6455 §4.2.2: say which WebSocket version to upgrade with
            // (also the answer to an upgrade with another version, which the
            // adapter does not count as one).
            let mut response = context.error(
                StatusCode::UPGRADE_REQUIRED,
                "open a session with a WebSocket upgrade on /on",
            );
            let headers = response.headers_mut();
            headers.insert(http::header::UPGRADE, HeaderValue::from_static("websocket"));
            headers.insert(
                http::header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static("13"),
            );
            return Decision::Respond(response);
        }
        if !path.starts_with("/on/") {
            return Decision::Respond(
                context.error(StatusCode::NOT_FOUND, "no such route: RUES lives under /on"),
            );
        }
        if *context.origin() == OriginVerdict::Denied {
            return Decision::Respond(context.error(StatusCode::FORBIDDEN, "origin not allowed"));
        }
        let response = match *method {
            Method::GET => return self.subscribe(arrival, &context, path, headers, true),
            Method::DELETE => return self.subscribe(arrival, &context, path, headers, false),
            Method::POST => return self.dispatch(arrival, &context, path, headers),
            Method::OPTIONS => self.preflight(&context, headers),
            _ => {
                let mut response = context.error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    &format!(
                        "method {} is not allowed on /on/...: use GET, DELETE or POST",
                        crate::quote(method.as_str())
                    ),
                );
                response.headers_mut().insert(
                    ALLOW,
                    HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
                );
                response
            }
        };
        Decision::Respond(response)
    }

    /// The version rule (docs/protocol.md §5): `Err` is the 400 message.
    fn check_version(&self, headers: &HeaderMap) -> Result<(), String> {
        let strict = headers.get(RUSK_VERSION_STRICT).is_some_and(|v| {
            let v = v.to_str().unwrap_or("").trim();
            !(v.eq_ignore_ascii_case("false") || v == "0")
        });
        let Some(requirement) = headers.get(RUSK_VERSION) else {
            if strict {
                return Err(
                    "Rusk-Version header is required when Rusk-Version-Strict is set".into(),
                );
            }
            return Ok(());
        };
        let requirement = requirement
            .to_str()
            .map_err(|_| "Rusk-Version header is not valid ASCII".to_owned())?
            .trim();
        // A bare version is a caret requirement: semver's default operator.
        let parsed = semver::VersionReq::parse(requirement)
            .map_err(|e| format!("invalid Rusk-Version {}: {e}", crate::quote(requirement)))?;
        let current = if strict {
            &self.config.version
        } else {
            &self.release_version
        };
        if parsed.matches(current) {
            Ok(())
        } else {
            Err(format!(
                "node version {} does not satisfy the requested Rusk-Version {parsed}",
                self.config.version
            ))
        }
    }

    /// `GET` (subscribe) and `DELETE` (unsubscribe): docs/protocol.md §5.1.
    fn subscribe(
        &mut self,
        arrival: Arrival,
        context: &ResponseContext,
        raw_path: &str,
        headers: &HeaderMap,
        add: bool,
    ) -> Decision {
        match self.subscribe_here(arrival, context, raw_path, headers, add) {
            Ok(response) => Decision::Respond(response),
            Err(forward) => Decision::Forward(forward),
        }
    }

    /// [`Node::subscribe`]'s checks; `Err` when the session's owner is
    /// another node's to find.
    fn subscribe_here(
        &mut self,
        arrival: Arrival,
        context: &ResponseContext,
        raw_path: &str,
        headers: &HeaderMap,
        add: bool,
    ) -> Result<Response, Forward> {
        // 1. version
        if let Err(message) = self.check_version(headers) {
            return Ok(context.error(StatusCode::BAD_REQUEST, &message));
        }
        // 1b. a resume point, on a subscribe only, must be well-formed
        if add && headers.get_all(RUES_RESUME).iter().nth(1).is_some() {
            // Two positions: which one the client meant cannot be known.
            return Ok(context.error(
                StatusCode::BAD_REQUEST,
                "invalid Rues-Resume header: it appears more than once; send one <epoch>:<seq>",
            ));
        }
        let resume = match headers.get(RUES_RESUME) {
            Some(value) if add => match Position::parse(value.as_bytes()) {
                Ok(position) => Some(position),
                Err(error) => {
                    return Ok(context.error(
                        StatusCode::BAD_REQUEST,
                        &format!("invalid Rues-Resume header: {error}"),
                    ));
                }
            },
            _ => None,
        };
        // 2. session id present and well-formed
        let Some(session) = headers
            .get(RUSK_SESSION_ID)
            .and_then(|v| SessionId::parse(v.as_bytes()).ok())
        else {
            return Ok(context.error(
                StatusCode::FAILED_DEPENDENCY,
                "Rusk-Session-Id header missing or invalid: open a session on /on first",
            ));
        };
        // 3. path and registry
        let path = match self.resolve(raw_path) {
            Ok(path) => path,
            Err(message) => return Ok(context.error(StatusCode::NOT_FOUND, &message)),
        };
        // 4. session live (in a cluster: here, or at its owner)
        if !self.sessions.contains_key(&session) {
            let unknown = context.error(
                StatusCode::FAILED_DEPENDENCY,
                &format!("session {session} is unknown or closed"),
            );
            if self.config.cluster && arrival == Arrival::Client {
                return Err(Forward {
                    to: Destination::Owner(session),
                    fallback: unknown,
                    body: None,
                    context: context.clone(),
                });
            }
            return Ok(unknown);
        }
        // 5. access rules
        if let Some(rule) = self.config.access.denying(Operation::Subscribe, &path) {
            return Ok(context.error(
                StatusCode::FORBIDDEN,
                &format!("denied by access rule `{rule}`"),
            ));
        }
        let max_subscriptions = self.config.limits.max_subscriptions;
        let Some(state) = self.sessions.get_mut(&session) else {
            return Ok(context.error(
                StatusCode::FAILED_DEPENDENCY,
                &format!("session {session} is unknown or closed"),
            ));
        };
        if add {
            if state.subscriptions.contains_key(&path) {
                // Held already: a resume replays nothing (live frames are
                // queued), but still says what the session may have missed.
                let result = resume.map(|from| self.resume(session, &path, from).0);
                return Ok(subscribed(context, result));
            }
            // 6. subscription limits: the session's, then the node's
            if state.subscriptions.len() >= max_subscriptions {
                return Ok(context.error(
                    StatusCode::TOO_MANY_REQUESTS,
                    &format!(
                        "session already holds the maximum of {max_subscriptions} subscriptions"
                    ),
                ));
            }
            let max_total = self.config.limits.max_total_subscriptions;
            if self.stats.subscriptions >= max_total {
                return Ok(context.error(
                    StatusCode::TOO_MANY_REQUESTS,
                    &format!(
                        "the node holds its maximum of {max_total} subscriptions over all sessions; try again later"
                    ),
                ));
            }
            // 7. replay what the client asks for, then add: nothing can be
            //    published between the two
            let live = self.stream_last(&path);
            let (result, events) = match resume {
                Some(from) => {
                    let (result, events) = self.resume(session, &path, from);
                    (Some(result), events)
                }
                None => (None, live),
            };
            let Some(state) = self.sessions.get_mut(&session) else {
                return Ok(context.error(
                    StatusCode::FAILED_DEPENDENCY,
                    &format!("session {session} is unknown or closed"),
                ));
            };
            state
                .subscriptions
                .insert(path.clone(), Since { events, live });
            self.stats.subscriptions += 1;
            if self.index.insert(&path, session) {
                self.record(|| Change::InterestAdded(path));
            }
            Ok(subscribed(context, result))
        } else if state.subscriptions.remove(&path).is_some() {
            // What the session may hold of the stream, for a later resume.
            if let Some(stream) = self.history.find(&path) {
                let last = self.history.last(stream);
                state.marks.set(stream, last, max_subscriptions);
            }
            self.stats.subscriptions -= 1;
            if self.index.remove(&path, session) {
                self.record(|| Change::InterestDropped(path));
            }
            Ok(context.empty(StatusCode::OK))
        } else {
            Ok(context.error(StatusCode::NOT_FOUND, "Subscription not found"))
        }
    }

    /// Parses the path and checks it against the registry: `Err` is the 404
    /// message.
    fn resolve(&self, raw_path: &str) -> Result<EventPath, String> {
        let path =
            EventPath::parse_with(raw_path, &self.config.limits.path).map_err(|e| e.to_string())?;
        let path = self.registry.canonical(path)?;
        self.registry.check(&path)?;
        Ok(path)
    }

    /// `POST` up to the body: docs/protocol.md §5.2.
    fn dispatch(
        &mut self,
        arrival: Arrival,
        context: &ResponseContext,
        raw_path: &str,
        headers: &HeaderMap,
    ) -> Decision {
        match self.dispatch_here(arrival, context, raw_path, headers) {
            Ok(Ok(ticket)) => Decision::ReadBody(ticket),
            Ok(Err(forward)) => Decision::Forward(forward),
            Err(response) => Decision::Respond(response),
        }
    }

    /// [`Node::dispatch`]'s checks up to the body: a ticket, a request for
    /// another node of the cluster, or the refusal.
    fn dispatch_here(
        &mut self,
        arrival: Arrival,
        context: &ResponseContext,
        raw_path: &str,
        headers: &HeaderMap,
    ) -> Result<Result<DispatchTicket, Forward>, Response> {
        // version
        if let Err(message) = self.check_version(headers) {
            return Err(context.error(StatusCode::BAD_REQUEST, &message));
        }
        // path, registry and handler
        let path = EventPath::parse_with(raw_path, &self.config.limits.path)
            .map_err(|e| context.error(StatusCode::NOT_FOUND, &e.to_string()))?;
        let path = self
            .registry
            .canonical(path)
            .map_err(|message| context.error(StatusCode::NOT_FOUND, &message))?;
        // In a cluster, a topic with no handler here may have a service
        // elsewhere: decided once the checks that need no handler pass.
        self.registry
            .check(&path)
            .map_err(|message| context.error(StatusCode::NOT_FOUND, &message))?;
        let handler = match self.registry.handler(&path) {
            Ok(handler) => Ok(handler),
            Err(message) if self.config.cluster && arrival != Arrival::ForService => {
                Err(context.error(StatusCode::NOT_FOUND, &message))
            }
            Err(message) => return Err(context.error(StatusCode::NOT_FOUND, &message)),
        };
        // session: optional, but when present it must be valid and live
        // (here, or at its owner; a service takes the forwarder's word)
        let session = match headers.get(RUSK_SESSION_ID) {
            None => None,
            Some(value) => match SessionId::parse(value.as_bytes()) {
                Ok(id) if self.sessions.contains_key(&id) || arrival == Arrival::ForService => {
                    Some(id)
                }
                Ok(id) => {
                    let unknown = context.error(
                        StatusCode::FAILED_DEPENDENCY,
                        &format!("session {id} is unknown or closed"),
                    );
                    if self.config.cluster && arrival == Arrival::Client {
                        return Ok(Err(Forward {
                            to: Destination::Owner(id),
                            fallback: unknown,
                            body: Some(BodyLimit {
                                context: context.clone(),
                                max: self.config.limits.max_body,
                            }),
                            context: context.clone(),
                        }));
                    }
                    return Err(unknown);
                }
                Err(_) => {
                    return Err(context.error(
                        StatusCode::FAILED_DEPENDENCY,
                        "Rusk-Session-Id header is not a valid session id",
                    ));
                }
            },
        };
        // access rules
        if let Some(rule) = self.config.access.denying(Operation::Dispatch, &path) {
            return Err(context.error(
                StatusCode::FORBIDDEN,
                &format!("denied by access rule `{rule}`"),
            ));
        }
        // announced body size
        let max_body = self.config.limits.max_body;
        let announced =
            header_str(headers, CONTENT_LENGTH.as_str()).and_then(|v| v.trim().parse::<u64>().ok());
        if announced.is_some_and(|len| len > max_body as u64) {
            return Err(context.error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("request body exceeds {max_body} bytes"),
            ));
        }
        let handler = match handler {
            Ok(handler) => handler,
            Err(no_handler) => {
                return Ok(Err(Forward {
                    to: Destination::Service(path),
                    fallback: no_handler,
                    body: Some(BodyLimit {
                        context: context.clone(),
                        max: max_body,
                    }),
                    context: context.clone(),
                }));
            }
        };
        let content_type = header_str(headers, CONTENT_TYPE.as_str()).map(str::to_owned);
        let feeder = headers.contains_key(RUSK_FEEDER);
        let binary_reply = content_type.as_deref().is_some_and(is_octet_stream)
            || headers
                .get_all(ACCEPT)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(is_octet_stream);
        Ok(Ok(DispatchTicket {
            context: context.clone(),
            path,
            session,
            content_type,
            feeder,
            headers: Box::new(headers.clone()),
            binary_reply,
            handler,
            body: BodyLimit {
                context: context.clone(),
                max: max_body,
            },
        }))
    }

    /// `OPTIONS`: a CORS preflight (docs/protocol.md §5.3), or a plain OPTIONS.
    fn preflight(&self, context: &ResponseContext, headers: &HeaderMap) -> Response {
        let is_preflight = headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD);
        let OriginVerdict::Allowed { allow_origin, vary } = context.origin() else {
            // No Origin: not a browser preflight. Say what is allowed.
            let mut response = context.empty(StatusCode::NO_CONTENT);
            response.headers_mut().insert(
                ALLOW,
                HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
            );
            return response;
        };
        let mut response = context.empty(StatusCode::NO_CONTENT);
        if !is_preflight {
            response.headers_mut().insert(
                ALLOW,
                HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
            );
            return response;
        }
        let mut allow_headers = String::from(cors::ALLOWED_HEADERS);
        for name in cors::requested_x_headers(headers) {
            allow_headers.push_str(", ");
            allow_headers.push_str(&name);
        }
        let out = response.headers_mut();
        out.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin.clone());
        if *vary {
            out.insert(VARY, HeaderValue::from_static("Origin"));
        }
        out.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(cors::ALLOWED_METHODS),
        );
        if let Ok(value) = HeaderValue::from_str(&allow_headers) {
            out.insert(ACCESS_CONTROL_ALLOW_HEADERS, value);
        }
        out.insert(
            ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(cors::PREFLIGHT_MAX_AGE_SECS),
        );
        response
    }
}
