//! The servers the harness runs as child processes of its own binary
//! (`rues-bench server <kind>`): each listens on a loopback port, prints
//! `ready <port>`, and publishes what the harness orders (see `control`).

pub(crate) mod baseline;
pub(crate) mod limit;
pub(crate) mod nats_pub;
pub(crate) mod rues;

/// The fan-out topic's name, and the entity names, shared by every server
/// and the clients: rues `/on/bench:all/tick` and `/on/bench:e<i>/tick`,
/// NATS `bench.all` and `bench.e<i>`, the plain WebSocket servers `/all` and
/// `/e/<i>`.
pub(crate) fn entity_name(entity: Option<u32>) -> String {
    match entity {
        None => "all".to_owned(),
        Some(e) => format!("e{e}"),
    }
}

/// The names of the entities publish orders name, each made once, so that
/// a publish formats nothing (the plain WebSocket servers key their
/// subscribers by them).
#[derive(Debug, Default)]
pub(crate) struct EntityNames(Vec<String>);

impl EntityNames {
    /// The name of `entity` (`None`: the fan-out topic).
    pub(crate) fn of(&mut self, entity: Option<u32>) -> &str {
        let index = entity.map_or(0, |e| e as usize + 1);
        while self.0.len() <= index {
            let n = self.0.len();
            self.0.push(entity_name(n.checked_sub(1).map(|e| e as u32)));
        }
        &self.0[index]
    }
}

#[cfg(test)]
mod tests {
    use super::EntityNames;

    #[test]
    fn entity_names_are_the_fan_out_topic_then_each_entity() {
        let mut names = EntityNames::default();
        assert_eq!(names.of(Some(2)), "e2");
        assert_eq!(names.of(None), "all");
        assert_eq!(names.of(Some(0)), "e0");
        assert_eq!(names.of(Some(2)), "e2");
    }
}
