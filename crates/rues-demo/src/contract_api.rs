//! Contract endpoints of Dusk's node API over the demo contracts
//! (docs/demo-chain.md §5): `contract:<id>/{status, metadata,
//! download_driver, upload_driver}`, `contract_owner:<id>/<any>`,
//! `driver:<id>/<method>[:<target>]`, and `contracts:<id>/<fn>` queries,
//! binary or JSON through the data driver, whole or streamed (`Rusk-Feeder`).

use futures_util::stream;
use rues_core::bytes::Bytes;
use rues_core::http::StatusCode;
use rues_core::{DispatchRequest, HandlerError, Reply, RequestBody};
use serde_json::{Value, json};

use crate::contracts::{QueryError, STAKE_CONTRACT};
use crate::data_driver::{self, Driver, DriverError, Function};
use crate::driver::SharedChain;
use crate::feeders::{Transfers, stake_chunks};
use crate::id::{ContractId, Id};

type Result<T = Reply> = std::result::Result<T, HandlerError>;

/// The owner the demo contracts show: no one (32 zero bytes). They are part
/// of the chain from genesis, deployed by no account.
pub(crate) const OWNER: [u8; 32] = [0; 32];

/// The entity of `request`, which the registry requires.
fn entity(request: &DispatchRequest) -> Result<&str> {
    request.path.entity().map(|e| e.as_str()).ok_or_else(|| {
        HandlerError::not_found("this component needs a contract id: <component>:<id>/<topic>")
    })
}

/// The demo contract `request` names, and its driver: a malformed id is
/// 400, an id that is no demo contract's 404.
fn contract(request: &DispatchRequest) -> Result<(ContractId, &'static Driver)> {
    let text = entity(request)?;
    let id = Id::parse(text).map_err(|_| {
        HandlerError::bad_request(QueryError::MalformedContract(text.to_owned()).to_string())
    })?;
    let driver = data_driver::driver(&id)
        .ok_or_else(|| HandlerError::not_found(QueryError::UnknownContract(id).to_string()))?;
    Ok((id, driver))
}

fn driver_error(error: DriverError) -> HandlerError {
    if error.is_not_found() {
        HandlerError::not_found(error.to_string())
    } else {
        HandlerError::unprocessable(error.to_string())
    }
}

fn query_error(error: QueryError) -> HandlerError {
    match error {
        QueryError::MalformedContract(_) => HandlerError::bad_request(error.to_string()),
        QueryError::UnknownContract(_) | QueryError::UnknownFunction { .. } => {
            HandlerError::not_found(error.to_string())
        }
        _ => HandlerError::unprocessable(error.to_string()),
    }
}

/// `contract:<id>/status` → `{"balance": n}`, rusk's shape: the Lux the
/// contract holds. The stake contract holds the staked Lux; the transfer
/// contract holds none of its own (accounts' balances are the accounts').
pub(crate) fn status(chain: &SharedChain, request: &DispatchRequest) -> Result {
    let (id, _) = contract(request)?;
    let balance = if id == STAKE_CONTRACT {
        let total = chain
            .lock()
            .query(&id.to_string(), "total_stake", &[])
            .map_err(query_error)?;
        <[u8; 8]>::try_from(total.as_slice())
            .map(u64::from_le_bytes)
            .map_err(|_| {
                HandlerError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "total_stake is not a u64",
                )
            })?
    } else {
        0
    };
    Ok(Reply::json(&json!({"balance": balance})))
}

/// `contract:<id>/metadata` → rusk's `{owner, driver_available,
/// driver_signature, created_at}`. `driver_available` says, as on rusk,
/// whether a driver was uploaded (so `download_driver` has one): the demo
/// contracts' drivers are built in, as rusk's genesis contracts' are.
pub(crate) fn metadata(_chain: &SharedChain, request: &DispatchRequest) -> Result {
    contract(request)?;
    Ok(Reply::json(&json!({
        "owner": crate::bs58::encode(&OWNER),
        "driver_available": false,
        "driver_signature": null,
        "created_at": null,
    })))
}

/// `contract_owner:<id>/<any>` → the owner's bytes, binary (rusk's reply).
pub(crate) fn owner(_chain: &SharedChain, request: &DispatchRequest) -> Result {
    contract(request)?;
    Ok(Reply::Binary(Bytes::from_static(&OWNER)))
}

/// `contract:<id>/download_driver`: 404, as rusk answers for its genesis
/// contracts, whose drivers are built into the node too: there is no
/// uploaded wasm to serve. The message says where the definition is.
pub(crate) fn download_driver(_chain: &SharedChain, request: &DispatchRequest) -> Result {
    let (id, _) = contract(request)?;
    Err(HandlerError::not_found(format!(
        "contract {id} has no uploaded driver to download: the demo contracts' data drivers \
         are built into the node, not wasm; driver:{id}/get_schema describes them"
    )))
}

/// `contract:<id>/upload_driver`: refused (403). The demo node has no
/// contracts but its own, whose drivers are built in.
pub(crate) fn upload_driver(_chain: &SharedChain, request: &DispatchRequest) -> Result {
    contract(request)?;
    Err(HandlerError::new(
        StatusCode::FORBIDDEN,
        "the demo node does not accept driver uploads: its contracts' data drivers are built in \
         (driver:<id>/get_schema describes them)",
    ))
}

/// The bytes of a binary body: raw (`application/octet-stream`) or `0x`
/// hex text; an empty body is no bytes. Other text is 422, saying how to
/// send bytes.
fn body_bytes(body: &RequestBody) -> Result<&[u8]> {
    match body {
        RequestBody::Binary(bytes) => Ok(bytes),
        RequestBody::Text(text) if text.is_empty() => Ok(&[]),
        RequestBody::Text(_) => Err(HandlerError::unprocessable(
            "the body is bytes: send them raw with Content-Type: application/octet-stream, \
             or as 0x-prefixed hex text",
        )),
    }
}

/// The body as UTF-8 text (JSON).
fn body_text(body: &RequestBody) -> Result<&str> {
    std::str::from_utf8(body.as_bytes())
        .map_err(|_| HandlerError::unprocessable("the body must be JSON text (UTF-8)"))
}

/// The topics of `driver:<id>/…`: `get_schema`, `get_version`, and
/// `<method>:<target>` for each function and event of the demo drivers.
pub(crate) fn driver_topics() -> Vec<String> {
    let mut topics = vec!["get_schema".to_owned(), "get_version".to_owned()];
    for driver in data_driver::DRIVERS {
        for f in driver.functions {
            for method in ["encode_input_fn", "decode_input_fn", "decode_output_fn"] {
                topics.push(format!("{method}:{}", f.name));
            }
        }
        for e in driver.events {
            topics.push(format!("decode_event:{}", e.name));
        }
    }
    topics.sort();
    topics.dedup();
    topics
}

/// `driver:<id>/<method>[:<target>]`, with rusk's bodies and replies:
/// `encode_input_fn` takes JSON text and answers bytes; the `decode_*`
/// methods take bytes and answer JSON; `get_schema` answers the driver's
/// JSON definition, `get_version` its version as text.
pub(crate) fn data_driver(_chain: &SharedChain, request: &DispatchRequest) -> Result {
    let (_, driver) = contract(request)?;
    let topic = request.path.topic().as_str();
    let (method, target) = topic.split_once(':').unwrap_or((topic, ""));
    match method {
        "get_schema" => Ok(Reply::json(&driver.schema())),
        "get_version" => Ok(Reply::Text(data_driver::VERSION.to_owned())),
        "encode_input_fn" => {
            let json = body_text(&request.body)?;
            let bytes = driver.encode_input(target, json).map_err(driver_error)?;
            Ok(Reply::Binary(Bytes::from(bytes)))
        }
        "decode_input_fn" | "decode_output_fn" | "decode_event" => {
            let bytes = body_bytes(&request.body)?;
            let value = match method {
                "decode_input_fn" => driver.decode_input(target, bytes),
                "decode_output_fn" => driver.decode_output(target, bytes),
                _ => driver.decode_event(target, bytes),
            }
            .map_err(driver_error)?;
            Ok(Reply::json(&value))
        }
        // The registry lists the methods; keep a clear answer regardless.
        _ => Err(HandlerError::not_found("unknown data-driver method")),
    }
}

/// Whether the request's `Content-Type` is JSON: the query then goes
/// through the contract's data driver.
fn is_json(request: &DispatchRequest) -> bool {
    request.content_type.as_deref().is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
    })
}

/// `contracts:<id>/<fn>`: a query of a demo contract. Arguments are bytes,
/// or JSON with `Content-Type: application/json` (encoded, and the reply
/// decoded, by the data driver). With `Rusk-Feeder` the reply is streamed:
/// a feeder's records, or the single reply of any other function. A feeder
/// without `Rusk-Feeder` is refused with rusk's "Missing feed" (400), which
/// Dusk's clients recognise and retry as a feeder.
pub(crate) fn query(chain: &SharedChain, request: &DispatchRequest) -> Result {
    let (id, driver) = contract(request)?;
    let function = driver
        .function(request.path.topic().as_str())
        .map_err(driver_error)?;
    let json = is_json(request);
    let args = if json {
        let text = body_text(&request.body)?;
        driver
            .encode_input(function.name, text)
            .map_err(driver_error)?
    } else {
        request.body.as_bytes().to_vec()
    };
    if function.feeder {
        if !request.feeder {
            return Err(HandlerError::bad_request(format!(
                "Missing feed: `{}` is a feeder query; send it with the Rusk-Feeder header",
                function.name
            )));
        }
        return feed(chain, function, &args, json);
    }
    let output = chain
        .lock()
        .query(&id.to_string(), function.name, &args)
        .map_err(query_error)?;
    match (json, request.feeder) {
        (false, false) => Ok(Reply::Binary(Bytes::from(output))),
        (false, true) => Ok(Reply::binary_stream(stream::iter([Ok(Bytes::from(
            output,
        ))]))),
        (true, feeder) => {
            let value = function
                .output
                .decode(&format!("the output of `{}`", function.name), &output)
                .map_err(driver_error)?;
            if feeder {
                let item = Bytes::from(value.to_string());
                Ok(Reply::json_stream(stream::iter([Ok(item)])))
            } else {
                Ok(Reply::json(&value))
            }
        }
    }
}

/// A feeder's stream: records raw (or hex), or in JSON mode one JSON value
/// per record in a streamed array.
fn feed(chain: &SharedChain, function: &'static Function, args: &[u8], json: bool) -> Result {
    let bad_length = || {
        HandlerError::unprocessable(format!(
            "`{}` takes {} bytes, got {}",
            function.name,
            function.input.size(),
            args.len()
        ))
    };
    if args.len() != function.input.size() {
        return Err(bad_length());
    }
    let chunks: Box<dyn Iterator<Item = Vec<u8>> + Send> = match function.name {
        "leaves_from_height" => {
            let from = <[u8; 8]>::try_from(args).map_err(|_| bad_length())?;
            let snapshot = chain.snapshot();
            Box::new(Transfers::new(snapshot, u64::from_le_bytes(from)))
        }
        "stakes" => {
            let stakes = chain
                .lock()
                .provisioners()
                .into_iter()
                .map(|p| (p.account, p.stake))
                .collect();
            Box::new(stake_chunks(stakes))
        }
        _ => return Err(HandlerError::not_found("no such feeder")),
    };
    if !json {
        return Ok(Reply::binary_stream(stream::iter(
            chunks.map(|chunk| Ok(Bytes::from(chunk))),
        )));
    }
    let size = function.output.size();
    let shape = function.output;
    let items = chunks.flat_map(move |chunk| {
        chunk
            .chunks(size)
            .map(|record| {
                shape
                    .decode("a record", record)
                    .map(|value: Value| Bytes::from(value.to_string()))
                    .map_err(|e| {
                        HandlerError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
                    })
            })
            .collect::<Vec<_>>()
    });
    Ok(Reply::json_stream(stream::iter(items)))
}
