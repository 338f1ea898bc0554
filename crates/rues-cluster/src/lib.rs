//! Cluster mode (docs/cluster.md): rues nodes joined through NATS.

pub mod subject;
