//! Fuzzes the resume parsers of `rues_wire` and a subscribe carrying the
//! input as its `Rues-Resume` header. Nothing may panic; every position and
//! result that parses must display as text that parses back to the same
//! value; and the node must answer the subscribe 200 with a well-formed
//! `Rues-Resume-Result` exactly when the header parses, else 400.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rues_core::bytes::Bytes;
use rues_core::http::{HeaderMap, HeaderValue, Method, StatusCode};
use rues_core::rues_target::EventPath;
use rues_core::{Config, Decision, Event, Node, SeededIds};
use rues_testkit::registry;
use rues_wire::{Epoch, Position, ResumeResult};

fuzz_target!(|data: &[u8]| {
    let position = Position::parse(data);
    if let Ok(position) = position {
        let text = position.to_string();
        assert_eq!(Position::parse(text.as_bytes()), Ok(position), "{text}");
    }
    if let Ok(result) = ResumeResult::parse(data) {
        let text = result.to_string();
        assert_eq!(ResumeResult::parse(text.as_bytes()), Ok(result), "{text}");
    }
    if let Ok(epoch) = Epoch::parse(data) {
        assert_eq!(Epoch::parse(epoch.to_string().as_bytes()), Ok(epoch));
    }

    // HTTP carries only visible text in a header value.
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let config = Config::new(rues_testkit::VERSION.parse().expect("valid version"));
    // Seed 1's epoch is the same every run, so inputs can name it.
    let mut node = Node::new(config, registry(), SeededIds::new(1));
    for entity in ["a", "b", "a"] {
        let path = EventPath::parse(&format!("/on/blocks:{entity}/accepted")).expect("valid");
        let event = Event::new(path, "text/plain", Bytes::from_static(b"x"));
        node.publish(&event).expect("published");
    }
    let session = node
        .handle_upgrade(std::time::Instant::now(), "/on", &HeaderMap::new(), None)
        .expect("opened");
    let mut headers = HeaderMap::new();
    headers.insert(
        "rusk-session-id",
        HeaderValue::from_str(&session.id.to_string()).expect("hex"),
    );
    headers.insert("rues-resume", value);
    let Decision::Respond(response) =
        node.handle_request(&Method::GET, "/on/blocks:a/accepted", &headers)
    else {
        panic!("a single node answers a subscribe itself");
    };
    if position.is_ok() {
        assert_eq!(response.status(), StatusCode::OK);
        let result = response
            .headers()
            .get("rues-resume-result")
            .expect("a result");
        ResumeResult::parse(result.as_bytes()).expect("well-formed");
    } else {
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
});
