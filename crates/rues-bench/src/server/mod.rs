//! The servers the harness runs as child processes of its own binary
//! (`rues-bench server <kind>`): each listens on a loopback port, prints
//! `ready <port>`, and publishes what the harness orders (see `control`).

pub(crate) mod baseline;
pub(crate) mod limit;
pub(crate) mod nats_pub;
pub(crate) mod rues;

/// The fan-out topic's name, and the entity names, shared by every server
/// and the clients: rues `/on/bench:all/tick` and `/on/bench:e<i>/tick`,
/// NATS `bench.all` and `bench.e<i>`, the plain WebSocket servers `/all` and
/// `/e/<i>`.
pub(crate) fn entity_name(entity: Option<u32>) -> String {
    match entity {
        None => "all".to_owned(),
        Some(e) => format!("e{e}"),
    }
}
