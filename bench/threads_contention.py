"""llama.cpp thread count vs another process busy on one core (the game, a browser).

    .venv/bin/python bench/threads_contention.py

Four decisions in a row (the first includes the model load) with n_threads 1 and all cores,
with and without a second process busy-looping on one core. Prints seconds per decision.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from agent_arena.agents import AgentState  # noqa: E402
from agent_arena.backends.llama_cpp import LlamaCppBackend, LlamaCppConfig  # noqa: E402
from agent_arena.calling import CallingConfig, decide_once  # noqa: E402
from agent_arena.prompt import build_messages  # noqa: E402
from agent_arena.tools import ToolRegistry  # noqa: E402
from support.fixtures import default_profiles, game_tools  # noqa: E402


async def run(threads: int, busy: bool) -> list[float]:
    registry, profile = ToolRegistry(game_tools()), default_profiles()["default"]
    backend = LlamaCppBackend(LlamaCppConfig(n_threads=threads))
    backend.load()
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        times = []
        for i in range(4):
            t = time.perf_counter()
            msgs = build_messages(profile, AgentState("a"), {"health": 100, "n": i})
            await decide_once(backend, msgs, registry, None, CallingConfig(),
                              backend.default_sampling)
            times.append(time.perf_counter() - t)
        return times
    finally:
        if hog is not None:
            hog.kill()
        await backend.close()


async def main() -> None:
    cores = os.cpu_count() or 1
    for busy in (False, True):
        for threads in sorted({1, cores}):
            times = await run(threads, busy)
            print(f"n_threads={threads} other_core_busy={busy}: "
                  + " ".join(f"{x:.2f}" for x in times), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
