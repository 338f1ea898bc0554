//! rues-core's integration tests: a deterministic harness (no runtime, fake
//! time, seeded session ids) that drives a [`rues_core::Node`] through every
//! path of docs/protocol.md §2, §3, §5, §6 and §7.

mod harness;

mod bounds;
mod cluster;
mod dispatch;
mod fanout;
mod gap;
mod model;
mod resume;
mod resume_model;
mod routing;
mod sessions;
mod shared_history;
mod shared_model;
mod subscribe;
mod version;
