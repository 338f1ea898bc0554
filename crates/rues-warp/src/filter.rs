//! The endpoint as a warp filter, for applications built on warp: upgrades
//! answered as the listener answers them (the core decides, then the same
//! session task takes the upgraded connection's bytes, see
//! `routes::start_session`), every other request on `/on` and `/on/...`
//! through the core.
//!
//! warp's own `ws()` filter is not used: it hands over a tungstenite stream,
//! with buffers of its own in every session and a copy of every frame into
//! them, where the session task writes the shared frames as they are.

use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::future;
use hyper::upgrade::OnUpgrade;
use rues_core::http::{HeaderMap, Method};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::path::FullPath;
use warp::reply::Response;

use crate::routes;
use crate::state::Shared;

/// `/on` and `/on/...`: upgrades first (only `/on` opens a session; the core
/// answers 404 elsewhere), then every other request through the core.
pub(crate) fn filter(shared: Arc<Shared>) -> BoxedFilter<(Response,)> {
    let upgrade = {
        let shared = shared.clone();
        warp::path("on")
            .and(warp::path::full())
            .and(warp::method())
            .and(warp::header::headers_cloned())
            .and(warp::addr::remote())
            // Where hyper serves the connection with upgrades, as warp does.
            .and(warp::ext::get::<OnUpgrade>())
            .and_then(
                move |path: FullPath,
                      method: Method,
                      headers: HeaderMap,
                      peer: Option<SocketAddr>,
                      upgrading: OnUpgrade| {
                    // Not an upgrade: the request route below answers it.
                    let answer = routes::upgrade_key(&method, &headers).map(|key| {
                        routes::start_session(
                            &shared,
                            path.as_str(),
                            &headers,
                            peer.map(|peer| peer.ip()),
                            &key,
                            upgrading,
                        )
                    });
                    future::ready(answer.ok_or_else(warp::reject))
                },
            )
    };
    let request = warp::path("on").and(routes::core(shared));
    upgrade.or(request).unify().boxed()
}
