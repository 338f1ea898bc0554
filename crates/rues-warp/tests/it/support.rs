//! A server on 127.0.0.1:0 with the fixture registry, and clients for it:
//! all from rues-testkit.

pub(crate) use rues_testkit::{PATIENCE, TestServer, WsClient as Client, http, try_request_on};
