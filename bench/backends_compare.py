"""In-process llama.cpp vs the managed llama-server, through the whole bridge.

The demo world's agents think through a real ArenaServer over ZeroMQ (loopback), with

  * llama_cpp     the embedded model in-process (llama-cpp-python): one request at a time, and
  * llama_server  llama.cpp's llama-server child with N slots (continuous batching),

both on the embedded SmolLM2-135M-Instruct, the same sampling (temperature 0.2, top_k 40,
max_tokens 96), the same constrained strategy and all cores. One warm-up tick per run is not
counted. Reported per backend and agent count: decisions/s, p50/p99 decision latency (server
side, from observe to action), schema-valid share, and for llama-server the prompt tokens it
really evaluated per request (the rest came from the slot's KV cache).

    .venv/bin/python bench/backends_compare.py                      # 1 and 4 agents, 6 ticks
    .venv/bin/python bench/backends_compare.py --agents 1,4,8 --ticks 4 --slots 8 --json out.json
    .venv/bin/python bench/backends_compare.py --agents 8 --slots 4 \
        --backends llama_server,llama_server_unpinned     # pinning vs llama-server's own choice
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))

from agent_arena import settings  # noqa: E402
from agent_arena.agents import Profile  # noqa: E402
from agent_arena.backends import create_backend  # noqa: E402
from agent_arena.server import ArenaServer, ServerConfig  # noqa: E402
from agent_arena.world import run_demo  # noqa: E402

SAMPLING = {"temperature": 0.2, "top_p": 0.95, "top_k": 40, "max_tokens": 96,
            "repetition_penalty": 1.0}


def game_tools() -> list[dict[str, Any]]:
    return settings.tool_specs(settings.compose())


def profiles() -> dict[str, Profile]:
    return settings.profiles(settings.compose())


def make_backend(kind: str, slots: int) -> Any:
    if kind == "llama_cpp":
        return create_backend({"type": "llama_cpp", "seed": 0, **SAMPLING})
    if kind in ("vllm", "vllm_native"):  # a running vLLM server (bench/vllm_compare.py starts one)
        url = os.environ.get("VLLM_BASE_URL")
        if not url:
            raise SystemExit(f"{kind}: set VLLM_BASE_URL (or run bench/vllm_compare.py)")
        return create_backend({"type": "vllm", "api_base": url, "seed": 0, **SAMPLING,
                               # vllm: constrained json_schema like the others; vllm_native:
                               # tool_choice (auto picks native on vLLM)
                               "function_calling": {"enabled": kind == "vllm_native"}})
    # llama_server_unpinned: llama-server picks the slot itself (by prompt similarity)
    return create_backend({"type": "llama_server", "n_parallel": slots, "n_ctx": 2048 * slots,
                           "seed": 0, "pin_slots": kind != "llama_server_unpinned", **SAMPLING})


async def run_one(kind: str, agents: int, ticks: int, slots: int) -> dict[str, Any]:
    backend = make_backend(kind, slots)
    tools = game_tools()
    if not await backend.check():  # loads the model / starts the server, not timed
        raise SystemExit(f"{kind} is not available")
    server = ArenaServer(backend, ServerConfig(bind="tcp://127.0.0.1:0"), tools=tools,
                         profiles=profiles())
    await server.start()
    try:
        await run_demo(server.endpoint, tools, agents=agents, ticks=1, deadline_ms=600000,
                       seed=1, client_kwargs={"timeout_s": 900})  # warm-up: fills the caches
        stats0 = dict(getattr(backend, "stats", {}))
        t0 = time.perf_counter()
        summary = await run_demo(server.endpoint, tools, agents=agents, ticks=ticks,
                                 deadline_ms=600000, seed=1, client_kwargs={"timeout_s": 900})
        wall = time.perf_counter() - t0
        stats1 = dict(getattr(backend, "stats", {}))
    finally:
        await server.stop()
        await backend.close()
    row: dict[str, Any] = {
        "backend": f"{kind} ({slots} slots)" if kind.startswith("llama_server") else kind,
        "agents": agents, "ticks": ticks, "decisions": summary.n,
        "decisions_per_s": summary.n / wall, "p50_ms": summary.latency(50),
        "p99_ms": summary.latency(99), "valid_pct": summary.valid_pct,
        "ok": summary.count("ok"), "fallback": summary.count("fallback"),
        "timeout": summary.count("timeout"),
    }
    if stats1:
        req = stats1["requests"] - stats0.get("requests", 0)
        row["requests"] = req
        row["prompt_tokens_per_request"] = (stats1["prompt_tokens"]
                                            - stats0.get("prompt_tokens", 0)) / max(req, 1)
        row["evaluated_prompt_tokens_per_request"] = (
            stats1["prompt_tokens_evaluated"] - stats0.get("prompt_tokens_evaluated", 0)
        ) / max(req, 1)
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--agents", default="1,4")
    p.add_argument("--ticks", type=int, default=6)
    p.add_argument("--slots", type=int, default=4)
    p.add_argument("--backends", default="llama_cpp,llama_server")
    p.add_argument("--json", help="write the rows here")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = []
    console = Console()
    for kind in args.backends.split(","):
        for n in (int(x) for x in args.agents.split(",")):
            console.print(f"[dim]{kind}: {n} agent(s) x {args.ticks} ticks ...[/dim]")
            rows.append(asyncio.run(run_one(kind, n, args.ticks, args.slots)))
    table = Table(title=f"bridge + model, SmolLM2-135M Q4_1, {os.cpu_count()} cores "
                        f"({platform.processor() or platform.machine()})")
    for col in ("backend", "agents", "decisions", "decisions/s", "p50 ms", "p99 ms", "valid %",
                "prompt tok/req", "evaluated tok/req"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(r["backend"], str(r["agents"]), str(r["decisions"]),
                      f"{r['decisions_per_s']:.2f}", f"{r['p50_ms']:.0f}", f"{r['p99_ms']:.0f}",
                      f"{r['valid_pct']:.0f}",
                      f"{r['prompt_tokens_per_request']:.0f}" if "requests" in r else "-",
                      f"{r['evaluated_prompt_tokens_per_request']:.0f}" if "requests" in r
                      else "-")
    console.print(table)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
