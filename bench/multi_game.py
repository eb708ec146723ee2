"""Many games, one bridge, one inference server: what researchers run.

    .venv/bin/python bench/multi_game.py --games 1,2,4 --agents 2 --ticks 3

For each N: one `agent-arena serve backend=llama_server backend.n_parallel=N*agents` process (it
starts and owns llama-server with the embedded model), then N game processes
(`agent-arena demo demo.endpoint=...`, the headless demo world) started together, each with its
own agents. Reported: total decisions, wall time, aggregate decisions/s, and the share of
schema-valid decisions each game printed. Everything runs on loopback, every process is
stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).with_name("agent-arena")
SUMMARY = re.compile(r"decisions=(\d+) schema_valid=([\d.]+)%.*?decisions_per_s=([\d.]+)")


def run(games: int, agents: int, ticks: int, deadline_ms: int) -> dict:
    slots = games * agents
    serve = subprocess.Popen(
        [str(EXE), "serve", "backend=llama_server", f"backend.n_parallel={slots}",
         f"backend.n_ctx={2048 * slots}", "server.bind=tcp://127.0.0.1:0", "log_level=WARNING"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    try:
        line = serve.stdout.readline() if serve.stdout else ""
        if "serving on " not in line:
            raise RuntimeError(f"serve did not start: {line!r}")
        endpoint = line.split("serving on ", 1)[1].split(" ")[0].rstrip(",")
        t0 = time.perf_counter()
        procs = [subprocess.Popen(
            [str(EXE), "demo", f"demo.endpoint={endpoint}", f"demo.agents={agents}",
             f"demo.ticks={ticks}", f"demo.deadline_ms={deadline_ms}", f"demo.seed={i + 1}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
            env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"})
            for i in range(games)]
        outs = [p.communicate(timeout=3600)[0] for p in procs]
        wall = time.perf_counter() - t0
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(60)
        except subprocess.TimeoutExpired:
            serve.kill()
    per_game = []
    for out in outs:
        m = SUMMARY.search(out)
        per_game.append({"decisions": int(m.group(1)), "valid_pct": float(m.group(2)),
                         "decisions_per_s": float(m.group(3))} if m else {"error": out[-300:]})
    total = sum(g.get("decisions", 0) for g in per_game)
    return {"games": games, "agents_per_game": agents, "slots": slots, "ticks": ticks,
            "decisions": total, "wall_s": round(wall, 1),
            "decisions_per_s": round(total / wall, 2), "per_game": per_game}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--games", default="1,2,4")
    ap.add_argument("--agents", type=int, default=2)
    ap.add_argument("--ticks", type=int, default=3)
    ap.add_argument("--deadline-ms", type=int, default=600000)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    results = [run(int(n), args.agents, args.ticks, args.deadline_ms)
               for n in args.games.split(",")]
    for r in results:
        print(json.dumps(r))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
