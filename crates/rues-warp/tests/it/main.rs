//! rues-warp's integration tests: a real server on a loopback port, real
//! WebSocket and HTTP clients.

mod support;

mod accept;
mod admin;
mod admit;
mod blocking;
mod case_rule;
mod delivery;
mod hostile;
mod hostile_limits;
mod hostile_transport;
mod mount;
mod requests;
mod sessions;
mod streaming;
mod tls;
