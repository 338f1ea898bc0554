//! A server on 127.0.0.1:0 with the fixture registry, and clients for it:
//! all from rues-testkit.

pub(crate) use rues_testkit::{PATIENCE, TestServer, WsClient as Client, http, try_request_on};

/// For a test whose bound holds only in a process that does nothing else
/// (an RSS figure): runs `test` (its full path) alone in a child process,
/// this test binary again with `alone` set, and asserts that it passed. The
/// test itself checks `std::env::var_os(alone)` first and measures when set.
pub(crate) fn run_in_a_process_of_its_own(test: &str, alone: &str) {
    let exe = std::env::current_exe().expect("the test binary");
    let output = std::process::Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(alone, "1")
        .output()
        .expect("the child runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the child failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "the child ran no test:\n{stdout}"
    );
}

/// A `rues_warp::Server` running on a task of its own, for tests that need
/// what `TestServer` does not set (extra routes, health checks): stops when
/// [`Running::stop`] is called.
pub(crate) struct Running {
    pub(crate) addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Runs `server` until [`Running::stop`].
    pub(crate) fn start(server: rues_warp::Server) -> Self {
        let addr = server.local_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        Self { addr, stop, task }
    }

    /// Shuts the server down gracefully and waits for it.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}
