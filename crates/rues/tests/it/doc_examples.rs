//! Every curl example in `docs/demo-chain.md` is run, as written, against a
//! fresh `rues serve`, and must answer the status the docs say; and every
//! dispatch endpoint of the demo node has at least one example.
//!
//! The examples are taken from the file (not copied here), so the docs
//! cannot drift from the node. An example is a ```` ```sh ```` block holding
//! one `curl` command for `http://127.0.0.1:8080` (continued over lines with
//! ` \`) and a line `# => <status>`. The examples run in document order on
//! one node, as a reader pasting them would run them.
//!
//! The explorer's dispatch panel is held to the same list of endpoints.

use std::path::{Path, PathBuf};
use std::process::Command;

use rues_demo::{Chain, ChainConfig, SharedChain};

use crate::node::Node;

/// The address every example is written for: the default `--listen`.
const DOC_ADDR: &str = "127.0.0.1:8080";
const DOC: &str = "docs/demo-chain.md";

#[derive(Debug)]
struct Example {
    /// 1-based line of the opening fence, for messages.
    line: usize,
    command: String,
    status: u16,
}

/// The examples of `markdown`, or what is wrong with one of them.
fn examples(markdown: &str) -> Result<Vec<Example>, String> {
    let mut out = Vec::new();
    let mut lines = markdown.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        if line.trim() != "```sh" {
            continue;
        }
        let line_no = index + 1;
        let mut command = String::new();
        let mut status = None;
        let mut closed = false;
        for (_, line) in lines.by_ref() {
            let line = line.trim();
            if line == "```" {
                closed = true;
                break;
            }
            if let Some(code) = line.strip_prefix("# =>") {
                let code = code.trim();
                status = Some(code.parse::<u16>().map_err(|_| {
                    format!("{DOC}:{line_no}: `# => {code}` is not an HTTP status")
                })?);
            } else if !line.is_empty() {
                if status.is_some() {
                    return Err(format!(
                        "{DOC}:{line_no}: one command per example, with `# => <status>` last"
                    ));
                }
                command.push_str(line.strip_suffix('\\').unwrap_or(line).trim_end());
                command.push(' ');
            }
        }
        if !closed {
            return Err(format!("{DOC}:{line_no}: the ```sh block is not closed"));
        }
        let command = command.trim().to_owned();
        if !command.starts_with("curl ") || !command.contains(DOC_ADDR) {
            return Err(format!(
                "{DOC}:{line_no}: an example is one `curl` command for http://{DOC_ADDR}"
            ));
        }
        let status = status
            .ok_or_else(|| format!("{DOC}:{line_no}: the example has no `# => <status>` line"))?;
        out.push(Example {
            line: line_no,
            command,
            status,
        });
    }
    Ok(out)
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn doc_text() -> String {
    std::fs::read_to_string(repo_root().join(DOC)).expect("docs/demo-chain.md is readable")
}

/// The `/on/...` path an example's URL names (query string dropped).
fn example_path(command: &str) -> Option<&str> {
    let at = command.find(DOC_ADDR)? + DOC_ADDR.len();
    let rest = &command[at..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '?')
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

#[test]
fn the_example_parser_reads_the_documented_form_and_refuses_others() {
    let doc =
        "text\n```sh\ncurl -s -X POST \\\n  http://127.0.0.1:8080/on/node/info\n# => 200\n```\n";
    let found = examples(doc).expect("well-formed");
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].command,
        "curl -s -X POST http://127.0.0.1:8080/on/node/info"
    );
    assert_eq!((found[0].line, found[0].status), (2, 200));
    assert_eq!(example_path(&found[0].command), Some("/on/node/info"));

    for bad in [
        "```sh\ncurl -s http://127.0.0.1:8080/on/node/info\n```\n", // no status
        "```sh\ncurl -s http://127.0.0.1:8080/on/node/info\n# => ok\n```\n",
        "```sh\nwget http://127.0.0.1:8080/on/node/info\n# => 200\n```\n",
        "```sh\ncurl -s http://example.com/on/node/info\n# => 200\n```\n",
        "```sh\ncurl -s http://127.0.0.1:8080/a\n# => 200\ncurl -s http://127.0.0.1:8080/b\n```\n",
        "```sh\ncurl -s http://127.0.0.1:8080/on/node/info\n# => 200\n",
    ] {
        assert!(examples(bad).is_err(), "accepted {bad:?}");
    }
}

#[test]
fn every_curl_example_in_the_demo_chain_doc_answers_as_documented() {
    let examples = examples(&doc_text()).unwrap_or_else(|e| panic!("{e}"));
    assert!(!examples.is_empty(), "{DOC} has no curl examples");

    // curl reads this file from $CURL_HOME: the status is written after the
    // body, and no example can hang the test. The examples run in that
    // directory too, so files they write (`-o`) land there.
    let curl_home = std::env::temp_dir().join(format!("rues-doc-examples-{}", std::process::id()));
    std::fs::create_dir_all(&curl_home).expect("temp dir");
    std::fs::write(
        curl_home.join(".curlrc"),
        "write-out = \"\\n@@status %{http_code}\\n\"\nmax-time = 20\n",
    )
    .expect("curlrc written");

    let node = Node::start(&[]);
    let addr = node.addr.to_string();
    let mut failures = Vec::new();
    for example in &examples {
        let command = example.command.replace(DOC_ADDR, &addr);
        let output = Command::new("sh")
            .arg("-c")
            .arg(&command)
            .env("CURL_HOME", &curl_home)
            .current_dir(&curl_home)
            .output()
            .expect("sh runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let status = stdout
            .lines()
            .rev()
            .find_map(|line| line.strip_prefix("@@status "))
            .and_then(|code| code.trim().parse::<u16>().ok());
        if !output.status.success() || status != Some(example.status) {
            failures.push(format!(
                "{DOC}:{}: `{}` answered {status:?} (curl {}), the doc says {}; stdout: {:.300}; stderr: {:.300}",
                example.line,
                example.command,
                output.status,
                example.status,
                stdout,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&curl_home);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_dispatch_endpoint_of_the_demo_node_has_a_curl_example() {
    let examples = examples(&doc_text()).unwrap_or_else(|e| panic!("{e}"));
    let paths: Vec<&str> = examples
        .iter()
        .filter_map(|e| example_path(&e.command))
        .collect();
    let missing: Vec<String> = demo_endpoints()
        .into_iter()
        .filter(|(name, topic)| !paths.iter().any(|path| reaches(path, name, topic)))
        .map(|(name, topic)| format!("{name}/{topic}"))
        .collect();
    assert!(
        missing.is_empty(),
        "endpoints with no curl example in {DOC}: {}",
        missing.join(", ")
    );
}

/// The explorer's dispatch panel suggests every dispatch endpoint of the
/// demo node (its `dispatch-suggestions` list in `index.html`).
#[test]
fn the_explorer_suggests_every_dispatch_endpoint() {
    let html = std::fs::read_to_string(repo_root().join("crates/rues/src/explorer/index.html"))
        .expect("the explorer's page is readable");
    let list = html
        .split_once("<datalist id=\"dispatch-suggestions\">")
        .and_then(|(_, rest)| rest.split_once("</datalist>"))
        .map(|(list, _)| list)
        .expect("the dispatch panel has its suggestion list");
    let suggestions: Vec<&str> = list
        .split("<option value=\"")
        .skip(1)
        .filter_map(|option| option.split_once('"').map(|(value, _)| value))
        .collect();
    for (name, topic) in demo_endpoints() {
        let suggested = suggestions
            .iter()
            .any(|value| reaches(value, &name, &topic));
        assert!(suggested, "the explorer does not suggest {name}/{topic}");
    }
}

/// (component, topic) of every dispatch handler of the demo node. A topic
/// `method:target` (the data drivers' `decode_event:stake`, ...) counts as
/// its method: one example of a method covers all its targets.
fn demo_endpoints() -> Vec<(String, String)> {
    let chain = Chain::new(ChainConfig::default(), 0).expect("default config is valid");
    let registry = rues_demo::registry(SharedChain::new(chain));
    let mut out: Vec<(String, String)> = registry
        .components()
        .flat_map(|component| {
            let name = component.name().as_str().to_owned();
            component
                .handler_topics()
                .into_iter()
                .map(move |topic| (name.clone(), method(topic.as_str()).to_owned()))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The method of a topic `method[:target]`.
fn method(topic: &str) -> &str {
    topic.split_once(':').map_or(topic, |(method, _)| method)
}

/// Whether `path` (`component[:entity]/topic`, with or without `/on/`)
/// reaches `topic` of `name`, by the rule of [`demo_endpoints`].
fn reaches(path: &str, name: &str, topic: &str) -> bool {
    let path = path.strip_prefix("/on/").unwrap_or(path);
    let Some((target, last)) = path.split_once('/') else {
        return false;
    };
    let component = target.split_once(':').map_or(target, |(c, _)| c);
    component == name && method(last) == topic
}
