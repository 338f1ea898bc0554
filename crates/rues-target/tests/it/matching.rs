//! The matching rule of docs/protocol.md §5.1.

use rues_target::EventPath;

fn subscription_matches(subscription: &str, event: &str) -> bool {
    let subscription = EventPath::parse(subscription).unwrap();
    let event = EventPath::parse(event).unwrap();
    subscription.matches(&event)
}

#[test]
fn subscription_without_entity_matches_every_entity() {
    for event in [
        "/on/blocks:ab12/accepted",
        "/on/blocks:cd34/accepted",
        "/on/blocks:a%3Ab/accepted",
    ] {
        assert!(
            subscription_matches("/on/blocks/accepted", event),
            "{event}"
        );
    }
}

#[test]
fn subscription_without_entity_matches_events_without_entity() {
    assert!(subscription_matches(
        "/on/blocks/accepted",
        "/on/blocks/accepted"
    ));
}

#[test]
fn subscription_with_entity_matches_only_that_entity() {
    assert!(subscription_matches(
        "/on/blocks:ab12/accepted",
        "/on/blocks:ab12/accepted"
    ));
    assert!(!subscription_matches(
        "/on/blocks:ab12/accepted",
        "/on/blocks:cd34/accepted"
    ));
    assert!(!subscription_matches(
        "/on/blocks:ab12/accepted",
        "/on/blocks:ab123/accepted"
    ));
    assert!(!subscription_matches(
        "/on/blocks:ab12/accepted",
        "/on/blocks/accepted"
    ));
}

#[test]
fn different_topic_never_matches() {
    assert!(!subscription_matches(
        "/on/blocks/accepted",
        "/on/blocks:ab12/reverted"
    ));
    assert!(!subscription_matches(
        "/on/blocks:ab12/accepted",
        "/on/blocks:ab12/reverted"
    ));
}

#[test]
fn different_component_never_matches() {
    assert!(!subscription_matches(
        "/on/blocks/accepted",
        "/on/transactions:ab12/accepted"
    ));
    assert!(!subscription_matches(
        "/on/blocks:ab12/accepted",
        "/on/contracts:ab12/accepted"
    ));
}

#[test]
fn component_and_topic_match_in_any_case_and_the_entity_exactly() {
    assert!(subscription_matches(
        "/on/Blocks/accepted",
        "/on/blocks:ab/accepted"
    ));
    assert!(subscription_matches(
        "/on/blocks/Accepted",
        "/on/BLOCKS:ab/ACCEPTED"
    ));
    assert!(subscription_matches(
        "/on/contracts:ab/transfer",
        "/on/contracts:ab/Transfer"
    ));
    assert!(!subscription_matches(
        "/on/blocks:AB/accepted",
        "/on/blocks:ab/accepted"
    ));
}

#[test]
fn matching_compares_decoded_values() {
    assert!(subscription_matches(
        "/on/blocks:a%3Ab/x%20y",
        "/on/blocks:a:b/x%20y/"
    ));
    assert!(subscription_matches(
        "/on/blocks:%C3%A9/accepted",
        "/on/blocks:\u{e9}/accepted"
    ));
}

#[test]
fn trailing_slash_and_query_name_the_same_subscription() {
    let plain = EventPath::parse("/on/blocks:ab/accepted").unwrap();
    let slashed = EventPath::parse("/on/blocks:ab/accepted/?since=1").unwrap();
    assert_eq!(plain, slashed);
}
