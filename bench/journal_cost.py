"""What the journal costs per decision.

    .venv/bin/python bench/journal_cost.py                  # caller cost, writer throughput
    .venv/bin/python bench/journal_cost.py --decisions 2000 # more samples

1. On the event loop: ``Journal.record`` for a real action record (the default profile's prompt
   for a scenario observation, with the tool list the constrained strategy adds), i.e. the
   msgpack snapshot plus a queue put. Microseconds per record, bytes per record.
2. In the writer thread: records/s to disk for each fsync policy (never, rotate, always) and
   the time ``close()`` takes to drain what was queued.
3. Through the server (when ServerConfig has the ``journal`` hook): the same decisions with an
   instant scripted backend, journal off vs on: p50 round trip and decisions/s, i.e. the
   bridge's own cost with nothing else to hide it.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

from agent_arena import settings
from agent_arena.agents import AgentState
from agent_arena.calling import CallingConfig, pick_strategy
from agent_arena.evaluation import load_scenarios
from agent_arena.journal import Journal, JournalConfig, read_journal
from agent_arena.prompt import build_messages
from agent_arena.tools import ToolRegistry

ROOT = Path(__file__).resolve().parents[1]


def action_records(n: int) -> list[dict]:
    cfg = settings.compose()
    profile = settings.profiles(cfg)["default"]
    registry = ToolRegistry(settings.tool_specs(cfg))
    from agent_arena.backends.scripted import ScriptedBackend

    strategy = pick_strategy("constrained", ScriptedBackend())
    scenarios = load_scenarios(ROOT / "bench/scenarios/default_keys.yaml").scenarios
    out = []
    for i in range(n):
        sc = scenarios[i % len(scenarios)]
        msgs = build_messages(profile, AgentState("a"), sc.observation)
        req = strategy.build_request(msgs, registry.select(None), CallingConfig(), _sampling())
        out.append({
            "session": "3f2a9c1d0b7e", "agent_id": f"npc-{i % 8}", "tick": i // 8, "id": i,
            "backend": "llama_cpp", "model": "SmolLM2-135M-Instruct.Q4_1.gguf",
            "profile": "default", "tools": None, "messages": [dict(m) for m in req.messages],
            "sampling": dataclasses.asdict(req.sampling),
            "raw_text": '{"tool": "move_to", "arguments": {"target": [7, 0, 3]}}',
            "strategy": "constrained", "thought": None,
            "call": {"tool": "move_to", "arguments": {"target": [7, 0, 3]}}, "status": "ok",
            "reason": None, "latency_ms": 712.4,
            "usage": {"prompt_tokens": 612, "completion_tokens": 19, "attempts": 1}})
    return out


def _sampling():
    from agent_arena.backends.base import Sampling

    return Sampling(temperature=0.2, top_p=0.95, top_k=40, max_tokens=96)


def caller_cost(records: list[dict], fsync: str, tmp: Path) -> dict:
    path = tmp / f"cost-{fsync}.journal"
    j = Journal(JournalConfig(path=str(path), fsync=fsync))
    per = []
    t_all = time.perf_counter()
    for rec in records:
        t = time.perf_counter_ns()
        j.record("action", rec)
        per.append(time.perf_counter_ns() - t)
    t_rec = time.perf_counter() - t_all
    t0 = time.perf_counter()
    j.close()
    drain = time.perf_counter() - t0
    n = sum(1 for _ in read_journal(path, kinds=("action",)))
    assert n == len(records), (n, len(records))
    return {"fsync": fsync, "records": len(records),
            "record_us_p50": statistics.median(per) / 1000,
            "record_us_p99": sorted(per)[int(len(per) * 0.99)] / 1000,
            "bytes_per_record": j.stats["bytes"] / len(records),
            "written_per_s": len(records) / (t_rec + drain), "close_drain_s": drain}


async def through_server(n: int, concurrency: int, tmp: Path) -> list[dict] | None:
    from agent_arena.backends.scripted import ScriptedBackend
    from agent_arena.client import ArenaClient
    from agent_arena.server import ArenaServer, ServerConfig

    if "journal" not in ServerConfig.__dataclass_fields__:
        return None
    cfg = settings.compose()
    tools, profiles = settings.tool_specs(cfg), settings.profiles(cfg)
    obs = load_scenarios(ROOT / "bench/scenarios/default_keys.yaml").scenarios[0].observation
    out = []
    for label, journal in (("off", JournalConfig()),
                           ("on", JournalConfig(path=str(tmp / "server.journal")))):
        server = ArenaServer(ScriptedBackend(), ServerConfig(bind="tcp://127.0.0.1:0",
                                                             journal=journal),
                             tools=tools, profiles=profiles)
        endpoint = await server.start()
        lat: list[float] = []
        try:
            async with ArenaClient(endpoint) as client:
                await client.hello()
                gate = asyncio.Semaphore(concurrency)

                async def one(i: int, gate: asyncio.Semaphore = gate,
                              lat: list[float] = lat) -> None:
                    async with gate:
                        t = time.perf_counter()
                        r = await client.observe(f"a{i % concurrency}", i, obs)
                        lat.append((time.perf_counter() - t) * 1000)
                        assert r["status"] == "ok", r

                for i in range(50):  # warm up
                    await one(i)
                lat.clear()
                t0 = time.perf_counter()
                await asyncio.gather(*(one(i) for i in range(n)))
                wall = time.perf_counter() - t0
        finally:
            await server.stop()
        out.append({"journal": label, "decisions": n, "concurrency": concurrency,
                    "p50_ms": statistics.median(lat), "decisions_per_s": n / wall})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--decisions", type=int, default=5000)
    ap.add_argument("--server-decisions", type=int, default=2000)
    args = ap.parse_args()
    from rich.console import Console
    from rich.table import Table

    console = Console()
    records = action_records(args.decisions)
    with tempfile.TemporaryDirectory() as d:
        rows = [caller_cost(records, fsync, Path(d)) for fsync in ("never", "rotate", "always")]
        t = Table(title=f"journal: {args.decisions} action records", title_justify="left")
        for h in ("fsync", "record() p50 us", "p99 us", "bytes/record", "written/s", "close s"):
            t.add_column(h, justify="right")
        for r in rows:
            t.add_row(r["fsync"], f"{r['record_us_p50']:.1f}", f"{r['record_us_p99']:.1f}",
                      f"{r['bytes_per_record']:.0f}", f"{r['written_per_s']:.0f}",
                      f"{r['close_drain_s']:.3f}")
        console.print(t)
        for conc in (1, 32):
            res = asyncio.run(through_server(args.server_decisions, conc, Path(d)))
            if res is None:
                console.print("server: no ServerConfig.journal yet (the hook): skipped")
                break
            s = Table(title=f"server, scripted instant backend, {conc} in flight",
                      title_justify="left")
            for h in ("journal", "decisions", "p50 ms", "decisions/s"):
                s.add_column(h, justify="right")
            for r in res:
                s.add_row(r["journal"], str(r["decisions"]), f"{r['p50_ms']:.3f}",
                          f"{r['decisions_per_s']:.0f}")
            console.print(s)


if __name__ == "__main__":
    main()
