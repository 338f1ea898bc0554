//! What `graphql/query` reads and answers around the engine: the body as
//! query text (rusk's form) or as GraphQL over HTTP's JSON `{"query",
//! "variables", "operationName"}`, variables from `rusk-gqlvar-<name>`
//! headers, and the answer in rusk's shape (the `data` object; 422 for
//! any error) or, when the request's `Accept` names
//! [`STANDARD_SHAPE`], in GraphQL over HTTP's (`{"data", "errors"}`),
//! which is how the `rues` binary's `/graphql` asks.

use rues_core::http::HeaderMap;
use rues_core::http::header::ACCEPT;
use rues_core::{DispatchRequest, HandlerError, Reply, quote};
use serde_json::{Map, Value, json};

use crate::driver::SharedChain;
use crate::graphql::{
    Executed, GraphqlError, GraphqlRequest, MAX_RESPONSE_BYTES, QUERY_DEADLINE, RunBounds,
    graphql_execute_blocking, graphql_sdl,
};

/// Headers whose name starts with this give a variable each: the rest of
/// the name (lower case, as HTTP carries it) is the variable's, the value
/// is JSON when it parses as JSON, else a string (rusk's `rusk-gqlvar-`).
pub const GQLVAR_PREFIX: &str = "rusk-gqlvar-";

/// The media type of GraphQL over HTTP's answer: named in `Accept`, it
/// makes `graphql/query` answer `{"data": ..., "errors": [...]}` (as
/// `application/json`) instead of rusk's bare `data` and 422.
pub const STANDARD_SHAPE: &str = "application/graphql-response+json";

/// Most requests in one batch (a JSON array body, standard shape only).
/// The batch shares one deadline and one answer budget.
pub const MAX_BATCH: usize = 16;

/// Whether the request asks for GraphQL over HTTP's answer shape.
fn wants_standard(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            item.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case(STANDARD_SHAPE))
        })
}

/// `graphql/query`: runs the query on a snapshot (taken under a short
/// lock; the query runs unlocked) on the calling blocking thread.
pub(crate) fn handle(
    chain: &SharedChain,
    request: &DispatchRequest,
) -> Result<Reply, HandlerError> {
    let standard = wants_standard(&request.headers);
    let refuse = |message: String| {
        if standard {
            // No `data`: the request did not run (`/graphql` answers 400).
            Ok(Reply::json(&json!({"errors": [{"message": message}]})))
        } else {
            Err(HandlerError::unprocessable(message))
        }
    };
    let Ok(text) = std::str::from_utf8(request.body.as_bytes()) else {
        return refuse("the body must be UTF-8 text".to_owned());
    };
    if text.trim().is_empty() {
        if standard {
            return refuse("the request has no query".to_owned());
        }
        return Ok(Reply::Text(graphql_sdl()));
    }
    if standard && text.trim_start().starts_with('[') {
        return batch(chain, text, &request.headers);
    }
    let mut gql = match parse_body(text) {
        Ok(gql) => gql,
        Err(message) => return refuse(message),
    };
    if let Err(message) = add_header_variables(&request.headers, &mut gql.variables) {
        return refuse(message);
    }
    if gql.query.trim().is_empty() {
        return refuse("the request has no query".to_owned());
    }
    let snapshot = chain.snapshot();
    let result = graphql_execute_blocking(snapshot, &gql, RunBounds::default());
    if standard {
        return Ok(Reply::json(&standard_answer(result)));
    }
    match result {
        Ok(executed) if executed.error_count > 0 => {
            Err(HandlerError::unprocessable(executed.messages()))
        }
        Ok(executed) => Ok(Reply::json(&executed.data)),
        Err(e) => Err(HandlerError::unprocessable(e.to_string())),
    }
}

/// An answer in GraphQL over HTTP's shape: `{"data", "errors"?}` for a
/// query that ran, `{"errors"}` without `data` for one that did not.
fn standard_answer(result: Result<Executed, GraphqlError>) -> Value {
    let executed = match result {
        Ok(executed) => executed,
        Err(e) => return json!({"errors": [{"message": e.to_string()}]}),
    };
    let mut answer = json!({"data": executed.data});
    if executed.error_count > 0 {
        let mut errors: Vec<Value> = executed
            .errors
            .iter()
            .map(|m| json!({"message": m}))
            .collect();
        if executed.error_count > errors.len() {
            errors.push(json!({"message": format!(
                "and {} more errors",
                executed.error_count - errors.len()
            )}));
        }
        answer["errors"] = Value::Array(errors);
    }
    answer
}

/// A batch: a JSON array of requests, answered with the array of their
/// answers, in order, all from one snapshot, within one deadline and one
/// answer budget (each request gets an equal share of the budget and
/// what is left of the deadline).
fn batch(chain: &SharedChain, text: &str, headers: &HeaderMap) -> Result<Reply, HandlerError> {
    let refuse = |message: &str| Ok(Reply::json(&json!({"errors": [{"message": message}]})));
    let Ok(Value::Array(items)) = serde_json::from_str::<Value>(text) else {
        return refuse("a batch is a JSON array of requests");
    };
    if items.is_empty() || items.len() > MAX_BATCH {
        return refuse(&format!("a batch holds 1 to {MAX_BATCH} requests"));
    }
    let snapshot = chain.snapshot();
    let started = std::time::Instant::now();
    let share = MAX_RESPONSE_BYTES / items.len();
    let mut answers = Vec::with_capacity(items.len());
    for item in items {
        let request = match item {
            Value::Object(object) => from_object(object),
            _ => Err("each request of a batch is a JSON object".to_owned()),
        }
        .and_then(|mut gql| {
            add_header_variables(headers, &mut gql.variables)?;
            if gql.query.trim().is_empty() {
                return Err("the request has no query".to_owned());
            }
            Ok(gql)
        });
        let answer = match request {
            Ok(gql) => {
                let left = QUERY_DEADLINE.saturating_sub(started.elapsed());
                let bounds = RunBounds::default()
                    .with_deadline(left)
                    .with_max_response_bytes(share);
                standard_answer(graphql_execute_blocking(snapshot.clone(), &gql, bounds))
            }
            Err(message) => json!({"errors": [{"message": message}]}),
        };
        answers.push(answer);
    }
    Ok(Reply::json(&Value::Array(answers)))
}

/// The body as a request: GraphQL over HTTP's JSON when it is a JSON
/// object with a string `query`, else the query text itself.
fn parse_body(text: &str) -> Result<GraphqlRequest, String> {
    if !text.trim_start().starts_with('{') {
        return Ok(GraphqlRequest::new(text));
    }
    let Ok(Value::Object(body)) = serde_json::from_str::<Value>(text) else {
        return Ok(GraphqlRequest::new(text));
    };
    if !matches!(body.get("query"), Some(Value::String(_))) {
        return Ok(GraphqlRequest::new(text));
    }
    from_object(body)
}

/// A JSON request object `{"query", "variables", "operationName"}`.
fn from_object(mut body: Map<String, Value>) -> Result<GraphqlRequest, String> {
    let Some(Value::String(query)) = body.remove("query") else {
        return Err("a request needs a string `query`".to_owned());
    };
    let variables = match body.remove("variables") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(variables)) => variables,
        // GET's `variables` parameter arrives as text.
        Some(Value::String(s)) if s.trim().is_empty() => Map::new(),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Object(variables)) => variables,
            _ => return Err("`variables` must be a JSON object".to_owned()),
        },
        Some(_) => return Err("`variables` must be a JSON object".to_owned()),
    };
    let operation_name = match body.remove("operationName") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err("`operationName` must be a string".to_owned()),
    };
    let mut request = GraphqlRequest::new(query);
    request.variables = variables;
    request.operation_name = operation_name;
    Ok(request)
}

/// Adds the `rusk-gqlvar-<name>` headers' variables that the body does not
/// give itself.
fn add_header_variables(
    headers: &HeaderMap,
    variables: &mut Map<String, Value>,
) -> Result<(), String> {
    for (name, value) in headers {
        let Some(variable) = name.as_str().strip_prefix(GQLVAR_PREFIX) else {
            continue;
        };
        if variable.is_empty() {
            return Err(format!("a {GQLVAR_PREFIX}<name> header needs a name"));
        }
        let Ok(text) = value.to_str() else {
            return Err(format!("header {} is not text", quote(name.as_str())));
        };
        let value =
            serde_json::from_str::<Value>(text).unwrap_or_else(|_| Value::String(text.to_owned()));
        variables.entry(variable.to_owned()).or_insert(value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_body_is_read_without_panicking(text in "\\PC{0,200}") {
            let _ = parse_body(&text);
            let json_like = format!(r#"{{"query": {}, "variables": {}}}"#, serde_json::json!(text), text);
            let _ = parse_body(&json_like);
        }
    }

    #[test]
    fn a_json_body_is_read_only_when_it_is_a_request() {
        let gql = parse_body(r#"{"query": "{ x }", "variables": {"a": 1}, "operationName": "Q"}"#)
            .expect("a request");
        assert_eq!(gql.query, "{ x }");
        assert_eq!(gql.variables["a"], 1);
        assert_eq!(gql.operation_name.as_deref(), Some("Q"));
        // GET's variables come as text.
        let gql = parse_body(r#"{"query": "q", "variables": "{\"b\": [1]}"}"#).expect("a request");
        assert_eq!(gql.variables["b"], json!([1]));
        // GraphQL text, not a JSON request.
        for text in [
            "{ block(height: 1) { header { height } } }",
            r#"{"other": 1}"#,
            "{ }",
        ] {
            assert_eq!(parse_body(text).expect("text"), GraphqlRequest::new(text));
        }
        for bad in [
            r#"{"query": "q", "variables": [1]}"#,
            r#"{"query": "q", "variables": "nope"}"#,
            r#"{"query": "q", "operationName": 3}"#,
        ] {
            assert!(parse_body(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn header_variables_are_json_or_text_and_the_body_wins() {
        let mut headers = HeaderMap::new();
        headers.insert("rusk-gqlvar-height", "7".parse().expect("value"));
        headers.insert("rusk-gqlvar-hash", "ab12".parse().expect("value"));
        headers.insert("rusk-gqlvar-both", "1".parse().expect("value"));
        headers.insert("other", "1".parse().expect("value"));
        let mut variables = Map::new();
        variables.insert("both".to_owned(), json!("body"));
        add_header_variables(&headers, &mut variables).expect("valid");
        assert_eq!(variables["height"], 7);
        assert_eq!(variables["hash"], "ab12");
        assert_eq!(variables["both"], "body");
        assert_eq!(variables.len(), 3);
    }

    #[test]
    fn the_standard_shape_is_asked_for_by_accept() {
        let mut headers = HeaderMap::new();
        assert!(!wants_standard(&headers));
        headers.insert(
            ACCEPT,
            "application/json, application/graphql-response+json; q=0.9"
                .parse()
                .expect("value"),
        );
        assert!(wants_standard(&headers));
    }
}
