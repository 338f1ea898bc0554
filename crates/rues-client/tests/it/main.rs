//! rues-client's integration tests: the client against a real `rues_warp`
//! server on a loopback port (and a fake node for protocol violations).

mod support;

mod dispatch;
mod feed;
mod protocol;
mod reconnect;
mod resume;
mod session;
mod subscribe;
mod tls;
