//! `GET /health` (docs/protocol.md §13): whether the node serves, and what
//! was checked to say so. The node's own check (it is not shutting down)
//! always runs; the application adds its own ([`HealthCheck`]), e.g. the
//! demo node's "a block was made lately"; in a cluster, the backplane's
//! own check ("cluster": connected to the broker) runs too. 200 `{"status": "ok", ...}` when
//! every check passes, else 503 with each failing check's reason. Outside
//! `/on`, so access rules and the origin policy do not apply to it.

use std::sync::Arc;

use rues_core::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use rues_core::http::{HeaderValue, StatusCode};
use serde_json::{Map, Value, json};
use warp::reply::Response;

use crate::state::Shared;

/// One check of `/health`: `Ok(detail)` when healthy, `Err(reason)` when
/// not; both short texts for an operator. Called on every `/health`
/// request, on the runtime: it must not block.
pub type HealthCheck = Arc<dyn Fn() -> Result<String, String> + Send + Sync>;

/// The answer to `GET /health`.
pub(crate) fn answer(shared: &Shared, checks: &[(String, HealthCheck)]) -> Response {
    let node = {
        let node = shared.node();
        let stats = node.stats();
        if node.is_shutting_down() {
            Err("shutting down".to_owned())
        } else {
            Ok(format!(
                "serving; {} of at most {} sessions open",
                stats.sessions_open,
                node.config().limits.max_sessions
            ))
        }
    };
    let mut results = Map::new();
    let mut healthy = true;
    let cluster = shared
        .backplane()
        .map(|backplane| (backplane.health_name(), backplane.health()));
    for (name, outcome) in std::iter::once(("node", node))
        .chain(cluster)
        .chain(checks.iter().map(|(name, check)| (name.as_str(), check())))
    {
        healthy &= outcome.is_ok();
        let result = match outcome {
            Ok(detail) => json!({ "status": "ok", "detail": detail }),
            Err(reason) => json!({ "status": "failing", "reason": reason }),
        };
        results.insert(name.to_owned(), result);
    }
    let body = json!({
        "status": if healthy { "ok" } else { "unavailable" },
        "checks": Value::Object(results),
    });
    let mut response = Response::new(body.to_string().into());
    if !healthy {
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    }
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // A probe must see the node as it is now, never a cached answer.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
