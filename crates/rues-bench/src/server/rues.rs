//! (a) rues: the rues-warp adapter with the publisher inside the process,
//! wired exactly as the demo node wires it (`Server::bind`, a `Publisher`
//! handle, `Server::run`), with the default limits except the session limit,
//! raised so that 10 000 benchmark sessions and churn fit.

use anyhow::Result;
use bytes::Bytes;
use rues_core::rues_target::{Component, EventPath, Topic};
use rues_core::{ComponentSpec, Config, EntityRule, Event, Limits, Registry};
use rues_warp::{Publisher, Server, TransportConfig};

use crate::control::{self, Outlet};

/// The rues node's version; any will do.
const VERSION: &str = "1.6.0";

/// The benchmark registry: component `bench` (entity optional), topic `tick`.
pub(crate) fn registry() -> Result<Registry> {
    Ok(Registry::new().with(
        ComponentSpec::new(Component::new("bench")?)
            .entity(EntityRule::Optional)
            .topic(Topic::new("tick")?),
    ))
}

struct RuesOutlet {
    publisher: Publisher,
    fanout: EventPath,
    /// Entity paths, built once per entity and cloned per event.
    entities: Vec<EventPath>,
}

impl RuesOutlet {
    fn path(&mut self, entity: Option<u32>) -> EventPath {
        let Some(entity) = entity else {
            return self.fanout.clone();
        };
        let entity = entity as usize;
        while self.entities.len() <= entity {
            let name = super::entity_name(Some(self.entities.len() as u32));
            let path = EventPath::parse(&format!("/on/bench:{name}/tick"))
                .expect("benchmark paths are valid");
            self.entities.push(path);
        }
        self.entities[entity].clone()
    }
}

impl Outlet for RuesOutlet {
    fn publish(&mut self, entity: Option<u32>, payload: Bytes) {
        let event = Event::new(self.path(entity), "application/octet-stream", payload);
        if let Err(error) = self.publisher.publish(&event) {
            eprintln!("rues-bench server rues: publish failed: {error}");
        }
    }
}

/// Runs the rues server until the harness says `quit`.
pub(crate) async fn run() -> Result<()> {
    let mut limits = Limits::default();
    limits.max_sessions = 100_000;
    let config = Config::new(VERSION.parse()?).with_limits(limits);
    let server = Server::bind(
        config,
        registry()?,
        TransportConfig::new("127.0.0.1:0".parse()?),
    )
    .await?;
    let port = server.local_addr().port();
    let mut outlet = RuesOutlet {
        publisher: server.publisher(),
        fanout: EventPath::parse("/on/bench:all/tick")?,
        entities: Vec::new(),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let result = control::serve_orders(port, &mut outlet).await;
    let _ = stop.send(());
    let _ = tokio::time::timeout(std::time::Duration::from_secs(15), serving).await;
    result
}
