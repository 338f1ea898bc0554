//! `rues listen` and `rues dispatch`: a command-line RUES client, built on
//! `rues-client`.
//!
//! - `rues listen <node-url> <path>...` opens a session, subscribes to each
//!   path and prints every event (headers, then the payload: JSON
//!   pretty-printed, binary as hex, text as is; `--raw` writes the bytes).
//!   Ctrl-C (or `--count N` events) unsubscribes and closes the session.
//!   `--json` prints one JSON object per event instead, for scripts.
//! - `rues dispatch <node-url> <path>` posts a body (`--data`, `--data-hex`,
//!   `--json`) and prints the reply; an error status exits non-zero with
//!   the node's message.
//!
//! Both exit with a status that tells a script what went wrong
//! ([`EXIT_STATUS`]): the node refused, could not be reached, or closed
//! the session.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures_util::StreamExt;
use rues_client::rustls::CertificateError;
use rues_client::{Body, Client, ClientBuilder, Error, Event, IntoEventPath, Reply, Subscription};

/// How long the goodbye (unsubscribe, close) may take on exit.
const GOODBYE: Duration = Duration::from_secs(5);

/// The exit statuses of `rues listen` and `rues dispatch`, for `--help`
/// (docs/operations.md repeats them).
pub(crate) const EXIT_STATUS: &str = "\
Exit status:
  0  success (listen: --count events printed, or Ctrl-C)
  1  any other error (an invalid URL, path or body, a file that cannot be read)
  2  invalid command line
  3  the node refused the request: an error status such as 404 (unknown
     path) or 400 (version mismatch), or a refused WebSocket upgrade
  4  the node cannot be reached: DNS, TCP or TLS failed, the connection
     broke, or no answer within --timeout
  5  the session ended: the node closed it, or the connection was lost
     (listen --no-reconnect)";

/// Why a client command failed, as its exit status ([`EXIT_STATUS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    Other = 1,
    Refused = 3,
    Unreachable = 4,
    Closed = 5,
}

impl Exit {
    fn of(error: &Error) -> Self {
        match error {
            Error::Status { .. } => Exit::Refused,
            Error::Connect { .. } | Error::Transport { .. } | Error::Timeout { .. } => {
                Exit::Unreachable
            }
            Error::SessionClosed { .. } | Error::Reconnecting | Error::Closed => Exit::Closed,
            _ => Exit::Other,
        }
    }
}

/// A client error reworded with what to do about it, keeping its exit
/// status.
#[derive(Debug)]
struct Explained {
    exit: Exit,
    message: String,
}

impl std::fmt::Display for Explained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Explained {}

/// The exit status for a command's error: the first client error in its
/// chain decides; anything else is 1.
pub(crate) fn exit_status(error: &anyhow::Error) -> u8 {
    let exit = error
        .chain()
        .find_map(|cause| {
            cause
                .downcast_ref::<Explained>()
                .map(|explained| explained.exit)
                .or_else(|| cause.downcast_ref::<Error>().map(Exit::of))
        })
        .unwrap_or(Exit::Other);
    exit as u8
}

/// Settings both commands share.
#[derive(Debug, clap::Args)]
pub(crate) struct ConnectArgs {
    /// The `Rusk-Version` requirement sent with every request; a bare
    /// version means `^version`.
    #[arg(long, value_name = "REQ", default_value = rues_client::DEFAULT_RUSK_VERSION)]
    rusk_version: String,
    /// Send no `Rusk-Version` header (the node checks nothing).
    #[arg(long)]
    no_rusk_version: bool,
    /// Send `Rusk-Version-Strict: true` (pre-release tags compared too).
    #[arg(long)]
    strict_version: bool,
    /// A PEM file of certificates to trust, besides Mozilla's roots: a CA's,
    /// or the node's own (self-signed) certificate, which is then accepted
    /// as is when valid now and for the URL's host, as curl's --cacert does.
    #[arg(long, value_name = "FILE")]
    cacert: Option<PathBuf>,
    /// Skip the verification of the node's TLS certificate (warned on
    /// stderr): anyone on the path could read and change the traffic.
    #[arg(long, short = 'k')]
    insecure: bool,
    /// Seconds an HTTP request may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    timeout: u64,
}

impl ConnectArgs {
    fn builder(&self, url: &str) -> Result<ClientBuilder> {
        let mut builder = Client::builder(url)
            .request_timeout(Some(Duration::from_secs(self.timeout)))
            .strict_version(self.strict_version);
        builder = if self.no_rusk_version {
            builder.no_rusk_version()
        } else {
            builder.rusk_version(self.rusk_version.clone())
        };
        if let Some(path) = &self.cacert {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read --cacert {}", path.display()))?;
            builder = builder.add_root_certificates_pem(pem);
        }
        if self.insecure {
            eprintln!(
                "rues: warning: --insecure: the node's TLS certificate is not verified; anyone on the path could read and change this traffic"
            );
            builder = builder.danger_accept_invalid_certs(true);
        }
        Ok(builder)
    }

    fn requirement(&self) -> Option<&str> {
        (!self.no_rusk_version).then_some(self.rusk_version.as_str())
    }
}

/// `rues listen`: subscribe and print events.
#[derive(Debug, clap::Args)]
pub(crate) struct ListenArgs {
    /// The node: http(s)://HOST:PORT or ws(s)://HOST:PORT (a base path and
    /// a trailing /on are fine), e.g. http://127.0.0.1:8080.
    #[arg(value_name = "NODE_URL")]
    node: String,
    /// Event paths, as /on/blocks/accepted or blocks/accepted; without an
    /// entity (blocks) every entity's events arrive, with one
    /// (`blocks:<hash>`) only that entity's.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<String>,
    /// Exit after this many events.
    #[arg(long, short = 'n', value_name = "N")]
    count: Option<u64>,
    /// Write payloads as raw bytes (default: JSON pretty-printed, binary as
    /// hex).
    #[arg(long)]
    raw: bool,
    /// Print payloads only, without the headers.
    #[arg(long)]
    no_headers: bool,
    /// Print one JSON object per event and line, for scripts:
    /// {"headers": {...}, "payload": ...} when the event's Content-Type is
    /// JSON and its payload parses, else {"headers": {...}, "payload_hex":
    /// "..."} (every other payload, text included, as hex).
    #[arg(long, conflicts_with_all = ["raw", "no_headers"])]
    json: bool,
    /// Exit when the session is lost, instead of reconnecting (a reconnect
    /// resumes each subscription where it stopped; what the node could not
    /// replay is reported on stderr).
    #[arg(long)]
    no_reconnect: bool,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// `rues dispatch`: call a node's handler and print the reply.
#[derive(Debug, clap::Args)]
pub(crate) struct DispatchArgs {
    /// The node: http(s)://HOST:PORT (a base path and a trailing /on are
    /// fine), e.g. http://127.0.0.1:8080.
    #[arg(value_name = "NODE_URL")]
    node: String,
    /// The handler, as /on/node/info or node/info.
    #[arg(value_name = "PATH")]
    path: String,
    /// The body: text, or @FILE for a file's bytes, or @- for standard
    /// input's (both sent as binary, byte for byte, except one line of 0x
    /// hex, as `rues tx` prints: sent as the bytes it spells, so
    /// `rues tx | rues dispatch URL transactions/propagate --data @-` works).
    #[arg(long, short = 'd', value_name = "TEXT|@FILE", group = "body")]
    data: Option<String>,
    /// The body as hex bytes (sent as binary), with or without 0x.
    #[arg(long, value_name = "HEX", group = "body")]
    data_hex: Option<String>,
    /// The body as JSON (checked before it is sent).
    #[arg(long, value_name = "JSON", group = "body")]
    json: Option<String>,
    /// Write a binary reply as raw bytes (default: hex).
    #[arg(long)]
    raw: bool,
    /// Print the status and the response headers before the body.
    #[arg(long, short = 'i')]
    include: bool,
    /// A request header, "Name: value" (repeatable), e.g. an X-* header
    /// the node echoes.
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    headers: Vec<String>,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Runs `rues listen` until Ctrl-C, `--count` events, or the session's end.
pub(crate) async fn listen(args: ListenArgs) -> Result<()> {
    // Check every path before connecting, so a typo costs no session.
    let mut paths = Vec::new();
    for path in &args.paths {
        paths.push(
            path.as_str()
                .into_event_path()
                .map_err(|e| explain(e, &args.node, None))?,
        );
    }
    let mut builder = args.connect.builder(&args.node)?;
    if !args.no_reconnect {
        builder = builder.reconnect(true);
    }
    let client = builder
        .connect()
        .await
        .map_err(|e| explain(e, &args.node, Some(&args.connect)))?;
    eprintln!("rues: session {} on {}", client.session_id(), client.url());

    let mut subscriptions = Vec::new();
    for path in &paths {
        let subscription = client
            .subscribe(path)
            .await
            .map_err(|e| explain(e, &args.node, Some(&args.connect)))
            .with_context(|| format!("cannot subscribe to {path}"))?;
        eprintln!("rues: subscribed to {path}");
        subscriptions.push(subscription);
    }
    let mut events = futures_util::stream::select_all(subscriptions.into_iter().map(items));

    let printer = Printer {
        raw: args.raw,
        headers: !args.no_headers,
        json: args.json,
    };
    let mut seen = 0u64;
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    let outcome: Result<()> = loop {
        if args.count.is_some_and(|count| seen >= count) {
            break Ok(());
        }
        tokio::select! {
            _ = &mut interrupted => {
                eprintln!("rues: interrupted");
                break Ok(());
            }
            item = events.next() => match item {
                Some(Item::Event(event)) => {
                    seen += 1;
                    match printer.event(&event) {
                        Ok(()) => {}
                        // Whoever reads our output has gone (`| head`).
                        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => break Ok(()),
                        Err(e) => break Err(anyhow!("cannot write to stdout: {e}")),
                    }
                }
                Some(Item::Gap(gap)) => eprintln!("rues: note: {gap}"),
                Some(Item::Ended(path, Some(error))) => {
                    break Err(explain(error, &args.node, Some(&args.connect)))
                        .with_context(|| format!("the subscription to {path} ended"));
                }
                Some(Item::Ended(path, None)) => eprintln!("rues: the subscription to {path} ended"),
                None => break Err(anyhow::Error::new(Explained {
                    exit: Exit::Closed,
                    message: "every subscription ended".to_owned(),
                })),
            }
        }
    };

    // Unsubscribe (the node would drop them with the session anyway, but a
    // clean exit says goodbye), then close.
    if outcome.is_ok() && client.is_connected() {
        let unique: BTreeSet<String> = paths.iter().map(ToString::to_string).collect();
        let goodbye = async {
            for path in &unique {
                if let Err(error) = client.unsubscribe(path.as_str()).await {
                    eprintln!("rues: warning: unsubscribing from {path}: {error}");
                }
            }
        };
        if tokio::time::timeout(GOODBYE, goodbye).await.is_err() {
            eprintln!("rues: warning: the node did not answer the unsubscribe requests in time");
        }
    }
    drop(events);
    let _ = tokio::time::timeout(GOODBYE, client.close()).await;
    outcome
}

/// What `rues listen` reads: the items of every subscription, and the end
/// of each (with the reason, when a failure ended it).
enum Item {
    Event(Event),
    Gap(rues_client::Gap),
    Ended(String, Option<Error>),
}

fn items(subscription: Subscription) -> futures_util::stream::BoxStream<'static, Item> {
    futures_util::stream::unfold(Some(subscription), |state| async move {
        let mut subscription = state?;
        match subscription.next().await {
            Some(Ok(event)) => Some((Item::Event(event), Some(subscription))),
            Some(Err(gap)) => Some((Item::Gap(gap), Some(subscription))),
            None => {
                let path = subscription.path().to_string();
                Some((Item::Ended(path, subscription.error()), None))
            }
        }
    })
    .boxed()
}

/// Runs `rues dispatch`.
pub(crate) async fn dispatch(args: DispatchArgs) -> Result<()> {
    let path = args
        .path
        .as_str()
        .into_event_path()
        .map_err(|e| explain(e, &args.node, None))?;
    let body = body(&args)?;
    let dispatcher = args
        .connect
        .builder(&args.node)?
        .dispatcher()
        .map_err(|e| explain(e, &args.node, Some(&args.connect)))?;
    let mut request = dispatcher.request(&path).body(body);
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| anyhow!("--header {header:?}: expected \"Name: value\""))?;
        request = request.header(name.trim(), value.trim());
    }
    let reply = request
        .send()
        .await
        .map_err(|e| explain(e, &args.node, Some(&args.connect)))?;
    let mut out = std::io::stdout().lock();
    let written = print_reply(&mut out, &reply, args.raw, args.include);
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            bail!("cannot write to stdout: {e}")
        }
        _ => {}
    }
    if reply.body().is_empty() && !args.include {
        eprintln!("rues: {} (no body)", reply.status());
    }
    Ok(())
}

fn body(args: &DispatchArgs) -> Result<Body> {
    if let Some(data) = &args.data {
        return match data.strip_prefix('@') {
            Some("-") => {
                let mut bytes = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut bytes)
                    .context("cannot read the body from standard input")?;
                file_body(bytes, "--data @-")
            }
            Some(file) => file_body(
                std::fs::read(file).with_context(|| format!("cannot read --data @{file}"))?,
                &format!("--data @{file}"),
            ),
            None => Ok(Body::from(data.as_str())),
        };
    }
    if let Some(text) = &args.data_hex {
        let digits = text.trim();
        let digits = digits
            .strip_prefix("0x")
            .or_else(|| digits.strip_prefix("0X"))
            .unwrap_or(digits);
        let bytes = hex::decode(digits).map_err(|e| anyhow!("--data-hex: not hex ({e})"))?;
        return Ok(Body::from(bytes));
    }
    if let Some(json) = &args.json {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| anyhow!("--json: not valid JSON ({e})"))?;
        return Ok(Body::from(value));
    }
    Ok(Body::Empty)
}

/// A body read from a file or standard input. One line of `0x` hex (what
/// `rues tx` prints, its line end included) is sent as the bytes it spells;
/// anything else is sent byte for byte, nothing trimmed. Both as binary.
fn file_body(bytes: Vec<u8>, what: &str) -> Result<Body> {
    let line = bytes
        .strip_suffix(b"\r\n")
        .or_else(|| bytes.strip_suffix(b"\n"))
        .unwrap_or(&bytes);
    let digits = line
        .strip_prefix(b"0x")
        .or_else(|| line.strip_prefix(b"0X"));
    match digits {
        Some(digits) if digits.iter().all(u8::is_ascii_alphanumeric) => {
            let decoded = hex::decode(digits).map_err(|e| {
                anyhow!("{what}: starts with 0x but is not hex ({e}); the whole content must be 0x and an even number of hex digits")
            })?;
            Ok(Body::from(decoded))
        }
        _ => Ok(Body::from(bytes)),
    }
}

/// Turns a client error into a message that says what to do about it;
/// `given` is what the command line set, when it has been read.
fn explain(error: Error, url: &str, given: Option<&ConnectArgs>) -> anyhow::Error {
    let cacert = given.and_then(|given| given.cacert.as_deref());
    if let Some(refused) = error.certificate_error() {
        let message = explain_certificate(&error, refused, cacert).to_string();
        return anyhow::Error::new(Explained {
            exit: Exit::of(&error),
            message,
        });
    }
    let requirement = given.and_then(ConnectArgs::requirement);
    let message = match &error {
        Error::Connect { reason, .. } if reason == "connection refused" => {
            if is_local(url) {
                format!("{error} — is `rues serve` running?")
            } else {
                format!("{error} — is the node running, and is the URL right?")
            }
        }
        Error::InvalidUrl { .. } => {
            format!("{error} (expected e.g. http://127.0.0.1:8080 or wss://node.example)")
        }
        Error::Status { node_version, .. } if error.is_version_mismatch() => {
            let node = node_version.as_deref().unwrap_or("unknown");
            let asked = requirement.unwrap_or("none");
            format!(
                "{error}\n  the node's version is {node}; this command requires Rusk-Version {asked}: change it with --rusk-version REQ, or drop it with --no-rusk-version"
            )
        }
        _ => return anyhow::Error::new(error),
    };
    anyhow::Error::new(Explained {
        exit: Exit::of(&error),
        message,
    })
}

/// A refused certificate: what was trusted, and what would help (never the
/// flag already given).
fn explain_certificate(
    error: &Error,
    refused: &CertificateError,
    cacert: Option<&Path>,
) -> anyhow::Error {
    let trusted = match cacert {
        Some(path) => format!("Mozilla's root certificates and {}", path.display()),
        None => "Mozilla's root certificates".to_owned(),
    };
    let unknown = error.is_untrusted_certificate();
    let hint = match (unknown, cacert) {
        (true, None) => {
            "for a self-signed certificate, pass it with --cacert FILE (or -k to skip verification)"
                .to_owned()
        }
        (true, Some(path)) => format!(
            "{} holds neither the node's certificate nor its issuer's: use the file the node serves (its --tls-cert) or its CA's, or -k to skip verification",
            path.display()
        ),
        (false, _) => match refused {
            CertificateError::NotValidForNameContext { .. } => {
                "connect with a name the certificate is for, or give the node a certificate for this one"
                    .to_owned()
            }
            CertificateError::ExpiredContext { .. } | CertificateError::Expired => {
                "give the node a new certificate (or -k to skip verification)".to_owned()
            }
            _ => "-k skips verification".to_owned(),
        },
    };
    if unknown {
        anyhow!("{error}\n  trusted: {trusted}\n  {hint}")
    } else {
        anyhow!("{error}\n  {hint}")
    }
}

fn is_local(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    ["127.", "localhost", "[::1]", "0.0.0.0"]
        .iter()
        .any(|local| rest.starts_with(local))
}

/// How `rues listen` writes events.
struct Printer {
    raw: bool,
    headers: bool,
    json: bool,
}

impl Printer {
    fn event(&self, event: &Event) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        if self.json {
            let line = event_json(event);
            writeln!(out, "{line}")?;
            return out.flush();
        }
        if self.headers {
            for (name, value) in event.headers().iter() {
                writeln!(out, "{name}: {value}")?;
            }
            writeln!(out)?;
        }
        let payload = event.payload();
        if self.raw {
            out.write_all(payload)?;
        } else {
            write_payload(&mut out, payload, event.content_type())?;
        }
        writeln!(out)?;
        if self.headers {
            writeln!(out)?;
        }
        out.flush()
    }
}

/// An event as one JSON object: its headers, and its payload as JSON
/// (`payload`) when its Content-Type says JSON and it parses, else as hex
/// (`payload_hex`), so a script tells the two apart by the key alone.
fn event_json(event: &Event) -> serde_json::Value {
    let headers: serde_json::Map<String, serde_json::Value> = event
        .headers()
        .iter()
        .map(|(name, value)| (name.to_owned(), serde_json::Value::from(value)))
        .collect();
    let payload = event.payload();
    let parsed = event
        .is_json()
        .then(|| serde_json::from_slice::<serde_json::Value>(payload).ok())
        .flatten();
    match parsed {
        Some(value) => serde_json::json!({ "headers": headers, "payload": value }),
        None => serde_json::json!({ "headers": headers, "payload_hex": hex::encode(payload) }),
    }
}

fn print_reply(
    out: &mut impl Write,
    reply: &Reply,
    raw: bool,
    include: bool,
) -> std::io::Result<()> {
    if include {
        writeln!(out, "{}", reply.status())?;
        for (name, value) in reply.headers() {
            writeln!(out, "{name}: {}", String::from_utf8_lossy(value.as_bytes()))?;
        }
        writeln!(out)?;
    }
    let body = reply.body();
    if body.is_empty() {
        return out.flush();
    }
    if raw && !reply.is_json() {
        out.write_all(body)?;
        return out.flush();
    }
    write_payload(out, body, reply.content_type())?;
    writeln!(out)?;
    out.flush()
}

/// A payload for people: JSON pretty-printed, binary as hex, text as is.
/// With no content type (rusk sends none), JSON and UTF-8 text are shown
/// as such and the rest as hex.
fn write_payload(
    out: &mut impl Write,
    payload: &[u8],
    content_type: Option<&str>,
) -> std::io::Result<()> {
    let media = content_type.map(|ct| {
        ct.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    });
    let pretty_json = || {
        serde_json::from_slice::<serde_json::Value>(payload)
            .ok()
            .and_then(|value| serde_json::to_string_pretty(&value).ok())
    };
    match media.as_deref() {
        Some(media) if media == "application/json" || media.ends_with("+json") => {
            match pretty_json() {
                Some(pretty) => write!(out, "{pretty}"),
                None => write!(out, "{}", String::from_utf8_lossy(payload)),
            }
        }
        Some(media) if media.starts_with("text/") => match std::str::from_utf8(payload) {
            Ok(text) => write!(out, "{}", text.strip_suffix('\n').unwrap_or(text)),
            Err(_) => write!(out, "{}", hex::encode(payload)),
        },
        Some(_) => write!(out, "{}", hex::encode(payload)),
        None => {
            if let Some(pretty) = pretty_json() {
                write!(out, "{pretty}")
            } else if let Ok(text) = std::str::from_utf8(payload) {
                write!(out, "{text}")
            } else {
                write!(out, "{}", hex::encode(payload))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(payload: &[u8], content_type: Option<&str>) -> String {
        let mut out = Vec::new();
        write_payload(&mut out, payload, content_type).expect("written");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn payloads_are_shown_by_content_type() {
        assert_eq!(
            shown(br#"{"a":1}"#, Some("application/json")),
            "{\n  \"a\": 1\n}"
        );
        assert_eq!(shown(b"{", Some("application/json")), "{");
        assert_eq!(shown(&[0, 255], Some("application/octet-stream")), "00ff");
        // Bytes that happen to be JSON stay hex when the node says binary.
        assert_eq!(shown(b"12", Some("application/octet-stream")), "3132");
        assert_eq!(shown(b"hi\n", Some("text/plain; charset=utf-8")), "hi");
        assert_eq!(shown(b"[1]", None), "[\n  1\n]");
        assert_eq!(shown(&[0xff], None), "ff");
    }

    fn sent(content: &[u8]) -> Vec<u8> {
        match file_body(content.to_vec(), "--data @-").expect("a body") {
            Body::Binary(bytes) => bytes.to_vec(),
            other => panic!("not binary: {other:?}"),
        }
    }

    #[test]
    fn a_hex_line_from_a_file_is_sent_as_its_bytes() {
        assert_eq!(sent(b"0x5255\n"), b"RU");
        assert_eq!(sent(b"0X5255\r\n"), b"RU");
        assert_eq!(sent(b"0x5255"), b"RU");
        // Anything else goes byte for byte, line ends included.
        assert_eq!(sent(b"2\n"), b"2\n");
        assert_eq!(sent(b"0x5255\n\n"), b"0x5255\n\n");
        assert_eq!(sent(b"0x52 55\n"), b"0x52 55\n");
        assert_eq!(sent(&[0, 0xff, b'\n']), [0, 0xff, b'\n']);
        let error = file_body(b"0x525\n".to_vec(), "--data @tx.hex").expect_err("odd");
        assert!(
            error
                .to_string()
                .starts_with("--data @tx.hex: starts with 0x but is not hex"),
            "{error}"
        );
    }

    #[test]
    fn local_urls_get_the_rues_serve_hint() {
        assert!(is_local("http://127.0.0.1:9"));
        assert!(is_local("ws://localhost:8080/on"));
        assert!(!is_local("https://nodes.dusk.network"));
    }

    #[test]
    fn refused_connections_say_what_to_start() {
        let error = Error::Connect {
            url: "http://127.0.0.1:9".into(),
            reason: "connection refused".into(),
            source: None,
        };
        assert_eq!(
            explain(error, "http://127.0.0.1:9", None).to_string(),
            "cannot connect to http://127.0.0.1:9: connection refused — is `rues serve` running?"
        );
    }
}
