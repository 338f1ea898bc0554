//! A demo node over real HTTP for the node-API tests (accounts, contracts,
//! data drivers, feeders): a `rues_warp` server on a loopback port serving
//! the demo registry over a quiet chain the test drives by hand.

use std::sync::Arc;

use rues_core::http::Method;
use rues_demo::contracts::{STAKE_CONTRACT, TRANSFER_CONTRACT};
use rues_demo::{Chain, SharedChain, Transaction, registry};
use rues_testkit::{Answer, Streamed, TestServer};

use crate::support::quiet_config;

/// `0100…00`, as written in paths.
pub(crate) fn transfer_id() -> String {
    TRANSFER_CONTRACT.to_string()
}

/// `0200…00`, as written in paths.
pub(crate) fn stake_id() -> String {
    STAKE_CONTRACT.to_string()
}

pub(crate) struct Demo {
    pub(crate) server: TestServer,
    pub(crate) chain: Arc<SharedChain>,
    now_ms: u64,
}

impl Demo {
    pub(crate) async fn start() -> Self {
        let chain = SharedChain::new(Chain::new(quiet_config(), 0).expect("valid config"));
        let server = TestServer::builder()
            .registry(registry(Arc::clone(&chain)))
            .start()
            .await;
        Self {
            server,
            chain,
            now_ms: 0,
        }
    }

    /// `POST path` with `headers` and `body`, read whole.
    pub(crate) async fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
        self.server.http(Method::POST, path, headers, body).await
    }

    /// `POST path` with a binary body.
    pub(crate) async fn post_binary(&self, path: &str, body: &[u8]) -> Answer {
        self.post(path, &[("content-type", "application/octet-stream")], body)
            .await
    }

    /// `POST path` with a JSON body.
    pub(crate) async fn post_json(&self, path: &str, json: &str) -> Answer {
        self.post(
            path,
            &[("content-type", "application/json")],
            json.as_bytes(),
        )
        .await
    }

    /// `POST path`, its body read as it comes.
    pub(crate) async fn stream(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Streamed {
        self.server
            .http_stream(Method::POST, path, headers, body)
            .await
    }

    /// Propagates `tx` straight into the chain.
    pub(crate) fn propagate(&self, tx: &Transaction) {
        self.chain.propagate(&tx.encode()).expect("accepted");
    }

    /// Produces the next block (its events are dropped: these tests read
    /// the chain through its endpoints).
    pub(crate) fn block(&mut self) {
        self.now_ms += 2000;
        let _events = self.chain.lock().tick(self.now_ms);
    }
}

/// A streamed body read to its clean end, every piece put together.
pub(crate) async fn read_all(mut streamed: Streamed) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(piece) = streamed.chunk().await {
        body.extend_from_slice(&piece.expect("an unbroken body"));
    }
    body
}

/// The response's `Content-Type`.
pub(crate) fn content_type(answer: &Answer) -> &str {
    answer.header("content-type").unwrap_or("")
}
