//! The data-driven vectors of `testdata/`, run through one `check` helper per
//! operation. `testdata/README.md` describes the format.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::path::Path;

use rues_wire::{Bytes, Frame, Headers, Limits};

/// One vector: its name, where it starts, its given lines and what it expects.
struct Vector {
    name: String,
    location: String,
    given: Vec<(String, String)>,
    expected: Expected,
}

/// What a vector expects.
enum Expected {
    /// Success, described by the lines after `=> ok`.
    Ok(Vec<(String, String)>),
    /// The error variant named, and optionally its exact `Display`.
    Error {
        variant: String,
        display: Option<String>,
    },
}

fn read_vectors(file: &str) -> Vec<Vector> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    let mut vectors = Vec::new();
    let mut current: Option<(Vector, bool)> = None; // (vector, past `=>`)
    for (index, line) in text.lines().enumerate() {
        let location = format!("{file}:{}", index + 1);
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix("== ") {
            vectors.extend(current.take().map(|(vector, _)| vector));
            current = Some((
                Vector {
                    name: name.trim().to_owned(),
                    location,
                    given: Vec::new(),
                    expected: Expected::Ok(Vec::new()),
                },
                false,
            ));
            continue;
        }
        let (vector, past_arrow) = current
            .as_mut()
            .unwrap_or_else(|| panic!("{location}: a line before the first `== name`"));
        if let Some(outcome) = line.strip_prefix("=> ") {
            assert!(!*past_arrow, "{location}: a second `=>`");
            *past_arrow = true;
            vector.expected = match outcome.strip_prefix("error ") {
                Some(variant) => Expected::Error {
                    variant: variant.trim().to_owned(),
                    display: None,
                },
                None if outcome.trim() == "ok" => Expected::Ok(Vec::new()),
                None => panic!("{location}: expected `=> ok` or `=> error Variant`"),
            };
            continue;
        }
        let (keyword, argument) = line.split_once(' ').unwrap_or((line, ""));
        let pair = (keyword.to_owned(), argument.to_owned());
        match (&mut vector.expected, *past_arrow) {
            (_, false) => vector.given.push(pair),
            (Expected::Ok(lines), true) => lines.push(pair),
            (Expected::Error { display, .. }, true) if keyword == "display" => {
                *display = Some(argument.to_owned());
            }
            (Expected::Error { .. }, true) => panic!("{location}: only `display` follows an error"),
        }
    }
    vectors.extend(current.map(|(vector, _)| vector));
    assert!(!vectors.is_empty(), "{file} has no vectors");
    vectors
}

fn hex(text: &str, location: &str) -> Vec<u8> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|byte| !byte.is_ascii_whitespace())
        .collect();
    assert!(
        digits.len() % 2 == 0,
        "{location}: odd number of hex digits"
    );
    digits
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).expect("ASCII digits");
            u8::from_str_radix(pair, 16)
                .unwrap_or_else(|_| panic!("{location}: {pair:?} is not hex"))
        })
        .collect()
}

/// Resolves `\\`, `\n`, `\r`, `\t` and `\u{XX}`.
fn unescape(text: &str, location: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('u') => {
                let rest = chars.as_str();
                let (code, tail) = rest
                    .strip_prefix('{')
                    .and_then(|rest| rest.split_once('}'))
                    .unwrap_or_else(|| panic!("{location}: bad \\u{{..}} escape"));
                let code = u32::from_str_radix(code, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or_else(|| panic!("{location}: bad \\u{{{code}}}"));
                out.push(code);
                chars = tail.chars();
            }
            other => panic!("{location}: unknown escape \\{other:?}"),
        }
    }
    out
}

fn header_pair(argument: &str, location: &str) -> (String, String) {
    let (name, value) = argument.split_once(' ').unwrap_or((argument, ""));
    (unescape(name, location), unescape(value, location))
}

fn payload_of(keyword: &str, argument: &str, location: &str) -> Option<Vec<u8>> {
    match keyword {
        "payload-hex" => Some(hex(argument, location)),
        "payload-text" => Some(unescape(argument, location).into_bytes()),
        _ => None,
    }
}

fn limits_of(vector: &Vector) -> Limits {
    vector
        .given
        .iter()
        .find(|(keyword, _)| keyword == "limit")
        .map_or_else(Limits::default, |(_, n)| {
            Limits::new(n.trim().parse().expect("limit is a number"))
        })
}

/// The variant name of an error: its `Debug` up to the first non-identifier character.
fn variant_name(error: &impl Debug) -> String {
    format!("{error:?}")
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect()
}

fn check_error<E: Debug + std::fmt::Display>(
    error: &E,
    variant: &str,
    display: Option<&str>,
) -> Result<(), String> {
    if variant_name(error) != variant {
        return Err(format!("expected {variant}, got {error:?}"));
    }
    match display {
        Some(display) if error.to_string() != display => Err(format!(
            "expected Display {display:?}, got {:?}",
            error.to_string()
        )),
        _ => Ok(()),
    }
}

/// Decodes `input` and compares the outcome with `expected`; on success, also
/// checks that the frame re-encodes to a message that decodes to itself.
fn check(
    input: &Bytes,
    limits: &Limits,
    expected: &Expected,
    location: &str,
) -> Result<(), String> {
    let outcome = Frame::decode_with(input, limits);
    match (expected, outcome) {
        (Expected::Ok(lines), Ok(frame)) => {
            let mut headers = Vec::new();
            let mut payload = Vec::new();
            for (keyword, argument) in lines {
                if keyword == "header" {
                    headers.push(header_pair(argument, location));
                } else if let Some(bytes) = payload_of(keyword, argument, location) {
                    payload = bytes;
                } else {
                    panic!("{location}: unknown expectation {keyword:?}");
                }
            }
            let decoded: Vec<(String, String)> = frame
                .headers()
                .iter()
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect();
            if decoded != headers {
                return Err(format!("expected headers {headers:?}, got {decoded:?}"));
            }
            if frame.payload()[..] != payload[..] {
                return Err(format!(
                    "expected payload {payload:02x?}, got {:02x?}",
                    frame.payload()
                ));
            }
            let again = frame
                .encode_with(limits)
                .map_err(|error| format!("re-encoding failed: {error}"))?;
            if Frame::decode_with(&again, limits).as_ref() != Ok(&frame) {
                return Err("re-encoded frame decodes differently".to_owned());
            }
            Ok(())
        }
        (Expected::Ok(_), Err(error)) => Err(format!("expected Ok, got {error:?}")),
        (Expected::Error { variant, display }, Err(error)) => {
            check_error(&error, variant, display.as_deref())
        }
        (Expected::Error { variant, .. }, Ok(frame)) => {
            Err(format!("expected {variant}, got Ok({frame:?})"))
        }
    }
}

/// Encodes the frame built from `given` and compares the outcome with `expected`.
fn check_encode(
    frame: &Frame,
    limits: &Limits,
    expected: &Expected,
    location: &str,
) -> Result<(), String> {
    match (expected, frame.encode_with(limits)) {
        (Expected::Ok(lines), Ok(message)) => {
            let mut want = Vec::new();
            for (keyword, argument) in lines {
                assert_eq!(keyword, "hex", "{location}: encode expects `hex` lines");
                want.extend(hex(argument, location));
            }
            if message[..] != want[..] {
                return Err(format!(
                    "expected {want:02x?}\n     got {:02x?}",
                    &message[..]
                ));
            }
            if frame.encoded_len() != message.len() {
                return Err(format!(
                    "encoded_len {} but encode wrote {}",
                    frame.encoded_len(),
                    message.len()
                ));
            }
            Ok(())
        }
        (Expected::Ok(_), Err(error)) => Err(format!("expected Ok, got {error:?}")),
        (Expected::Error { variant, display }, Err(error)) => {
            check_error(&error, variant, display.as_deref())
        }
        (Expected::Error { variant, .. }, Ok(message)) => {
            Err(format!("expected {variant}, got {:02x?}", &message[..]))
        }
    }
}

fn decode_input(vector: &Vector) -> Bytes {
    let mut input = Vec::new();
    for (keyword, argument) in &vector.given {
        match keyword.as_str() {
            "hex" => input.extend(hex(argument, &vector.location)),
            "text" => input.extend_from_slice(argument.as_bytes()),
            "header-json" => {
                let len = u32::try_from(argument.len()).expect("small test header");
                input.extend_from_slice(&len.to_le_bytes());
                input.extend_from_slice(argument.as_bytes());
            }
            "limit" => {}
            other => panic!("{}: unknown decode input {other:?}", vector.location),
        }
    }
    Bytes::from(input)
}

fn encode_frame(vector: &Vector) -> Frame {
    let mut headers = Headers::new();
    let mut payload = Vec::new();
    for (keyword, argument) in &vector.given {
        if keyword == "header" {
            let (name, value) = header_pair(argument, &vector.location);
            assert!(
                !headers.contains(&name),
                "{}: {name:?} twice",
                vector.location
            );
            headers.insert(name, value);
        } else if let Some(bytes) = payload_of(keyword, argument, &vector.location) {
            payload = bytes;
        } else {
            assert_eq!(
                keyword, "limit",
                "{}: unknown encode input",
                vector.location
            );
        }
    }
    Frame::from_parts(headers, Bytes::from(payload))
}

/// Runs every vector of `file`, reporting all failures at once; returns the
/// error variants the vectors reached.
fn run(file: &str, one: impl Fn(&Vector) -> Result<(), String>) -> BTreeSet<String> {
    let vectors = read_vectors(file);
    let failures: Vec<String> = vectors
        .iter()
        .filter_map(|vector| {
            one(vector)
                .err()
                .map(|why| format!("{} ({}): {why}", vector.name, vector.location))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} failing vectors:\n{}",
        failures.len(),
        failures.join("\n")
    );
    vectors
        .iter()
        .filter_map(|vector| match &vector.expected {
            Expected::Error { variant, .. } => Some(variant.clone()),
            Expected::Ok(_) => None,
        })
        .collect()
}

fn run_decode(file: &str) -> BTreeSet<String> {
    run(file, |vector| {
        check(
            &decode_input(vector),
            &limits_of(vector),
            &vector.expected,
            &vector.location,
        )
    })
}

fn run_encode() -> BTreeSet<String> {
    run("encode.txt", |vector| {
        check_encode(
            &encode_frame(vector),
            &limits_of(vector),
            &vector.expected,
            &vector.location,
        )
    })
}

#[test]
fn decode_accepts_valid_vectors() {
    let reached = run_decode("decode_ok.txt");
    assert!(
        reached.is_empty(),
        "decode_ok.txt expects errors: {reached:?}"
    );
}

#[test]
fn decode_rejects_invalid_vectors_with_the_named_error() {
    run_decode("decode_err.txt");
}

#[test]
fn encode_matches_vectors() {
    run_encode();
}

/// Every error variant, as named in the vectors. A variant added to
/// `DecodeError` or `EncodeError` must be added here and given a vector
/// (`src/error.rs` has an exhaustive match that points here).
const DECODE_VARIANTS: [&str; 10] = [
    "TooShort",
    "HeaderTooLarge",
    "HeaderLenPastEnd",
    "HeaderNotUtf8",
    "HeaderNotJson",
    "HeaderNotObject",
    "HeaderValueNotString",
    "DuplicateHeader",
    "ContentLengthInvalid",
    "ContentLengthMismatch",
];
const ENCODE_VARIANTS: [&str; 3] = [
    "HeaderTooLarge",
    "ContentLengthInvalid",
    "ContentLengthMismatch",
];

#[test]
fn every_error_variant_is_reached_by_a_vector() {
    let decode: Vec<String> = run_decode("decode_err.txt").into_iter().collect();
    assert_eq!(decode, sorted(&DECODE_VARIANTS));
    let encode: Vec<String> = run_encode().into_iter().collect();
    assert_eq!(encode, sorted(&ENCODE_VARIANTS));
}

fn sorted(names: &[&str]) -> Vec<String> {
    let set: BTreeSet<String> = names.iter().map(|&name| name.to_owned()).collect();
    set.into_iter().collect()
}
