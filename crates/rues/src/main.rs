//! `rues`: a RUES demo node and command-line tools.
//!
//! - `rues serve`: the demo node: an in-memory simulated chain served over
//!   RUES (WebSocket sessions, subscriptions, dispatches) on
//!   `127.0.0.1:8080` by default.
//! - `rues tx`: builds a demo-chain transaction to propagate by hand.
//! - `rues listen` / `rues dispatch`: a command-line RUES client, in the
//!   spirit of curl and websocat, with documented exit codes for scripts.
//! - `rues completions SHELL` / `rues man`: shell completions and a man
//!   page, generated from the same clap definitions as `--help`.

mod client_cli;
mod config;
mod explorer;
mod graphql_http;
mod relay;
mod serve;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "rues",
    version,
    propagate_version = true,
    about = "RUES (Rusk Universal Event System): a demo node and client tools"
)]
struct Cli {
    /// How `rues serve` writes its logs on stderr: `text` for people
    /// (coloured only when stderr is a terminal and NO_COLOR is unset or
    /// empty), `json` for log shippers (one JSON object per line).
    #[arg(long, global = true, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// One line per event, for people.
    Text,
    /// One JSON object per line, with `timestamp`, `level`, `target`,
    /// `message` and the event's fields.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the demo node: a simulated chain served over RUES (with --nats,
    /// in a cluster: docs/cluster.md).
    Serve(ServeArgs),
    /// Run a cluster node with no chain of its own (needs --nats): it
    /// serves sessions and gets events and dispatch answers through the
    /// cluster (docs/cluster.md).
    Edge(ServeArgs),
    /// Serve RUES in front of an upstream node (rusk, or rues) through one
    /// upstream session: subscriptions shared upstream, events fanned out,
    /// dispatches forwarded (docs/relay.md).
    Relay(RelayArgs),
    /// Build a demo-chain transaction (hex on stdout, or raw bytes to a file).
    Tx(TxArgs),
    /// Subscribe to events on a node and print them (Ctrl-C to stop).
    #[command(after_help = client_cli::EXIT_STATUS)]
    Listen(client_cli::ListenArgs),
    /// Call a node's dispatch handler and print the reply.
    #[command(after_help = client_cli::EXIT_STATUS)]
    Dispatch(client_cli::DispatchArgs),
    /// Print a shell completion script on stdout.
    #[command(after_help = "Install, e.g.:\n  \
        rues completions bash > ~/.local/share/bash-completion/completions/rues\n  \
        rues completions zsh > ~/.zfunc/_rues   (with fpath+=~/.zfunc before compinit)\n  \
        rues completions fish > ~/.config/fish/completions/rues.fish")]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout, e.g. `rues man | man -l -`, or
    /// a subcommand's (`rues man listen`, the page rues-listen(1)).
    Man {
        /// The subcommand whose page to print [default: rues(1) itself].
        #[arg(value_name = "SUBCOMMAND")]
        subcommand: Option<String>,
    },
}

/// What every role that serves RUES takes: where and how it serves.
#[derive(Debug, clap::Args)]
struct NodeArgs {
    /// A TOML configuration file (docs/operations.md lists every key).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print the effective configuration as TOML and exit.
    #[arg(long)]
    print_config: bool,
    /// Address to listen on, IP:PORT or HOST:PORT (a name is resolved once,
    /// at startup) [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Serve /metrics and /health on this address (plain HTTP) instead, so
    /// the public listener serves RUES and the explorer alone.
    #[arg(long, value_name = "ADDR")]
    admin_listen: Option<String>,
    /// Do not serve the browser explorer at / (the public listener then
    /// serves RUES, /metrics and /health).
    #[arg(long)]
    no_explorer: bool,
    /// The node version sent as Rusk-Version [default: 1.6.0; for `rues
    /// relay`, the upstream's].
    #[arg(long, value_name = "SEMVER")]
    node_version: Option<String>,
    /// An allowed browser origin (repeatable); `*` allows any [default: *].
    #[arg(long = "allowed-origin", value_name = "ORIGIN")]
    allowed_origins: Vec<String>,
    /// An access rule such as "DENY POST /on/contracts/sync" (repeatable).
    #[arg(long = "access-rule", value_name = "RULE")]
    access_rules: Vec<String>,
    /// PEM certificate chain: serve TLS (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key: serve TLS (with --tls-cert).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Set any configuration key, dotted for tables (repeatable), e.g.
    /// `--set limits.max_sessions=100 --set chain.tx_per_second=5`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// Milliseconds between blocks of the simulated chain [default: 2000].
    #[arg(long, value_name = "MS")]
    block_time_ms: Option<u64>,
    /// Join a cluster through this NATS server, e.g. nats://127.0.0.1:4222
    /// (docs/cluster.md). Without it, the node serves alone.
    #[arg(long, value_name = "URL")]
    nats: Option<String>,
}

#[derive(Debug, clap::Args)]
struct RelayArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// The upstream RUES node (rusk, or rues), http:// or https://, e.g.
    /// `https://nodes.dusk.network` (docs/relay.md).
    #[arg(long, value_name = "URL")]
    upstream: String,
    /// PEM certificates to trust for an https upstream, besides the usual
    /// roots (e.g. its self-signed certificate).
    #[arg(long, value_name = "FILE")]
    upstream_ca: Option<PathBuf>,
    /// How long to wait at start for the upstream to answer, in seconds
    /// (then exit with an error).
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    upstream_wait: u64,
    /// Feed a whole cluster through this NATS server: the relay holds
    /// upstream what every node's sessions want and publishes the events
    /// into the cluster (docs/relay.md, "In a cluster"). Run one relay per
    /// cluster.
    #[arg(long, value_name = "URL")]
    nats: Option<String>,
}

#[derive(Debug, clap::Args)]
struct TxArgs {
    /// Receiver account, 64 hex characters [default: all zeros].
    #[arg(long, value_name = "HEX")]
    to: Option<String>,
    /// Sender account, 64 hex characters [default: a fresh random account,
    /// so nonce 0 is always the right one].
    #[arg(long, value_name = "HEX")]
    from: Option<String>,
    /// Value in Lux.
    #[arg(long, default_value_t = 1)]
    value: u64,
    /// The sender's nonce (its next unused one).
    #[arg(long, default_value_t = 0)]
    nonce: u64,
    /// The chain id of the node (`chain_id` in node/info).
    #[arg(long, default_value_t = 0)]
    chain_id: u8,
    /// A memo (UTF-8 text).
    #[arg(long)]
    memo: Option<String>,
    /// Carry a blob of this UTF-8 text (repeatable, at most 6 blobs of
    /// 4096 bytes each); the transaction is then format version 2.
    #[arg(long, value_name = "TEXT")]
    blob: Vec<String>,
    /// Gas limit [default: 500000, plus 1000000 per blob].
    #[arg(long, value_name = "GAS")]
    gas_limit: Option<u64>,
    /// Write the raw transaction bytes to this file, and print only the
    /// transaction id on stdout. Without it, stdout gets the transaction as
    /// `0x` hex (a body `transactions/propagate` accepts as is: `rues tx |
    /// rues dispatch URL transactions/propagate --data @-`) and stderr the
    /// id.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve_command(args, cli.log_format, Role::Serve),
        Command::Edge(args) => serve_command(args, cli.log_format, Role::Edge),
        Command::Relay(args) => relay_command(args, cli.log_format),
        Command::Tx(args) => tx_command(&args),
        Command::Listen(args) => client_command(client_cli::listen(args)),
        Command::Dispatch(args) => client_command(client_cli::dispatch(args)),
        Command::Completions { shell } => print_generated(|out| {
            clap_complete::generate(shell, &mut Cli::command(), "rues", out);
            Ok(())
        }),
        Command::Man { subcommand } => {
            man_page(subcommand.as_deref()).and_then(|page| print_generated(|out| page.render(out)))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("rues: error: {error:#}");
            ExitCode::from(client_cli::exit_status(&error))
        }
    }
}

/// The man page of `rues`, or of one of its subcommands (named
/// `rues-SUBCOMMAND`, as the page of `rues` refers to it).
fn man_page(subcommand: Option<&str>) -> Result<clap_mangen::Man> {
    let mut command = Cli::command();
    // Global options (--log-format) then appear on every page, and each
    // subcommand gets its page's name.
    command.build();
    let Some(name) = subcommand else {
        return Ok(clap_mangen::Man::new(command));
    };
    let names: Vec<&str> = command
        .get_subcommands()
        .map(|c| c.get_name())
        .filter(|&n| n != "help")
        .collect();
    let page = command
        .find_subcommand(name)
        .filter(|_| names.contains(&name))
        .cloned()
        .with_context(|| {
            format!(
                "no subcommand `{name}`; pages exist for {}",
                names.join(", ")
            )
        })?;
    // Built, a subcommand is displayed as `rues-NAME` and run as `rues NAME`.
    Ok(clap_mangen::Man::new(page))
}

/// Writes generated text to stdout; a reader that stops early (`| head`)
/// is not an error.
fn print_generated(write: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> Result<()> {
    let mut text = Vec::new();
    write(&mut text).context("cannot generate the output")?;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(&text).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::anyhow!("cannot write to stdout: {e}"))
        }
        _ => Ok(()),
    }
}

/// What `serve_command` runs: the demo node, or an edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Serve,
    Edge,
}

fn serve_command(args: ServeArgs, log_format: LogFormat, role: Role) -> Result<()> {
    let nats = args.nats.clone();
    let edge_nats = match (role, &nats) {
        (Role::Edge, None) => anyhow::bail!(
            "an edge serves through a cluster: give the NATS server with --nats URL (docs/cluster.md)"
        ),
        (Role::Edge, Some(url)) => Some(url.clone()),
        (Role::Serve, _) => None,
    };
    let Some(config) = load_config(args.node, args.block_time_ms)? else {
        return Ok(());
    };
    let runtime = start(log_format)?;
    match edge_nats {
        Some(url) => runtime.block_on(serve::edge(config, url)),
        None => runtime.block_on(serve::serve(config, nats)),
    }
}

fn relay_command(args: RelayArgs, log_format: LogFormat) -> Result<()> {
    let version_given = args.node.node_version.is_some();
    let Some(config) = load_config(args.node, None)? else {
        return Ok(());
    };
    let upstream_ca = match &args.upstream_ca {
        Some(path) => Some(
            std::fs::read(path)
                .with_context(|| format!("cannot read --upstream-ca {}", path.display()))?,
        ),
        None => None,
    };
    let relay = relay::RelayArgs {
        upstream: args.upstream,
        upstream_ca,
        upstream_wait: std::time::Duration::from_secs(args.upstream_wait),
        version_given,
        nats: args.nats,
    };
    let runtime = start(log_format)?;
    runtime.block_on(relay::relay(config, relay))
}

/// The configuration of a serving role, or `None` when it was printed
/// (`--print-config`) and there is nothing more to do.
fn load_config(args: NodeArgs, block_time_ms: Option<u64>) -> Result<Option<config::NodeConfig>> {
    let overrides = config::Overrides {
        listen: args.listen,
        admin_listen: args.admin_listen,
        no_explorer: args.no_explorer,
        node_version: args.node_version,
        allowed_origins: args.allowed_origins,
        access_rules: args.access_rules,
        tls_cert: args.tls_cert,
        tls_key: args.tls_key,
        block_time_ms,
        set: args.set,
    };
    let config = config::NodeConfig::load(args.config.as_deref(), &overrides)?;
    if args.print_config {
        print!("{}", config.to_toml()?);
        return Ok(None);
    }
    Ok(Some(config))
}

/// Logging, then the multi-threaded runtime a serving role runs on.
fn start(log_format: LogFormat) -> Result<tokio::runtime::Runtime> {
    init_logging(log_format);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Runs a client command on a single-threaded runtime.
fn client_command(command: impl std::future::Future<Output = Result<()>>) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(command)
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs
            .with_ansi(colour(std::io::stderr().is_terminal()))
            .init(),
        // The message beside level and target, not nested in `fields`, so
        // a shipper's query finds it where every other tool puts it.
        LogFormat::Json => logs.with_ansi(false).json().flatten_event(true).init(),
    }
}

/// Whether to colour logs: only on a terminal (escape codes in a file or a
/// journal are noise), and never when NO_COLOR is set to anything but the
/// empty string (no-color.org).
fn colour(terminal: bool) -> bool {
    terminal && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

fn tx_command(args: &TxArgs) -> Result<()> {
    let account = |hex: &str, what: &str| -> Result<rues_demo::Account> {
        rues_demo::Account::parse(hex)
            .map_err(|e| anyhow::anyhow!("--{what}: {e} (expected 64 hex characters)"))
    };
    let mut builder = rues_demo::Transaction::builder()
        .chain_id(args.chain_id)
        .value(args.value)
        .nonce(args.nonce)
        .sender(match &args.from {
            Some(hex) => account(hex, "from")?,
            None => random_account()?,
        });
    if let Some(to) = &args.to {
        builder = builder.receiver(account(to, "to")?);
    }
    if let Some(memo) = &args.memo {
        builder = builder.memo(memo.as_bytes().to_vec());
    }
    for blob in &args.blob {
        builder = builder.blob(blob.as_bytes().to_vec());
    }
    // Each blob spends its own gas: by default the limit covers them.
    let blob_gas = rues_demo::params::GAS_PER_BLOB.saturating_mul(args.blob.len() as u64);
    builder = builder.gas_limit(
        args.gas_limit
            .unwrap_or(rues_demo::tx::DEFAULT_GAS_LIMIT.saturating_add(blob_gas)),
    );
    let tx = builder.build().map_err(|e| anyhow::anyhow!("{e}"))?;
    let bytes = tx.encode();
    match &args.out {
        Some(path) => {
            std::fs::write(path, &bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("rues: wrote {} bytes to {}", bytes.len(), path.display());
            // The id on stdout, so a script can subscribe to its events.
            println!("{}", tx.id());
        }
        None => {
            eprintln!("rues: transaction {}", tx.id());
            println!("0x{}", hex::encode(&bytes));
        }
    }
    Ok(())
}

/// A random account from the OS, so a hand-made transaction never collides
/// with the simulated traffic's nonces.
fn random_account() -> Result<rues_demo::Account> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| anyhow::anyhow!("cannot draw a random sender ({e}); pass --from"))?;
    rues_demo::Account::from_slice(&bytes).context("32 bytes make an account")
}
