//! The demo contracts' data drivers: a JSON ↔ binary mapping of every
//! function input and output and every event payload of the two demo
//! contracts, served at `driver:<id>/<method>[:<target>]` and used by JSON
//! contract queries (`contracts:<id>/<fn>` with `Content-Type:
//! application/json`), as rusk's data drivers are.
//!
//! One table per contract ([`TRANSFER_DRIVER`], [`STAKE_DRIVER`]) names each
//! function's input and output [`Shape`] and each event's payload shape;
//! encoding, decoding and the schema (`get_schema`) all read the same table,
//! so they cannot disagree. The binary layouts are the demo chain's own
//! (fixed-size, integers little-endian; docs/demo-chain.md §4 and §5), not
//! rkyv: the demo contracts are not wasm, and these are the bytes their
//! queries take and return.
//!
//! JSON conventions follow rusk's drivers: an account is the base58 of its
//! 32 bytes, as Dusk writes account keys; a `u64` is a decimal string on
//! output (JSON numbers lose precision past 2⁵³ in JavaScript), and either a
//! number or a decimal string on input; a function that takes nothing takes
//! `null`.

use serde_json::{Map, Value, json};

use crate::contracts::{STAKE_CONTRACT, TRANSFER_CONTRACT, topics};
use crate::id::{ContractId, Id};

/// The drivers' interface version, answered by `get_version`.
pub const VERSION: &str = "0.1.0";

/// One value's type in a binary layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ty {
    /// 32 bytes; JSON: base58 string.
    Account,
    /// 32 bytes (a transaction id, a block hash); JSON: 64 lowercase hex
    /// characters.
    Id,
    /// 8 bytes little-endian; JSON: decimal string (a number on input too).
    U64,
    /// 1 byte; JSON: number.
    U8,
}

impl Ty {
    /// Bytes it takes.
    pub const fn size(self) -> usize {
        match self {
            Self::Account | Self::Id => 32,
            Self::U64 => 8,
            Self::U8 => 1,
        }
    }

    /// Its name in the schema.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Account => "account",
            Self::Id => "id",
            Self::U64 => "u64",
            Self::U8 => "u8",
        }
    }

    /// What a JSON value of it looks like, for the schema and for errors.
    const fn expected(self) -> &'static str {
        match self {
            Self::Account => "an account: base58 of 32 bytes",
            Self::Id => "an id: 64 hexadecimal characters",
            Self::U64 => "an unsigned 64-bit integer: a number or a decimal string",
            Self::U8 => "an integer from 0 to 255",
        }
    }

    fn decode(self, bytes: &[u8]) -> Value {
        match self {
            Self::Account => Value::String(crate::bs58::encode(bytes)),
            Self::Id => Value::String(hex::encode(bytes)),
            Self::U64 => {
                let mut le = [0u8; 8];
                le.copy_from_slice(bytes);
                Value::String(u64::from_le_bytes(le).to_string())
            }
            Self::U8 => Value::from(bytes[0]),
        }
    }

    fn encode(self, value: &Value, out: &mut Vec<u8>) -> Option<()> {
        match self {
            Self::Account => {
                let bytes: [u8; 32] = crate::bs58::decode(value.as_str()?)?;
                out.extend_from_slice(&bytes);
            }
            Self::Id => out.extend_from_slice(Id::parse(value.as_str()?).ok()?.as_bytes()),
            Self::U64 => out.extend_from_slice(&u64_of(value)?.to_le_bytes()),
            Self::U8 => out.push(u8::try_from(u64_of(value)?).ok()?),
        }
        Some(())
    }
}

/// A JSON number or decimal string as a `u64`.
fn u64_of(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        // At most 20 digits: every u64, and no unbounded parsing.
        Value::String(s) if s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        _ => None,
    }
}

/// A named field of a [`Shape::Record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Its JSON key.
    pub name: &'static str,
    /// Its type.
    pub ty: Ty,
}

const fn field(name: &'static str, ty: Ty) -> Field {
    Field { name, ty }
}

/// The binary layout of a function's input or output, or of an event's
/// payload, and its JSON form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Shape {
    /// No bytes; JSON `null`.
    Unit,
    /// One value, bare in JSON (a string or a number).
    Value(Ty),
    /// Fields one after the other, no padding; JSON: an object with exactly
    /// these keys.
    Record(&'static [Field]),
}

impl Shape {
    /// Bytes it takes: every shape has a fixed size.
    pub fn size(&self) -> usize {
        match self {
            Self::Unit => 0,
            Self::Value(ty) => ty.size(),
            Self::Record(fields) => fields.iter().map(|f| f.ty.size()).sum(),
        }
    }

    /// `bytes` as JSON; `what` names them in the error.
    pub fn decode(&self, what: &str, bytes: &[u8]) -> Result<Value, DriverError> {
        if bytes.len() != self.size() {
            return Err(DriverError::BadLength {
                what: what.to_owned(),
                expected: self.size(),
                got: bytes.len(),
            });
        }
        Ok(match self {
            Self::Unit => Value::Null,
            Self::Value(ty) => ty.decode(bytes),
            Self::Record(fields) => {
                let mut object = Map::new();
                let mut at = 0;
                for f in *fields {
                    let end = at + f.ty.size();
                    object.insert(f.name.to_owned(), f.ty.decode(&bytes[at..end]));
                    at = end;
                }
                Value::Object(object)
            }
        })
    }

    /// `value` in this layout; `what` names it in the error.
    pub fn encode(&self, what: &str, value: &Value) -> Result<Vec<u8>, DriverError> {
        let mut out = Vec::with_capacity(self.size());
        let bad = |expected: String| DriverError::BadValue {
            what: what.to_owned(),
            expected,
        };
        match self {
            Self::Unit => {
                if !value.is_null() {
                    return Err(bad("null (it takes no arguments)".to_owned()));
                }
            }
            Self::Value(ty) => ty
                .encode(value, &mut out)
                .ok_or_else(|| bad(ty.expected().to_owned()))?,
            Self::Record(fields) => {
                let keys: Vec<&str> = fields.iter().map(|f| f.name).collect();
                let object = value
                    .as_object()
                    .ok_or_else(|| bad(format!("an object with the keys {}", keys.join(", "))))?;
                if let Some(extra) = object.keys().find(|k| !keys.contains(&k.as_str())) {
                    return Err(bad(format!(
                        "no key {} (the keys are {})",
                        rues_core::quote(extra),
                        keys.join(", ")
                    )));
                }
                for f in *fields {
                    let value = object
                        .get(f.name)
                        .ok_or_else(|| bad(format!("the key `{}`", f.name)))?;
                    f.ty.encode(value, &mut out)
                        .ok_or_else(|| bad(format!("`{}` to be {}", f.name, f.ty.expected())))?;
                }
            }
        }
        Ok(out)
    }

    /// The shape as the schema shows it.
    pub fn schema(&self) -> Value {
        match self {
            Self::Unit => json!({"type": "unit", "size": 0}),
            Self::Value(ty) => json!({"type": ty.name(), "size": ty.size()}),
            Self::Record(fields) => {
                let mut at = 0;
                let list: Vec<Value> = fields
                    .iter()
                    .map(|f| {
                        let entry = json!({
                            "name": f.name, "type": f.ty.name(),
                            "offset": at, "size": f.ty.size(),
                        });
                        at += f.ty.size();
                        entry
                    })
                    .collect();
                json!({"type": "record", "size": self.size(), "fields": list})
            }
        }
    }
}

/// One function of a demo contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Function {
    /// Its name (`contracts:<id>/<name>`).
    pub name: &'static str,
    /// What it takes.
    pub input: Shape,
    /// What it returns; for a feeder, the layout of one record of the stream.
    pub output: Shape,
    /// A feeder query: called with `Rusk-Feeder`, it streams records.
    pub feeder: bool,
}

const fn function(name: &'static str, input: Shape, output: Shape) -> Function {
    Function {
        name,
        input,
        output,
        feeder: false,
    }
}

const fn feeder(name: &'static str, input: Shape, output: Shape) -> Function {
    Function {
        name,
        input,
        output,
        feeder: true,
    }
}

/// One event a demo contract emits (`contracts:<id>/<name>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventType {
    /// Its topic.
    pub name: &'static str,
    /// Its payload.
    pub payload: Shape,
}

/// A demo contract's data driver: its functions and events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Driver {
    /// The contract.
    pub contract: ContractId,
    /// Its name in the schema.
    pub name: &'static str,
    /// Its functions.
    pub functions: &'static [Function],
    /// Its events.
    pub events: &'static [EventType],
}

const ACCOUNT: Shape = Shape::Value(Ty::Account);
const U64: Shape = Shape::Value(Ty::U64);

/// `account`'s reply (16 bytes).
const ACCOUNT_DATA: Shape = Shape::Record(&[field("balance", Ty::U64), field("nonce", Ty::U64)]);

/// `get_stake`'s reply (24 bytes; zeros when no stake).
const STAKE_DATA: Shape = Shape::Record(&[
    field("amount", Ty::U64),
    field("reward", Ty::U64),
    field("eligibility", Ty::U64),
]);

/// One record of `leaves_from_height` (112 bytes): a successful moonlight
/// transfer, with where it happened; the last 72 bytes are its `moonlight`
/// event payload.
pub const TRANSFER_RECORD: Shape = Shape::Record(&[
    field("block_height", Ty::U64),
    field("tx_id", Ty::Id),
    field("sender", Ty::Account),
    field("receiver", Ty::Account),
    field("value", Ty::U64),
]);

/// One record of `stakes` (56 bytes).
pub const STAKE_RECORD: Shape = Shape::Record(&[
    field("account", Ty::Account),
    field("amount", Ty::U64),
    field("reward", Ty::U64),
    field("eligibility", Ty::U64),
]);

/// The transfer contract `0100…00`.
pub const TRANSFER_DRIVER: Driver = Driver {
    contract: TRANSFER_CONTRACT,
    name: "transfer",
    functions: &[
        function("balance", ACCOUNT, U64),
        function("account", ACCOUNT, ACCOUNT_DATA),
        function("chain_id", Shape::Unit, Shape::Value(Ty::U8)),
        feeder("leaves_from_height", U64, TRANSFER_RECORD),
    ],
    events: &[EventType {
        name: topics::MOONLIGHT,
        payload: Shape::Record(&[
            field("sender", Ty::Account),
            field("receiver", Ty::Account),
            field("value", Ty::U64),
        ]),
    }],
};

/// The stake contract `0200…00`.
pub const STAKE_DRIVER: Driver = Driver {
    contract: STAKE_CONTRACT,
    name: "stake",
    functions: &[
        function("get_stake", ACCOUNT, STAKE_DATA),
        function("stake_info", ACCOUNT, STAKE_DATA),
        function("total_stake", Shape::Unit, U64),
        feeder("stakes", Shape::Unit, STAKE_RECORD),
    ],
    events: &[
        EventType {
            name: topics::STAKE,
            payload: Shape::Record(&[
                field("account", Ty::Account),
                field("value", Ty::U64),
                field("total", Ty::U64),
            ]),
        },
        EventType {
            name: topics::REWARD,
            payload: Shape::Record(&[
                field("account", Ty::Account),
                field("reward", Ty::U64),
                field("height", Ty::U64),
            ]),
        },
    ],
};

/// Every driver the demo node has.
pub const DRIVERS: [&Driver; 2] = [&TRANSFER_DRIVER, &STAKE_DRIVER];

/// The driver of `contract`, if it is a demo contract.
pub fn driver(contract: &ContractId) -> Option<&'static Driver> {
    DRIVERS.into_iter().find(|d| d.contract == *contract)
}

/// Why a driver call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// The contract has no such function.
    #[error("contract {contract} has no function {} (it has: {available})", rues_core::quote(.function))]
    UnknownFunction {
        /// The contract.
        contract: ContractId,
        /// The function asked for.
        function: String,
        /// Its functions, comma-separated.
        available: String,
    },
    /// The contract emits no such event.
    #[error("contract {contract} emits no event {} (it has: {available})", rues_core::quote(.event))]
    UnknownEvent {
        /// The contract.
        contract: ContractId,
        /// The event asked for.
        event: String,
        /// Its events, comma-separated.
        available: String,
    },
    /// Bytes of the wrong length for the layout.
    #[error("{what} is {expected} bytes, got {got}")]
    BadLength {
        /// What was decoded.
        what: String,
        /// The layout's size.
        expected: usize,
        /// The length received.
        got: usize,
    },
    /// Text that is not JSON.
    #[error("{what} must be JSON: {reason}")]
    NotJson {
        /// What was encoded.
        what: String,
        /// The parser's reason (it names a position, never the text).
        reason: String,
    },
    /// JSON of the wrong shape.
    #[error("{what}: expected {expected}")]
    BadValue {
        /// What was encoded.
        what: String,
        /// What it should have been.
        expected: String,
    },
}

impl DriverError {
    /// Whether the error names something that does not exist (404), rather
    /// than input that cannot be processed (422).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Self::UnknownFunction { .. } | Self::UnknownEvent { .. }
        )
    }
}

impl Driver {
    /// The function `name`.
    pub fn function(&self, name: &str) -> Result<&'static Function, DriverError> {
        self.functions
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| DriverError::UnknownFunction {
                contract: self.contract,
                function: name.to_owned(),
                available: names(self.functions.iter().map(|f| f.name)),
            })
    }

    /// The event `name`.
    pub fn event(&self, name: &str) -> Result<&'static EventType, DriverError> {
        self.events
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| DriverError::UnknownEvent {
                contract: self.contract,
                event: name.to_owned(),
                available: names(self.events.iter().map(|e| e.name)),
            })
    }

    /// `encode_input_fn`: the JSON text of `function`'s input as bytes. An
    /// empty (or blank) text is `null`.
    pub fn encode_input(&self, function: &str, json: &str) -> Result<Vec<u8>, DriverError> {
        let f = self.function(function)?;
        let what = format!("the input of `{}`", f.name);
        let value = if json.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(json).map_err(|e| DriverError::NotJson {
                what: what.clone(),
                reason: e.to_string(),
            })?
        };
        f.input.encode(&what, &value)
    }

    /// `decode_input_fn`: `function`'s input bytes as JSON.
    pub fn decode_input(&self, function: &str, bytes: &[u8]) -> Result<Value, DriverError> {
        let f = self.function(function)?;
        f.input.decode(&format!("the input of `{}`", f.name), bytes)
    }

    /// `decode_output_fn`: `function`'s output bytes (for a feeder, one
    /// record) as JSON.
    pub fn decode_output(&self, function: &str, bytes: &[u8]) -> Result<Value, DriverError> {
        let f = self.function(function)?;
        let what = if f.feeder {
            format!("a record of `{}`", f.name)
        } else {
            format!("the output of `{}`", f.name)
        };
        f.output.decode(&what, bytes)
    }

    /// `decode_event`: an event's payload as JSON.
    pub fn decode_event(&self, event: &str, bytes: &[u8]) -> Result<Value, DriverError> {
        let e = self.event(event)?;
        e.payload
            .decode(&format!("the payload of `{}`", e.name), bytes)
    }

    /// `get_schema`: every function and event with its layout, as JSON.
    pub fn schema(&self) -> Value {
        let functions: Vec<Value> = self
            .functions
            .iter()
            .map(|f| {
                json!({
                    "name": f.name, "feeder": f.feeder,
                    "input": f.input.schema(), "output": f.output.schema(),
                })
            })
            .collect();
        let events: Vec<Value> = self
            .events
            .iter()
            .map(|e| json!({"name": e.name, "payload": e.payload.schema()}))
            .collect();
        let types: Map<String, Value> = [Ty::Account, Ty::Id, Ty::U64, Ty::U8]
            .into_iter()
            .map(|ty| {
                let doc = json!({"size": ty.size(), "json": ty.expected()});
                (ty.name().to_owned(), doc)
            })
            .collect();
        json!({
            "contract": self.contract,
            "name": self.name,
            "version": VERSION,
            "encoding": "fixed-size layouts, fields one after the other, integers little-endian",
            "types": types,
            "functions": functions,
            "events": events,
        })
    }
}

fn names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts::{moonlight_event, reward_event, stake_event};
    use proptest::prelude::*;

    fn account(byte: u8) -> Id {
        Id::from_bytes([byte; 32])
    }

    #[test]
    fn every_shape_in_the_tables_has_its_documented_size() {
        let sizes: Vec<(&str, usize, usize)> = DRIVERS
            .iter()
            .flat_map(|d| d.functions)
            .map(|f| (f.name, f.input.size(), f.output.size()))
            .collect();
        assert_eq!(
            sizes,
            [
                ("balance", 32, 8),
                ("account", 32, 16),
                ("chain_id", 0, 1),
                ("leaves_from_height", 8, 112),
                ("get_stake", 32, 24),
                ("stake_info", 32, 24),
                ("total_stake", 0, 8),
                ("stakes", 0, 56),
            ]
        );
    }

    #[test]
    fn events_decode_what_the_chain_emits() {
        let (a, b) = (account(1), account(2));
        let a58 = crate::bs58::encode(a.as_bytes());
        let b58 = crate::bs58::encode(b.as_bytes());
        let moonlight = TRANSFER_DRIVER
            .decode_event("moonlight", &moonlight_event(&a, &b, 7))
            .expect("decodes");
        assert_eq!(
            moonlight,
            json!({"sender": a58, "receiver": b58, "value": "7"})
        );
        let stake = STAKE_DRIVER
            .decode_event("stake", &stake_event(&a, 5, 9))
            .expect("decodes");
        assert_eq!(stake, json!({"account": a58, "value": "5", "total": "9"}));
        let reward = STAKE_DRIVER
            .decode_event("reward", &reward_event(&b, 11, 3))
            .expect("decodes");
        assert_eq!(
            reward,
            json!({"account": b58, "reward": "11", "height": "3"})
        );
    }

    #[test]
    fn encode_input_takes_numbers_or_strings_and_null_for_nothing() {
        let height = TRANSFER_DRIVER
            .encode_input("leaves_from_height", "5")
            .expect("a number");
        assert_eq!(height, 5u64.to_le_bytes());
        let same = TRANSFER_DRIVER
            .encode_input("leaves_from_height", "\"5\"")
            .expect("a string");
        assert_eq!(same, height);
        assert_eq!(STAKE_DRIVER.encode_input("total_stake", "null"), Ok(vec![]));
        assert_eq!(STAKE_DRIVER.encode_input("total_stake", " "), Ok(vec![]));
        let a = account(3);
        let input = format!("\"{}\"", crate::bs58::encode(a.as_bytes()));
        assert_eq!(
            TRANSFER_DRIVER.encode_input("balance", &input),
            Ok(a.as_bytes().to_vec())
        );
    }

    #[test]
    fn bad_input_is_refused_with_a_reason_that_does_not_echo_it() {
        let cases = [
            ("balance", "{", "must be JSON"),
            ("balance", "\"0OIl-secret\"", "an account"),
            ("balance", "12", "an account"),
            ("leaves_from_height", "-1", "unsigned 64-bit"),
            (
                "leaves_from_height",
                "\"18446744073709551616\"",
                "unsigned 64-bit",
            ),
            ("leaves_from_height", "1.5", "unsigned 64-bit"),
            ("chain_id", "1", "null"),
        ];
        for (function, json, needle) in cases {
            let error = TRANSFER_DRIVER
                .encode_input(function, json)
                .expect_err(json)
                .to_string();
            assert!(error.contains(needle), "{json}: {error}");
            assert!(!error.contains("secret"), "{error}");
        }
        let error = STAKE_DRIVER
            .encode_input("get_stake", "{\"secret\": 1}")
            .expect_err("an object is not an account")
            .to_string();
        assert!(!error.contains("secret"), "{error}");
    }

    #[test]
    fn records_need_exactly_their_keys() {
        let shape = TRANSFER_RECORD;
        let a58 = crate::bs58::encode(account(1).as_bytes());
        let id = account(9).to_string();
        let good = json!({"block_height": 1, "tx_id": id, "sender": a58,
            "receiver": a58, "value": "2"});
        assert_eq!(shape.encode("r", &good).map(|b| b.len()), Ok(112));
        let mut missing = good.clone();
        missing.as_object_mut().map(|o| o.remove("value"));
        let error = shape
            .encode("r", &missing)
            .expect_err("missing")
            .to_string();
        assert!(error.contains("`value`"), "{error}");
        let mut extra = good;
        extra
            .as_object_mut()
            .map(|o| o.insert("x".into(), json!(1)));
        let error = shape.encode("r", &extra).expect_err("extra").to_string();
        assert!(error.contains("no key"), "{error}");
    }

    #[test]
    fn wrong_lengths_and_unknown_names_are_errors() {
        let error = TRANSFER_DRIVER
            .decode_output("balance", &[1, 2, 3])
            .expect_err("3 bytes");
        assert_eq!(
            error.to_string(),
            "the output of `balance` is 8 bytes, got 3"
        );
        assert!(!error.is_not_found());
        let error = TRANSFER_DRIVER
            .decode_input("nope", &[])
            .expect_err("unknown");
        assert!(error.is_not_found());
        assert!(error.to_string().contains("leaves_from_height"), "{error}");
        let error = STAKE_DRIVER.decode_event("moonlight", &[]).expect_err("");
        assert!(error.is_not_found());
        assert!(error.to_string().contains("stake, reward"), "{error}");
    }

    #[test]
    fn schema_lists_every_function_and_event_with_offsets() {
        let schema = TRANSFER_DRIVER.schema();
        assert_eq!(schema["contract"], json!(TRANSFER_CONTRACT));
        let names: Vec<&str> = schema["functions"]
            .as_array()
            .expect("a list")
            .iter()
            .filter_map(|f| f["name"].as_str())
            .collect();
        assert_eq!(
            names,
            ["balance", "account", "chain_id", "leaves_from_height"]
        );
        let record = &schema["functions"][3]["output"];
        assert_eq!(record["size"], 112);
        assert_eq!(
            record["fields"][4],
            json!({"name": "value", "type": "u64", "offset": 104, "size": 8})
        );
        assert_eq!(schema["events"][0]["payload"]["size"], 72);
    }

    fn every_shape() -> Vec<(String, Shape)> {
        let mut shapes = Vec::new();
        for d in DRIVERS {
            for f in d.functions {
                shapes.push((format!("{}.{} input", d.name, f.name), f.input));
                shapes.push((format!("{}.{} output", d.name, f.name), f.output));
            }
            for e in d.events {
                shapes.push((format!("{}.{} event", d.name, e.name), e.payload));
            }
        }
        shapes
    }

    proptest! {
        /// Every byte string of a shape's size decodes, and encoding the
        /// JSON gives the same bytes back; and the JSON survives text.
        #[test]
        fn every_layout_round_trips(seed in proptest::collection::vec(any::<u8>(), 112)) {
            for (what, shape) in every_shape() {
                let bytes = &seed[..shape.size()];
                let value = shape.decode(&what, bytes).expect("every pattern decodes");
                let text = value.to_string();
                let reparsed: Value = serde_json::from_str(&text).expect("JSON");
                prop_assert_eq!(shape.encode(&what, &reparsed), Ok(bytes.to_vec()), "{}", what);
            }
        }

        /// Any text given to any function's encoder is an answer, never a panic.
        #[test]
        fn encode_input_never_panics(text in "\\PC{0,64}") {
            for d in DRIVERS {
                for f in d.functions {
                    let _ = d.encode_input(f.name, &text);
                }
            }
        }

        /// Any bytes given to any decoder are an answer, never a panic.
        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..130)) {
            for d in DRIVERS {
                for f in d.functions {
                    let _ = d.decode_input(f.name, &bytes);
                    let _ = d.decode_output(f.name, &bytes);
                }
                for e in d.events {
                    let _ = d.decode_event(e.name, &bytes);
                }
            }
        }
    }
}
