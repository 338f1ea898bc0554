//! A TCP relay in front of one node or several, whose connections a test
//! can cut at once: what a client sees when its network goes away
//! mid-stream.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The longest a connection's request head is waited for before it is
/// taken for plain HTTP: a client that sends nothing holds a slot that
/// long, no longer.
const HEAD_WAIT: Duration = Duration::from_secs(2);

/// The most bytes of a request head looked at to tell a WebSocket upgrade.
const HEAD_PEEK: usize = 8 * 1024;

/// A TCP relay on `127.0.0.1` in front of one or more targets.
///
/// Each new WebSocket upgrade (a request head with `Upgrade: websocket`)
/// goes to the next target in turn, and each other connection to the next
/// in a turn of its own, so that a client's successive sessions land on
/// successive targets whatever its plain HTTP connections do.
/// [`cut`](Self::cut) ends every open connection with a reset (no FIN, no
/// WebSocket close); [`refuse`](Self::refuse) closes new connections at
/// once, keeping a reconnecting client off the targets for a while.
///
/// Only its own tasks are stopped, on [`cut`](Self::cut) and on drop.
pub struct CuttingProxy {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    accept: JoinHandle<()>,
}

#[derive(Default)]
struct State {
    connections: Vec<JoinHandle<()>>,
    /// The target (its index) each WebSocket connection went to, in order.
    upgrades: Vec<usize>,
    next_upgrade: usize,
    next_plain: usize,
    refusing: bool,
}

impl CuttingProxy {
    /// A relay to `target` alone.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound.
    pub async fn start(target: SocketAddr) -> Self {
        Self::round_robin(vec![target]).await
    }

    /// A relay that gives each new connection to the next of `targets`
    /// (WebSocket upgrades and plain HTTP each in their own turn).
    ///
    /// # Panics
    ///
    /// When `targets` is empty, or no loopback port can be bound.
    pub async fn round_robin(targets: Vec<SocketAddr>) -> Self {
        assert!(!targets.is_empty(), "a proxy needs a target");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bound");
        let addr = listener.local_addr().expect("address");
        let state: Arc<Mutex<State>> = Arc::default();
        let targets: Arc<[SocketAddr]> = targets.into();
        let accept = {
            let state = state.clone();
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    if lock(&state).refusing {
                        let _ = client.set_zero_linger();
                        drop(client);
                        continue;
                    }
                    let task = tokio::spawn(relay(client, targets.clone(), state.clone()));
                    let mut state = lock(&state);
                    // Finished relays need not be kept.
                    state.connections.retain(|task| !task.is_finished());
                    state.connections.push(task);
                }
            })
        };
        Self {
            addr,
            state,
            accept,
        }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, a node URL for a client.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Cuts every connection open now, with a reset.
    pub fn cut(&self) {
        for task in lock(&self.state).connections.drain(..) {
            task.abort();
        }
    }

    /// While `refusing`, every new connection is closed (reset) as soon as
    /// it is accepted; open ones are left alone.
    pub fn refuse(&self, refusing: bool) {
        lock(&self.state).refusing = refusing;
    }

    /// The index in the targets of each WebSocket connection relayed so
    /// far, in the order they came.
    pub fn upgrades(&self) -> Vec<usize> {
        lock(&self.state).upgrades.clone()
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panicking test thread must not make the proxy panic too.
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Relays one connection to the target its kind's turn names.
async fn relay(mut client: TcpStream, targets: Arc<[SocketAddr]>, state: Arc<Mutex<State>>) {
    let upgrade = is_upgrade(&client).await;
    let target = {
        let mut state = lock(&state);
        let turn = if upgrade {
            &mut state.next_upgrade
        } else {
            &mut state.next_plain
        };
        let index = *turn % targets.len();
        *turn = turn.wrapping_add(1);
        if upgrade {
            state.upgrades.push(index);
        }
        index
    };
    let Ok(mut node) = TcpStream::connect(targets[target]).await else {
        return;
    };
    // A reset, not a FIN, when the task is aborted.
    let _ = client.set_zero_linger();
    let _ = node.set_zero_linger();
    let _ = tokio::io::copy_bidirectional(&mut client, &mut node).await;
}

/// Whether the request head (peeked, not consumed) asks for a WebSocket;
/// `false` when the head does not come whole within [`HEAD_WAIT`].
async fn is_upgrade(stream: &TcpStream) -> bool {
    let mut buffer = vec![0u8; HEAD_PEEK];
    let look = async {
        loop {
            let Ok(n) = stream.peek(&mut buffer).await else {
                return false;
            };
            if n == 0 {
                return false;
            }
            let head = String::from_utf8_lossy(&buffer[..n]).to_ascii_lowercase();
            if head.contains("\r\n\r\n") || n == buffer.len() {
                return head
                    .lines()
                    .any(|line| line.replace(' ', "") == "upgrade:websocket");
            }
            // Peek returns at once while the bytes it saw are unread.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    tokio::time::timeout(HEAD_WAIT, look).await.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A listener that answers each connection with its own name and keeps
    /// it open until the peer goes.
    async fn named(name: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bound");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut head = [0u8; 1024];
                    let _ = stream.read(&mut head).await;
                    let _ = stream.write_all(name.as_bytes()).await;
                    let _ = stream.read(&mut head).await;
                });
            }
        });
        addr
    }

    async fn ask(proxy: &CuttingProxy, head: &str) -> (TcpStream, String) {
        let mut stream = TcpStream::connect(proxy.addr()).await.expect("connected");
        stream.write_all(head.as_bytes()).await.expect("sent");
        let mut name = [0u8; 1];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut name))
            .await
            .expect("in time")
            // A reset (a refused connection) reads as nothing.
            .unwrap_or(0);
        (stream, String::from_utf8_lossy(&name[..n]).into_owned())
    }

    const UPGRADE: &str = "GET /on HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n";
    const PLAIN: &str = "GET /on/node HTTP/1.1\r\nHost: x\r\n\r\n";

    #[tokio::test]
    async fn upgrades_and_plain_connections_take_turns_of_their_own() {
        let targets = vec![named("a").await, named("b").await, named("c").await];
        let proxy = CuttingProxy::round_robin(targets).await;
        let mut seen = Vec::new();
        let mut open = Vec::new();
        for head in [UPGRADE, PLAIN, PLAIN, UPGRADE, PLAIN, UPGRADE, UPGRADE] {
            let (stream, name) = ask(&proxy, head).await;
            seen.push(name);
            open.push(stream);
        }
        assert_eq!(seen, ["a", "a", "b", "b", "c", "c", "a"]);
        assert_eq!(proxy.upgrades(), [0, 1, 2, 0]);
    }

    #[tokio::test]
    async fn cut_resets_open_connections_and_refuse_keeps_new_ones_out() {
        let proxy = CuttingProxy::start(named("a").await).await;
        let (mut stream, name) = ask(&proxy, PLAIN).await;
        assert_eq!(name, "a");
        proxy.cut();
        let mut rest = [0u8; 8];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut rest))
            .await
            .expect("the cut is seen in time");
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");

        proxy.refuse(true);
        let (_, name) = ask(&proxy, PLAIN).await;
        assert_eq!(name, "", "refused");
        proxy.refuse(false);
        let (_, name) = ask(&proxy, PLAIN).await;
        assert_eq!(name, "a");
    }
}
