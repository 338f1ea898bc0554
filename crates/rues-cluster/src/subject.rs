//! RUES paths as NATS subjects (docs/cluster.md, "Subjects").
