//! Streamed dispatch replies over real sockets (docs/protocol.md §5.2): a
//! chunked body written as the handler produces it, never gathered in the
//! node; raw or hex, or one JSON array; cut short by a mid-stream error; and
//! its producer dropped when the client goes away.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{Stream, StreamExt, stream};
use rues_core::http::{Method, StatusCode};
use rues_core::{
    ComponentSpec, Config, DispatchRequest, EntityRule, HandlerError, Registry, Reply,
};
use rues_testkit::{Streamed, TestServer, VERSION, component, http_stream, topic};
use rues_warp::Endpoint;

/// The items of the big stream, and their total size: 64 MiB.
const ITEMS: usize = 100_000;
const TOTAL: usize = 64 << 20;

/// How much the process's RSS may grow while the big stream goes through.
const RSS_BOUND_KIB: u64 = 8 * 1024;

/// How soon the producer must be dropped once the client has gone.
const STOP_BOUND: Duration = Duration::from_secs(1);

const BINARY: (&str, &str) = ("accept", "application/octet-stream");

/// Item `i`'s length: 671 or 672 bytes, so that the items of the big stream
/// make exactly [`TOTAL`] bytes.
fn item_len(i: usize) -> usize {
    TOTAL / ITEMS + usize::from(i < TOTAL % ITEMS)
}

/// Byte `j` of item `i`.
fn item_byte(i: usize, j: usize) -> u8 {
    (i.wrapping_mul(31).wrapping_add(j) % 251) as u8
}

fn item(i: usize) -> Bytes {
    (0..item_len(i)).map(|j| item_byte(i, j)).collect()
}

/// Checks a body, piece by piece, against the items it must be made of,
/// keeping nothing but its place.
#[derive(Debug, Default)]
struct Expected {
    item: usize,
    at: usize,
    bytes: usize,
}

impl Expected {
    #[track_caller]
    fn check(&mut self, piece: &[u8]) {
        for &byte in piece {
            assert_eq!(
                byte,
                item_byte(self.item, self.at),
                "byte {} of item {} (offset {})",
                self.at,
                self.item,
                self.bytes
            );
            self.bytes += 1;
            self.at += 1;
            if self.at == item_len(self.item) {
                self.item += 1;
                self.at = 0;
            }
        }
    }
}

/// What a producer did: how many items it made, and whether it was dropped.
#[derive(Debug, Default)]
struct Probe {
    produced: AtomicUsize,
    dropped: AtomicBool,
}

/// Sets [`Probe::dropped`] when the stream that holds it is dropped.
struct Guard(Arc<Probe>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.dropped.store(true, Ordering::SeqCst);
    }
}

/// Items `0..count` of the big stream, counted in `probe`.
fn produce(
    count: usize,
    probe: Arc<Probe>,
) -> impl Stream<Item = Result<Bytes, HandlerError>> + Send + 'static {
    stream::iter(0..count).map(move |i| {
        probe.produced.fetch_add(1, Ordering::SeqCst);
        Ok(item(i))
    })
}

/// `stream`, telling `probe` when it is dropped.
fn guarded<S: Stream>(stream: S, probe: Arc<Probe>) -> impl Stream<Item = S::Item> {
    let guard = Guard(probe);
    stream.map(move |item| {
        let _held = &guard;
        item
    })
}

/// The decimal count in a request body, [`ITEMS`] when empty.
fn count(request: &DispatchRequest) -> usize {
    let text = std::str::from_utf8(request.body.as_bytes()).unwrap_or("");
    text.trim().parse().unwrap_or(ITEMS)
}

/// The fixture registry and a `feeds` component whose handlers stream:
/// - `items`: the first `<body>` items (default [`ITEMS`]) as bytes;
/// - `stalled`: 16 items, then nothing more, ever (a feeder waiting for
///   data that does not come);
/// - `json`: `{"i": <i>}` for `i` in `0..<body>`, as a JSON array;
/// - `fails`: two pieces, then an error.
///
/// The producers of `items` and `stalled` report to `probe`.
fn registry(probe: &Arc<Probe>) -> Registry {
    let items = probe.clone();
    let stalled = probe.clone();
    rues_testkit::registry().with(
        ComponentSpec::new(component("feeds"))
            .entity(EntityRule::Forbidden)
            .handler(topic("items"), move |request: DispatchRequest| {
                let stream = guarded(produce(count(&request), items.clone()), items.clone());
                async move { Ok(Reply::binary_stream(stream)) }
            })
            .handler(topic("stalled"), move |_request: DispatchRequest| {
                let stream = produce(16, stalled.clone()).chain(stream::pending());
                let stream = guarded(stream, stalled.clone());
                async move { Ok(Reply::binary_stream(stream)) }
            })
            .handler(topic("json"), |request: DispatchRequest| {
                let values = (0..count(&request))
                    .map(|i| Ok(Bytes::from(serde_json::json!({ "i": i }).to_string())));
                async move { Ok(Reply::json_stream(stream::iter(values))) }
            })
            .handler(topic("fails"), |_request: DispatchRequest| async {
                let items = [
                    Ok(Bytes::from_static(b"first,")),
                    Ok(Bytes::from_static(b"second")),
                    Err(HandlerError::internal("the disk failed")),
                    Ok(Bytes::from_static(b"never sent")),
                ];
                Ok(Reply::binary_stream(stream::iter(items)))
            }),
    )
}

async fn server(probe: &Arc<Probe>) -> TestServer {
    TestServer::builder()
        .registry(registry(probe))
        .start()
        .await
}

/// Reads a body to its clean end, checking it against the items.
async fn read_items(response: &mut Streamed, mut each: impl FnMut(&Expected)) -> Expected {
    let mut expected = Expected::default();
    while let Some(piece) = response.chunk().await {
        expected.check(&piece.expect("the body continues"));
        each(&expected);
    }
    expected
}

/// Reads a body whole (for the small ones).
async fn read_whole(response: &mut Streamed) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(piece) = response.chunk().await {
        body.extend_from_slice(&piece.expect("the body continues"));
    }
    body
}

fn rss_kib() -> u64 {
    rues_testkit::rss_kib(std::process::id()).expect("VmRSS")
}

/// Set in the child process that measures [`a_64_mib_stream_is_never_buffered`].
const ALONE: &str = "RUES_STREAMING_TEST_ALONE";

/// The RSS bound holds only for a process that does nothing else, so the
/// measurement runs in a child: this test binary again, running this test
/// alone. Client and node share that process, and neither keeps what it
/// has passed on, so the growth is what the node holds.
#[test]
fn a_64_mib_stream_is_never_buffered() {
    if std::env::var_os(ALONE).is_some() {
        measure_big_stream();
        return;
    }
    crate::support::run_in_a_process_of_its_own(
        "streaming::a_64_mib_stream_is_never_buffered",
        ALONE,
    );
}

fn measure_big_stream() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let probe = Arc::new(Probe::default());
        let server = server(&probe).await;
        // Once first, so that buffers, threads and allocator arenas that
        // any request needs exist before the measurement.
        let mut warm = server
            .http_stream(Method::POST, "/on/feeds/items", &[BINARY], b"2000")
            .await;
        assert_eq!(read_items(&mut warm, |_| {}).await.item, 2000);
        drop(warm);

        let before = rss_kib();
        let started = Instant::now();
        let mut response = server
            .http_stream(Method::POST, "/on/feeds/items", &[BINARY], b"")
            .await;
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.header("transfer-encoding"), Some("chunked"));
        assert_eq!(response.header("content-length"), None);
        let mut peak = before;
        let mut next_sample = 0;
        let read = read_items(&mut response, |expected| {
            if expected.bytes >= next_sample {
                peak = peak.max(rss_kib());
                next_sample += 1 << 20;
            }
        })
        .await;
        let after = rss_kib();
        peak = peak.max(after);
        assert_eq!(read.bytes, TOTAL);
        assert_eq!((read.item, read.at), (ITEMS, 0));
        println!(
            "64 MiB in {ITEMS} items read in {:?}: RSS before {before} KiB, after {after} KiB \
             (growth {} KiB), peak {peak} KiB (growth {} KiB)",
            started.elapsed(),
            after.saturating_sub(before),
            peak - before,
        );
        assert!(
            peak - before < RSS_BOUND_KIB,
            "RSS grew by {} KiB while streaming",
            peak - before
        );
    });
}

/// Reads at least `bytes` of the body, then drops the connection; returns
/// how long the producer took to be dropped after that.
async fn leave_after(response: Streamed, bytes: usize, probe: &Probe) -> Duration {
    let mut response = response;
    let mut expected = Expected::default();
    while expected.bytes < bytes {
        let piece = response.chunk().await.expect("more body").expect("a piece");
        expected.check(&piece);
    }
    assert!(!probe.dropped.load(Ordering::SeqCst), "still producing");
    response.disconnect();
    let left = Instant::now();
    while !probe.dropped.load(Ordering::SeqCst) {
        assert!(
            left.elapsed() < STOP_BOUND,
            "the producer outlived the client by {STOP_BOUND:?}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    left.elapsed()
}

/// A node asked for `path` by a client that leaves after `bytes`: how long
/// the producer outlived the client, and how many items it made.
async fn leave_mid_stream(path: &str, bytes: usize) -> (Duration, usize) {
    let probe = Arc::new(Probe::default());
    let server = server(&probe).await;
    let response = server.http_stream(Method::POST, path, &[BINARY], b"").await;
    let stopped = leave_after(response, bytes, &probe).await;
    (stopped, probe.produced.load(Ordering::SeqCst))
}

#[tokio::test]
async fn a_client_that_leaves_mid_stream_stops_a_producer_blocked_on_the_socket() {
    let (stopped, produced) = leave_mid_stream("/on/feeds/items", 1 << 20).await;
    println!("producer dropped {stopped:?} after the client left, having made {produced} items");
    assert!(produced < ITEMS, "it made every item: {produced}");
}

#[tokio::test]
async fn a_client_that_leaves_mid_stream_stops_a_producer_that_waits_for_data() {
    // All 16 items arrive; then the node waits on the producer, not on the
    // socket, when the client goes.
    let sixteen = (0..16).map(item_len).sum();
    let (stopped, produced) = leave_mid_stream("/on/feeds/stalled", sixteen).await;
    println!("stalled producer dropped {stopped:?} after the client left");
    assert_eq!(produced, 16);
}

#[tokio::test]
async fn an_endpoint_mounted_in_axum_streams_and_stops_its_producer_too() {
    let probe = Arc::new(Probe::default());
    let endpoint = Endpoint::new(
        Config::new(VERSION.parse().expect("valid")),
        registry(&probe),
    );
    let app = axum::Router::new().route_service("/on/{*rest}", endpoint.service());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bound");
    let addr = listener.local_addr().expect("an address");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let response = http_stream(addr, Method::POST, "/on/feeds/items", &[BINARY], b"").await;
    assert_eq!(response.header("transfer-encoding"), Some("chunked"));
    let stopped = leave_after(response, 1 << 20, &probe).await;
    println!("producer behind axum dropped {stopped:?} after the client left");
    assert!(probe.produced.load(Ordering::SeqCst) < ITEMS);
    server.abort();
}

#[tokio::test]
async fn rusk_feeder_reaches_the_handler_which_then_streams() {
    let server = TestServer::start().await;
    let mut streamed = server
        .http_stream(
            Method::POST,
            "/on/node/feed",
            &[("rusk-feeder", "")],
            b"abc",
        )
        .await;
    assert_eq!(streamed.status, StatusCode::OK);
    assert_eq!(streamed.header("transfer-encoding"), Some("chunked"));
    assert_eq!(streamed.header("rusk-version"), Some(rues_testkit::VERSION));
    assert_eq!(read_whole(&mut streamed).await, b"616263");
    // Without the header the same handler answers whole, with a length.
    let whole = server
        .http(Method::POST, "/on/node/feed", &[], b"abc")
        .await;
    assert_eq!(whole.header("content-length"), Some("6"));
    assert_eq!(whole.header("transfer-encoding"), None);
    assert_eq!(whole.body.as_ref(), b"616263");
}

#[tokio::test]
async fn streamed_bytes_are_raw_when_binary_is_asked_for_and_hex_otherwise() {
    let probe = Arc::new(Probe::default());
    let server = server(&probe).await;
    let items: Vec<u8> = (0..3).flat_map(|i| item(i).to_vec()).collect();

    let mut raw = server
        .http_stream(Method::POST, "/on/feeds/items", &[BINARY], b"3")
        .await;
    assert_eq!(raw.header("content-type"), Some("application/octet-stream"));
    assert_eq!(read_whole(&mut raw).await, items);

    let mut hex = server
        .http_stream(Method::POST, "/on/feeds/items", &[], b"3")
        .await;
    assert_eq!(
        hex.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(read_whole(&mut hex).await, hex::encode(&items).into_bytes());
}

#[tokio::test]
async fn a_json_stream_is_one_json_array() {
    let probe = Arc::new(Probe::default());
    let server = server(&probe).await;
    for count in [0, 1, 1000] {
        let mut response = server
            .http_stream(
                Method::POST,
                "/on/feeds/json",
                &[],
                count.to_string().as_bytes(),
            )
            .await;
        assert_eq!(response.header("content-type"), Some("application/json"));
        let body = read_whole(&mut response).await;
        let array: Vec<serde_json::Value> = serde_json::from_slice(&body).expect("a JSON array");
        let expected: Vec<_> = (0..count).map(|i| serde_json::json!({ "i": i })).collect();
        assert_eq!(array, expected);
    }
}

#[tokio::test]
async fn an_error_mid_stream_cuts_the_body_short() {
    let probe = Arc::new(Probe::default());
    let server = server(&probe).await;
    let mut response = server
        .http_stream(Method::POST, "/on/feeds/fails", &[BINARY], b"")
        .await;
    // The status was sent before the error.
    assert_eq!(response.status, StatusCode::OK);
    let mut body = Vec::new();
    let broken = loop {
        match response.chunk().await {
            Some(Ok(piece)) => body.extend_from_slice(&piece),
            Some(Err(error)) => break error,
            None => panic!("a clean end after {:?}", String::from_utf8_lossy(&body)),
        }
    };
    assert_eq!(body, b"first,second");
    assert!(broken.to_string().contains("broken body"), "{broken}");
    // The node carries on.
    let info = server.http(Method::POST, "/on/node/info", &[], b"").await;
    assert_eq!(info.status, StatusCode::OK);
}
