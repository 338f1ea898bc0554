//! The throughput and memory scenarios (`fanout`, `selective`, `idle`,
//! `churn`) and the slow-consumer scenario (`slow`), each run against
//! every chosen server in one invocation, the servers' order rotating from
//! run to run so machine noise hits them alike; and slow handlers beside
//! fan-out (`blocking`), rues only, its two variants alternating likewise;
//! and hostile GraphQL queries beside fan-out (`graphql`), rues only, its
//! two phases alternating likewise; and the same fan-out through a cluster
//! of nodes against one node (`cluster`), rues only, its two topologies
//! alternating likewise; and the same fan-out through `rues relay` against
//! directly on its upstream (`relay`), rues only, its two routes
//! alternating likewise.

mod blocking;
mod churn;
mod cluster;
mod fanout;
mod graphql;
mod idle;
mod relay;
mod selective;
mod slow;

use anyhow::Result;

pub(crate) use fanout::{budget_name, label};
pub(crate) use graphql::QUERIES as GRAPHQL_QUERIES;

use crate::plan::{Plan, Results};

/// Runs the chosen scenarios.
pub(crate) async fn run_all(plan: &Plan) -> Result<Results> {
    let mut results = Results::default();
    for scenario in &plan.scenarios {
        match scenario.as_str() {
            "fanout" => fanout::run(plan, &mut results).await,
            "selective" => selective::run(plan, &mut results).await,
            "idle" => idle::run(plan, &mut results).await,
            "churn" => churn::run(plan, &mut results).await,
            "slow" => slow::run(plan, &mut results).await,
            "blocking" => blocking::run(plan, &mut results).await,
            "graphql" => graphql::run(plan, &mut results).await,
            "cluster" => cluster::run(plan, &mut results).await,
            "relay" => relay::run(plan, &mut results).await,
            other => anyhow::bail!("unknown scenario `{other}`"),
        }
    }
    Ok(results)
}
