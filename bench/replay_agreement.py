"""What replay agreement looks like run to run.

    .venv/bin/python bench/replay_agreement.py                  # 4 agents x 5 ticks of the demo
    .venv/bin/python bench/replay_agreement.py --agents 8 --ticks 5 --no-llama-server

1. Plays the demo world through a real ArenaServer (llama_cpp, embedded SmolLM2) with the
   journal on.
2. Replays the journal's recorded prompts on the same backend twice with the recorded sampling
   (no per-request seed: llama.cpp's RNG advances with every request), twice with
   ``replay.seed=0``, and once on a managed llama-server.
3. Reports each replay's agreement with the recording, and replay-vs-replay agreement.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import tempfile
from pathlib import Path

from agent_arena import settings
from agent_arena.backends import create_backend
from agent_arena.evaluation import _same
from agent_arena.export import load_traces
from agent_arena.journal import Journal, JournalConfig
from agent_arena.replay import ReplayConfig, ReplaySummary, replay
from agent_arena.server import ArenaServer, ServerConfig
from agent_arena.world import run_demo


async def record(path: Path, agents: int, ticks: int) -> int:
    cfg = settings.compose()
    backend = create_backend(cfg["backend"])
    await backend.start()
    tools, profiles = settings.tool_specs(cfg), settings.profiles(cfg)
    jcfg = JournalConfig(path=str(path))
    journal = None
    if "journal" in getattr(ServerConfig, "__dataclass_fields__", {}):
        server = ArenaServer(backend, ServerConfig(bind="tcp://127.0.0.1:0", journal=jcfg),
                             tools=tools, profiles=profiles)
    elif "journal" in inspect.signature(ArenaServer).parameters:
        journal = Journal(jcfg)
        server = ArenaServer(backend, ServerConfig(bind="tcp://127.0.0.1:0"), tools=tools,
                             profiles=profiles, journal=journal)
    else:
        raise SystemExit("this server has no journal hook")
    endpoint = await server.start()
    try:
        summary = await run_demo(endpoint, tools, agents=agents, ticks=ticks, deadline_ms=120000)
    finally:
        await server.stop()
        if journal is not None:
            journal.close()
        await backend.close()
    return summary.n


def between(a: ReplaySummary, b: ReplaySummary) -> tuple[float, float]:
    n = len(a.rows)
    tool = sum(x.tool == y.tool for x, y in zip(a.rows, b.rows, strict=True))
    call = sum(x.tool == y.tool and _same(x.arguments, y.arguments)
               for x, y in zip(a.rows, b.rows, strict=True))
    return 100.0 * tool / n, 100.0 * call / n


async def main_async(args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=150)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "demo.journal"
        n = await record(path, args.agents, args.ticks)
        decisions = load_traces(path)
        console.print(f"recorded {n} decisions ({len(decisions)} in the journal)")
        cfg = settings.compose()
        tools = settings.tool_specs(cfg)
        results: list[tuple[str, ReplaySummary]] = []
        backend = create_backend(cfg["backend"])
        await backend.start()
        try:
            for label, seed in (("llama_cpp recorded sampling #1", None),
                                ("llama_cpp recorded sampling #2", None),
                                ("llama_cpp seed=0 #1", 0), ("llama_cpp seed=0 #2", 0)):
                results.append((label, await replay(backend, decisions, tools=tools,
                                                    config=ReplayConfig(seed=seed))))
        finally:
            await backend.close()
        if not args.no_llama_server:
            server_cfg = settings.compose(["backend=llama_server"])["backend"]
            sb = create_backend({**server_cfg, "n_parallel": 1, "n_ctx": 4096})
            try:
                assert await sb.check(), "llama-server did not start"
                results.append(("llama_server seed=0", await replay(
                    sb, decisions, tools=tools, config=ReplayConfig(seed=0))))
            finally:
                await sb.close()  # stops the managed process
    t = Table(title="replay vs the recording", title_justify="left")
    for h in ("replay", "n", "same tool %", "same call %", "valid %", "p50 ms", "recorded p50 ms"):
        t.add_column(h, justify="right")
    for label, s in results:
        t.add_row(label, str(s.decisions), f"{s.same_tool_pct:.1f}", f"{s.same_call_pct:.1f}",
                  f"{s.schema_valid_pct:.1f}", f"{s.p50_ms:.0f}", f"{s.recorded_p50_ms:.0f}")
    console.print(t)
    b = Table(title="replay vs replay", title_justify="left")
    for h in ("pair", "same tool %", "same call %"):
        b.add_column(h, justify="right")
    for i, j in ((0, 1), (2, 3), (2, 4) if len(results) > 4 else (2, 3)):
        tool, call = between(results[i][1], results[j][1])
        b.add_row(f"{results[i][0]} / {results[j][0]}", f"{tool:.1f}", f"{call:.1f}")
    console.print(b)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--agents", type=int, default=4)
    ap.add_argument("--ticks", type=int, default=5)
    ap.add_argument("--no-llama-server", action="store_true")
    asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    main()
