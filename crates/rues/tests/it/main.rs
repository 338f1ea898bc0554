//! Tests of the `rues` binary, run as a process against real sockets.

mod node;
mod sockets;

mod blob_tx;
mod browser;
mod cli;
mod cluster;
mod cluster_resume;
mod contrib;
mod doc_examples;
mod exhaustion;
mod graphql_hostile;
mod graphql_rusk;
mod hostile_limits;
mod logs;
mod relay;
mod serve;
mod tls;
