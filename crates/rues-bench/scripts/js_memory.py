#!/usr/bin/env python3
"""RSS of a nats-server holding one rues shared-history stream (memory
storage, the default bounds: 1 000 messages or 8 MiB), filled with events
of a given payload size. Usage: js_memory.py PAYLOAD_BYTES [MESSAGES]."""
import json, os, socket, subprocess, sys, tempfile, time

size = int(sys.argv[1]); count = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
port = 14555
d = tempfile.mkdtemp()
conf = os.path.join(d, "nats.conf")
open(conf, "w").write(f'listen: "127.0.0.1:{port}"\nmax_payload: 4MB\njetstream {{ store_dir: "{d}/js" }}\n')
server = subprocess.Popen(["nats-server", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def rss():
    for line in open(f"/proc/{server.pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
try:
    for _ in range(100):
        try:
            s = socket.create_connection(("127.0.0.1", port)); break
        except OSError:
            time.sleep(0.05)
    f = s.makefile("rb")
    f.readline()  # INFO
    s.sendall(b'CONNECT {"verbose":false,"headers":true}\r\nSUB _INBOX.r 1\r\n')
    def ping():
        s.sendall(b"PING\r\n")
        while f.readline().strip() != b"PONG":
            pass
    ping()
    time.sleep(0.5)
    before = rss()
    cfg = json.dumps({"name": "RUES_6_blocks_accepted", "subjects": ["rues.ev.blocks.*.accepted"],
                      "max_msgs": 1000, "max_bytes": 8 * 1024 * 1024, "discard": "old",
                      "storage": "memory", "num_replicas": 1, "retention": "limits"}).encode()
    s.sendall(b"PUB $JS.API.STREAM.CREATE.RUES_6_blocks_accepted _INBOX.r %d\r\n%s\r\n" % (len(cfg), cfg))
    while not f.readline().startswith(b"MSG"):
        pass
    f.readline()
    hdr = b"NATS/1.0\r\nContent-Type: application/json\r\n\r\n"
    payload = b"x" * size
    for i in range(count):
        s.sendall(b"HPUB rues.ev.blocks.e%d.accepted %d %d\r\n%s%s\r\n" % (i, len(hdr), len(hdr) + size, hdr, payload))
    ping()
    time.sleep(1.0)
    after = rss()
    info = b"{}"
    s.sendall(b"PUB $JS.API.STREAM.INFO.RUES_6_blocks_accepted _INBOX.r 2\r\n{}\r\n")
    while True:
        line = f.readline()
        if line.startswith(b"MSG"):
            n = int(line.split()[-1]); info = f.read(n + 2); break
    state = json.loads(info)["state"]
    print(f"payload {size} B, {count} published: kept {state['messages']} messages, {state['bytes']} B; "
          f"nats-server RSS {before/1048576:.1f} -> {after/1048576:.1f} MiB (+{(after-before)/1048576:.2f} MiB)")
finally:
    server.kill(); server.wait()
