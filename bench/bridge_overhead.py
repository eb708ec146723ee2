"""Bridge overhead: what the Agent Arena server costs per decision, with an instant model.

For 1, 10, 100 and 1000 concurrent agents, each agent loops ``observe -> wait for its action ->
next`` against

  * bridge    the real ArenaServer (protocol decode + validation, session, deadline task,
              prompt building, constrained strategy, call validation, reply) with the instant
              scripted backend, and
  * raw echo  a bare pyzmq ROUTER + msgpack loop that decodes the same observe and answers
              with an action-shaped map of the same size (the floor: sockets + serialisation),

each in its own process (as a game and the server would be), over TCP loopback, driven by the
same load generator. Reported: round trip p50/p99 (send -> reply, at the client),
decisions/s, and the bridge process's CPU time per decision (all its threads, warm-up included:
unlike wall-clock rates it hardly moves when other jobs share the machine). Two load generators:

  * lean     (default) a synchronous pyzmq DEALER in its own process that keeps one observe
             per agent in flight: it costs a few microseconds per message, so it is not the
             bottleneck (compare the echo's rate);
  * asyncio  a zmq.asyncio client with one task per agent (what a Python game would write).

Run:

    .venv/bin/python bench/bridge_overhead.py                       # defaults
    .venv/bin/python bench/bridge_overhead.py --agents 1,10 --seconds 3 --json out.json
    .venv/bin/python bench/bridge_overhead.py --agents 100 --delay 0.1 --systems bridge
    .venv/bin/python bench/bridge_overhead.py --agents 100 --systems bridge --profile p.txt
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import msgpack
import zmq
import zmq.asyncio
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]

OBSERVATION = {
    "position": [1, 0, 2], "health": 80, "goal": "collect apples",
    "nearby": [{"id": "apple-3", "kind": "apple", "position": [4, 0, 2], "distance": 3.0}],
}


# ---- servers (each runs in a child process) ------------------------------------------------------


def _game_tools() -> list[dict[str, Any]]:
    from agent_arena import settings

    return settings.tool_specs(settings.compose())


async def _bridge_main(conn: Any, delay_s: float = 0.0, profile: str | None = None) -> None:
    from agent_arena.backends.scripted import ScriptedBackend
    from agent_arena.server import ArenaServer, ServerConfig

    backend = ScriptedBackend(
        delay_s=delay_s,
        answer='{"thought": "walk to the apple", "tool": "move_to", '
               '"arguments": {"target": [4, 0, 2]}}')
    server = ArenaServer(backend, ServerConfig(bind="tcp://127.0.0.1:0", max_pending=100_000,
                                               default_deadline_ms=60_000), tools=_game_tools())
    conn.send(await server.start())
    cpu0 = time.process_time()  # this process, all threads (libzmq's I/O thread too)
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # wait for "stop"
    if prof is not None and profile:
        import pstats

        prof.disable()
        with open(profile, "w") as f:
            pstats.Stats(prof, stream=f).sort_stats("tottime").print_stats(30)
    stats: dict[str, Any] = dict(server.stats)
    if stats.get("decisions"):  # warm-up included; robust to a busy machine, unlike wall time
        stats["cpu_us_per_decision"] = round(
            (time.process_time() - cpu0) / stats["decisions"] * 1e6, 1)
    conn.send(stats)
    await server.stop()


async def _echo_main(conn: Any) -> None:
    ctx = zmq.asyncio.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.linger = 0
    sock.sndhwm = 0  # as the server does (a ROUTER drops replies at the HWM otherwise)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    conn.send(f"tcp://127.0.0.1:{port}")

    async def serve() -> None:
        while True:
            ident, payload = await sock.recv_multipart()
            m = msgpack.unpackb(payload, raw=False)
            t0 = time.monotonic()
            reply = {"type": "action", "id": m["id"], "agent_id": m["agent_id"],
                     "tick": m["tick"], "call": {"tool": "move_to",
                                                 "arguments": {"target": [4, 0, 2]}},
                     "status": "ok", "reason": None, "thought": "walk to the apple",
                     "latency_ms": round((time.monotonic() - t0) * 1000, 2),
                     "usage": {"prompt_tokens": 0, "completion_tokens": 0, "attempts": 1},
                     "backend": "echo"}
            await sock.send_multipart([ident, msgpack.packb(reply, use_bin_type=True)])

    task = asyncio.create_task(serve())
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    task.cancel()
    conn.send({})
    sock.close(0)
    ctx.term()


def _child(kind: str, conn: Any, delay_s: float, profile: str | None, loop: str) -> None:
    main = _bridge_main(conn, delay_s, profile) if kind == "bridge" else _echo_main(conn)
    if loop == "uvloop":
        import uvloop

        uvloop.run(main)
    else:
        asyncio.run(main)


class ServerProcess:
    def __init__(self, kind: str, delay_s: float = 0.0, profile: str | None = None,
                 loop: str = "asyncio") -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_child, args=(kind, child, delay_s, profile, loop),
                                daemon=True)
        self.proc.start()
        if not self.conn.poll(60):
            raise RuntimeError(f"{kind} server did not start")
        self.endpoint: str = self.conn.recv()

    def stop(self) -> dict[str, Any]:
        stats: dict[str, Any] = {}
        try:
            self.conn.send("stop")
            if self.conn.poll(30):
                stats = self.conn.recv()
        finally:
            self.proc.join(30)
            if self.proc.is_alive():
                self.proc.kill()
        return stats


# ---- load generator (same for both) ----------------------------------------------------------


@dataclass
class Result:
    system: str
    agents: int
    decisions: int
    wall_s: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    decisions_per_s: float
    non_ok: int  # replies that were not an ok action
    lost: int  # requests never answered (the run is cut 60 s after its end)
    load_avg_1m: float
    cpu_us_per_decision: float | None = None  # bridge process CPU (all threads) per decision


async def drive(endpoint: str, agents: int, rounds: int, seconds: float,
                warmup_s: float) -> tuple[list[float], int, int, float]:
    """Each agent: observe -> wait for its action -> next, until ``rounds`` or ``seconds``."""
    ctx = zmq.asyncio.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(endpoint)
    waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
    loop = asyncio.get_running_loop()

    async def reader() -> None:
        while True:
            reply = msgpack.unpackb(await sock.recv(), raw=False)
            fut = waiting.pop(reply["id"], None)
            if fut is not None:
                fut.set_result(reply)

    ids = iter(range(1, 1 << 62))
    samples: list[float] = []
    non_ok = 0
    start = loop.time()
    measure_from = start + warmup_s
    stop_at = measure_from + seconds

    async def agent(i: int) -> None:
        nonlocal non_ok
        done = 0
        tick = 0
        while done < rounds and loop.time() < stop_at:
            rid = next(ids)
            fut = loop.create_future()
            waiting[rid] = fut
            t0 = time.perf_counter()
            await sock.send(msgpack.packb(
                {"type": "observe", "id": rid, "agent_id": f"agent-{i}", "tick": tick,
                 "observation": OBSERVATION}, use_bin_type=True))
            reply = await fut
            dt = (time.perf_counter() - t0) * 1000.0
            tick += 1
            if loop.time() >= measure_from:
                samples.append(dt)
                done += 1
                if reply.get("type") != "action" or reply.get("status") != "ok":
                    non_ok += 1

    read_task = asyncio.create_task(reader())
    lost = 0
    try:  # a lost reply would leave its agent waiting forever: bound the run instead
        await asyncio.wait_for(asyncio.gather(*(agent(i) for i in range(agents))),
                               warmup_s + seconds + 60)
    except asyncio.TimeoutError:
        lost = len(waiting)
    finally:
        read_task.cancel()
        sock.close(0)
        ctx.term()
    wall = max(min(loop.time(), stop_at) - measure_from, 1e-9) if lost else \
        max(loop.time() - measure_from, 1e-9)
    return samples, non_ok, lost, wall


def _lean_client(endpoint: str, agents: int, rounds: int, seconds: float, warmup_s: float,
                 conn: Any) -> None:
    """Synchronous DEALER: one observe in flight per agent; a reply sends that agent's next."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.rcvtimeo = 60_000  # a lost reply ends the run instead of hanging it
    sock.sndhwm = sock.rcvhwm = 0
    sock.connect(endpoint)
    pack = msgpack.Packer(use_bin_type=True).pack
    unpack = msgpack.unpackb
    sent_at: dict[int, tuple[int, int, float]] = {}  # id -> (agent, tick, t0)
    ids = iter(range(1, 1 << 62))
    perf = time.perf_counter

    def send(agent: int, tick: int) -> None:
        rid = next(ids)
        sent_at[rid] = (agent, tick, perf())
        sock.send(pack({"type": "observe", "id": rid, "agent_id": f"agent-{agent}",
                        "tick": tick, "observation": OBSERVATION}))

    start = perf()
    measure_from, stop_at = start + warmup_s, start + warmup_s + seconds
    for i in range(agents):
        send(i, 0)
    samples: list[float] = []
    non_ok = lost = 0
    done = 0
    target = rounds * agents
    while sent_at:
        try:
            reply = unpack(sock.recv(), raw=False)
        except zmq.Again:
            lost = len(sent_at)
            break
        now = perf()
        agent, tick, t0 = sent_at.pop(reply["id"])
        if now >= measure_from:
            samples.append((now - t0) * 1000.0)
            done += 1
            if reply.get("type") != "action" or reply.get("status") != "ok":
                non_ok += 1
        if now < stop_at and done < target:
            send(agent, tick + 1)
    wall = max(min(perf(), stop_at) - measure_from, 1e-9)
    sock.close(0)
    ctx.term()
    conn.send((samples, non_ok, lost, wall))


def drive_lean(endpoint: str, agents: int, rounds: int, seconds: float,
               warmup_s: float) -> tuple[list[float], int, int, float]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_lean_client,
                       args=(endpoint, agents, rounds, seconds, warmup_s, child), daemon=True)
    proc.start()
    try:
        if not parent.poll(warmup_s + seconds + 120):
            raise RuntimeError("the lean client did not finish")
        return parent.recv()
    finally:
        proc.join(30)


def percentile(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, round(p / 100.0 * (len(xs) - 1))))
    return xs[k]


def measure(system: str, agents: int, args: argparse.Namespace) -> tuple[Result, dict]:
    server = ServerProcess(system, args.delay if system == "bridge" else 0.0,
                           args.profile if system == "bridge" else None, args.loop)
    try:
        load = os.getloadavg()[0]
        if args.client == "lean":
            samples, non_ok, lost, wall = drive_lean(server.endpoint, agents, args.rounds,
                                                     args.seconds, args.warmup)
        else:
            samples, non_ok, lost, wall = asyncio.run(
                drive(server.endpoint, agents, args.rounds, args.seconds, args.warmup))
    finally:
        stats = server.stop()
    return Result(
        system=system, agents=agents, decisions=len(samples), wall_s=round(wall, 3),
        p50_ms=round(percentile(samples, 50), 3), p99_ms=round(percentile(samples, 99), 3),
        mean_ms=round(statistics.fmean(samples), 3) if samples else float("nan"),
        decisions_per_s=round(len(samples) / wall, 1), non_ok=non_ok, lost=lost,
        load_avg_1m=round(load, 2), cpu_us_per_decision=stats.get("cpu_us_per_decision")), stats


# ---- machine and output ------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = platform.processor() or "?"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=5,
                             check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "pyzmq": zmq.__version__, "libzmq": zmq.zmq_version(),
            "msgpack": ".".join(map(str, msgpack.version)), "platform": platform.platform()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agents", default="1,10,100,1000",
                    help="comma-separated concurrent agent counts (default: %(default)s)")
    ap.add_argument("--rounds", type=int, default=2000,
                    help="max measured decisions per agent (default: %(default)s)")
    ap.add_argument("--seconds", type=float, default=5.0,
                    help="max measured seconds per run (default: %(default)s)")
    ap.add_argument("--warmup", type=float, default=1.0,
                    help="seconds of traffic before measuring (default: %(default)s)")
    ap.add_argument("--client", choices=("lean", "asyncio"), default="lean",
                    help="load generator (default: %(default)s)")
    ap.add_argument("--systems", default="echo,bridge",
                    help="which servers to measure (default: %(default)s)")
    ap.add_argument("--delay", type=float, default=0.0,
                    help="simulated model time per decision in the bridge, seconds")
    ap.add_argument("--profile", help="write a cProfile table of the bridge process here")
    ap.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio",
                    help="event loop of both servers (default: %(default)s)")
    ap.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = ap.parse_args(argv)
    counts = [int(x) for x in args.agents.split(",") if x.strip()]

    console = Console() if sys.stdout.isatty() else Console(width=120)
    info = machine()
    console.print(f"[bold]bridge overhead[/]: {info['cpu']}, {info['cores']} cores, "
                  f"Python {info['python']}, pyzmq {info['pyzmq']} (libzmq {info['libzmq']}); "
                  f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
                  highlight=False)
    results: list[Result] = []
    for n in counts:
        for system in [x for x in args.systems.split(",") if x]:
            r, stats = measure(system, n, args)
            results.append(r)
            console.print(f"  {system:<6} agents={n:<5} decisions={r.decisions:<7} "
                          f"p50={r.p50_ms:.3f} ms p99={r.p99_ms:.3f} ms "
                          f"{r.decisions_per_s:.0f}/s non_ok={r.non_ok} lost={r.lost} "
                          f"load={r.load_avg_1m:.2f}"
                          + (f" server_stats={stats}" if stats else ""), highlight=False)

    table = Table(title="Round trip per decision, TCP loopback, instant backend",
                  caption="echo: raw pyzmq ROUTER + msgpack, same messages; bridge: ArenaServer "
                          "+ scripted backend. Overhead = bridge p50 - echo p50.")
    for col in ("agents", "system", "decisions", "p50 ms", "p99 ms", "decisions/s",
                "p50 overhead ms", "bridge CPU µs/decision", "load 1m"):
        table.add_column(col, justify="right" if col != "system" else "left")
    by = {(r.system, r.agents): r for r in results}
    for n in counts:
        echo, bridge = by.get(("echo", n)), by.get(("bridge", n))
        for r in (echo, bridge):
            if r is None:
                continue
            over = ""
            if r is bridge and echo is not None and bridge is not None:
                share = bridge.decisions_per_s / max(echo.decisions_per_s, 1e-9)
                over = f"{bridge.p50_ms - echo.p50_ms:+.3f} ({share:.0%} of echo/s)"
            table.add_row(str(n), r.system, str(r.decisions), f"{r.p50_ms:.3f}", f"{r.p99_ms:.3f}",
                          f"{r.decisions_per_s:,.0f}", over,
                          "" if r.cpu_us_per_decision is None else f"{r.cpu_us_per_decision:.1f}",
                          f"{r.load_avg_1m:.2f}")
    console.print(table)
    console.print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
                  highlight=False)
    bad = sum(r.non_ok + r.lost for r in results)
    if bad:
        console.print(f"[red]{bad} requests were lost or not answered with status ok[/]")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "benchmark": "bridge_overhead", "machine": info, "command": " ".join(sys.argv),
            "params": {"agents": counts, "rounds": args.rounds, "seconds": args.seconds,
                       "warmup_s": args.warmup, "client": args.client, "delay_s": args.delay,
                       "loop": args.loop},
            "results": [asdict(r) for r in results]}, indent=2))
        console.print(f"wrote {args.json}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
