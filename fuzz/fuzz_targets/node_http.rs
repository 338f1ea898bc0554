//! Feeds arbitrary HTTP requests (method, path, headers, a body in chunks)
//! through the node's real request path, with no sockets: rues-warp's
//! `EndpointService` over the demo node's registry, as `rues serve` runs it.
//!
//! Nothing may panic; every request is answered within a bound; every
//! response carries `Rusk-Version` and a status the protocol documents; an
//! error is a short JSON body that names what is wrong without echoing the
//! input.

#![no_main]

use std::convert::Infallible;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http_body_util::{BodyExt, Limited, StreamBody};
use hyper::body::Frame;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use rues_core::http::{HeaderName, HeaderValue, Method, Request};
use rues_core::{Config, RUSK_VERSION};
use rues_demo::{Chain, ChainConfig, SharedChain};
use rues_warp::Endpoint;
use tower_service::Service;

#[derive(Debug, Arbitrary)]
struct Input {
    method: u8,
    path: PathInput,
    headers: Vec<(String, Vec<u8>)>,
    chunks: Vec<Vec<u8>>,
}

/// Mostly the demo node's own components and topics (so the handlers see
/// fuzzed bodies and headers), sometimes any text at all.
#[derive(Debug, Arbitrary)]
enum PathInput {
    Known {
        component: u8,
        entity: Option<String>,
        topic: u8,
    },
    Raw(String),
}

const COMPONENTS: &[&str] = &[
    "blocks",
    "transactions",
    "contracts",
    "node",
    "network",
    "graphql",
    "Blocks",
    "blobs",
    "stats",
    "prover",
];

const TOPICS: &[&str] = &[
    "gas-price",
    "accepted",
    "preverify",
    "propagate",
    "info",
    "provisioners",
    "crs",
    "peers",
    "query",
    "QUERY",
    "stake",
    "simulate",
    "peers_location",
    "commitment",
    "hash",
    "account_count",
    "tx_count",
    "prove",
];

impl PathInput {
    fn path(&self) -> String {
        match self {
            Self::Known {
                component,
                entity,
                topic,
            } => {
                let component = COMPONENTS[usize::from(*component) % COMPONENTS.len()];
                let topic = TOPICS[usize::from(*topic) % TOPICS.len()];
                match entity {
                    Some(entity) => format!("/on/{component}:{entity}/{topic}"),
                    None => format!("/on/{component}/{topic}"),
                }
            }
            Self::Raw(path) => path.clone(),
        }
    }
}

/// The statuses a request (not an upgrade) may get: docs/protocol.md §5.
/// 500 is not among them: it would mean a handler failed on its own.
const DOCUMENTED: &[u16] = &[
    200, 202, 204, 400, 403, 404, 405, 408, 413, 414, 415, 422, 424, 426, 429, 431, 501, 503,
];

/// Longest error body: the message names the fault and quotes at most a
/// short prefix of the input, whatever the input's size.
const MAX_ERROR_BODY: usize = 1024;

/// Longest whole answer read back: far above any demo reply to a fuzzed
/// request, so a larger one is a bound that failed.
const MAX_ANSWER: usize = 8 * 1024 * 1024;

/// Every request is answered within this, on a machine running the fuzzer
/// flat out (the node's own per-request bounds are far below it).
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

const METHODS: &[Method] = &[
    Method::GET,
    Method::POST,
    Method::DELETE,
    Method::OPTIONS,
    Method::PUT,
    Method::HEAD,
    Method::PATCH,
];

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

fuzz_target!(|input: Input| {
    let Some(request) = request(&input) else {
        return;
    };
    runtime().block_on(async {
        // A fresh node per input, so every input reproduces alone.
        let chain = Chain::new(ChainConfig::default(), 1_700_000_000_000).expect("default chain");
        let endpoint = Endpoint::new(
            Config::new("1.0.0".parse().expect("a version")),
            rues_demo::registry(SharedChain::new(chain)),
        );
        let answer = tokio::time::timeout(ANSWER_WITHIN, async {
            let response = endpoint.service().call(request).await.expect("infallible");
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_ANSWER).collect().await;
            (parts, body.map(|collected| collected.to_bytes()))
        })
        .await;
        let Ok((parts, body)) = answer else {
            panic!("no answer within {ANSWER_WITHIN:?}");
        };
        let status = parts.status.as_u16();
        assert!(DOCUMENTED.contains(&status), "undocumented status {status}");
        assert!(
            parts.headers.contains_key(RUSK_VERSION),
            "{status} without Rusk-Version"
        );
        // A streamed body may end abnormally by design; a whole one may not.
        let Ok(body) = body else {
            return;
        };
        if status >= 400 && status != 426 {
            check_error(status, &body);
        }
    });
});

/// The request, or `None` when the input is not a request an HTTP parser
/// would have let through (hyper refuses those before the node sees them).
fn request(input: &Input) -> Option<Request<Body>> {
    let method = METHODS[usize::from(input.method) % METHODS.len()].clone();
    let mut builder = Request::builder().method(method).uri(input.path.path());
    for (name, value) in input.headers.iter().take(32) {
        let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
        let value = HeaderValue::from_bytes(value).ok()?;
        builder = builder.header(name, value);
    }
    let chunks: Vec<_> = input
        .chunks
        .iter()
        .take(64)
        .map(|chunk| Ok(Frame::data(Bytes::copy_from_slice(chunk))))
        .collect();
    builder.body(StreamBody::new(stream::iter(chunks))).ok()
}

/// A fuzzed body: its chunks, one frame each, as hyper would deliver them.
type Body = StreamBody<stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

fn check_error(status: u16, body: &[u8]) {
    assert!(
        body.len() <= MAX_ERROR_BODY,
        "{status} error body of {} bytes",
        body.len()
    );
    let value: serde_json::Value =
        serde_json::from_slice(body).unwrap_or_else(|_| panic!("{status} error body is not JSON"));
    assert!(
        value.get("error").and_then(|e| e.as_str()).is_some(),
        "{status} error body without an \"error\" string"
    );
}
