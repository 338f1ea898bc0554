//! Node URLs and event paths: what the caller gives, turned into the URLs
//! requests go to.

use reqwest::Url;
use rues_target::{EventPath, Limits};

use crate::Error;

/// The limits used to parse the `Content-Location` of incoming events: a
/// node may be configured with larger limits than the defaults, and an
/// event it sent is not the client's to refuse for its length.
pub(crate) const EVENT_LIMITS: Limits = Limits::new(64 * 1024, 64 * 1024, 64 * 1024);

/// Where a node is: its HTTP base and its session URL.
///
/// Any base path is kept (`https://host/rues` serves sessions at
/// `wss://host/rues/on` and events at `https://host/rues/on/...`; w3sper
/// drops it), and a trailing `/on` is taken off, so the address `rues serve`
/// prints (`http://127.0.0.1:8080/on`) works as given.
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    /// `http(s)://host[:port][/prefix]`, no trailing slash.
    base: String,
    /// `ws(s)://host[:port][/prefix]/on`.
    session: Url,
}

impl Endpoint {
    pub(crate) fn parse(given: &str) -> Result<Self, Error> {
        let trimmed = given.trim();
        if trimmed.is_empty() {
            return Err(Error::invalid_url(given, "the URL is empty"));
        }
        if !trimmed.contains("://") {
            return Err(Error::invalid_url(
                given,
                format!("no scheme: write http://{trimmed} (or https://, ws://, wss://)"),
            ));
        }
        let url = Url::parse(trimmed).map_err(|e| Error::invalid_url(given, e.to_string()))?;
        let (http_scheme, ws_scheme) = match url.scheme() {
            "http" | "ws" => ("http", "ws"),
            "https" | "wss" => ("https", "wss"),
            other => {
                return Err(Error::invalid_url(
                    given,
                    format!("unsupported scheme {other:?}: use http, https, ws or wss"),
                ));
            }
        };
        let Some(host) = url.host_str() else {
            return Err(Error::invalid_url(given, "the URL has no host"));
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Error::invalid_url(
                given,
                "credentials in the URL are not supported",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(Error::invalid_url(
                given,
                "a node URL has no query or fragment",
            ));
        }
        let mut prefix = url.path().trim_end_matches('/').to_owned();
        if prefix == "/on" || prefix.ends_with("/on") {
            prefix.truncate(prefix.len() - "/on".len());
        }
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let base = format!("{http_scheme}://{authority}{prefix}");
        let session = Url::parse(&format!("{ws_scheme}://{authority}{prefix}/on"))
            .map_err(|e| Error::invalid_url(given, e.to_string()))?;
        Ok(Endpoint { base, session })
    }

    /// The node's HTTP base, `http(s)://host[:port][/prefix]`.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// The WebSocket URL of a session.
    pub(crate) fn session_url(&self) -> &Url {
        &self.session
    }

    /// The URL of an event path (subscribe, unsubscribe, dispatch).
    pub(crate) fn event_url(&self, path: &EventPath) -> Result<Url, Error> {
        // `Display` percent-encodes everything outside RFC 3986 pchar, so the
        // URL parser keeps the path exactly as written.
        let url = format!("{}{path}", self.base);
        Url::parse(&url).map_err(|e| Error::invalid_url(&url, e.to_string()))
    }
}

/// Anything that names an event path: a `&str`/`String` in the long
/// (`/on/blocks/accepted`) or short (`blocks/accepted`) form, or an
/// [`EventPath`].
///
/// The rules for strings:
/// - `/on/<target>/<topic>` is used as is;
/// - `on/<target>/<topic>` gets its leading slash;
/// - `/<target>/<topic>` and `<target>/<topic>` get `/on` in front.
///
/// Then the path is parsed by [`EventPath::parse`], so `%3A` in an entity
/// is data, a trailing slash is tolerated and anything else malformed is an
/// [`Error::InvalidPath`].
///
/// ```
/// use rues_client::IntoEventPath;
///
/// let long = "/on/blocks:ab12/accepted".into_event_path()?;
/// let short = "blocks:ab12/accepted".into_event_path()?;
/// assert_eq!(long, short);
/// assert_eq!(short.to_string(), "/on/blocks:ab12/accepted");
/// assert!("blocks".into_event_path().is_err());
/// # Ok::<(), rues_client::Error>(())
/// ```
pub trait IntoEventPath {
    /// The parsed path.
    fn into_event_path(self) -> Result<EventPath, Error>;
}

impl IntoEventPath for EventPath {
    fn into_event_path(self) -> Result<EventPath, Error> {
        Ok(self)
    }
}

impl IntoEventPath for &EventPath {
    fn into_event_path(self) -> Result<EventPath, Error> {
        Ok(self.clone())
    }
}

impl IntoEventPath for &str {
    fn into_event_path(self) -> Result<EventPath, Error> {
        parse_path(self)
    }
}

impl IntoEventPath for String {
    fn into_event_path(self) -> Result<EventPath, Error> {
        parse_path(&self)
    }
}

impl IntoEventPath for &String {
    fn into_event_path(self) -> Result<EventPath, Error> {
        parse_path(self)
    }
}

fn parse_path(given: &str) -> Result<EventPath, Error> {
    let full = if given.starts_with("/on/") {
        given.to_owned()
    } else if given.starts_with("on/") && given.matches('/').count() >= 2 {
        format!("/{given}")
    } else if given.starts_with('/') {
        format!("/on{given}")
    } else {
        format!("/on/{given}")
    };
    EventPath::parse(&full).map_err(|source| Error::InvalidPath {
        path: given.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(url: &str) -> Endpoint {
        Endpoint::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    #[test]
    fn http_and_ws_urls_name_the_same_node() {
        for url in [
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/",
            "http://127.0.0.1:8080/on",
            "http://127.0.0.1:8080/on/",
            "ws://127.0.0.1:8080/on",
            " ws://127.0.0.1:8080 ",
        ] {
            let e = endpoint(url);
            assert_eq!(e.base(), "http://127.0.0.1:8080", "{url}");
            assert_eq!(e.session_url().as_str(), "ws://127.0.0.1:8080/on", "{url}");
        }
        let e = endpoint("wss://node.example/");
        assert_eq!(e.base(), "https://node.example");
        assert_eq!(e.session_url().as_str(), "wss://node.example/on");
    }

    #[test]
    fn a_base_path_is_kept() {
        let e = endpoint("https://node.example:4443/rues/");
        assert_eq!(e.base(), "https://node.example:4443/rues");
        assert_eq!(e.session_url().as_str(), "wss://node.example:4443/rues/on");
        let path = EventPath::parse("/on/contracts:a%3Ab/Transfer").unwrap();
        assert_eq!(
            e.event_url(&path).unwrap().as_str(),
            // The topic is lower-cased when parsed (docs/protocol.md §3).
            "https://node.example:4443/rues/on/contracts:a%3Ab/transfer"
        );
        // `/online` is a path segment of its own, not `/on`.
        assert_eq!(endpoint("http://h/online").base(), "http://h/online");
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (url, needle) in [
            ("", "empty"),
            ("127.0.0.1:8080", "no scheme"),
            ("ftp://h", "unsupported scheme"),
            ("http://", "empty host"),
            ("http://u:p@h", "credentials"),
            ("http://h/?x=1", "query"),
            ("http://h:99999", "invalid port"),
        ] {
            let error = Endpoint::parse(url).expect_err(url).to_string();
            assert!(error.contains(needle), "{url}: {error}");
        }
    }

    #[test]
    fn paths_come_long_or_short() {
        let expected = EventPath::parse("/on/blocks/accepted").unwrap();
        for given in [
            "/on/blocks/accepted",
            "on/blocks/accepted",
            "/blocks/accepted",
            "blocks/accepted",
            "blocks/accepted/",
        ] {
            assert_eq!(given.into_event_path().unwrap(), expected, "{given}");
        }
        // A component named `on` still works in the short form.
        assert_eq!(
            "on/accepted".into_event_path().unwrap().to_string(),
            "/on/on/accepted"
        );
        let error = "blocks:/accepted".into_event_path().unwrap_err();
        assert!(matches!(error, Error::InvalidPath { .. }), "{error}");
        assert!(error.to_string().contains("entity is empty"), "{error}");
    }
}
