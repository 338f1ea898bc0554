//! The data-driven vectors of `testdata/paths.txt`, run through [`check`].

use std::collections::BTreeSet;

use rues_target::EventPath;

const PATH_VECTORS: &str = include_str!("../../testdata/paths.txt");

/// Every `Error` variant; the vectors must reach each of them.
const ERROR_VARIANTS: [&str; 10] = [
    "NotAnEventPath",
    "PathTooLong",
    "MissingTopic",
    "TooManySegments",
    "Empty",
    "InvalidComponentChar",
    "ForbiddenChar",
    "InvalidPercentEncoding",
    "InvalidUtf8",
    "TooLong",
];

/// One vector: the line it came from and its expanded input and expectation.
struct Vector {
    line_number: usize,
    input: String,
    expected: String,
}

fn vectors() -> Vec<Vector> {
    PATH_VECTORS
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
        .map(|(index, line)| {
            let (input, expected) = line
                .split_once("=>")
                .unwrap_or_else(|| panic!("line {}: no `=>` in {line:?}", index + 1));
            let expected = expected.trim();
            Vector {
                line_number: index + 1,
                input: expand(input.trim()),
                // An error's Debug form already spells characters as escapes.
                expected: if expected.starts_with("ok ") {
                    expand(expected)
                } else {
                    expected.to_owned()
                },
            }
        })
        .collect()
}

/// Expands the vector file's escapes (`\s`, `\t`, `\n`, `\r`, `\0`, `\\`,
/// `\u{XXXX}`) and repetitions (`${unit*N}`).
fn expand(text: &str) -> String {
    let mut expanded = String::new();
    let mut rest = text;
    while let Some(ch) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("${") {
            // The unit may hold `\u{..}`, so the repetition ends at the
            // first `*<digits>}`, not at the first `}`.
            let (unit, count, after) = split_repetition(after).expect("malformed ${unit*N}");
            expanded.push_str(&expand(unit).repeat(count));
            rest = after;
        } else if let Some(after) = rest.strip_prefix("\\u{") {
            let (hex, after) = after.split_once('}').expect("unclosed \\u{");
            let code = u32::from_str_radix(hex, 16).expect("hex code point");
            expanded.push(char::from_u32(code).expect("a char"));
            rest = after;
        } else if let Some(after) = rest.strip_prefix('\\') {
            let escaped = after.chars().next().expect("dangling backslash");
            expanded.push(match escaped {
                's' => ' ',
                't' => '\t',
                'n' => '\n',
                'r' => '\r',
                '0' => '\0',
                '\\' => '\\',
                other => panic!("unknown escape \\{other}"),
            });
            rest = &after[escaped.len_utf8()..];
        } else {
            expanded.push(ch);
            rest = &rest[ch.len_utf8()..];
        }
    }
    expanded
}

/// Splits `unit*N}rest` into `unit`, `N` and `rest`.
fn split_repetition(text: &str) -> Option<(&str, usize, &str)> {
    text.match_indices('*').find_map(|(star, _)| {
        let (count, rest) = text[star + 1..].split_once('}')?;
        Some((&text[..star], count.parse().ok()?, rest))
    })
}

/// Parses `input` and compares the outcome with `expected`:
/// `ok <canonical display>` or `err <Debug of the error>`.
///
/// An accepted path must also display canonically: its display parses back
/// to the same value and displays the same again.
fn check(input: &str, expected: &str) -> Result<(), String> {
    let outcome = EventPath::parse(input);
    match (&outcome, expected.split_once(' ').unwrap_or((expected, ""))) {
        (Ok(path), ("ok", canonical)) => {
            let displayed = path.to_string();
            if displayed != canonical {
                return Err(format!("displays as {displayed:?}, expected {canonical:?}"));
            }
            match EventPath::parse(&displayed) {
                Ok(reparsed) if reparsed == *path => Ok(()),
                other => Err(format!("display {displayed:?} parses back as {other:?}")),
            }
        }
        (Err(error), ("err", expected_error)) => {
            let actual = format!("{error:?}");
            if actual != expected_error {
                return Err(format!("fails with {actual}, expected {expected_error}"));
            }
            if error.to_string().is_empty() {
                return Err(format!("{actual} has an empty message"));
            }
            Ok(())
        }
        _ => Err(format!("parses as {outcome:?}, expected {expected}")),
    }
}

#[test]
fn every_path_vector_holds() {
    let failures: Vec<String> = vectors()
        .iter()
        .filter_map(|vector| {
            check(&vector.input, &vector.expected)
                .err()
                .map(|reason| format!("line {}: {:?}: {reason}", vector.line_number, vector.input))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn path_vectors_reach_every_error_variant() {
    let reached: BTreeSet<String> = vectors()
        .iter()
        .filter_map(|vector| vector.expected.strip_prefix("err "))
        .map(|error| {
            let end = error.find([' ', '{']).unwrap_or(error.len());
            error[..end].to_owned()
        })
        .collect();
    let all: BTreeSet<String> = ERROR_VARIANTS.iter().map(|&name| name.to_owned()).collect();
    assert_eq!(reached, all);
}

#[test]
fn path_vectors_are_plentiful_and_well_formed() {
    let vectors = vectors();
    assert!(vectors.len() >= 80, "only {} vectors", vectors.len());
    for vector in &vectors {
        assert!(
            vector.expected.starts_with("ok ") || vector.expected.starts_with("err "),
            "line {}: expectation must start with `ok ` or `err `",
            vector.line_number
        );
    }
}

#[test]
fn expand_handles_escapes_and_repetitions() {
    assert_eq!(expand(r"a\sb\t\\\u{e9}"), "a b\t\\\u{e9}");
    assert_eq!(expand("${%41*3}x${\\u{e9}*2}"), "%41%41%41x\u{e9}\u{e9}");
}
