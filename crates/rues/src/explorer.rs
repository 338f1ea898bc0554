//! The browser event explorer that `rues serve` serves at `/`: one page of
//! plain HTML, CSS and JavaScript (no build step, nothing fetched from
//! elsewhere), embedded in the binary.
//!
//! The page is a RUES client like a wallet: it opens a session with the
//! browser's own WebSocket, subscribes, decodes event frames and dispatches
//! with `fetch`. It talks to the node that served it, or to any other given
//! as `?node=http://host:port` (then through CORS, docs/protocol.md §5.3).

use rues_warp::warp::filters::BoxedFilter;
use rues_warp::warp::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HeaderValue, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS,
};
use rues_warp::warp::reply::Response;
use rues_warp::warp::{self, Filter};

const INDEX_HTML: &str = include_str!("explorer/index.html");
const APP_JS: &str = include_str!("explorer/app.js");
const STYLE_CSS: &str = include_str!("explorer/style.css");

/// Scripts and styles only from the node itself; requests to any node,
/// since the page may talk to another one (`?node=`).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src http: https: ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `GET` (and `HEAD`) of `/`, `/index.html`, `/app.js` and `/style.css`.
pub(crate) fn routes() -> BoxedFilter<(Response,)> {
    let method = warp::get().or(warp::head()).unify();
    let index = warp::path::end()
        .or(warp::path!("index.html"))
        .unify()
        .map(|| asset(INDEX_HTML, "text/html; charset=utf-8"));
    let app = warp::path!("app.js").map(|| asset(APP_JS, "text/javascript; charset=utf-8"));
    let style = warp::path!("style.css").map(|| asset(STYLE_CSS, "text/css; charset=utf-8"));
    method.and(index.or(app).unify().or(style).unify()).boxed()
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = Response::new(body.into());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Revalidate every time: a new `rues` binary serves a new page at once.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_only_its_own_assets() {
        assert!(INDEX_HTML.contains(r#"src="app.js""#));
        assert!(INDEX_HTML.contains(r#"href="style.css""#));
        for text in [INDEX_HTML, APP_JS, STYLE_CSS] {
            assert!(!text.contains("//cdn"), "no external resources");
            assert!(!text.contains("https://"), "no external resources");
        }
    }
}
