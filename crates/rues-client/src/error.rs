//! The one error type of this crate.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use tokio_rustls::rustls;

/// A shareable error source, so that [`Error`] can be cloned and handed to
/// every subscription a failure ends.
pub(crate) type Source = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Why an operation failed.
///
/// The variants say whose fault it is: the caller's ([`InvalidUrl`],
/// [`InvalidPath`], [`InvalidHeader`], [`Tls`]), the network's ([`Connect`],
/// [`Transport`], [`Timeout`]), the node's answer ([`Status`]), the node
/// breaking the protocol ([`Protocol`]), or the session's end
/// ([`SessionClosed`], [`Reconnecting`], [`Closed`]).
///
/// It is `Clone` so that one failure can end many subscriptions; sources
/// are shared, not copied.
///
/// [`InvalidUrl`]: Error::InvalidUrl
/// [`InvalidPath`]: Error::InvalidPath
/// [`InvalidHeader`]: Error::InvalidHeader
/// [`Tls`]: Error::Tls
/// [`Connect`]: Error::Connect
/// [`Transport`]: Error::Transport
/// [`Timeout`]: Error::Timeout
/// [`Status`]: Error::Status
/// [`Protocol`]: Error::Protocol
/// [`SessionClosed`]: Error::SessionClosed
/// [`Reconnecting`]: Error::Reconnecting
/// [`Closed`]: Error::Closed
#[non_exhaustive]
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The node URL is not an `http`, `https`, `ws` or `wss` URL that can
    /// serve as a base.
    #[error("invalid node URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The event path is not `/on/<component>[:<entity>]/<topic>` (or the
    /// short `<component>[:<entity>]/<topic>`).
    #[error("invalid event path {path:?}: {source}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// What the parser objected to.
        source: rues_target::Error,
    },

    /// A header the caller configured cannot be sent: a `Rusk-Version`
    /// requirement that is not a semver requirement, or a name or value
    /// that is not valid in HTTP.
    #[error("invalid header {name}: {reason}")]
    InvalidHeader {
        /// The header's name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The TLS settings cannot be used: root certificates that do not
    /// parse, or a configuration rustls refuses.
    #[error("TLS configuration: {reason}")]
    Tls {
        /// What is wrong.
        reason: String,
    },

    /// The node could not be reached: DNS, TCP or TLS failed, or it did
    /// not answer in time.
    #[error("cannot connect to {url}: {reason}")]
    Connect {
        /// The URL being connected to.
        url: String,
        /// A short reason, e.g. `connection refused`.
        reason: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
    },

    /// An HTTP exchange or the WebSocket failed after the connection was
    /// made (reset, truncated body, TLS failure mid-stream).
    #[error("{context}: {reason}")]
    Transport {
        /// What was being done, e.g. `POST http://node/on/node/info`.
        context: String,
        /// A short reason.
        reason: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
    },

    /// A request took longer than the configured timeout.
    #[error("{context}: no answer within {after:?}")]
    Timeout {
        /// What was being done.
        context: String,
        /// The timeout that expired.
        after: Duration,
    },

    /// The node answered with an error status (4xx or 5xx), or refused the
    /// WebSocket upgrade.
    ///
    /// `message` is the node's own reason: the `error` field of its JSON
    /// body (docs/protocol.md §5), or the body as text for nodes that answer in
    /// plain text (rusk), or the status's reason phrase for an empty body.
    #[error("{}: {message}", status_text(*status))]
    Status {
        /// The HTTP status.
        status: StatusCode,
        /// The node's reason.
        message: String,
        /// The node's version, from its `Rusk-Version` response header.
        node_version: Option<String>,
    },

    /// The node broke the protocol: the session's first message was not a
    /// session id, or an event frame could not be decoded.
    #[error("protocol error: {reason}")]
    Protocol {
        /// What was wrong.
        reason: String,
    },

    /// The session ended: the node closed it (with the close code, e.g.
    /// 1001 shutting down, 4001 keep-alive timeout, 4008 slow consumer) or
    /// the connection was lost (`code` is `None`).
    #[error("{}", describe_close(*code, reason))]
    SessionClosed {
        /// The WebSocket close code, when the node sent a Close frame.
        code: Option<u16>,
        /// The close reason the node gave, or what happened to the connection.
        reason: String,
    },

    /// The session is down and the client is opening a new one; try again
    /// once it has reconnected.
    #[error("the session is down; reconnecting")]
    Reconnecting,

    /// The client was closed with [`Client::close`](crate::Client::close),
    /// or its session ended for good.
    #[error("the client is closed")]
    Closed,

    /// A body is not the JSON the caller asked for.
    #[error("{what} is not valid JSON: {source}")]
    Json {
        /// What was being parsed: `event payload`, `reply body`.
        what: &'static str,
        /// The parser's complaint.
        source: Arc<serde_json::Error>,
    },
}

impl Error {
    /// The HTTP status of a [`Status`](Error::Status) error.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The WebSocket close code of a [`SessionClosed`](Error::SessionClosed) error.
    pub fn close_code(&self) -> Option<u16> {
        match self {
            Error::SessionClosed { code, .. } => *code,
            _ => None,
        }
    }

    /// Whether the node refused the request's `Rusk-Version` requirement
    /// (a 400 whose message is about the version).
    ///
    /// Decided by the status and the node's message, so it works with this
    /// project's nodes and with rusk (`Version error: Mismatched rusk
    /// version: ...`).
    pub fn is_version_mismatch(&self) -> bool {
        match self {
            Error::Status {
                status, message, ..
            } => {
                *status == StatusCode::BAD_REQUEST
                    && message.to_ascii_lowercase().contains("version")
            }
            _ => false,
        }
    }

    /// Why the node's TLS certificate was refused, for a
    /// [`Connect`](Error::Connect) error that a certificate caused (then
    /// its `reason` already says it in words: expired when, valid for
    /// which names, or issued by whom).
    pub fn certificate_error(&self) -> Option<&rustls::CertificateError> {
        match self {
            Error::Connect {
                source: Some(source),
                ..
            } => certificate_error(source.as_ref()),
            _ => None,
        }
    }

    /// Whether the node's TLS certificate was refused for want of trust:
    /// issued by no trusted root, or a CA certificate (a self-signed one,
    /// as `openssl req -x509` makes) that is not itself among the trusted
    /// certificates. Trusting the node's certificate or its CA's
    /// ([`add_root_certificates_pem`](crate::ClientBuilder::add_root_certificates_pem))
    /// is then the cure; an expired certificate or one for other names is
    /// refused however it is trusted.
    pub fn is_untrusted_certificate(&self) -> bool {
        self.certificate_error()
            .is_some_and(crate::tls::is_untrusted)
    }

    pub(crate) fn invalid_url(url: &str, reason: impl Into<String>) -> Self {
        Error::InvalidUrl {
            url: url.to_owned(),
            reason: reason.into(),
        }
    }

    pub(crate) fn protocol(reason: impl Into<String>) -> Self {
        Error::Protocol {
            reason: reason.into(),
        }
    }

    pub(crate) fn lost(reason: impl Into<String>) -> Self {
        Error::SessionClosed {
            code: None,
            reason: reason.into(),
        }
    }
}

fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// What a close code means in RUES (docs/protocol.md §2), for messages.
fn close_code_meaning(code: u16) -> Option<&'static str> {
    Some(match code {
        1000 => "normal closure",
        1001 => "the node is shutting down",
        1002 => "protocol error",
        1008 => "policy violation",
        1009 => "a message was too big",
        1011 => "internal error of the node",
        4001 => "keep-alive timeout: the node heard nothing from this client",
        4008 => "slow consumer: this client did not read events fast enough",
        _ => return None,
    })
}

fn describe_close(code: Option<u16>, reason: &str) -> String {
    match (code, reason.is_empty()) {
        (Some(code), false) => format!("session closed by the node: {code} {reason}"),
        (Some(code), true) => match close_code_meaning(code) {
            Some(meaning) => format!("session closed by the node: {code} ({meaning})"),
            None => format!("session closed by the node: {code}"),
        },
        (None, false) => format!("session lost: {reason}"),
        (None, true) => "session lost".to_owned(),
    }
}

/// A short, human description of an error and its causes: the deepest
/// I/O error's kind when there is one (`connection refused`), else the
/// chain of messages.
pub(crate) fn short_reason(error: &(dyn std::error::Error + 'static)) -> String {
    if let Some(refused) = certificate_error(error) {
        return crate::tls::refusal(refused);
    }
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut io_kind = None;
    let mut messages: Vec<String> = Vec::new();
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            io_kind = Some(io.kind());
        }
        let text = e.to_string();
        if !messages.iter().any(|m| m.contains(&text)) {
            messages.push(text);
        }
        current = e.source();
    }
    if let Some(kind) = io_kind {
        if let Some(text) = io_kind_text(kind) {
            return text.to_owned();
        }
    }
    // The innermost messages say the most; the outer ones repeat the URL.
    let useful: Vec<&str> = messages
        .iter()
        .rev()
        .take(2)
        .rev()
        .map(String::as_str)
        .collect();
    useful.join(": ")
}

/// The rustls certificate error in an error's chain. An `io::Error`'s
/// `source` skips the error it wraps (rustls's, in a TLS handshake, itself
/// wrapped again by hyper-rustls), so wrapped errors are looked into too.
fn certificate_error<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::CertificateError> {
    if let Some(rustls::Error::InvalidCertificate(refused)) = error.downcast_ref::<rustls::Error>()
    {
        return Some(refused);
    }
    let wrapped = error
        .downcast_ref::<std::io::Error>()
        .and_then(std::io::Error::get_ref)
        .and_then(|inner| certificate_error(inner));
    wrapped.or_else(|| error.source().and_then(certificate_error))
}

fn io_kind_text(kind: std::io::ErrorKind) -> Option<&'static str> {
    use std::io::ErrorKind;
    Some(match kind {
        ErrorKind::ConnectionRefused => "connection refused",
        ErrorKind::ConnectionReset => "connection reset by the node",
        ErrorKind::ConnectionAborted => "connection aborted",
        ErrorKind::TimedOut => "timed out",
        ErrorKind::AddrNotAvailable => "address not available",
        ErrorKind::NotConnected => "not connected",
        ErrorKind::UnexpectedEof => "the node closed the connection",
        ErrorKind::BrokenPipe => "the connection was closed",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_messages_name_code_and_meaning() {
        let error = Error::SessionClosed {
            code: Some(4008),
            reason: "slow consumer".into(),
        };
        assert_eq!(
            error.to_string(),
            "session closed by the node: 4008 slow consumer"
        );
        let error = Error::SessionClosed {
            code: Some(1001),
            reason: String::new(),
        };
        assert_eq!(
            error.to_string(),
            "session closed by the node: 1001 (the node is shutting down)"
        );
        assert_eq!(error.close_code(), Some(1001));
        assert_eq!(Error::lost("").to_string(), "session lost");
        assert_eq!(
            Error::lost("connection reset by the node").to_string(),
            "session lost: connection reset by the node"
        );
    }

    #[test]
    fn status_errors_show_code_reason_and_message() {
        let error = Error::Status {
            status: StatusCode::NOT_FOUND,
            message: "unknown component \"nope\"".into(),
            node_version: None,
        };
        assert_eq!(
            error.to_string(),
            "404 Not Found: unknown component \"nope\""
        );
        assert_eq!(error.status(), Some(StatusCode::NOT_FOUND));
        assert!(!error.is_version_mismatch());
    }

    #[test]
    fn short_reason_prefers_the_io_kind() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "os error 111");
        assert_eq!(short_reason(&io), "connection refused");
        let other = std::io::Error::other("weird");
        assert_eq!(short_reason(&other), "weird");
    }
}
