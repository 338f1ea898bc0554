#!/usr/bin/env python3
"""Extracts rusk's GraphQL schema (types, fields, arguments and their
GraphQL types) from rusk's source, as async-graphql derives it, one line
per field, for tests/it/graphql_schema.rs.

Run against a checkout (or a bare repository) of dusk-network/rusk:

    python3 extract-rusk-graphql.py /path/to/rusk.git 264c1ec0f > rusk-graphql-schema.txt

It reads the `#[Object]` impls and `#[derive(SimpleObject)]` structs of
rusk/src/lib/http/chain/graphql.rs and graphql/**/*.rs (archive feature
included) and applies async-graphql's rules: names in camelCase (or a
`#[graphql(name = ...)]`), `Option<T>` nullable and everything else
non-null, `Vec<T>` and `[T; N]` lists, integers `Int`, `f64` `Float`,
`bool` `Boolean`, `serde_json::Value` and `Json<T>` the `JSON` scalar.
"""

import re
import subprocess
import sys

FILES = [
    "rusk/src/lib/http/chain/graphql.rs",
    "rusk/src/lib/http/chain/graphql/data.rs",
    "rusk/src/lib/http/chain/graphql/archive/data.rs",
]

SCALARS = {
    "u8": "Int", "u16": "Int", "u32": "Int", "u64": "Int", "usize": "Int",
    "i8": "Int", "i16": "Int", "i32": "Int", "i64": "Int", "isize": "Int",
    "f32": "Float", "f64": "Float", "bool": "Boolean", "String": "String",
    "str": "String", "serde_json::Value": "JSON",
}
RENAMES = {"data::Block": "Block"}


def camel(name):
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def split_top(text, sep=","):
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "<([":
            depth += 1
        elif ch in ">)]":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def gql(ty):
    """A Rust type as a GraphQL type, nullability included."""
    ty = ty.strip().lstrip("&").strip()
    ty = re.sub(r"^'_\s*", "", ty)
    m = re.fullmatch(r"(?:FieldResult|async_graphql::Result)<(.*)>", ty)
    if m:
        return gql(m.group(1))
    m = re.fullmatch(r"OptResult<(.*)>", ty)
    if m:
        return nullable(gql(m.group(1)))
    m = re.fullmatch(r"Option<(.*)>", ty)
    if m:
        return nullable(gql(m.group(1)))
    m = re.fullmatch(r"Vec<(.*)>", ty)
    if m:
        return "[" + gql(m.group(1)) + "]!"
    m = re.fullmatch(r"\[(.*);\s*\d+\]", ty)
    if m:
        return "[" + gql(m.group(1)) + "]!"
    if re.fullmatch(r"(?:async_graphql::)?Json<.*>", ty):
        return "JSON!"
    ty = re.sub(r"<'[a-z_]+>$", "", ty)
    ty = RENAMES.get(ty, ty)
    return SCALARS.get(ty, ty) + "!"


def nullable(t):
    return t[:-1] if t.endswith("!") else t


def fields_of_impl(body):
    out = []
    pattern = re.compile(
        r"((?:#\[[^\]]*\]\s*)*)(?:pub\s+)?async\s+fn\s+(\w+)(?:<[^>]*>)?\s*\((.*?)\)\s*->\s*([^{]+)\{",
        re.S,
    )
    for attrs, name, args, ret in pattern.findall(body):
        renamed = re.search(r'#\[graphql\(name\s*=\s*"(\w+)"\)\]', attrs)
        field = renamed.group(1) if renamed else camel(name)
        gargs = []
        for arg in split_top(args):
            if "self" in arg.split(":")[0] or "Context" in arg:
                continue
            an, at = arg.split(":", 1)
            gargs.append(f"{camel(an.strip())}: {gql(at)}")
        out.append((field, gargs, gql(ret)))
    return out


def impl_blocks(text):
    for m in re.finditer(r"#\[Object\]\s*impl(?:<[^>]*>)?\s+(\w+)(?:<[^>]*>)?\s*\{", text):
        start, depth, i = m.end(), 1, m.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        yield m.group(1), text[start : i - 1]


def simple_objects(text):
    pattern = re.compile(r"#\[derive\(SimpleObject\)\]\s*pub\s+struct\s+(\w+)\s*\{(.*?)\}", re.S)
    for name, body in pattern.findall(text):
        fields = []
        for line in split_top(re.sub(r"//.*", "", body)):
            fname, ftype = line.replace("pub ", "").split(":", 1)
            fields.append((camel(fname.strip()), [], gql(ftype)))
        yield name, fields


def main():
    repo, commit = sys.argv[1], sys.argv[2]
    lines = []
    for path in FILES:
        text = subprocess.run(
            ["git", "-C", repo, "show", f"{commit}:{path}"],
            check=True, capture_output=True, text=True,
        ).stdout
        text = re.sub(r"#\[cfg\(test\)\].*", "", text, flags=re.S)
        for typename, body in impl_blocks(text):
            for field, args, ret in fields_of_impl(body):
                sig = f"({', '.join(args)})" if args else ""
                lines.append(f"{typename}.{field}{sig}: {ret}")
        for typename, fields in simple_objects(text):
            for field, _, ret in fields:
                lines.append(f"{typename}.{field}: {ret}")
    print(f"# rusk's GraphQL schema at dusk-network/rusk {commit} (aegis-1.6.0),")
    print("# archive feature included: one line per field, `Type.field(arg: T): T`.")
    print("# Extracted by tests/data/extract-rusk-graphql.py from")
    for path in FILES:
        print(f"#   {path}")
    print("# Checked against our SDL by tests/it/graphql_schema.rs.")
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
