"""What a hostile or careless client costs everyone else (issue 25).

For each attack a fresh server (scripted backend, its own process, the code on PYTHONPATH)
is started; a well-behaved client pings back to back (one in flight, 5 ms apart) while another
client sends the attack. Printed per attack: the attack's reply (code, seconds to it), and
the well-behaved client's ping round trip p50 / p99 / max over the attack window, with the
pings that got no answer within 10 s.

    PYTHONPATH=python python bench/hostile_clients.py [--tools 10000]
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import msgpack
import zmq

ROOT = Path(__file__).resolve().parents[1]
SERVE = r"""
import asyncio, json, sys
sys.path.insert(0, sys.argv[2])
from support.arena_sockets import TOOLS
from agent_arena.backends.scripted import ScriptedBackend
from agent_arena.server import ArenaServer, ServerConfig
import dataclasses
known = {f.name for f in dataclasses.fields(ServerConfig)}  # an older server: its defaults
cfg = {k: v for k, v in json.loads(sys.argv[1]).items() if k in known}
async def main():
    server = ArenaServer(ScriptedBackend(), ServerConfig(bind="tcp://127.0.0.1:0", **cfg),
                         tools=TOOLS)
    print(await server.start(), flush=True)
    await server.serve_forever()
asyncio.run(main())
"""


def pack(o: Any) -> bytes:
    return msgpack.packb(o, use_bin_type=True)


class Pinger(threading.Thread):
    def __init__(self, endpoint: str) -> None:
        super().__init__(daemon=True)
        self.endpoint, self.rtts, self.lost, self.stop = endpoint, [], 0, threading.Event()

    def run(self) -> None:
        ctx = zmq.Context()
        s = ctx.socket(zmq.DEALER)
        s.linger = 0
        s.connect(self.endpoint)
        i = 0
        while not self.stop.is_set():
            i += 1
            t = time.perf_counter()
            s.send(pack({"type": "ping", "id": i}))
            while s.poll(10_000):
                if msgpack.unpackb(s.recv_multipart()[-1]).get("id") == i:
                    self.rtts.append(time.perf_counter() - t)
                    break
            else:
                self.lost += 1
                break  # frozen: no point in asking again
            time.sleep(0.005)
        ctx.destroy(0)


class SlowHTTP:
    def __init__(self, delay_s: float) -> None:
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                time.sleep(delay_s)
                body = b'{"type": "string"}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/s.json"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def attack(name: str, messages: list[dict[str, Any]], cfg: dict[str, Any]) -> None:
    proc = subprocess.Popen([sys.executable, "-c", SERVE, json.dumps(cfg), str(ROOT / "tests")],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    endpoint = proc.stdout.readline().strip()  # type: ignore[union-attr]
    pinger = Pinger(endpoint)
    pinger.start()
    time.sleep(0.5)
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.linger = 0
    s.connect(endpoint)
    outcome = []
    for m in messages:
        t = time.perf_counter()
        s.send(pack(m))
        if s.poll(15_000):
            r = msgpack.unpackb(s.recv_multipart()[-1])
            what = r.get("code") or r.get("status") or r.get("type")
            outcome.append(f"{what} in {time.perf_counter() - t:.3f} s")
        else:
            outcome.append("no reply in 15 s")
    time.sleep(0.5)
    pinger.stop.set()
    pinger.join(12)
    ctx.destroy(0)
    proc.kill()
    proc.wait()
    r = sorted(pinger.rtts)
    q = (lambda p: r[min(len(r) - 1, int(p * len(r)))] * 1000) if r else (lambda p: float("nan"))
    print(f"| {name} | {'; '.join(outcome)} | {len(r)} | {q(0.5):.2f} | {q(0.99):.2f} | "
          f"{(r[-1] * 1000 if r else float('nan')):.1f} | {pinger.lost} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tools", type=int, default=10_000)
    args = ap.parse_args()
    evil = {"name": "t", "parameters": {"type": "object", "properties": {
        "s": {"type": "string", "pattern": "^(a+)+$"}}, "required": ["s"]}}
    slow = SlowHTTP(8.0)
    remote = {"name": "r", "parameters": {"type": "object", "properties": {
        "s": {"$ref": slow.url}}}}
    many = [{"name": f"t{i}", "description": "small", "parameters": {
        "type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}}}
        for i in range(args.tools)]  # 10,000: about 850 KB, under max_message_bytes
    print(f"{len(pack({'type': 'register_tools', 'tools': many}))} bytes for {args.tools} tools",
          file=sys.stderr)
    print("| attack | attacker's replies | pings answered | p50 ms | p99 ms | max ms | lost |")
    print("|---|---|---|---|---|---|---|")
    attack("none (baseline)", [{"type": "ping", "id": 1}], {})
    attack("ReDoS fallback", [{"type": "register_tools", "id": 1, "tools": [evil],
                               "fallback": {"tool": "t", "arguments": {"s": "a" * 40 + "!"}}}],
           {})
    attack("remote $ref (8 s URL) + mask",
           [{"type": "hello", "id": 1, "v": 1, "tools": [remote]},
            {"type": "observe", "id": 2, "agent_id": "a", "tick": 1, "observation": {},
             "mask": {"r": {"s": ["x"]}}}], {})
    attack(f"{args.tools} tools, default caps",
           [{"type": "register_tools", "id": 1, "tools": many}], {})
    attack(f"{args.tools} tools, cap raised to {args.tools}",
           [{"type": "register_tools", "id": 1, "tools": many}],
           {"max_tools_per_session": args.tools + 5})
    attack("256 tools (the default cap)",
           [{"type": "register_tools", "id": 1, "tools": many[:250]}], {})


if __name__ == "__main__":
    main()
