"""N NPCs in a closed loop over real sockets, and the same requests to the engine alone.

Each NPC sends its next observe as soon as it gets its reply (a game that waits for its NPCs),
cycling through the scenarios of the given sets with the game's masks; every set is one game
session with its own tools. Reported per N: decisions/s, p50/p95 latency, share of replies with
the right tool, prompt tokens per decision. Then the exact chat requests the server sent to the
backend are replayed to the backend directly, N at a time in a closed loop, so the bridge's
share is visible (bridge decisions/s / engine requests/s). The replay goes to a fresh engine,
so it evaluates the same prompts the bridge's engine did (no cache holds them yet).

    .venv/bin/python bench/npcs.py                      # N = 1 2 4 8 16 32, bench/eval_games
    .venv/bin/python bench/npcs.py --n 1 8 --seconds 30 backend.n_threads=2 backend.lora=none

Trailing ``key=value`` arguments are Hydra overrides of the served configuration. Writes
outputs/npcs/npcs.json and, with --plot, docs/npcs.png.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))

from agent_arena import settings  # noqa: E402
from agent_arena.backends import create_backend  # noqa: E402
from agent_arena.backends.base import Backend  # noqa: E402
from agent_arena.backends.recording import RecordingBackend  # noqa: E402
from agent_arena.backends.types import ChatRequest  # noqa: E402
from agent_arena.client import ArenaClient  # noqa: E402
from agent_arena.evaluation import (  # noqa: E402
    ScenarioSet,
    judge_reply,
    load_scenarios,
    percentile,
    scenario_paths,
)
from agent_arena.server import ArenaServer, ServerConfig  # noqa: E402
from agent_arena.tools import ToolRegistry  # noqa: E402


async def bridge_run(server_backend: RecordingBackend, sets: list[ScenarioSet], n: int, seconds: float,
                     cfg: dict[str, Any]) -> dict[str, Any]:
    server = ArenaServer(server_backend, ServerConfig(bind="tcp://127.0.0.1:0"),
                         tools=settings.tool_specs(cfg), profiles=settings.profiles(cfg),
                         calling=settings.calling_config(cfg))
    endpoint = await server.start()
    clients = []
    rows: list[Any] = []
    lat: list[float] = []
    try:
        for ss in sets:
            c = ArenaClient(endpoint, name=f"npcs-{ss.name}", timeout_s=600)
            await c.connect()
            await c.hello(tools=ss.tool_specs)
            clients.append((c, ss, ToolRegistry(ss.tool_specs)))
        end = time.monotonic() + seconds
        server_backend.requests.clear()

        async def npc(i: int) -> None:
            client, ss, check = clients[i % len(clients)]
            k = i
            while time.monotonic() < end:
                sc = ss.scenarios[k % len(ss.scenarios)]
                k += n
                t0 = time.monotonic()
                reply = await client.observe(f"npc-{i}", k, sc.observation, deadline_ms=600000,
                                             tools=list(sc.tools) if sc.tools else None,
                                             **dict(sc.observe))
                lat.append((time.monotonic() - t0) * 1000)
                rows.append(judge_reply(reply, sc, ss.name, 0, check))

        t0 = time.monotonic()
        await asyncio.gather(*(npc(i) for i in range(n)))
        wall = time.monotonic() - t0
    finally:
        for c, _, _ in clients:
            await c.close()
        await server.stop()
    return {"decisions": len(rows), "wall_s": wall, "per_s": len(rows) / wall,
            "p50_ms": percentile(lat, 50), "p95_ms": percentile(lat, 95),
            "right_tool": sum(r.right_tool for r in rows) / max(1, len(rows)),
            "valid": sum(r.valid for r in rows) / max(1, len(rows)),
            "prompt_tokens": sum(r.prompt_tokens for r in rows) / max(1, len(rows))}


async def engine_run(backend: Backend, requests: list[ChatRequest], n: int) -> dict[str, Any]:
    """The captured requests, N at a time, closed loop, straight to the backend."""
    queue = list(requests)
    lat: list[float] = []

    async def worker() -> None:
        while queue:
            req = queue.pop(0)
            t0 = time.monotonic()
            await backend.chat(req)
            lat.append((time.monotonic() - t0) * 1000)

    t0 = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(n)))
    wall = time.monotonic() - t0
    return {"requests": len(lat), "wall_s": wall, "per_s": len(lat) / max(wall, 1e-9),
            "p50_ms": percentile(lat, 50), "p95_ms": percentile(lat, 95)}


def plot(results: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = [r["n"] for r in results]
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    ax[0].plot(ns, [r["bridge"]["per_s"] for r in results], "o-", label="bridge (sockets)")
    ax[0].plot(ns, [r["engine"]["decisions_per_s"] for r in results], "s--",
               label="engine alone (same requests)")
    ax[0].set_xscale("log", base=2)
    ax[0].set_xlabel("NPCs")
    ax[0].set_ylabel("decisions / s")
    ax[0].legend()
    ax[1].plot(ns, [r["bridge"]["p95_ms"] / 1000 for r in results], "o-", label="p95")
    ax[1].plot(ns, [r["bridge"]["p50_ms"] / 1000 for r in results], "s--", label="p50")
    ax[1].set_xscale("log", base=2)
    ax[1].set_xlabel("NPCs")
    ax[1].set_ylabel("latency (s)")
    ax[1].legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", nargs="*", default=[str(ROOT / "bench/eval_games")])
    ap.add_argument("--n", nargs="*", type=int, default=[1, 2, 4, 8, 16, 32])
    ap.add_argument("--seconds", type=float, default=40.0, help="closed loop per N")
    ap.add_argument("--out", default=str(ROOT / "outputs/npcs"))
    ap.add_argument("--plot", default=None, help="PNG path (e.g. docs/npcs.png)")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. backend.n_threads=2")
    args = ap.parse_args()
    cfg = settings.compose(args.overrides)
    sets = [load_scenarios(p) for p in scenario_paths(args.sets)]
    backend = create_backend(cfg["backend"])
    t0 = time.monotonic()
    await backend.start()
    print(f"backend {backend.name} ({backend.model_name}) loaded in {time.monotonic() - t0:.1f} s;"
          f" sets: {', '.join(s.name for s in sets)}", flush=True)
    capture = RecordingBackend(backend)  # keeps the requests to replay them
    results = []
    for n in args.n:
        b = await bridge_run(capture, sets, n, args.seconds, cfg)
        # a fresh engine for the replay: the served one holds these very prompts in its slots'
        # caches, and replaying into it would skip their prompt evaluation
        fresh = create_backend(cfg["backend"])
        await fresh.start()
        e = await engine_run(fresh, list(capture.requests), n)
        await fresh.close()
        # the same decisions' requests (re-asks included, forced calls need none) without the
        # bridge: decisions per second of engine time
        e["decisions_per_s"] = b["decisions"] / max(e["wall_s"], 1e-9)
        results.append({"n": n, "bridge": b, "engine": e})
        print(f"N={n:3d}  bridge {b['per_s']:.2f}/s p50 {b['p50_ms']:.0f} ms p95 "
              f"{b['p95_ms']:.0f} ms right tool {b['right_tool']:.0%} valid {b['valid']:.0%} "
              f"prompt {b['prompt_tokens']:.0f} tok | engine alone {e['per_s']:.2f}/s p50 "
              f"{e['p50_ms']:.0f} ms ({e['decisions_per_s']:.2f} decisions/s) | bridge/engine "
              f"{b['per_s'] / max(e['decisions_per_s'], 1e-9):.2f}",
              flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "npcs.json").write_text(json.dumps({"overrides": args.overrides, "sets": args.sets,
                                               "results": results}, indent=1))
    if args.plot:
        plot(results, Path(args.plot), f"{backend.name}, {', '.join(args.overrides) or 'defaults'}")
    await backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
