//! Hostile GraphQL beside fan-out (rues only: the other servers have no
//! GraphQL). The server is the demo node's registry with the bench
//! component added and the demo chain running (`rues-bench server rues
//! --demo`, which publishes the harness's events from a thread of its own).
//! `graphql_n` sessions get `graphql_rate` events/s of `graphql_size`
//! bytes, and a `node/info` dispatch goes out every `graphql_probe_ms`
//! (open loop, as the blocking scenario's probes).
//!
//! Two phases of `graphql_secs` each, every one on a fresh server, their
//! order alternating run by run: **alone**, and **under attack**, where
//! `graphql_attackers` clients each send the queries of [`QUERIES`] in
//! turn, one at a time (the next as soon as the last is answered), for the
//! whole phase. Before either phase the mempool is filled with
//! `graphql_mempool` valid demo transactions, so the list fields are long
//! in both.
//!
//! Everything is bounded: the phase ends on time whatever the server does
//! (an attack request still unanswered `ATTACK_GRACE` after the phase's
//! end, or after `ATTACK_TIMEOUT`, counts as status 0 and is abandoned),
//! the probes and the publisher have their own timeouts, and the counts of
//! requests are capped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::blocking::{Answer, gather, publish_until, summarize, timed};
use crate::client::{self, HttpPool, Kind};
use crate::control::Order;
use crate::peers::Peer;
use crate::plan::{AttackAnswer, GraphqlRun, Latencies, Phase, Plan, Results, rotated};
use crate::procfs;
use crate::rig::{Rig, loadavg, progress};

/// How long an attack request may take before it counts as timed out
/// (status 0) and is abandoned.
const ATTACK_TIMEOUT: Duration = Duration::from_secs(30);
/// How long after the phase's end the attackers wait for the answers in
/// flight.
const ATTACK_GRACE: Duration = Duration::from_secs(10);
/// Attack requests per attacker and phase at the most.
const MAX_ATTACKS: usize = 100_000;
/// How long a probe, or a propagation, may wait for its answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);
/// Connections the probes may hold at once.
const PROBE_CONNECTIONS: usize = 256;
/// Probes per phase at the most.
const MAX_PROBES: usize = 10_000;
/// Propagations in flight at once while the mempool fills.
const FILLERS: usize = 16;
/// Seconds of events per publish order during the phase.
const CHUNK_SECS: f64 = 0.2;
/// Seconds of fan-out before the phase, to warm the sessions.
const WARM_SECS: f64 = 0.5;
/// How long the harness waits for the events still in flight.
const GRACE: Duration = Duration::from_secs(5);
/// Server RSS growth in a phase past which the harness kills the server
/// (its own child), so a query that makes it allocate without bound cannot
/// take the machine down: the phase then ends in an error.
const RSS_CAP_KIB: u64 = 8 * 1024 * 1024;
/// Senders of the demo transactions: a fixed pool, as the soak does, so
/// the chain's account map stays small.
const SENDERS: u64 = 64;

/// The hostile queries, each attacker sending them in turn (attacker `k`
/// starting at the `k`-th):
///
/// - `mempool-aliases`: the mempool list field 100 times under aliases,
///   with every sub-field (the encoding and the JSON text included): a
///   small query asking for every pending transaction 100 times over;
/// - `fragment-doubling`: 24 levels of fragments, each spreading the next
///   twice, so a naive expansion visits 2^23 selections;
/// - `nested-lists`: the deepest nesting the schema has with a list at
///   each level (blocks, their transactions, each one's transaction and
///   call data), every field at each level, 20 times under aliases;
/// - `megabyte-aliases`: 1 MiB of `__typename` under distinct aliases;
/// - `mempool-budget`: the most an *admitted* query can ask of the mempool:
///   200 transactions with every field, under as many aliases as the
///   complexity limit lets through (14), so the node does all the work the
///   4 MiB answer budget allows;
/// - `blocks-budget`: the same for the history: the last 200 blocks with
///   their header and JSON, under as many aliases as the limit allows.
///
/// The first four are refused before they run; the last two are the
/// costliest queries the node accepts.
pub(crate) const QUERIES: [(&str, BuildQuery); 6] = [
    ("mempool-aliases", mempool_aliases),
    ("fragment-doubling", fragment_doubling),
    ("nested-lists", nested_lists),
    ("megabyte-aliases", megabyte_aliases),
    ("mempool-budget", mempool_budget),
    ("blocks-budget", blocks_budget),
];

/// Builds a query's text.
pub(crate) type BuildQuery = fn() -> String;

/// Every field of a `Transaction`.
const TX_FIELDS: &str = "id raw json txType sender receiver value nonce gasLimit gasPrice memo \
                         isDeploy callData { contractId fnName data }";

fn mempool_aliases() -> String {
    let mut query = String::from("query {");
    for i in 0..100 {
        query.push_str(&format!(" m{i}: mempoolTxs {{ {TX_FIELDS} }}"));
    }
    query.push_str(" }");
    query
}

/// `count` copies of `field` under the aliases `a0`, `a1`, ...
fn aliased(field: &str, count: usize) -> String {
    let mut query = String::from("query {");
    for i in 0..count {
        query.push_str(&format!(" a{i}: {field}"));
    }
    query.push_str(" }");
    query
}

fn mempool_budget() -> String {
    aliased(&format!("mempoolTxs(limit: 200) {{ {TX_FIELDS} }}"), 14)
}

fn blocks_budget() -> String {
    aliased(&format!("blocks(last: 200) {{ {BLOCK_HEADER} json }}"), 15)
}

fn fragment_doubling() -> String {
    let mut query = String::new();
    for level in 0..23 {
        let next = level + 1;
        query.push_str(&format!(
            "fragment F{level} on Query {{ a: __typename ...F{next} b: __typename ...F{next} }} "
        ));
    }
    query.push_str("fragment F23 on Query { __typename } query { ...F0 }");
    query
}

/// Every field of a block's header.
const BLOCK_HEADER: &str = "header { version height prevBlockHash timestamp hash stateHash \
                            generatorBlsPubkey txRoot gasLimit seed iteration json }";

fn nested_lists() -> String {
    let header = BLOCK_HEADER;
    let spent = format!(
        "transactions {{ id blockHash blockHeight blockTimestamp gasSpent err tx {{ {TX_FIELDS} }} }}"
    );
    let mut query = String::from("query {");
    for i in 0..20 {
        query.push_str(&format!(
            " b{i}: blocks(last: 200) {{ {header} {spent} fees gasSpent reward finality json }}"
        ));
    }
    query.push_str(" }");
    query
}

fn megabyte_aliases() -> String {
    let mut query = String::from("query {");
    let mut i = 0u64;
    while query.len() < (1 << 20) - 32 {
        query.push_str(&format!(" a{i}: __typename"));
        i += 1;
    }
    query.push_str(" }");
    query
}

/// Every run: both phases, in an order that alternates from run to run.
pub(super) async fn run(plan: &Plan, results: &mut Results) {
    if !plan.servers.contains(&Kind::Rues) {
        progress("graphql: only rues has GraphQL, and rues is not among the servers: skipped");
        return;
    }
    if plan.servers.len() > 1 {
        progress("graphql: rues only (the other servers have no GraphQL)");
    }
    let queries: Arc<Vec<(&'static str, Bytes)>> = Arc::new(
        QUERIES
            .iter()
            .map(|(name, build)| (*name, Bytes::from(build())))
            .collect(),
    );
    for run in 0..plan.runs {
        for phase in rotated(&Phase::ALL, run) {
            if plan.out_of_time() {
                progress("deadline reached: skipping the rest of graphql");
                return;
            }
            let mut record = GraphqlRun {
                phase,
                run,
                propagated: 0,
                phase_secs: 0.0,
                expected: 0,
                received: 0,
                sessions_closed: 0,
                events: Latencies::default(),
                info_probe: Latencies::default(),
                attacks: Vec::new(),
                rss_start_kib: 0,
                rss_max_kib: 0,
                loadavg: f64::NAN,
                error: None,
            };
            if let Err(error) = graphql_one(plan, &queries, &mut record).await {
                record.error = Some(format!("{error:#}"));
            }
            let answered = record.attacks.iter().filter(|a| a.status != 0).count();
            progress(&format!(
                "graphql run {run} {:>12}: events p50/p99/max {:.2}/{:.2}/{:.2} ms ({}/{}); \
                 node/info p99/max {:.2}/{:.2} ms ({}/{}); attacks answered {answered}/{}; \
                 RSS +{} KiB; {} transactions propagated{}",
                phase.name(),
                record.events.p50_ms,
                record.events.p99_ms,
                record.events.max_ms,
                record.received,
                record.expected,
                record.info_probe.p99_ms,
                record.info_probe.max_ms,
                record.info_probe.ok,
                record.info_probe.sent,
                record.attacks.len(),
                record.rss_max_kib.saturating_sub(record.rss_start_kib),
                record.propagated,
                record
                    .error
                    .as_deref()
                    .map_or(String::new(), |e| format!(", error: {e}"))
            ));
            results.graphql.push(record);
        }
    }
}

/// One phase on a fresh server.
async fn graphql_one(
    plan: &Plan,
    queries: &Arc<Vec<(&'static str, Bytes)>>,
    record: &mut GraphqlRun,
) -> Result<()> {
    let peer = Peer::start_with(Kind::Rues, &plan.scratch, &["--demo"]).await?;
    let mut rig = Rig::open(peer, plan, plan.graphql_n, |_| None).await?;
    let measured = measure(plan, queries, &mut rig, record).await;
    rig.stop().await;
    measured
}

async fn measure(
    plan: &Plan,
    queries: &Arc<Vec<(&'static str, Bytes)>>,
    rig: &mut Rig,
    record: &mut GraphqlRun,
) -> Result<()> {
    let n = plan.graphql_n as u64;
    let addr = rig.peer.endpoint().addr;
    let order = |count| Order {
        rate: plan.graphql_rate,
        count,
        size: plan.graphql_size,
        entities: 0,
        seed: 1,
    };
    let warm = ((plan.graphql_rate * WARM_SECS).ceil() as u64).max(1);
    rig.step(order(warm), warm * n, GRACE).await?;
    record.propagated = fill_mempool(addr, plan.graphql_mempool).await;

    let pid = rig.peer.server_pid()?;
    let rss_start = procfs::rss_kib(pid)?;
    let rss_max = Arc::new(AtomicU64::new(rss_start));
    let sampler = {
        let rss_max = rss_max.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            loop {
                tick.tick().await;
                match procfs::rss_kib(pid) {
                    Ok(rss) => rss_max.fetch_max(rss, Ordering::Relaxed),
                    Err(_) => break,
                };
                if rss_max.load(Ordering::Relaxed) > rss_start + RSS_CAP_KIB {
                    progress("graphql: the server passed the RSS cap: killing it");
                    let _ = tokio::process::Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .status()
                        .await;
                    break;
                }
            }
        })
    };

    rig.fleet.reset();
    let length = Duration::from_secs_f64(plan.graphql_secs);
    let started = Instant::now();
    let end = started + length;
    let done = AtomicBool::new(false);
    let timer = async {
        tokio::time::sleep(length).await;
        done.store(true, Ordering::Relaxed);
    };
    let attackers = if record.phase == Phase::Attack {
        plan.graphql_attackers
    } else {
        0
    };
    let attacks = (0..attackers)
        .map(|k| tokio::spawn(attack(addr, queries.clone(), k, end)))
        .collect::<Vec<_>>();
    let probes = Arc::new(HttpPool::new(addr, PROBE_CONNECTIONS));
    let ((), published, info) = tokio::join!(
        timer,
        publish_until(rig, order, CHUNK_SECS, &done),
        probe_until(plan, &probes, &done),
    );
    record.phase_secs = started.elapsed().as_secs_f64();
    for attacker in attacks {
        // Each ends by itself within the phase plus ATTACK_GRACE.
        record.attacks.extend(attacker.await.unwrap_or_default());
    }
    let expected = published? * n;
    rig.settle(expected, GRACE).await;
    sampler.abort();
    let rss_max = rss_max.load(Ordering::Relaxed);
    if rss_max > rss_start + RSS_CAP_KIB {
        bail!(
            "the server passed the RSS cap ({} MiB of growth) and was killed",
            RSS_CAP_KIB / 1024
        );
    }

    record.expected = expected;
    record.received = rig.fleet.received();
    record.sessions_closed = rig.fleet.closed().0;
    record.events = Latencies::of(&rig.fleet.latencies(), expected);
    record.info_probe = summarize(&info);
    record.rss_start_kib = rss_start;
    record.rss_max_kib = rss_max;
    record.loadavg = loadavg();
    Ok(())
}

/// Propagates `count` valid demo transactions, `FILLERS` at a time;
/// returns how many the node accepted.
async fn fill_mempool(addr: std::net::SocketAddr, count: usize) -> usize {
    let next = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..FILLERS)
        .map(|_| {
            let (next, accepted) = (next.clone(), accepted.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    let Some(tx) = transaction(i as u64) else {
                        continue;
                    };
                    let sent = exchange(
                        addr,
                        "/on/transactions/propagate",
                        "application/octet-stream",
                        &tx,
                    );
                    // The node answers 202 Accepted.
                    if let Ok(Ok((status, _))) = tokio::time::timeout(PROBE_TIMEOUT, sent).await
                        && (200..300).contains(&status)
                    {
                        accepted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
    accepted.load(Ordering::Relaxed)
}

/// The `i`-th demo transaction, encoded: from one of `SENDERS` senders,
/// each value distinct so every id is.
fn transaction(i: u64) -> Option<Vec<u8>> {
    let mut sender = [0x5a_u8; 32];
    sender[..8].copy_from_slice(&(i % SENDERS).to_le_bytes());
    let tx = rues_demo::Transaction::builder()
        .sender(rues_demo::Account::from_slice(&sender)?)
        .nonce(i + 1)
        .value(1 + i)
        .build()
        .ok()?;
    Some(tx.encode())
}

/// One attacker: the queries in turn from the `first`-th, each sent when
/// the last was answered, until `end`.
async fn attack(
    addr: std::net::SocketAddr,
    queries: Arc<Vec<(&'static str, Bytes)>>,
    first: usize,
    end: Instant,
) -> Vec<AttackAnswer> {
    let mut answers = Vec::new();
    let mut i = first;
    while Instant::now() < end && answers.len() < MAX_ATTACKS {
        let (name, query) = &queries[i % queries.len()];
        i += 1;
        let timeout =
            ATTACK_TIMEOUT.min(end.saturating_duration_since(Instant::now()) + ATTACK_GRACE);
        let started = Instant::now();
        let sent = exchange(addr, "/on/graphql/query", "text/plain", query);
        let (status, bytes) = match tokio::time::timeout(timeout, sent).await {
            Ok(Ok(answer)) => answer,
            _ => (0, 0),
        };
        answers.push(AttackAnswer {
            query: name,
            status,
            ms: started.elapsed().as_secs_f64() * 1e3,
            bytes,
        });
        if status == 0 {
            // A refused connection must not turn the loop into a spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    answers
}

/// One `POST` on a connection of its own (`Connection: close`); returns the
/// status and the bytes of the answer, head included, read and dropped as
/// they come so a huge answer costs the harness no memory.
async fn exchange(
    addr: std::net::SocketAddr,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> Result<(u16, u64)> {
    // Spread over the loopback source addresses: refused queries come
    // back fast, and a connection each would otherwise run the ephemeral
    // ports short with the closed ones waiting out TIME_WAIT.
    static CONNECTIONS: AtomicU64 = AtomicU64::new(0);
    let mut stream =
        client::tcp_connect(addr, CONNECTIONS.fetch_add(1, Ordering::Relaxed), None).await?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut buffer = vec![0u8; 64 * 1024];
    let mut start = Vec::new();
    let mut total = 0u64;
    // The status and, when given, the length (then the answer ends there,
    // whether or not the server closes).
    let mut parsed: Option<(u16, Option<u64>)> = None;
    loop {
        if let Some((status, Some(length))) = parsed
            && total >= length
        {
            return Ok((status, total));
        }
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            return match parsed {
                Some((status, _)) => Ok((status, total)),
                None => bail!("connection closed before the response"),
            };
        }
        total += read as u64;
        if parsed.is_none() {
            start.extend_from_slice(&buffer[..read]);
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(head) = response.parse(&start)? {
                let length = response
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| {
                        std::str::from_utf8(h.value)
                            .ok()?
                            .trim()
                            .parse::<u64>()
                            .ok()
                    })
                    .map(|length| length + head as u64);
                parsed = Some((response.code.unwrap_or(0), length));
                start = Vec::new();
            } else if start.len() > 64 * 1024 {
                bail!("response head over 64 KiB");
            }
        }
    }
}

/// Sends a `node/info` dispatch every `plan.graphql_probe_ms` until
/// `done`; returns their answers.
async fn probe_until(plan: &Plan, pool: &Arc<HttpPool>, done: &AtomicBool) -> Vec<Answer> {
    let mut tick = tokio::time::interval(Duration::from_millis(plan.graphql_probe_ms.max(1)));
    let mut probes = Vec::new();
    while !done.load(Ordering::Relaxed) && probes.len() < MAX_PROBES {
        tick.tick().await;
        let pool = pool.clone();
        probes.push(tokio::spawn(async move {
            timed(PROBE_TIMEOUT, pool.post("/on/node/info", b"")).await
        }));
    }
    gather(probes).await
}

/// The query's text, for the tests (and anyone curious).
#[cfg(test)]
fn query(name: &str) -> Option<String> {
    QUERIES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, build)| build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queries_are_what_their_names_say() {
        let mempool = query("mempool-aliases").expect("listed");
        assert_eq!(mempool.matches(": mempoolTxs {").count(), 100);
        let fragments = query("fragment-doubling").expect("listed");
        assert_eq!(fragments.matches("fragment F").count(), 24);
        assert_eq!(fragments.matches("...F1 ").count(), 2);
        assert!(fragments.ends_with("query { ...F0 }"));
        let nested = query("nested-lists").expect("listed");
        assert_eq!(nested.matches("blocks(last: 200)").count(), 20);
        let megabyte = query("megabyte-aliases").expect("listed");
        assert!((1 << 20) - 64 <= megabyte.len() && megabyte.len() <= 1 << 20);
        for (_, build) in QUERIES {
            let text = build();
            assert_eq!(text.matches('{').count(), text.matches('}').count());
        }
    }

    #[test]
    fn the_fill_transactions_are_valid_and_distinct() {
        let txs: Vec<Vec<u8>> = (0..200).filter_map(transaction).collect();
        assert_eq!(txs.len(), 200);
        let ids: std::collections::HashSet<_> = txs
            .iter()
            .map(|tx| rues_demo::Transaction::decode(tx).expect("decodes").id())
            .collect();
        assert_eq!(ids.len(), 200);
    }

    #[tokio::test]
    async fn an_exchange_counts_the_answer_and_stops_at_its_length() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut request = vec![0u8; 4096];
            let _ = socket.read(&mut request).await;
            let answer = b"HTTP/1.1 422 Unprocessable Entity\r\nContent-Length: 5\r\n\r\nlimit";
            socket.write_all(answer).await.expect("write");
            // Kept open: the length, not the close, ends the answer.
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let answer = tokio::time::timeout(
            Duration::from_secs(10),
            exchange(addr, "/on/graphql/query", "text/plain", b"{ x }"),
        )
        .await
        .expect("in time")
        .expect("answered");
        assert_eq!(answer, (422, 61));
    }
}
