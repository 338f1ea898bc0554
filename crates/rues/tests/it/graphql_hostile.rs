//! Hostile GraphQL queries against a real `rues serve` process: answers
//! that multiply, fragments that multiply, bodies echoed into errors.
//! Every test asserts the bound the node keeps (memory, time, size, status).

use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};

use crate::node::Node;

/// Bytes of peak resident memory (VmHWM) of a process, from /proc.
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

async fn graphql(node: &Node, query: &str) -> rues_testkit::Answer {
    node.http(
        Method::POST,
        "/on/graphql/query",
        &[("content-type", "text/plain")],
        query.as_bytes(),
    )
    .await
}

/// `query` through the standard `/graphql` endpoint.
async fn standard(node: &Node, query: &str) -> rues_testkit::Answer {
    node.http(
        Method::POST,
        "/graphql",
        &[("content-type", "application/json")],
        serde_json::json!({ "query": query }).to_string().as_bytes(),
    )
    .await
}

/// The error message, or the start of the body (never all of a large one).
fn message(answer: &rues_testkit::Answer) -> String {
    let text = String::from_utf8_lossy(&answer.body);
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|json| json["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| text.chars().take(300).collect())
}

/// A node whose mempool fills (1000 generated transactions a second, one
/// per block), so `mempoolTxs` has thousands of entries.
async fn filled_node() -> Node {
    let node = Node::start(&[
        "--set",
        "chain.tx_per_second=1000",
        "--set",
        "chain.max_block_txs=1",
        "--set",
        "chain.revert_one_in=0",
    ]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    node
}

/// The fragment bomb: each level spreads the next twice, so the expanded
/// query doubles per level (2^24 selections from 1.6 KB of text).
fn fragment_bomb(levels: usize) -> String {
    let mut query = String::from("query { ...F0 }\n");
    for level in 0..levels {
        query.push_str(&format!(
            "fragment F{level} on Query {{ a: __typename ...F{next} b: __typename ...F{next} }}\n",
            next = level + 1
        ));
    }
    query.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
    query
}

#[tokio::test]
async fn aliased_list_fields_answer_a_bounded_error_and_memory_stays_bounded() {
    let node = filled_node().await;
    let pid = node.child.id();
    let fields = "id raw json sender receiver value nonce gasLimit gasPrice memo";
    let before = peak_kib(pid);

    // 100 aliases of the whole mempool: past the complexity limit (list
    // sizes count), refused before it runs.
    let bomb: String = (0..100)
        .map(|i| format!("a{i}: mempoolTxs {{ {fields} }} "))
        .collect();
    let answer = graphql(&node, &format!("{{ {bomb} }}")).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        message(&answer)
    );
    assert!(message(&answer).contains("complex"), "{}", message(&answer));
    assert!(answer.body.len() < 1024, "{} bytes", answer.body.len());
    // The same through `/graphql`: the same engine and bounds, refused 400
    // in the standard shape.
    let answer = standard(&node, &format!("{{ {bomb} }}")).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        answer.json()["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("complex")),
        "{:?}",
        answer.body
    );
    assert!(answer.body.len() < 1024, "{} bytes", answer.body.len());

    // Under the complexity limit but with a large answer: stopped as it
    // passes the response budget, not once built.
    let big: String = (0..40)
        .map(|i| format!("a{i}: mempoolTxs {{ raw json }} "))
        .collect();
    let answer = graphql(&node, &format!("{{ {big} }}")).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        message(&answer)
    );
    // The answer budget stops it; on a slow machine the 2 s deadline may
    // come first, which bounds the memory as well.
    let why = message(&answer);
    assert!(
        why.contains("answer would pass") || why.contains("deadline"),
        "{why}"
    );
    assert!(answer.body.len() < 1024, "{} bytes", answer.body.len());

    let answer = standard(&node, &format!("{{ {big} }}")).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let why = answer.json()["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        why.contains("answer would pass") || why.contains("deadline"),
        "{why}"
    );
    assert!(answer.body.len() < 1024, "{} bytes", answer.body.len());

    let grown_mib = peak_kib(pid).saturating_sub(before) / 1024;
    assert!(grown_mib < 64, "peak RSS grew by {grown_mib} MiB");

    // Two clients sending the largest answer the bounds allow, in a loop:
    // it runs on the blocking pool, so `node/info` keeps answering.
    let slowest = while_flooded(&node, &format!("{{ {big} }}")).await;
    assert!(
        slowest < Duration::from_millis(500),
        "node/info took {slowest:?}"
    );

    // An ordinary query still answers, capped at 200 entries.
    let answer = graphql(&node, "{ mempoolTxs { id } }").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", message(&answer));
    let listed = answer.json()["mempoolTxs"]
        .as_array()
        .expect("a list")
        .len();
    assert_eq!(listed, 200, "the mempool has more than 200 entries by now");
}

#[tokio::test]
async fn fragment_bombs_are_refused_quickly_and_the_node_keeps_answering() {
    let node = Node::start(&[]);
    let bomb = fragment_bomb(24);
    assert!(bomb.len() < 2048, "{} bytes", bomb.len());

    let started = Instant::now();
    let answer = graphql(&node, &bomb).await;
    let took = started.elapsed();
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        message(&answer)
    );
    assert!(
        message(&answer).contains("fragments are expanded"),
        "{}",
        message(&answer)
    );
    assert!(took < Duration::from_secs(2), "refused in {took:?}");

    // Two clients sending bombs in a loop; `node/info` keeps answering.
    let slowest = while_flooded(&node, &bomb).await;
    assert!(
        slowest < Duration::from_millis(500),
        "node/info took {slowest:?}"
    );

    // Through `/graphql` too: refused the same way, on the same pool.
    let body = serde_json::json!({ "query": bomb }).to_string();
    let answer = node
        .http(
            Method::POST,
            "/graphql",
            &[("content-type", "application/json")],
            body.as_bytes(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        String::from_utf8_lossy(&answer.body).contains("fragments are expanded"),
        "{:?}",
        answer.body
    );
    let slowest = flooded(&node, "/graphql", body, StatusCode::BAD_REQUEST).await;
    assert!(
        slowest < Duration::from_millis(500),
        "node/info took {slowest:?}"
    );
}

/// The slowest of ten `node/info` answers while two clients send `query`
/// to `graphql/query` in a loop (each answered 422).
async fn while_flooded(node: &Node, query: &str) -> Duration {
    flooded(
        node,
        "/on/graphql/query",
        query.to_owned(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// The slowest of ten `node/info` answers while two clients send `body`
/// to `path` in a loop (each answered `status`).
async fn flooded(node: &Node, path: &'static str, body: String, status: StatusCode) -> Duration {
    let query = body.as_str();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let addr = node.addr;
    let attackers: Vec<_> = (0..2)
        .map(|_| {
            let (stop, query) = (std::sync::Arc::clone(&stop), query.to_owned());
            tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let answer =
                        rues_testkit::http(addr, Method::POST, path, &[], query.as_bytes()).await;
                    assert_eq!(answer.status, status);
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let started = Instant::now();
        let answer = node.http(Method::POST, "/on/node/info", &[], b"").await;
        slowest = slowest.max(started.elapsed());
        assert_eq!(answer.status, StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for attacker in attackers {
        attacker.await.expect("attacker ran");
    }
    eprintln!("node/info answered within {slowest:?} under the flood");
    slowest
}

#[tokio::test]
async fn errors_never_echo_the_body() {
    let node = Node::start(&[]);
    // The largest body the node takes (3 MiB), all control characters:
    // each would be escaped to six bytes if echoed.
    let body = "\u{1}".repeat(3 * 1024 * 1024);
    let answer = graphql(&node, &body).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        message(&answer)
    );
    assert!(answer.body.len() < 1024, "{} bytes", answer.body.len());

    // Within the text bound, a syntax error on one long line quotes a short
    // prefix from where it failed, not the line.
    let line = format!("{{ block{} }}", "\u{1}".repeat(30_000));
    let answer = graphql(&node, &line).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        message(&answer)
    );
    assert!(message(&answer).contains("syntax"), "{}", message(&answer));
    assert!(answer.body.len() < 1024, "{} bytes", answer.body.len());

    // A long unknown field name is quoted short too.
    let unknown = format!("{{ {} }}", "x".repeat(30_000));
    let answer = graphql(&node, &unknown).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        message(&answer)
    );
    assert!(answer.body.len() < 1024, "{} bytes", answer.body.len());
}

#[tokio::test]
async fn syntax_errors_and_deep_nesting_answer_422() {
    let node = Node::start(&[]);
    let answer = graphql(&node, "query { block(").await;
    answer.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "syntax");

    // Nesting deep enough to overflow a recursive parser's stack.
    let deep = format!("{}{}", "{ a ".repeat(20_000), "}".repeat(20_000));
    let answer = graphql(&node, &deep[..deep.len().min(30_000)]).await;
    answer.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "deep");
    let deep = format!("{{ blocks(range: {}) {{ fees }} }}", "[".repeat(20_000));
    let answer = graphql(&node, &deep).await;
    answer.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "deep");

    // A long chain of fragments, each spreading the next.
    let mut chain = String::from("query { __typename }\n");
    for level in 0..800 {
        chain.push_str(&format!(
            "fragment F{level} on Query {{ ...F{} }}\n",
            level + 1
        ));
    }
    chain.push_str("fragment F800 on Query { __typename }\n");
    let answer = graphql(&node, &chain).await;
    answer.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "deep");

    // The node is still up.
    let answer = node.http(Method::POST, "/on/node/info", &[], b"").await;
    assert_eq!(answer.status, StatusCode::OK);
}
