"""Observability cost: what metrics and the live dashboard add to each decision.

The same lean load generator as bench/bridge_overhead.py (a synchronous pyzmq DEALER in its own
process, one observe in flight per agent) drives the real ArenaServer with the instant scripted
backend, in its own process, in these variants:

  * off        no metrics, no dashboard (the listener list is empty: nothing is built)
  * metrics    server.metrics_port (Prometheus counters/histograms per decision)
  * dashboard  server.dashboard_port (latest-per-agent table and latency ring buffer)
  * both       both listeners
  * watched    both, with a scraper fetching /metrics every second and one page's event
               stream (/events, an update every 0.5 s) connected for the whole run
  * listener   no HTTP, one listener that does nothing: what building and passing the
               DecisionEvent costs (also what `serve`'s status line pays)
  * http-only  both HTTP listeners up, their decision listeners removed: what aiohttp on the
               server's loop costs by itself

Reported per variant: round trip p50/p99 and decisions/s at the client, and the server
process's CPU time per decision (``time.process_time`` over the run / decisions answered),
the most direct "cost per decision". Variants run interleaved, ``--repeat`` times each (each
round starting at another variant), and the median of the repeats is shown (the machine is
shared; the spread is printed).

A second table times the pieces themselves in this process, which a busy machine disturbs far
less than the end-to-end runs: building the DecisionEvent (only done when a listener exists),
each listener's ``on_decision``, a /metrics render, and one dashboard update with 100 changed
agents (best of 5 runs of many calls each).

Run:

    .venv/bin/python bench/observability_cost.py
    .venv/bin/python bench/observability_cost.py --agents 1,100 --seconds 4 --repeat 3 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bridge_overhead import _game_tools, drive_lean, machine, percentile

VARIANTS = ("off", "metrics", "dashboard", "both", "watched", "listener", "http-only")


async def _server_main(conn: Any, variant: str) -> None:
    from agent_arena.backends.scripted import ScriptedBackend
    from agent_arena.dashboard import start_with_views
    from agent_arena.server import ArenaServer, ServerConfig

    backend = ScriptedBackend(
        answer='{"thought": "walk to the apple", "tool": "move_to", '
               '"arguments": {"target": [4, 0, 2]}}')
    views = {"metrics": {"metrics_port": 0}, "dashboard": {"dashboard_port": 0},
             "both": {"metrics_port": 0, "dashboard_port": 0},
             "watched": {"metrics_port": 0, "dashboard_port": 0},
             "http-only": {"metrics_port": 0, "dashboard_port": 0}}.get(variant, {})
    server = ArenaServer(backend, ServerConfig(bind="tcp://127.0.0.1:0", max_pending=100_000,
                                               default_deadline_ms=60_000, **views),
                         tools=_game_tools())
    endpoint = await start_with_views(server)  # the views the CLI would start
    if variant == "http-only":
        server.decisions.listeners.clear()
    elif variant == "listener":
        server.add_listener(lambda ev: None)
    cpu0 = time.process_time()
    conn.send((endpoint, dict(server.views.urls) if server.views else {}))
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # wait for "stop"
    cpu = time.process_time() - cpu0
    conn.send({"cpu_s": cpu, "decisions": server.stats["decisions"]})
    await server.stop()


def _child(conn: Any, variant: str) -> None:
    asyncio.run(_server_main(conn, variant))


class Watchers:
    """A Prometheus-like scraper (1/s) and one dashboard page's event stream, in threads."""

    def __init__(self, urls: dict[str, str]) -> None:
        self.stop = threading.Event()
        self.scrapes = self.events = 0
        self.failures: list[str] = []
        self.threads = [threading.Thread(target=self._scrape, args=(urls["metrics"],)),
                        threading.Thread(target=self._stream, args=(urls["dashboard"],))]
        for t in self.threads:
            t.daemon = True
            t.start()

    def _scrape(self, url: str) -> None:
        with httpx.Client(timeout=30) as http:
            while not self.stop.wait(1.0):
                try:
                    http.get(url).raise_for_status()
                    self.scrapes += 1
                except httpx.HTTPError as exc:
                    self.failures.append(f"scrape: {exc!r}")

    def _stream(self, base: str) -> None:
        try:
            with httpx.Client(timeout=30) as http, \
                    http.stream("GET", base + "events") as resp:
                resp.raise_for_status()
                for line in resp.iter_lines():
                    if line.startswith("data: "):
                        self.events += 1
                    if self.stop.is_set():
                        return
        except httpx.HTTPError as exc:
            if not self.stop.is_set():  # the server ending the stream at stop is expected
                self.failures.append(f"events: {exc!r}")

    def close(self) -> None:
        self.stop.set()
        self.threads[0].join(10)  # the stream thread ends when the server stops its stream


@dataclass
class Result:
    variant: str
    agents: int
    decisions: int
    p50_ms: float
    p99_ms: float
    decisions_per_s: float
    server_cpu_us_per_decision: float
    scrapes: int
    page_updates: int
    failed: int  # replies lost or not ok, and failed scrapes / streams (0 in a good run)


def measure(variant: str, agents: int, args: argparse.Namespace) -> Result:
    ctx = mp.get_context("spawn")
    conn, child = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(child, variant), daemon=True)
    proc.start()
    if not conn.poll(60):
        raise RuntimeError("server did not start")
    endpoint, urls = conn.recv()
    watchers = Watchers(urls) if variant == "watched" else None
    try:
        samples, non_ok, lost, wall = drive_lean(endpoint, agents, args.rounds, args.seconds,
                                                 args.warmup)
    finally:
        if watchers is not None:
            watchers.close()
            for why in watchers.failures[:3]:
                print(f"  watcher failed: {why}", file=sys.stderr)
        conn.send("stop")
        stats = conn.recv() if conn.poll(30) else {"cpu_s": float("nan"), "decisions": 1}
        proc.join(30)
        if proc.is_alive():
            proc.kill()
    return Result(variant, agents, len(samples), round(percentile(samples, 50), 3),
                  round(percentile(samples, 99), 3), round(len(samples) / wall, 1),
                  round(stats["cpu_s"] / max(stats["decisions"], 1) * 1e6, 1),
                  watchers.scrapes if watchers else 0, watchers.events if watchers else 0,
                  lost + non_ok + (len(watchers.failures) if watchers else 0))


def _time_per_call(fn: Any, n: int, runs: int = 5) -> float:
    """Best of ``runs``: seconds per call of ``fn(i)`` over ``n`` calls."""
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        for i in range(n):
            fn(i)
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def micro(n: int = 100_000) -> list[tuple[str, float, str]]:
    """(piece, microseconds per call, what one call is), timed in this process."""
    from agent_arena.backends.scripted import ScriptedBackend
    from agent_arena.dashboard.state import DashboardState
    from agent_arena.metrics import ArenaMetrics
    from agent_arena.server import ArenaServer, ServerConfig
    from agent_arena.server.decisions import DecisionEvent
    from bridge_overhead import OBSERVATION

    server = ArenaServer(ScriptedBackend(), ServerConfig(bind="tcp://127.0.0.1:0"),
                         tools=_game_tools())  # never started: its listeners are called here
    call = {"tool": "move_to", "arguments": {"target": [4, 0, 2]}}
    agents = [f"agent-{i}" for i in range(100)]

    def event(i: int) -> DecisionEvent:  # as Decisions.finish builds it
        return DecisionEvent("session-1", agents[i % 100], i, "default", "ok", call, None, None,
                             "walk to the apple", 1.2, 1.0, 120, 18, 1, "constrained",
                             "scripted", OBSERVATION, True)

    events = [event(i) for i in range(1000)]
    metrics = ArenaMetrics(server)
    state = DashboardState(server)
    out = [("DecisionEvent", _time_per_call(event, n) * 1e6, "built once per decision, only "
            "when a listener is registered")]
    out.append(("metrics.on_decision", _time_per_call(
        lambda i: metrics.on_decision(events[i % 1000]), n) * 1e6,
        "counters and histograms of one decision"))
    out.append(("dashboard.on_decision", _time_per_call(
        lambda i: state.on_decision(events[i % 1000]), n) * 1e6,
        "latest per agent and one latency point"))
    out.append(("/metrics render", _time_per_call(lambda i: metrics.render(), 200) * 1e6,
                "one scrape (per scrape, not per decision)"))

    def page_update(i: int) -> None:
        for ev in events[:100]:
            state.on_decision(ev)
        state.update(state.seq - 100)

    base = _time_per_call(lambda i: [state.on_decision(ev) for ev in events[:100]], 200)
    out.append(("dashboard update", (_time_per_call(page_update, 200) - base) * 1e6,
                "one /events update with 100 changed agents (at most 2 a second per page)"))
    server.transport.close(linger_ms=0)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agents", default="1,100", help="concurrent agents (default: %(default)s)")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--rounds", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=4.0, help="measured seconds per run")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3, help="runs per variant, interleaved")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--no-micro", action="store_true", help="skip the in-process timings")
    args = ap.parse_args(argv)
    counts = [int(x) for x in args.agents.split(",") if x]
    variants = [v for v in args.variants.split(",") if v]
    console = Console() if sys.stdout.isatty() else Console(width=130)
    info = machine()
    console.print(f"[bold]observability cost[/]: {info['cpu']}, {info['cores']} cores, Python "
                  f"{info['python']}; load average before: "
                  f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", highlight=False)
    runs: dict[tuple[str, int], list[Result]] = {}
    for n in counts:
        for rep in range(args.repeat):
            # each round starts at another variant, so none is always first (or last)
            for v in variants[rep % len(variants):] + variants[:rep % len(variants)]:
                r = measure(v, n, args)
                runs.setdefault((v, n), []).append(r)
                console.print(f"  {v:<9} agents={n:<4} p50={r.p50_ms:.3f} ms "
                              f"p99={r.p99_ms:.3f} ms {r.decisions_per_s:,.0f}/s "
                              f"cpu={r.server_cpu_us_per_decision:.1f} us/decision "
                              f"scrapes={r.scrapes} page_updates={r.page_updates} "
                              f"failed={r.failed}", highlight=False)
    table = Table(title="Cost of metrics and dashboard per decision (instant backend, TCP "
                        "loopback); median of runs",
                  caption="cpu: server process CPU time / decisions answered. vs off: "
                          "difference of the medians.")
    for col in ("agents", "variant", "p50 ms", "p99 ms", "decisions/s", "server cpu us/dec",
                "cpu vs off", "spread cpu us"):
        table.add_column(col, justify="left" if col == "variant" else "right")
    medians: list[dict[str, Any]] = []
    for n in counts:
        base = None
        for v in variants:
            rs = runs[(v, n)]
            med = {k: statistics.median(getattr(r, k) for r in rs)
                   for k in ("p50_ms", "p99_ms", "decisions_per_s",
                             "server_cpu_us_per_decision")}
            cpus = [r.server_cpu_us_per_decision for r in rs]
            if v == "off":
                base = med
            diff = "" if base is None or v == "off" else \
                f"{med['server_cpu_us_per_decision'] - base['server_cpu_us_per_decision']:+.1f}"
            table.add_row(str(n), v, f"{med['p50_ms']:.3f}", f"{med['p99_ms']:.3f}",
                          f"{med['decisions_per_s']:,.0f}",
                          f"{med['server_cpu_us_per_decision']:.1f}", diff,
                          f"{min(cpus):.1f}-{max(cpus):.1f}")
            medians.append({"variant": v, "agents": n, **med})
    console.print(table)
    pieces = micro() if not args.no_micro else []
    if pieces:
        t2 = Table(title="The pieces, timed in this process (best of 5)")
        t2.add_column("piece", justify="left")
        t2.add_column("us per call", justify="right")
        t2.add_column("one call is", justify="left")
        for name, us, what in pieces:
            t2.add_row(name, f"{us:.2f}", what)
        console.print(t2)
    console.print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
                  highlight=False)
    failed = sum(r.failed for rs in runs.values() for r in rs)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "benchmark": "observability_cost", "machine": info, "command": " ".join(sys.argv),
            "runs": [asdict(r) for rs in runs.values() for r in rs], "medians": medians,
            "pieces_us": {name: round(us, 3) for name, us, _ in pieces}},
            indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
