//! The tokio driver, with paused time: no real sleeps.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rues_core::Event;
use rues_demo::{Chain, SharedChain, run, unix_time_ms};
use tokio::sync::oneshot;

use crate::support::{quiet_config, transfer};

fn collector() -> (Arc<Mutex<Vec<Event>>>, impl FnMut(Event) + Send + 'static) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let publish = move |event| sink.lock().expect("not poisoned").push(event);
    (events, publish)
}

fn published(events: &Arc<Mutex<Vec<Event>>>) -> Vec<String> {
    events
        .lock()
        .expect("not poisoned")
        .iter()
        .map(|e| e.path.to_string())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn run_publishes_blocks_on_time_and_propagated_transactions_at_once() {
    let chain = SharedChain::new(Chain::new(quiet_config(), unix_time_ms()).expect("valid"));
    let (events, publish) = collector();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(run(Arc::clone(&chain), publish, async {
        let _ = stopped.await;
    }));

    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(chain.lock().tip().height(), 1);
    assert!(published(&events).iter().any(|p| p.ends_with("/accepted")));

    // Propagate between blocks: `included` goes out without waiting for one.
    let before = published(&events).len();
    let id = chain.propagate(&transfer(0).encode()).expect("valid");
    tokio::time::sleep(Duration::from_millis(10)).await;
    let now = published(&events);
    assert_eq!(now[before..], [format!("/on/transactions:{id}/included")]);
    assert_eq!(chain.lock().tip().height(), 1, "no block yet");

    tokio::time::sleep(Duration::from_millis(2000)).await;
    let all = published(&events);
    let executed = all
        .iter()
        .position(|p| *p == format!("/on/transactions:{id}/executed"))
        .expect("executed in the next block");
    let removed = all
        .iter()
        .position(|p| *p == format!("/on/transactions:{id}/removed"))
        .expect("removed");
    assert!(before < executed && executed < removed);

    stop.send(()).expect("run is waiting");
    tokio::time::timeout(Duration::from_secs(1), task)
        .await
        .expect("run stops on shutdown")
        .expect("run does not panic");
}
