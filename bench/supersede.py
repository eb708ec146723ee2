"""Supersede on the embedded model: does a decision nobody wants still hold the model?

    .venv/bin/python bench/supersede.py --agents 8 --rounds 6
    PYTHONPATH=<old checkout>/python .venv/bin/python bench/supersede.py   # the same, before

Each agent, every round: sends an observe, and while the model works on it sends a newer one
for the same agent (a game whose state moved on); the first is answered ``superseded`` at once.
Measured: the latency of the newer observe's action, as the game sees it (p50/p99), and
decisions/s. If a superseded generation keeps running to max_tokens, every agent behind it in
llama.cpp's single queue waits for it. Only the public API is used (server, client), so the
same script measures older checkouts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

from agent_arena import settings
from agent_arena.backends.llama_cpp import LlamaCppBackend, LlamaCppConfig
from agent_arena.calling import CallingConfig
from agent_arena.client import ArenaClient
from agent_arena.server import ArenaServer, ServerConfig


def pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def run(agents: int, rounds: int, gap_s: float, max_tokens: int, strategy: str) -> dict:
    cfg = settings.compose()
    model = LlamaCppBackend(LlamaCppConfig(seed=0, max_tokens=max_tokens))
    await asyncio.to_thread(model.load)
    server = ArenaServer(model, ServerConfig(bind="tcp://127.0.0.1:0",
                                             default_deadline_ms=600_000),
                         tools=settings.tool_specs(cfg), profiles=settings.profiles(cfg),
                         calling=CallingConfig(strategy=strategy))
    endpoint = await server.start()
    lat: list[float] = []
    statuses: dict[str, int] = {}
    try:
        async with ArenaClient(endpoint, timeout_s=600) as client:
            await client.hello()
            await client.observe("warm", 0, {"health": 90})

            async def agent(i: int) -> None:
                for r in range(rounds):
                    obs = {"position": [i, 0, r], "health": 90 - r, "goal": "explore",
                           "nearby": [{"id": f"apple-{i}{r}", "kind": "apple",
                                       "position": [i + 3, 0, r], "distance": 3.0}]}
                    old = asyncio.ensure_future(client.observe(f"npc{i}", 2 * r, obs))
                    await asyncio.sleep(gap_s)  # the game moves on before the model answers
                    t0 = time.perf_counter()
                    new = await client.observe(f"npc{i}", 2 * r + 1, {**obs, "health": 80})
                    lat.append((time.perf_counter() - t0) * 1000.0)
                    for a in (await old, new):
                        statuses[a["status"]] = statuses.get(a["status"], 0) + 1

            t = time.perf_counter()
            await asyncio.gather(*(agent(i) for i in range(agents)))
            wall = time.perf_counter() - t
    finally:
        await server.stop()
        await model.close()
    return {"agents": agents, "rounds": rounds, "gap_s": gap_s, "max_tokens": max_tokens,
            "strategy": strategy,
            "decisions": len(lat), "decisions_per_s": round(len(lat) / wall, 2),
            "p50_ms": round(pct(lat, 50)), "p99_ms": round(pct(lat, 99)),
            "statuses": statuses, "backend_stats": dict(model.stats)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--agents", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--gap", type=float, default=0.05, help="seconds before the newer observe")
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--strategy", default="auto",
                    help="calling.strategy; prompt lets a small model ramble to max_tokens")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    out = asyncio.run(run(args.agents, args.rounds, args.gap, args.max_tokens, args.strategy))
    print(json.dumps(out))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
