"""vLLM (CPU build) vs llama.cpp in-process vs llama-server, on the same decisions through the
whole bridge (bench/backends_compare.py's run: demo world -> ArenaServer over ZeroMQ -> model).

Starts a real vLLM server through run_vllm_server.py (the vLLM venv, the embedded SmolLM2-135M
converted once to a Hugging Face folder), reports its start time and resident memory, then
runs every backend with the same tools, profiles, sampling (temperature 0.2, top_k 40,
max_tokens 96), the constrained strategy (``vllm_native``: tool_choice instead) and seed, one
warm-up tick not counted, and stops the server.

    .venv/bin/python bench/vllm_compare.py                        # 1 and 4 agents, 6 ticks
    .venv/bin/python bench/vllm_compare.py --agents 1,4,8 --ticks 4 --json out.json
    .venv/bin/python bench/vllm_compare.py --backends vllm,vllm_native   # vLLM only
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "bench"))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

import backends_compare  # noqa: E402
from agent_arena.backends.llama_server import free_port  # noqa: E402


def tree_rss_mb(pgid: int) -> float:
    """Resident memory of every process in the group (vLLM: API server, engine core, worker)."""
    out = subprocess.run(["ps", "-o", "rss=", "-g", str(pgid)], capture_output=True, text=True)
    return sum(int(x) for x in out.stdout.split()) / 1024


def start_vllm(vllm_python: str, work: Path, timeout: float) -> tuple[subprocess.Popen, str,
                                                                        int, float]:
    port = free_port()
    log = work / "vllm.log"
    cmd = [sys.executable, str(ROOT / "run_vllm_server.py"), "--engine", "vllm",
           "--vllm-python", vllm_python, "--model", "embedded", "--port", str(port),
           "--tool-call-parser", "hermes", "--work-dir", str(work / "cache"),
           "--health-timeout", str(timeout)]
    t0 = time.perf_counter()
    with open(log, "wb") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "PYTHONPATH": str(ROOT / "python")})
    pid = None
    while True:
        text = log.read_text(errors="replace")
        if pid is None and "server pid " in text:
            pid = int(text.split("server pid ", 1)[1].split()[0])
        if "ready: base_url" in text:
            return proc, f"http://127.0.0.1:{port}/v1", pid or proc.pid, time.perf_counter() - t0
        if proc.poll() is not None or time.perf_counter() - t0 > timeout + 60:
            raise SystemExit(f"vLLM did not start:\n{text[-3000:]}")
        time.sleep(0.5)


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)  # run_vllm_server.py forwards it to vLLM and waits
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--agents", default="1,4")
    p.add_argument("--ticks", type=int, default=6)
    p.add_argument("--slots", type=int, default=4)
    p.add_argument("--backends", default="vllm,vllm_native,llama_cpp,llama_server")
    p.add_argument("--vllm-python", default=os.environ.get("VLLM_PYTHON")
                   or str(ROOT / ".venv-vllm" / "bin" / "python"))
    p.add_argument("--start-timeout", type=float, default=900)
    p.add_argument("--json", help="write the rows here")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    console = Console()
    kinds = args.backends.split(",")
    proc = None
    info: dict[str, Any] = {}
    rows = []
    work = Path(tempfile.mkdtemp(prefix="vllm-bench-"))
    try:
        if any(k.startswith("vllm") for k in kinds):
            console.print("[dim]starting vLLM (CPU build) through run_vllm_server.py ...[/dim]")
            proc, url, pgid, started = start_vllm(args.vllm_python, work, args.start_timeout)
            os.environ["VLLM_BASE_URL"] = url
            info = {"vllm_start_s": round(started, 1), "vllm_rss_mb_idle": tree_rss_mb(pgid)}
            console.print(f"vLLM ready in {started:.0f} s, {info['vllm_rss_mb_idle']:.0f} MB "
                          "resident (all its processes)")
        # vLLM first, then stop it: llama.cpp's rows must not share the cores with it
        for kind in sorted(kinds, key=lambda k: not k.startswith("vllm")):
            if proc is not None and not kind.startswith("vllm"):
                info["vllm_rss_mb_after"] = tree_rss_mb(pgid)
                stop(proc)
                proc = None
            for n in (int(x) for x in args.agents.split(",")):
                console.print(f"[dim]{kind}: {n} agent(s) x {args.ticks} ticks ...[/dim]")
                rows.append(asyncio.run(backends_compare.run_one(kind, n, args.ticks,
                                                                 args.slots)))
        if proc is not None:
            info["vllm_rss_mb_after"] = tree_rss_mb(pgid)
    finally:
        if proc is not None:
            stop(proc)
    table = Table(title=f"bridge + model, SmolLM2-135M, {os.cpu_count()} cores "
                        f"({platform.processor() or platform.machine()})")
    for col in ("backend", "agents", "decisions", "decisions/s", "p50 ms", "p99 ms", "valid %",
                "ok", "prompt tok/req"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(r["backend"], str(r["agents"]), str(r["decisions"]),
                      f"{r['decisions_per_s']:.2f}", f"{r['p50_ms']:.0f}", f"{r['p99_ms']:.0f}",
                      f"{r['valid_pct']:.0f}", str(r["ok"]),
                      f"{r['prompt_tokens_per_request']:.0f}" if "requests" in r else "-")
    console.print(table)
    if info:
        console.print(info)
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, **info}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
