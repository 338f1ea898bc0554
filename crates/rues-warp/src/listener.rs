//! The accept loop and per-connection serving, hardened against hostile
//! peers: accept errors (out of file descriptors included) are logged and
//! retried, TLS handshakes and request heads have deadlines and run off the
//! accept loop, so an idle or slow peer never delays anyone else.
//!
//! Each connection's HTTP service hands WebSocket upgrades and requests on
//! `/on` and `/on/...` to the [`EndpointService`] (which answers upgrades at
//! the hyper level and hands the upgraded bytes to the session task), and
//! every other request to the warp routes.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::Either;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use rues_core::RUSK_VERSION;
use rues_core::http::header::{CONNECTION, CONTENT_TYPE, HOST, UPGRADE};
use rues_core::http::{HeaderValue, Method, StatusCode, Version};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use crate::endpoint::EndpointService;
use crate::head::{Guarded, Rules};
use crate::routes;
use crate::state::Shared;

/// How long the loop backs off after an accept error such as EMFILE, so a
/// descriptor shortage does not become a busy loop.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

pub(crate) struct Listener {
    pub(crate) tcp: TcpListener,
    pub(crate) tls: Option<TlsAcceptor>,
    /// What every connection is held to (crate::head).
    pub(crate) rules: Rules,
    pub(crate) head_read_timeout: Duration,
    pub(crate) tls_handshake_timeout: Duration,
}

impl Listener {
    /// Accepts until `shutdown` resolves; each connection is served on its
    /// own task, tracked by `tasks`. When `draining` is cancelled, every
    /// connection finishes its in-flight request and closes.
    pub(crate) async fn accept_until(
        &self,
        shared: &Arc<Shared>,
        endpoint: Option<&EndpointService>,
        routes: BoxedFilter<(Response,)>,
        draining: &CancellationToken,
        tasks: &TaskTracker,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        let service = warp::service(routes);
        // A semver version is valid header text; the fallback is never used.
        let version = HeaderValue::from_str(&shared.node().config().version.to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("0.0.0"));
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                () = &mut shutdown => return,
                accepted = self.tcp.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    shared.metrics.accept_error();
                    tracing::warn!(%error, "accept failed; retrying");
                    if is_resource_exhaustion(&error) {
                        tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                    }
                    continue;
                }
            };
            shared.metrics.connection_accepted();
            // Events are small and latency matters more than packet count.
            let _ = stream.set_nodelay(true);
            let service = Service {
                peer,
                endpoint: endpoint.cloned(),
                routes: TowerToHyperService::new(service.clone()),
                version: version.clone(),
            };
            let builder = self.http_builder();
            let rules = self.rules.clone();
            let tls = self.tls.clone();
            let handshake_timeout = self.tls_handshake_timeout;
            let draining = draining.clone();
            let shared = shared.clone();
            tasks.spawn(async move {
                let io = match tls {
                    None => Io::Plain(stream),
                    Some(acceptor) => {
                        match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await
                        {
                            Ok(Ok(stream)) => Io::Tls(Box::new(stream)),
                            Ok(Err(error)) => {
                                shared.metrics.handshake_failed();
                                tracing::debug!(%peer, %error, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                shared.metrics.handshake_failed();
                                tracing::debug!(%peer, "TLS handshake timed out");
                                return;
                            }
                        }
                    }
                };
                let result = match io {
                    Io::Plain(stream) => {
                        let stream = Guarded::new(stream, &rules);
                        let conn = builder.serve_connection(TokioIo::new(stream), service);
                        serve(conn.with_upgrades(), &draining).await
                    }
                    Io::Tls(stream) => {
                        let stream = Guarded::new(stream, &rules);
                        let conn = builder.serve_connection(TokioIo::new(stream), service);
                        serve(conn.with_upgrades(), &draining).await
                    }
                };
                if let Err(error) = result {
                    if error.is_timeout() {
                        shared.metrics.handshake_failed();
                    }
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
            });
        }
    }

    fn http_builder(&self) -> http1::Builder {
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.head_read_timeout)
            .keep_alive(true);
        builder
    }
}

/// Drives one HTTP connection; on drain, lets the request in flight finish
/// and then closes.
async fn serve<I, S>(
    conn: http1::UpgradeableConnection<I, S>,
    draining: &CancellationToken,
) -> Result<(), hyper::Error>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<hyper::body::Incoming>,
    S::ResBody: 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => result,
        () = draining.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    }
}

/// One connection's HTTP service: upgrades (on any path: the core answers
/// 404 off `/on`) and requests on `/on` and `/on/...` go to the endpoint,
/// everything else to the warp routes `R`. It is also the one place every
/// response passes through, so it stamps each with `Rusk-Version`
/// (docs/protocol.md §5: `/metrics` and the application's routes too).
#[derive(Clone)]
struct Service<R> {
    /// The connection's TCP peer, recorded on each request for the core's
    /// per-client session limit.
    peer: std::net::SocketAddr,
    /// `None` on an admin listener, which serves its routes alone.
    endpoint: Option<EndpointService>,
    routes: R,
    /// The node's version, as every response carries it.
    version: HeaderValue,
}

impl<R> hyper::service::Service<hyper::Request<Incoming>> for Service<R>
where
    R: hyper::service::Service<hyper::Request<Incoming>, Response = Response, Error = Infallible>,
    R::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, mut request: hyper::Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(self.peer);
        let version = self.version.clone();
        // RFC 9112 §3.2: an HTTP/1.1 request without exactly one Host is
        // 400. Only this layer sees the HTTP version (HTTP/1.0 needs none).
        if request.version() == Version::HTTP_11
            && request.headers().get_all(HOST).iter().count() != 1
        {
            let refusal = transport_error(
                &version,
                StatusCode::BAD_REQUEST,
                "an HTTP/1.1 request needs exactly one Host header",
            );
            return Box::pin(std::future::ready(Ok(refusal)));
        }
        // After a head asking for an upgrade the head check lets every byte
        // through (crate::head), so a connection whose upgrade is refused
        // must not carry another request.
        let upgrade =
            request.method() == Method::CONNECT || request.headers().contains_key(UPGRADE);
        let to_endpoint = routes::websocket_key(&request).is_some()
            || routes::is_endpoint_path(request.uri().path());
        let answer = match &self.endpoint {
            Some(endpoint) if to_endpoint => {
                Either::Left(tower_service::Service::call(&mut endpoint.clone(), request))
            }
            _ => Either::Right(self.routes.call(request)),
        };
        Box::pin(async move {
            let Ok(mut response) = answer.await;
            stamp(&mut response, version);
            if upgrade && response.status() != StatusCode::SWITCHING_PROTOCOLS {
                response
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            Ok(response)
        })
    }
}

/// Adds `Rusk-Version` to a response that lacks it (the core's already
/// carry it).
fn stamp(response: &mut Response, version: HeaderValue) {
    response
        .headers_mut()
        .entry(RUSK_VERSION)
        .or_insert(version);
}

/// A refusal this layer makes itself, shaped as the core's are
/// (docs/protocol.md §5): `Rusk-Version` and a JSON `{"error": message}`,
/// where `message` is a fixed text that never quotes the request.
fn transport_error(version: &HeaderValue, status: StatusCode, message: &'static str) -> Response {
    let mut response = Response::new(format!("{{\"error\":\"{message}\"}}").into());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(RUSK_VERSION, version.clone());
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

enum Io {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

/// Errors after which accepting again at once would fail again at once.
fn is_resource_exhaustion(error: &io::Error) -> bool {
    // EMFILE (24) and ENFILE (23): out of descriptors; ENOBUFS (105) and
    // ENOMEM (12): out of kernel memory.
    matches!(error.raw_os_error(), Some(23 | 24 | 105 | 12))
}
