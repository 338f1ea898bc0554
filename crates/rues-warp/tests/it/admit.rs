//! A backplane's veto on a subscribe (`Backplane::admit`): the answer waits
//! for it, a refusal is the client's answer, and the subscription it
//! refused is gone.

use std::sync::Arc;
use std::time::Duration;

use rues_core::http::StatusCode;
use rues_core::rues_target::EventPath;
use rues_core::{Change, Destination, Event};
use rues_testkit::TestServer;
use rues_warp::{Backplane, BoxFuture, Forwarded, ForwardedRequest};

/// Refuses `blocks:<entity>/accepted` for the entity `refused` with 429
/// (a status the core never gives a subscribe of a fresh session), and
/// answers every other path after a short wait.
struct Vetoing;

impl Backplane for Vetoing {
    fn changes(&self, _changes: Vec<Change>) {}

    fn published(&self, _event: &Event) {}

    fn settled(&self) -> BoxFuture<()> {
        Box::pin(async {})
    }

    fn admit(&self, path: &EventPath) -> BoxFuture<Result<(), rues_core::Response>> {
        let refused = path
            .entity()
            .is_some_and(|entity| entity.as_str() == "refused");
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if refused {
                let mut response = rues_core::Response::new("upstream says no".into());
                *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
                Err(response)
            } else {
                Ok(())
            }
        })
    }

    fn forward(&self, _to: Destination, _request: ForwardedRequest) -> BoxFuture<Forwarded> {
        Box::pin(async { Forwarded::Nobody })
    }

    fn health(&self) -> Result<String, String> {
        Ok("vetoing".to_owned())
    }

    fn metrics(&self) -> String {
        String::new()
    }
}

#[tokio::test]
async fn a_refused_subscribe_answers_the_refusal_and_holds_nothing() {
    let server = TestServer::start_with(|config| config.in_cluster(true), |t| t).await;
    assert!(server.endpoint.join_cluster(Arc::new(Vetoing)));
    let mut session = server.connect().await;

    let refused = session
        .subscribe(&server, "/on/blocks:refused/accepted")
        .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(&refused.body[..], b"upstream says no");
    // With the node's own headers, as any of its answers.
    assert_eq!(refused.header("rusk-version"), Some(rues_testkit::VERSION));
    // Taken back: nothing published there reaches the session, and a
    // DELETE finds nothing to remove.
    assert_eq!(server.publish("/on/blocks:refused/accepted", b"{}"), 0);
    let delete = session
        .unsubscribe(&server, "/on/blocks:refused/accepted")
        .await;
    assert_eq!(delete.status, StatusCode::NOT_FOUND);

    let admitted = session.subscribe(&server, "/on/blocks:ab/accepted").await;
    assert_eq!(admitted.status, StatusCode::OK);
    assert_eq!(server.publish("/on/blocks:ab/accepted", b"{}"), 1);
    let frame = session.next_event().await;
    assert_eq!(frame.content_location(), Some("/on/blocks:ab/accepted"));
}
