//! Our GraphQL schema against rusk's: every type, field and argument of
//! rusk's schema (tests/data/rusk-graphql-schema.txt, extracted from rusk's
//! source) is in our SDL with the same GraphQL type, nullability included.

use std::collections::HashMap;

use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};

const RUSK_SCHEMA: &str = include_str!("../data/rusk-graphql-schema.txt");

/// One field: its arguments (name → type) and its type, as SDL text.
#[derive(Debug, Default)]
struct Field {
    args: Vec<(String, String)>,
    ty: String,
}

/// Our SDL's object types: type → field → [`Field`].
fn our_fields(sdl: &str) -> HashMap<String, HashMap<String, Field>> {
    let document = parse_schema(sdl).expect("our SDL parses");
    let mut types = HashMap::new();
    for definition in document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let TypeKind::Object(object) = &ty.node.kind else {
            continue;
        };
        let fields = object
            .fields
            .iter()
            .map(|f| {
                let args = f
                    .node
                    .arguments
                    .iter()
                    .map(|a| (a.node.name.node.to_string(), a.node.ty.node.to_string()))
                    .collect();
                (
                    f.node.name.node.to_string(),
                    Field {
                        args,
                        ty: f.node.ty.node.to_string(),
                    },
                )
            })
            .collect();
        types.insert(ty.node.name.node.to_string(), fields);
    }
    types
}

/// A line of the data file: `Type.field(arg: T, ...): T`.
fn parse_line(line: &str) -> (String, String, Field) {
    let (head, ty) = line.rsplit_once("): ").map_or_else(
        || line.split_once(": ").expect("`Type.field: T`"),
        |(head, ty)| (head, ty),
    );
    let (path, args) = head.split_once('(').unwrap_or((head, ""));
    let (typename, field) = path.split_once('.').expect("`Type.field`");
    let args = args
        .split(", ")
        .filter(|a| !a.is_empty())
        .map(|a| {
            let (name, ty) = a.split_once(": ").expect("`arg: T`");
            (name.to_owned(), ty.to_owned())
        })
        .collect();
    (
        typename.to_owned(),
        field.to_owned(),
        Field {
            args,
            ty: ty.to_owned(),
        },
    )
}

/// Every difference between rusk's fields and ours, one line each.
fn differences(rusk: &str, sdl: &str) -> Vec<String> {
    let ours = our_fields(sdl);
    let mut problems = Vec::new();
    for line in rusk
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (typename, field, want) = parse_line(line);
        let Some(fields) = ours.get(&typename) else {
            problems.push(format!("{typename}.{field}: type {typename} is missing"));
            continue;
        };
        let Some(have) = fields.get(&field) else {
            problems.push(format!("{typename}.{field}: missing"));
            continue;
        };
        if have.ty != want.ty {
            problems.push(format!(
                "{typename}.{field}: type {} where rusk has {}",
                have.ty, want.ty
            ));
        }
        for (name, ty) in &want.args {
            match have.args.iter().find(|(n, _)| n == name) {
                None => problems.push(format!("{typename}.{field}: argument {name} is missing")),
                Some((_, have)) if have != ty => problems.push(format!(
                    "{typename}.{field}: argument {name} is {have} where rusk has {ty}"
                )),
                Some(_) => {}
            }
        }
        // An argument of ours that rusk lacks must be optional, or rusk's
        // queries would fail on it.
        for (name, ty) in &have.args {
            if ty.ends_with('!') && !want.args.iter().any(|(n, _)| n == name) {
                problems.push(format!(
                    "{typename}.{field}: extra argument {name} is required ({ty})"
                ));
            }
        }
    }
    problems
}

#[test]
fn the_data_names_every_query_field_of_rusk() {
    let query: Vec<&str> = RUSK_SCHEMA
        .lines()
        .filter(|l| l.starts_with("Query."))
        .collect();
    for field in [
        "block",
        "tx",
        "transactions",
        "blockTxs",
        "blocks",
        "mempoolTxs",
        "mempoolTx",
        "lastBlockPair",
        "fullMoonlightHistory",
        "moonlightHistory",
        "transactionsByMemo",
        "contractEvents",
        "finalizedEvents",
        "checkBlock",
        "nextPhoenix",
    ] {
        assert!(
            query
                .iter()
                .any(|l| l.starts_with(&format!("Query.{field}"))),
            "Query.{field} is not in the data"
        );
    }
    assert!(
        RUSK_SCHEMA.contains("264c1ec0f"),
        "the data names its rusk commit"
    );
}

#[test]
fn our_schema_has_every_field_of_rusks_with_its_type() {
    let problems = differences(RUSK_SCHEMA, &rues_demo::graphql_sdl());
    assert!(
        problems.is_empty(),
        "our schema differs from rusk's:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_check_names_a_missing_field_and_a_changed_type() {
    let sdl = rues_demo::graphql_sdl();
    // Without `Query.nextPhoenix` (renamed: its description stays valid
    // SDL), with `Header.height` nullable, and with `checkBlock`'s `hash`
    // argument renamed.
    let broken = sdl
        .replace(
            "\tnextPhoenix(height: Int!): Int\n",
            "\tnextPhoenixGone(height: Int!): Int\n",
        )
        .replace("\theight: Int!\n", "\theight: Int\n")
        .replace(
            "checkBlock(height: Int!, hash: String!",
            "checkBlock(height: Int!, hsh: String!",
        );
    assert_ne!(broken, sdl, "the SDL is laid out as this test expects");
    let problems = differences(RUSK_SCHEMA, &broken);
    for needle in [
        "Query.nextPhoenix: missing",
        "Header.height: type Int where rusk has Int!",
        "Query.checkBlock: argument hash is missing",
        "Query.checkBlock: extra argument hsh is required",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "{needle} not in {problems:#?}"
        );
    }
}
