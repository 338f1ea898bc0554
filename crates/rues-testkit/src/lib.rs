//! Test support for the rues workspace: the fixtures its tests, fuzz targets
//! and load tools share, kept in one place instead of copied into each.
//!
//! **Never published** (`publish = false`): only the workspace's own tests,
//! the fuzz targets (`fuzz/`), `rues-bench` and `rues-soak` depend on it, and
//! the published crates name it as a path-only dev-dependency, which
//! `cargo package` drops.
//!
//! # The default part: no runtime
//!
//! Usable by rues-core's sans-IO tests and the fuzz targets, so it pulls in no
//! tokio, socket or HTTP client crate:
//! - the fixture registry ([`registry`] and its variants), shaped like the
//!   demo node's: components `blocks`, `contracts`, `node`, `transactions`
//!   with dispatch handlers that answer at once;
//! - [`header_map`], [`block_on`], [`collect`] (a dispatch's answer made
//!   whole);
//! - assertions on whole responses ([`WholeResponse`], [`assert_error`],
//!   [`assert_empty`], [`header`], [`assert_holds_nothing`] (a node's stats
//!   after every session ended), [`body_text`], [`error_message`]);
//! - readers of what a process reports: [`rss_kib`] and [`vm_rss_kib`]
//!   (`VmRSS` from `/proc/<pid>/status`), [`metric`] (a sample of the
//!   `/metrics` text).
//!
//! # The `server` feature: over tokio
//!
//! - [`TestServer`]: a real `rues_warp::Server` on `127.0.0.1:0` (or a given
//!   address) run on a tokio task, with shutdown;
//! - a raw HTTP/1 client: [`http`] on a fresh connection (and its fallible
//!   form [`try_http`]), [`try_request_on`] on a stream the caller opened
//!   (e.g. over TLS), answering an [`Answer`]; [`http_stream`], whose
//!   [`Streamed`] body is read chunk by chunk as it arrives; [`read_head`]
//!   for a response head on a raw socket;
//! - a WebSocket client holding a session: [`WsClient`];
//! - [`FakeRusk`]: an upstream that behaves on the wire as rusk does (no
//!   `Content-Type`/`Content-Length` in frames, lower-cased topics,
//!   `Rusk-Origin`), for the relay's tests;
//! - [`CuttingProxy`]: a TCP relay in front of one node or several (round
//!   robin, WebSocket upgrades in a turn of their own) that cuts every open
//!   connection with a reset, for tests of reconnect and resume;
//! - [`within`] and [`PATIENCE`], the bound on every wait.
//!
//! # The `cluster` feature
//!
//! Real processes on loopback, started and stopped by their pid (never by
//! name), for the tests of cluster mode; plain std, no runtime:
//! - [`NatsServer`]: `nats-server` on a free port, with JetStream on (its
//!   store in a temp dir, small limits), with `stop`, `kill` and `restart`
//!   on the same port;
//! - [`Nginx`]: nginx as a plain round-robin load balancer (no sticky
//!   sessions, WebSocket upgrades, no buffering, no retry on another
//!   upstream) in front of given addresses.
//!
//! A missing program is [`Unavailable`] (the test skips, saying to run
//! `cargo xtask test`, which installs it), except when the environment
//! variable `CI` is set: there it panics, so CI never skips.
//!
//! # The `cert` feature
//!
//! - `cert::CertFiles`: a certificate and key as PEM files (self-signed,
//!   as a CA like `openssl req -x509` makes them, or shaped by the test:
//!   expired, for other names), for a node's `[tls]` and a client's
//!   `--cacert`.

// The links above name the `server` and `cluster` parts, absent without
// their features.
#![cfg_attr(
    not(all(feature = "server", feature = "cluster")),
    allow(rustdoc::broken_intra_doc_links)
)]

#[cfg(feature = "cert")]
pub mod cert;
#[cfg(feature = "cluster")]
mod daemon;
#[cfg(feature = "cluster")]
mod nats;
#[cfg(feature = "cluster")]
mod nginx;
mod procfs;
mod registry;
mod response;

#[cfg(feature = "server")]
mod fake_rusk;
#[cfg(feature = "server")]
mod http;
#[cfg(feature = "server")]
mod proxy;
#[cfg(feature = "server")]
mod server;
#[cfg(feature = "server")]
mod ws;

pub use procfs::{metric, rss_kib, vm_rss_kib};
pub use registry::{
    VERSION, component, registry, registry_without_blocks, registry_without_contracts, topic,
};
pub use response::{
    WholeResponse, assert_empty, assert_error, assert_holds_nothing, block_on, body_text, collect,
    error_message, header, header_map,
};

#[cfg(feature = "cluster")]
pub use daemon::Unavailable;
#[cfg(feature = "server")]
pub use fake_rusk::{FAKE_RUSK_VERSION, FakeRusk};
#[cfg(feature = "server")]
pub use http::{Answer, Streamed, http, http_stream, read_head, try_http, try_request_on};
#[cfg(feature = "cluster")]
pub use nats::NatsServer;
#[cfg(feature = "cluster")]
pub use nginx::Nginx;
#[cfg(feature = "server")]
pub use proxy::CuttingProxy;
#[cfg(feature = "server")]
pub use server::{PATIENCE, SLOW, TestServer, TestServerBuilder, with_slow, within};
#[cfg(feature = "server")]
pub use ws::{WsClient, close_code, read_session_id};
