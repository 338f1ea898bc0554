//! Origins and CORS (docs/protocol.md §5.3, §8).

use http::HeaderMap;
use http::header::ORIGIN;

/// Which browser origins may use the node.
///
/// Requests without an `Origin` header (curl, wallets, other nodes) are not
/// browser cross-origin requests and are always allowed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum OriginPolicy {
    /// Any origin (the default: public nodes serve public data).
    #[default]
    Any,
    /// Only these origins, compared ASCII case-insensitively
    /// (e.g. `https://wallet.example`).
    List(Vec<String>),
}

/// What the origin policy says about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OriginVerdict {
    /// No `Origin` header: not a cross-origin browser request.
    Absent,
    /// Allowed: `Access-Control-Allow-Origin` gets this value.
    Allowed {
        allow_origin: http::HeaderValue,
        /// The answer depends on the request's origin, so caches must key on it.
        vary: bool,
    },
    /// Not allowed: 403, and no CORS headers at all.
    Denied,
}

impl OriginPolicy {
    pub(crate) fn verdict(&self, headers: &HeaderMap) -> OriginVerdict {
        let Some(origin) = headers.get(ORIGIN) else {
            return OriginVerdict::Absent;
        };
        match self {
            Self::Any => OriginVerdict::Allowed {
                allow_origin: http::HeaderValue::from_static("*"),
                vary: false,
            },
            Self::List(allowed) => {
                let listed = origin.to_str().is_ok_and(|origin| {
                    allowed
                        .iter()
                        .any(|a| a.eq_ignore_ascii_case(origin.trim()))
                });
                if listed {
                    OriginVerdict::Allowed {
                        allow_origin: origin.clone(),
                        vary: true,
                    }
                } else {
                    OriginVerdict::Denied
                }
            }
        }
    }
}

/// Request headers a browser may send to RUES, always allowed in preflights.
pub(crate) const ALLOWED_HEADERS: &str = "Rusk-Version, Rusk-Version-Strict, Rusk-Session-Id, Rusk-Feeder, Rues-Resume, Content-Type, Accept";

/// Methods RUES answers on `/on/...`.
pub(crate) const ALLOWED_METHODS: &str = "GET, POST, DELETE";

/// How long a browser may cache a preflight answer (Chromium caps it at 2 h).
pub(crate) const PREFLIGHT_MAX_AGE_SECS: &str = "7200";

/// The `X-*` headers named in `Access-Control-Request-Headers`, and
/// rusk's `rusk-gqlvar-<name>` GraphQL variables, lower-cased.
pub(crate) fn requested_x_headers(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(http::header::ACCESS_CONTROL_REQUEST_HEADERS)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| {
            (name.starts_with("x-") || name.starts_with("rusk-gqlvar-"))
                && http::HeaderName::from_bytes(name.as_bytes()).is_ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_origin(origin: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ORIGIN, origin.parse().expect("valid header"));
        headers
    }

    #[test]
    fn any_policy_allows_every_origin_with_star() {
        assert_eq!(
            OriginPolicy::Any.verdict(&with_origin("https://a.example")),
            OriginVerdict::Allowed {
                allow_origin: http::HeaderValue::from_static("*"),
                vary: false
            }
        );
    }

    #[test]
    fn list_policy_echoes_listed_origin_and_denies_others() {
        let policy = OriginPolicy::List(vec!["https://wallet.example".into()]);
        assert!(matches!(
            policy.verdict(&with_origin("https://WALLET.example")),
            OriginVerdict::Allowed { vary: true, .. }
        ));
        assert_eq!(
            policy.verdict(&with_origin("https://evil.example")),
            OriginVerdict::Denied
        );
        assert_eq!(policy.verdict(&HeaderMap::new()), OriginVerdict::Absent);
    }

    #[test]
    fn requested_x_headers_keeps_only_x_names() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::ACCESS_CONTROL_REQUEST_HEADERS,
            "rusk-version, X-Request-Id,x-trace , authorization, Rusk-Gqlvar-Height"
                .parse()
                .expect("valid"),
        );
        assert_eq!(
            requested_x_headers(&headers),
            ["x-request-id", "x-trace", "rusk-gqlvar-height"]
        );
    }
}
