//! The control protocol between the harness and a server it started, one line
//! each way on the child's stdin and stdout (the Node.js peer speaks it too):
//!
//! - child → harness, once listening: `ready <port>`;
//! - harness → child: `pub <rate> <count> <size> <entities> <seed>`: publish
//!   `count` events of `size` bytes at `rate` events per second, each to the
//!   one fan-out topic when `entities` is 0, else to a random entity in
//!   `0..entities`; the child answers `done <count> <elapsed_ns>`;
//! - harness → child: `quit` (or EOF): stop.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// One publish order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Order {
    pub(crate) rate: f64,
    pub(crate) count: u64,
    pub(crate) size: usize,
    pub(crate) entities: u32,
    pub(crate) seed: u64,
}

impl Order {
    pub(crate) fn to_line(self) -> String {
        format!(
            "pub {} {} {} {} {}\n",
            self.rate, self.count, self.size, self.entities, self.seed
        )
    }

    fn parse(line: &str) -> Result<Self> {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [_, rate, count, size, entities, seed] = fields[..] else {
            bail!("bad order `{line}`");
        };
        Ok(Self {
            rate: rate.parse()?,
            count: count.parse()?,
            size: size.parse()?,
            entities: entities.parse()?,
            seed: seed.parse()?,
        })
    }
}

/// Where a server's publisher puts events.
pub(crate) trait Outlet {
    /// Publishes one event: to `entity`, or to the fan-out topic when `None`.
    fn publish(&mut self, entity: Option<u32>, payload: Bytes);

    /// Called after each burst (every millisecond at most).
    async fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

/// xorshift64*: the entity picker, deterministic per seed.
fn next_random(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// Publishes an order at its rate: every millisecond, the events due by then.
pub(crate) async fn publish_paced(order: Order, outlet: &mut impl Outlet) -> Result<Duration> {
    let start = Instant::now();
    let mut interval = tokio::time::interval(Duration::from_millis(1));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rng = order.seed | 1;
    let mut sent = 0u64;
    while sent < order.count {
        let elapsed = start.elapsed().as_secs_f64();
        let due = ((elapsed * order.rate) as u64 + 1).min(order.count);
        while sent < due {
            let entity = (order.entities > 0)
                .then(|| (next_random(&mut rng) % u64::from(order.entities)) as u32);
            outlet.publish(entity, crate::payload::make(order.size, sent));
            sent += 1;
        }
        outlet.flush().await?;
        if sent < order.count {
            interval.tick().await;
        }
    }
    Ok(start.elapsed())
}

/// Announces the port, then serves publish orders from stdin until `quit`
/// or EOF.
pub(crate) async fn serve_orders(port: u16, outlet: &mut impl Outlet) -> Result<()> {
    let mut stdout = tokio::io::stdout();
    stdout
        .write_all(format!("ready {port}\n").as_bytes())
        .await?;
    stdout.flush().await?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await.context("reading orders")? {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "quit" {
            break;
        }
        let order = Order::parse(line)?;
        let elapsed = publish_paced(order, outlet).await?;
        stdout
            .write_all(format!("done {} {}\n", order.count, elapsed.as_nanos()).as_bytes())
            .await?;
        stdout.flush().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Count {
        fanout: u64,
        entities: Vec<u32>,
    }

    impl Outlet for Count {
        fn publish(&mut self, entity: Option<u32>, payload: Bytes) {
            assert_eq!(payload.len(), 64);
            match entity {
                None => self.fanout += 1,
                Some(e) => self.entities.push(e),
            }
        }
    }

    #[test]
    fn orders_round_trip() {
        let order = Order {
            rate: 1500.5,
            count: 10,
            size: 256,
            entities: 3,
            seed: 9,
        };
        assert_eq!(Order::parse(order.to_line().trim()).expect("parses"), order);
        assert!(Order::parse("pub 1 2").is_err());
    }

    #[tokio::test]
    async fn paces_and_picks_entities() {
        let mut count = Count::default();
        let order = Order {
            rate: 2000.0,
            count: 100,
            size: 64,
            entities: 0,
            seed: 1,
        };
        let elapsed = publish_paced(order, &mut count).await.expect("published");
        assert_eq!(count.fanout, 100);
        assert!(elapsed >= Duration::from_millis(45), "{elapsed:?}");
        let order = Order {
            entities: 5,
            ..order
        };
        publish_paced(order, &mut count).await.expect("published");
        assert_eq!(count.entities.len(), 100);
        assert!(count.entities.iter().all(|&e| e < 5));
        assert!((0..5).all(|e| count.entities.contains(&e)));
    }
}
