"""End to end on the embedded model: the bridge vs raw llama.cpp doing the same generations.

    .venv/bin/python bench/e2e_embedded.py --agents 1,8 --ticks 3

For each agent count: the demo world runs through the real server over ZeroMQ (loopback) with
the in-process llama_cpp backend, and every request the server sent to the model is recorded.
Then exactly those requests are replayed on the same model directly (no sockets, no server,
one after another): the "raw llama.cpp" floor. Reported: decisions/s, p50/p99 latency (per
decision as the game sees it, and per generation for raw), schema-valid %, and prefix reuse:
prompt tokens per request vs the ones llama.cpp really evaluated (the rest came from its prompt
cache).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from agent_arena import settings  # noqa: E402
from agent_arena.backends.llama_cpp import LlamaCppBackend, LlamaCppConfig  # noqa: E402
from agent_arena.backends.recording import RecordingBackend  # noqa: E402
from agent_arena.server import ArenaServer, ServerConfig  # noqa: E402
from agent_arena.world import run_demo  # noqa: E402


def pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def measure(model: LlamaCppBackend, agents: int, ticks: int) -> dict:
    cfg = settings.compose()
    tools, profiles = settings.tool_specs(cfg), settings.profiles(cfg)
    rec = RecordingBackend(model)
    server = ArenaServer(rec, ServerConfig(bind="tcp://127.0.0.1:0", default_deadline_ms=600000),
                         tools=tools, profiles=profiles)
    endpoint = await server.start()
    try:
        # one untimed warm-up tick (model load, grammar, first prompt)
        await run_demo(endpoint, tools, agents=agents, ticks=1, deadline_ms=600000, seed=1)
        rec.requests.clear()
        stats0 = dict(model.stats)
        t = time.perf_counter()
        summary = await run_demo(endpoint, tools, agents=agents, ticks=ticks,
                                 deadline_ms=600000, seed=7)
        bridge_s = time.perf_counter() - t
        used = {k: model.stats[k] - stats0[k] for k in model.stats}
    finally:
        await server.stop()
    raw_lat = []
    t = time.perf_counter()
    for req in rec.requests:
        t1 = time.perf_counter()
        await model.chat(req)
        raw_lat.append((time.perf_counter() - t1) * 1000)
    raw_s = time.perf_counter() - t
    lat = [d.latency_ms for d in summary.decisions]
    return {
        "agents": agents, "decisions": summary.n, "valid_pct": summary.valid_pct,
        "bridge_decisions_per_s": summary.n / bridge_s, "bridge_p50_ms": pct(lat, 50),
        "bridge_p99_ms": pct(lat, 99), "raw_generations": len(rec.requests),
        "raw_decisions_per_s": len(rec.requests) / raw_s, "raw_p50_ms": pct(raw_lat, 50),
        "raw_p99_ms": pct(raw_lat, 99),
        "prompt_tokens_per_request": used["prompt_tokens"] / max(used["requests"], 1),
        "evaluated_prompt_tokens_per_request":
            used["prompt_tokens_evaluated"] / max(used["requests"], 1),
    }


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--agents", default="1,8")
    ap.add_argument("--ticks", type=int, default=3)
    ap.add_argument("--json")
    args = ap.parse_args()
    model = LlamaCppBackend(LlamaCppConfig())
    model.load()
    rows = []
    print(f"cores={os.cpu_count()} load={os.getloadavg()[0]:.2f}", flush=True)
    for n in (int(x) for x in args.agents.split(",")):
        r = await measure(model, n, args.ticks)
        r["load_1m"] = os.getloadavg()[0]
        rows.append(r)
        print(f"agents={n:<3} decisions={r['decisions']:<4} valid={r['valid_pct']:.0f}%  "
              f"bridge: {r['bridge_decisions_per_s']:.2f}/s p50={r['bridge_p50_ms']:.0f}ms "
              f"p99={r['bridge_p99_ms']:.0f}ms | raw llama.cpp: "
              f"{r['raw_decisions_per_s']:.2f}/s p50={r['raw_p50_ms']:.0f}ms "
              f"p99={r['raw_p99_ms']:.0f}ms | prompt tokens/request "
              f"{r['prompt_tokens_per_request']:.0f}, evaluated "
              f"{r['evaluated_prompt_tokens_per_request']:.0f} | load={r['load_1m']:.2f}",
              flush=True)
    await model.close()
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
