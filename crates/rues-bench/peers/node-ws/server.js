// (d) Node.js `ws`: the broadcast server many teams hand-roll, measured by
// rues-bench. It speaks the harness's control protocol (see
// crates/rues-bench/src/control.rs): prints `ready <port>`, then reads
// `pub <rate> <count> <size> <entities> <seed>` orders from stdin and answers
// `done <count> <elapsed_ns>`; `quit` or EOF stops it.
//
// A client subscribes by the upgrade's path (`/all` or `/e/<i>`) and gets a
// Text `ok` once registered. Each event's payload (publish time and sequence
// number as little-endian u64s, CLOCK_MONOTONIC via process.hrtime) is sent as
// one Binary message, the same Buffer to every receiver.
'use strict';

const http = require('http');
const readline = require('readline');
const { WebSocketServer } = require('ws');

const topics = new Map();

function subscribersOf(key) {
  let set = topics.get(key);
  if (!set) {
    set = new Set();
    topics.set(key, set);
  }
  return set;
}

const server = http.createServer((req, res) => {
  res.writeHead(404);
  res.end();
});
const wss = new WebSocketServer({
  server,
  perMessageDeflate: false,
  clientTracking: false,
  maxPayload: 64 * 1024,
});

wss.on('connection', (ws, req) => {
  const path = req.url.split('?')[0];
  const key = path.startsWith('/e/') ? 'e' + path.slice(3) : 'all';
  const set = subscribersOf(key);
  set.add(ws);
  ws.on('close', () => set.delete(ws));
  ws.on('error', () => set.delete(ws));
  ws.send('ok');
});

function payload(size, seq) {
  const buf = Buffer.alloc(Math.max(size, 16));
  buf.writeBigUInt64LE(process.hrtime.bigint(), 0);
  buf.writeBigUInt64LE(BigInt(seq), 8);
  return buf;
}

function publish(entity, buf) {
  const key = entity === null ? 'all' : 'e' + entity;
  const set = topics.get(key);
  if (!set) return;
  for (const ws of set) {
    ws.send(buf, { binary: true });
  }
}

function run(order, done) {
  const start = process.hrtime.bigint();
  let sent = 0;
  const tick = () => {
    const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    const due = Math.min(order.count, Math.floor(elapsed * order.rate) + 1);
    while (sent < due) {
      const entity = order.entities > 0 ? Math.floor(Math.random() * order.entities) : null;
      publish(entity, payload(order.size, sent));
      sent += 1;
    }
    if (sent < order.count) {
      setTimeout(tick, 1);
    } else {
      done(process.hrtime.bigint() - start);
    }
  };
  tick();
}

const queue = [];
let busy = false;

function next() {
  if (busy || queue.length === 0) return;
  const line = queue.shift();
  if (line === 'quit') {
    process.exit(0);
  }
  const [verb, rate, count, size, entities] = line.split(/\s+/);
  if (verb !== 'pub') {
    process.stderr.write(`node-ws: bad order ${line}\n`);
    process.exit(2);
  }
  busy = true;
  const order = { rate: Number(rate), count: Number(count), size: Number(size), entities: Number(entities) };
  run(order, (elapsed) => {
    process.stdout.write(`done ${order.count} ${elapsed}\n`);
    busy = false;
    next();
  });
}

server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  process.stdout.write(`ready ${server.address().port}\n`);
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    line = line.trim();
    if (line) {
      queue.push(line);
      next();
    }
  });
  rl.on('close', () => process.exit(0));
});
