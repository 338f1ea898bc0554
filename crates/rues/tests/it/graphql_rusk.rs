//! rusk's GraphQL over real HTTP against a `rues serve` process: the JSON
//! body and `rusk-gqlvar-*` headers on `graphql/query`, the standard
//! `/graphql` endpoint (GET and POST, its errors), and archive fields
//! answering what the chain did with a propagated transaction.

use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use rues_demo::contracts::{STAKE_CONTRACT, TRANSFER_CONTRACT};
use rues_demo::{Id, Transaction};
use serde_json::{Value, json};

use crate::node::{Answer, Node};

fn content_type(answer: &Answer) -> &str {
    answer.header("content-type").unwrap_or("")
}

/// `POST /graphql` with a JSON body.
async fn post_graphql(node: &Node, body: &Value, headers: &[(&str, &str)]) -> Answer {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    node.http(Method::POST, "/graphql", &all, body.to_string().as_bytes())
        .await
}

/// `graphql/query` with `body` and `headers`, answered 200 with JSON.
async fn query_ok(node: &Node, body: &str, headers: &[(&str, &str)]) -> Value {
    let answer = node
        .http(Method::POST, "/on/graphql/query", headers, body.as_bytes())
        .await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(content_type(&answer), "application/json");
    answer.json()
}

/// A query's `%`-encoding for a URL's query string.
fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn graphql_query_takes_a_json_body_and_gqlvar_headers() {
    let node = Node::start(&["--set", "chain.revert_one_in=0"]);
    // The raw text, as rusk takes it.
    let data = query_ok(&node, "{ block(height: 0) { header { height } } }", &[]).await;
    assert_eq!(data["block"]["header"]["height"], 0);

    // GraphQL over HTTP's JSON body, with variables and an operation.
    let body = json!({
        "query": "query A { a: block(height: 0) { header { height } } } \
                  query B($h: Float) { b: block(height: $h) { header { height hash } } }",
        "variables": {"h": 0},
        "operationName": "B",
    });
    let data = query_ok(
        &node,
        &body.to_string(),
        &[("content-type", "application/json")],
    )
    .await;
    assert_eq!(data["b"]["header"]["height"], 0, "{data}");
    assert!(data.get("a").is_none(), "only operation B ran: {data}");
    let genesis = data["b"]["header"]["hash"]
        .as_str()
        .expect("a hash")
        .to_owned();

    // Variables from `rusk-gqlvar-<name>` headers: JSON values, or text.
    let data = query_ok(
        &node,
        "query($height: Float, $hash: String!) { block(height: $height) { header { height } } \
         checkBlock(height: 0, hash: $hash) }",
        &[
            ("rusk-gqlvar-height", "0"),
            ("Rusk-Gqlvar-Hash", genesis.as_str()),
        ],
    )
    .await;
    assert_eq!(data["block"]["header"]["height"], 0, "{data}");
    assert_eq!(data["checkBlock"], true, "{data}");

    // Asked for with `Accept`, the standard shape on graphql/query too.
    let data = query_ok(
        &node,
        "{ nextPhoenix(height: 0) }",
        &[("accept", "application/graphql-response+json")],
    )
    .await;
    assert_eq!(data, json!({"data": {"nextPhoenix": null}}));

    // Errors: rusk's shape on graphql/query, 422 with a short message.
    for (body, headers, needle) in [
        (
            json!({"query": "{ x }", "variables": [1]}).to_string(),
            vec![],
            "`variables` must be a JSON object",
        ),
        (
            json!({"query": "{ x }", "operationName": 1}).to_string(),
            vec![],
            "`operationName` must be a string",
        ),
        (
            "query($height: Float) { block(height: $height) { header { height } } }".to_owned(),
            vec![("rusk-gqlvar-height", "not a number")],
            "height",
        ),
        (
            json!({"query": "{ x }"}).to_string(),
            vec![],
            "Unknown field",
        ),
    ] {
        let answer = node
            .http(Method::POST, "/on/graphql/query", &headers, body.as_bytes())
            .await;
        answer.assert_error(StatusCode::UNPROCESSABLE_ENTITY, needle);
    }
}

#[tokio::test]
async fn the_graphql_endpoint_serves_get_and_post_in_the_standard_shape() {
    // Without the explorer (`/graphql` is the node's, not the explorer's),
    // and with a small body limit to reach it.
    let node = Node::start(&["--no-explorer", "--set", "limits.max_body=1024"]);
    let query = "query Tip($h: Float) { block(height: $h) { header { height } } }";

    // POST, JSON body.
    let answer = post_graphql(
        &node,
        &json!({"query": query, "variables": {"h": 0}, "operationName": "Tip"}),
        &[],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    assert_eq!(content_type(&answer), "application/json");
    assert_eq!(answer.header("rusk-version"), Some("1.6.0"));
    assert_eq!(
        answer.json(),
        json!({"data": {"block": {"header": {"height": 0}}}})
    );

    // GET, query parameters.
    let path = format!(
        "/graphql?query={}&variables={}&operationName=Tip",
        url_encode(query),
        url_encode(r#"{"h": 0}"#)
    );
    let answer = node.http(Method::GET, &path, &[], b"").await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    assert_eq!(content_type(&answer), "application/json");
    assert_eq!(answer.json()["data"]["block"]["header"]["height"], 0);

    // A batch: the answers in order, each in the standard shape.
    let answer = post_graphql(
        &node,
        &json!([
            {"query": "{ block(height: 0) { header { height } } }"},
            {"query": "query($h: Float) { block(height: $h) { header { height } } }", "variables": {"h": 0}},
            {"query": "{ nope }"},
            {"variables": {}},
        ]),
        &[],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let answers = answer.json();
    assert_eq!(
        answers[0]["data"]["block"]["header"]["height"], 0,
        "{answers}"
    );
    assert_eq!(
        answers[1]["data"]["block"]["header"]["height"], 0,
        "{answers}"
    );
    assert!(answers[2].get("data").is_none(), "{answers}");
    assert!(answers[2]["errors"][0]["message"].is_string(), "{answers}");
    assert!(answers[3]["errors"][0]["message"].is_string(), "{answers}");
    assert_eq!(answers.as_array().map(Vec::len), Some(4));
    let too_many: Vec<Value> = (0..=rues_demo::graphql_http::MAX_BATCH)
        .map(|_| json!({"query": "{ __typename }"}))
        .collect();
    let answer = post_graphql(&node, &Value::Array(too_many), &[]).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        answer.json()["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("1 to 16"))
    );

    // A field error: the query ran, 200, the error in `errors`.
    let answer = post_graphql(
        &node,
        &json!({"query": r#"{ block(hash: "zz") { header { height } } }"#}),
        &[],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let body = answer.json();
    assert!(body["data"].is_null(), "{body}");
    let message = body["errors"][0]["message"].as_str().expect("a message");
    assert!(message.contains("not a hash"), "{message}");

    // Requests that do not run: 400, `errors` and no `data`.
    for (answer, needle) in [
        (
            post_graphql(&node, &json!({"query": "{ nope }"}), &[]).await,
            "Unknown field",
        ),
        (
            post_graphql(&node, &json!({"query": "{ block("}), &[]).await,
            "syntax error",
        ),
        (
            post_graphql(&node, &json!({"query": ""}), &[]).await,
            "no query",
        ),
        (
            post_graphql(
                &node,
                &json!({"query": "{ __typename }", "variables": 3}),
                &[],
            )
            .await,
            "`variables` must be a JSON object",
        ),
        (
            node.http(Method::GET, "/graphql", &[], b"").await,
            "no query",
        ),
        (
            node.http(Method::GET, "/graphql?query=%7B%20nope%20%7D", &[], b"")
                .await,
            "Unknown field",
        ),
    ] {
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{:?}", answer.body);
        assert_eq!(content_type(&answer), "application/json");
        let body = answer.json();
        assert!(body.get("data").is_none(), "{body}");
        let message = body["errors"][0]["message"].as_str().expect("a message");
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        assert!(answer.body.len() < 512, "{} bytes", answer.body.len());
    }

    // The core's refusals keep their status, in the standard shape.
    let answer = post_graphql(
        &node,
        &json!({"query": "{ __typename }"}),
        &[("rusk-version", "0.1.0")],
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let body = answer.json();
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("version")),
        "{body}"
    );
    let big = json!({"query": "x".repeat(2048)});
    let answer = post_graphql(&node, &big, &[]).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(answer.json()["errors"][0]["message"].is_string());

    // Browsers: the preflight and the answer carry the core's CORS
    // headers, and `rusk-gqlvar-*` headers may be sent.
    let answer = node
        .http(
            Method::OPTIONS,
            "/graphql",
            &[
                ("origin", "http://example.com"),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "content-type, rusk-gqlvar-h",
                ),
            ],
            b"",
        )
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert!(answer.header("access-control-allow-origin").is_some());
    assert!(
        answer
            .header("access-control-allow-headers")
            .is_some_and(|h| h.contains("rusk-gqlvar-h")),
        "{:?}",
        answer.headers
    );
    let answer = post_graphql(
        &node,
        &json!({"query": "{ nextPhoenix(height: 1) }"}),
        &[("origin", "http://example.com")],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.header("access-control-allow-origin").is_some());

    // Other methods: 405, with what is allowed.
    let answer = node.http(Method::PUT, "/graphql", &[], b"").await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.header("allow"), Some("GET, POST"));
    assert_eq!(answer.header("rusk-version"), Some("1.6.0"));
    assert!(answer.json()["errors"][0]["message"].is_string());
}

/// `graphql/query`'s data for `query`, once `ready` holds of it (within
/// 15 s).
async fn when(node: &Node, query: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let data = query_ok(node, query, &[]).await;
        if ready(&data) {
            return data;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "never ready: {data}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn archive_fields_answer_what_the_chain_did_with_a_propagated_transaction() {
    let node = Node::start(&[
        "--set",
        "chain.revert_one_in=0",
        "--set",
        "chain.tx_per_second=0",
    ]);
    let sender = Id::from_bytes([0x51; 32]);
    let receiver = Id::from_bytes([0x52; 32]);
    let memo = format!("gql-{}", std::process::id());
    let tx = Transaction::builder()
        .sender(sender)
        .receiver(receiver)
        .value(4_242)
        .gas_price(2)
        .memo(memo.clone().into_bytes())
        .build()
        .expect("valid");
    let id = tx.id().to_string();
    let answer = node
        .http(
            Method::POST,
            "/on/transactions/propagate",
            &[],
            format!("0x{}", hex::encode(tx.encode())).as_bytes(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{:?}", answer.body);

    // Executed, then finalized (a few blocks of 200 ms on top).
    let data = when(
        &node,
        &format!(r#"{{ tx(hash: "{id}") {{ blockHeight raw tx {{ memo txType }} }} }}"#),
        |d| !d["tx"].is_null(),
    )
    .await;
    let height = data["tx"]["blockHeight"].as_u64().expect("a height");
    assert_eq!(data["tx"]["raw"], hex::encode(tx.encode()), "{data}");
    assert_eq!(data["tx"]["tx"]["memo"], hex::encode(&memo));
    assert_eq!(data["tx"]["tx"]["txType"], "Moonlight");

    let data = query_ok(
        &node,
        &format!(
            r#"{{
                memo: transactionsByMemo(memo: "{memo}") {{ json }}
                sent: moonlightHistory(sender: "{sender}") {{ json }}
                full: fullMoonlightHistory(address: "{receiver}") {{ json }}
                events: contractEvents(height: {height}) {{ json }}
                blockTxs(range: [{height}, {height}], contract: "{TRANSFER_CONTRACT}") {{ id }}
                stakes: blockTxs(range: [{height}, {height}], contract: "{STAKE_CONTRACT}") {{ id }}
            }}"#
        ),
        &[],
    )
    .await;
    for key in ["memo", "sent", "full"] {
        let groups = data[key]["json"].as_array().expect("groups");
        assert_eq!(groups.len(), 1, "{key}: {data}");
        assert_eq!(groups[0]["origin"], id);
        assert_eq!(groups[0]["block_height"], height);
        let event = &groups[0]["events"][0];
        assert_eq!(event["topic"], "moonlight");
        assert_eq!(event["data"]["value"], 4_242);
        assert_eq!(event["data"]["sender"], sender.to_string());
    }
    let events = data["events"]["json"].as_array().expect("events");
    assert!(
        events
            .iter()
            .any(|e| e["origin"] == id && e["source"] == TRANSFER_CONTRACT.to_string()),
        "{data}"
    );
    assert!(events.iter().any(|e| e["topic"] == "reward"), "{data}");
    assert_eq!(data["blockTxs"], json!([{"id": id}]));
    assert_eq!(data["stakes"], json!([]));

    // Its block finalizes: `finalizedEvents` of the transfer contract lists
    // the event, and `checkBlock(onlyFinalized:)` says so.
    let data = when(
        &node,
        &format!(
            r#"{{ finalizedEvents(contractId: "{TRANSFER_CONTRACT}") {{ json }}
                 block(height: {height}) {{ status header {{ hash }} }} }}"#
        ),
        |d| d["block"]["status"].get("Final").is_some(),
    )
    .await;
    let page = &data["finalizedEvents"]["json"];
    assert!(
        page["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["origin"] == id && e["block_height"] == height),
        "{data}"
    );
    let hash = data["block"]["header"]["hash"].as_str().expect("hash");
    let data = query_ok(
        &node,
        &format!(
            r#"{{ checkBlock(height: {height}, hash: "{hash}", onlyFinalized: true) nextPhoenix(height: 0) }}"#
        ),
        &[],
    )
    .await;
    assert_eq!(data, json!({"checkBlock": true, "nextPhoenix": null}));

    // The `raw` of a transaction is what `transactions/preverify` reads:
    // this one is known now, which preverify says (not "undecodable").
    let answer = node
        .http(
            Method::POST,
            "/on/transactions/preverify",
            &[],
            format!("0x{}", hex::encode(tx.encode())).as_bytes(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CONFLICT, "{:?}", answer.body);

    // Unknown and malformed arguments.
    let data = query_ok(
        &node,
        r#"{ none: transactionsByMemo(memo: "no such memo") { json }
             gone: contractEvents(height: 99999999) { json }
             nobody: moonlightHistory(sender: "0000000000000000000000000000000000000000000000000000000000000009") { json } }"#,
        &[],
    )
    .await;
    assert_eq!(data, json!({"none": null, "gone": null, "nobody": null}));
    let answer = node
        .http(
            Method::POST,
            "/on/graphql/query",
            &[],
            br#"{ moonlightHistory(sender: "not-an-account") { json } }"#,
        )
        .await;
    answer.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "not a demo account");
}
