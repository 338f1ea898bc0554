//! The case rule of docs/protocol.md §3, through real sockets: component and
//! topic are lower-cased on parse, in requests and in published events;
//! entities keep their case.

use std::time::Duration;

use rues_core::http::StatusCode;

use crate::support::TestServer;

#[tokio::test]
async fn component_and_topic_match_in_any_case_and_locations_are_lower_case() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    let answer = client.subscribe(&server, "/on/Blocks/ACCEPTED").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(server.publish("/on/blocks:Ab12/accepted", b"{}"), 1);
    let frame = client.next_event().await;
    // The entity keeps its case; the rest is lower case.
    assert_eq!(frame.content_location(), Some("/on/blocks:Ab12/accepted"));

    // A mixed-case DELETE removes the subscription.
    let answer = client.unsubscribe(&server, "/on/BLOCKS/Accepted/").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(server.publish("/on/blocks:Ab12/accepted", b"{}"), 0);
    client.assert_quiet(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn a_contract_event_with_a_capitalised_topic_reaches_lower_case_subscribers() {
    let server = TestServer::start().await;
    let mut client = server.connect().await;
    let answer = client
        .subscribe(&server, "/on/contracts:Feed01/transfer")
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    // Published as the contract names it.
    assert_eq!(server.publish("/on/contracts:Feed01/Transfer", b"{}"), 1);
    let frame = client.next_event().await;
    assert_eq!(
        frame.content_location(),
        Some("/on/contracts:Feed01/transfer")
    );
    // The entity is compared exactly: another case is another contract.
    assert_eq!(server.publish("/on/contracts:feed01/Transfer", b"{}"), 0);
}
