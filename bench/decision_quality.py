"""Decision quality on the scenario set: a thin use of ``agent_arena.evaluation``.

    .venv/bin/python bench/decision_quality.py                        # llama_cpp, all variants
    .venv/bin/python bench/decision_quality.py --backend llama_server --variants default,naive
    .venv/bin/python bench/decision_quality.py --runs 2 --out outputs/quality

Every decision goes through a real ArenaServer and socket (as ``agent-arena eval`` does), so
what is measured is what a game gets. Variants of prompt and strategy:

- ``default``      the shipped defaults: profile ``default`` (rules, one worked example per tool
                   as chat turns, the nearest example repeated last), auto strategy, no thought
- ``thought``      the same with a short free-text thought before the call
- ``no_examples``  the default rules, no worked examples
- ``naive``        a one-line system prompt, no examples (the baseline)
- ``prompt``       the default profile with the prompt strategy (lenient parse, re-ask)

Writes OUT/<variant>/report.json, and OUT/chart.png comparing the variants.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
from pathlib import Path

from agent_arena import settings
from agent_arena.agents import DEFAULT_SYSTEM_PROMPT
from agent_arena.backends import create_backend
from agent_arena.evaluation import EvalConfig, evaluate, plot_comparison, print_report

ROOT = Path(__file__).resolve().parents[1]

VARIANTS = {  # name -> (profile changes, calling changes)
    "default": ({}, {}),
    "thought": ({}, {"thought": True}),
    "no_examples": ({"examples": ()}, {}),
    "naive": ({"system_prompt": DEFAULT_SYSTEM_PROMPT, "examples": (), "nearest_examples": 0},
              {}),
    "prompt": ({}, {"strategy": "prompt"}),
}


async def run(args: argparse.Namespace) -> list:
    cfg = settings.compose([f"backend={args.backend}"])
    # n_threads stays the config's (all cores but one): on a shared machine, spinning llama.cpp
    # threads on every core made single decisions take minutes. Idle machine: '{"n_threads": 2}'
    backend = create_backend({**cfg["backend"], **json.loads(args.backend_settings)})
    await backend.start()
    base_calling = settings.calling_config(cfg)
    reports = []
    try:
        for name in args.variants.split(","):
            prof_changes, call_changes = VARIANTS[name]
            profiles = settings.profiles(cfg)
            profiles["default"] = dataclasses.replace(profiles["default"], **prof_changes)
            calling = dataclasses.replace(base_calling, **call_changes)
            out = Path(args.out) / name if args.out else None
            report = await evaluate(
                backend, args.scenarios, tools=settings.tool_specs(cfg), profiles=profiles,
                calling=calling, config=EvalConfig(runs=args.runs, out=str(out) if out else None,
                                                   label=f"{backend.name}/{name}",
                                                   concurrency=args.concurrency))
            reports.append(report)
            m = report.metrics
            print(f"{name:<11} valid={m.schema_valid_pct:5.1f}% right_tool={m.right_tool_pct:5.1f}%"
                  f" right_args={m.right_args_pct:5.1f}% p50={m.p50_ms:.0f}ms", flush=True)
    finally:
        await backend.close()
    return reports


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backend", default="llama_cpp")
    ap.add_argument("--backend-settings", default="{}", help="JSON, e.g. '{\"temperature\": 0}'")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--scenarios", nargs="+", default=[str(ROOT / "bench/scenarios")])
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "outputs/decision_quality"))
    args = ap.parse_args()
    reports = asyncio.run(run(args))
    print_report(reports)
    if args.out:
        print(f"chart: {plot_comparison(reports, Path(args.out) / 'chart.png')}")


if __name__ == "__main__":
    main()
