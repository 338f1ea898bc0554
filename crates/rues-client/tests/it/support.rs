//! A real `rues_warp` server on a loopback port with the fixture registry,
//! bounded waits and a proxy that cuts connections (from rues-testkit),
//! stream helpers, and a fake node for protocol violations.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use rues_client::{Event, Gap};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub(crate) use rues_testkit::{
    CuttingProxy, TestServer, registry, registry_without_blocks, within,
};

/// The next item of a stream that must not end.
pub(crate) async fn next<S: Stream + Unpin>(stream: &mut S) -> S::Item {
    within("the next item", stream.next())
        .await
        .expect("the stream has not ended")
}

/// The next item, which must be an event.
pub(crate) async fn next_event<S>(stream: &mut S) -> Event
where
    S: Stream<Item = Result<Event, Gap>> + Unpin,
{
    match next(stream).await {
        Ok(event) => event,
        Err(gap) => panic!("expected an event, got a gap: {gap}"),
    }
}

/// Asserts the stream yields nothing for `wait`.
pub(crate) async fn assert_quiet<S>(stream: &mut S, wait: Duration)
where
    S: Stream<Item = Result<Event, Gap>> + Unpin,
{
    if let Ok(item) = tokio::time::timeout(wait, stream.next()).await {
        panic!("expected silence, got {item:?}");
    }
}

/// Asserts the stream ends (after any items still queued are skipped).
pub(crate) async fn assert_ends<S: Stream + Unpin>(stream: &mut S) {
    within("the end of the stream", async {
        while stream.next().await.is_some() {}
    })
    .await;
}

/// A fake node for what a real one never does: it runs `script` on each
/// WebSocket session (numbered from 0, and given the count of HTTP requests
/// so far), and answers each plain HTTP request (numbered from 0) with the
/// status `http` gives and an empty body.
pub(crate) struct FakeNode {
    pub(crate) addr: SocketAddr,
    task: JoinHandle<()>,
}

pub(crate) type FakeSocket = tokio_tungstenite::WebSocketStream<TcpStream>;

impl FakeNode {
    /// Answers every HTTP request with 200.
    pub(crate) async fn start<F, Fut>(script: F) -> Self
    where
        F: Fn(FakeSocket, usize, Requests) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self::start_with(script, |_| 200).await
    }

    pub(crate) async fn start_with<F, Fut, H>(script: F, http: H) -> Self
    where
        F: Fn(FakeSocket, usize, Requests) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
        H: Fn(usize) -> u16 + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bound");
        let addr = listener.local_addr().expect("an address");
        let script = Arc::new(script);
        let http = Arc::new(http);
        let sessions = Arc::new(AtomicUsize::new(0));
        let numbers = Arc::new(AtomicUsize::new(0));
        let requests = Requests::default();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (script, http) = (script.clone(), http.clone());
                let (sessions, numbers) = (sessions.clone(), numbers.clone());
                let requests = requests.clone();
                tokio::spawn(async move {
                    if is_upgrade(&stream).await {
                        if let Ok(ws) = tokio_tungstenite::accept_async(stream).await {
                            let n = sessions.fetch_add(1, Ordering::SeqCst);
                            script(ws, n, requests).await;
                        }
                    } else {
                        let n = numbers.fetch_add(1, Ordering::SeqCst);
                        answer(stream, http(n)).await;
                        requests.0.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        Self { addr, task }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// How many HTTP requests a [`FakeNode`] has answered.
#[derive(Clone, Default)]
pub(crate) struct Requests(Arc<AtomicUsize>);

impl Requests {
    /// Waits until at least `n` requests have been answered.
    pub(crate) async fn wait_for(&self, n: usize) {
        within("the client's requests", async {
            while self.0.load(Ordering::SeqCst) < n {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
    }
}

impl Drop for FakeNode {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whether the request head (peeked, not consumed) asks for a WebSocket.
async fn is_upgrade(stream: &TcpStream) -> bool {
    let mut buffer = [0u8; 4096];
    for _ in 0..100 {
        let Ok(n) = stream.peek(&mut buffer).await else {
            return false;
        };
        let head = String::from_utf8_lossy(&buffer[..n]).to_ascii_lowercase();
        if head.contains("\r\n\r\n") || n == buffer.len() {
            return head.contains("upgrade: websocket");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}

async fn answer(mut stream: TcpStream, status: u16) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let _ = stream
        .write_all(
            format!("HTTP/1.1 {status} Fake\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await;
    let _ = stream.shutdown().await;
}
