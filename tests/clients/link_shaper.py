#!/usr/bin/env python3
"""A weak mobile link between two interfaces: a userspace Ethernet bridge with a rate limit,
delay, jitter and random loss per direction.

Runs inside a namespace of its own that sits between a client's namespace and the root
namespace (tests/it/netlab.rs makes it: `Lab::new_shaped`). Every frame that arrives on
one interface leaves on the other, so the client and the server see each other as
neighbours, exactly as without the shaper; what changes is when, and whether, IPv4 frames
arrive. This machine's kernel has no netem, hence this.

  python3 link_shaper.py --inside IF --outside IF

"up" is inside → outside (what the client sends), "down" the other way. Commands, one JSON
object per line on stdin; each gets one JSON line back on stdout:

  {"cmd": "set", "up": {...}, "down": {...}}   a direction's rate_kbit (0: unlimited),
      delay_ms, jitter_ms (uniform ±), loss (0..1), queue_ms (the most a packet may wait
      for the rate: deeper is dropped, as a mobile network's buffer does); fields left out
      keep their value
  {"cmd": "stats"}                             per direction: frames in, sent, lost at
      random, dropped for a full queue, bytes sent
  {"cmd": "quit"}

Order is kept within a direction (jitter never reorders, as on a real radio link).
Frames other than IPv4 (ARP) pass at once.
"""

import argparse
import collections
import json
import os
import random
import select
import socket
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
PACKET_OUTGOING = 4


class Direction:
    def __init__(self, name):
        self.name = name
        self.rate_kbit = 0.0
        self.delay_ms = 0.0
        self.jitter_ms = 0.0
        self.loss = 0.0
        self.queue_ms = 400.0
        # When the rate-limited link is free to start the next frame.
        self.link_free = 0.0
        self.last_release = 0.0
        self.queue = collections.deque()  # (release time, frame)
        self.stats = {"in": 0, "sent": 0, "lost": 0, "queue_full": 0, "bytes": 0}

    def configure(self, c):
        for key in ("rate_kbit", "delay_ms", "jitter_ms", "loss", "queue_ms"):
            if key in c:
                setattr(self, key, float(c[key]))

    def admit(self, frame, now):
        self.stats["in"] += 1
        ethertype = int.from_bytes(frame[12:14], "big") if len(frame) >= 14 else 0
        if ethertype != ETH_P_IP:
            self.queue.append((now, frame))
            return
        if self.loss > 0 and random.random() < self.loss:
            self.stats["lost"] += 1
            return
        start = max(now, self.link_free)
        if self.rate_kbit > 0:
            if (start - now) * 1000 > self.queue_ms:
                self.stats["queue_full"] += 1
                return
            done = start + len(frame) * 8 / (self.rate_kbit * 1000)
            self.link_free = done
        else:
            done = now
        delay = self.delay_ms
        if self.jitter_ms > 0:
            delay += random.uniform(-self.jitter_ms, self.jitter_ms)
        release = max(done + max(delay, 0) / 1000, self.last_release)
        self.last_release = release
        self.queue.append((release, frame))

    def due(self, now):
        out = []
        while self.queue and self.queue[0][0] <= now:
            out.append(self.queue.popleft()[1])
        return out

    def next_at(self):
        return self.queue[0][0] if self.queue else None


def open_interface(name):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((name, 0))
    s.setblocking(False)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    return s


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--inside", required=True)
    ap.add_argument("--outside", required=True)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    if args.seed is not None:
        random.seed(args.seed)
    inside = open_interface(args.inside)
    outside = open_interface(args.outside)
    up, down = Direction("up"), Direction("down")
    # A frame read on a socket goes out on the other one, through its direction.
    routes = {inside.fileno(): (inside, up, outside), outside.fileno(): (outside, down, inside)}
    stdin = sys.stdin.fileno()
    os.set_blocking(stdin, False)
    pending = b""
    reply({"ready": True})
    while True:
        now = time.monotonic()
        for d, out in ((up, outside), (down, inside)):
            for frame in d.due(now):
                try:
                    out.send(frame)
                    d.stats["sent"] += 1
                    d.stats["bytes"] += len(frame)
                except OSError:
                    pass
        nexts = [t for t in (up.next_at(), down.next_at()) if t is not None]
        timeout = max(0.0, min(nexts) - time.monotonic()) if nexts else 0.5
        readable, _, _ = select.select([inside, outside, stdin], [], [], timeout)
        now = time.monotonic()
        for r in readable:
            if r == stdin:
                chunk = os.read(stdin, 65536)
                if not chunk:
                    return
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    if not line.strip():
                        continue
                    cmd = json.loads(line)
                    if cmd.get("cmd") == "set":
                        up.configure(cmd.get("up", {}))
                        down.configure(cmd.get("down", {}))
                        reply({"ok": True})
                    elif cmd.get("cmd") == "stats":
                        reply({"up": up.stats, "down": down.stats})
                    elif cmd.get("cmd") == "quit":
                        reply({"ok": True})
                        return
                    else:
                        reply({"error": f"unknown command {cmd.get('cmd')!r}"})
                continue
            sock, direction, _ = routes[r.fileno()]
            # Drain what is there: one wake-up may find many frames.
            for _ in range(256):
                try:
                    frame, addr = sock.recvfrom(65536)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue  # our own sends, seen again on the way out
                direction.admit(frame, now)


if __name__ == "__main__":
    main()
