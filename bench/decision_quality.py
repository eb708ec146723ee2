"""Decision quality on a scenario set: schema-valid % and right-tool % per strategy/prompt.

    .venv/bin/python bench/decision_quality.py                       # embedded SmolLM2, llama_cpp
    .venv/bin/python bench/decision_quality.py --variants default,naive --repeat 2

Uses the bridge's own pieces (agents.build_messages -> calling.decide_once -> backend), so what
is measured is exactly what the server does for one decision. Variants:

- ``default``      the shipped defaults: profile ``default`` (rules, one worked example per tool
                   as chat turns, the nearest example repeated last), constrained, no thought
- ``thought``      the same with a short free-text thought before the call
- ``no_examples``  the default rules, no worked examples
- ``naive``        a one-line system prompt, no examples, constrained (the baseline)
- ``prompt``       the default profile with the prompt strategy (lenient parse, re-ask)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from agent_arena import settings  # noqa: E402
from agent_arena.agents import DEFAULT_SYSTEM_PROMPT, AgentState, Profile, build_messages  # noqa: E402
from agent_arena.backends import create_backend  # noqa: E402
from agent_arena.calling import CallingConfig, decide_once  # noqa: E402
from agent_arena.tools import ToolRegistry  # noqa: E402

VARIANTS = {
    "default": dict(strategy="constrained", thought=False, naive=False, examples=True),
    "thought": dict(strategy="constrained", thought=True, naive=False, examples=True),
    "no_examples": dict(strategy="constrained", thought=False, naive=False, examples=False),
    "naive": dict(strategy="constrained", thought=False, naive=True, examples=False),
    "prompt": dict(strategy="prompt", thought=False, naive=False, examples=True),
}


def load_profile() -> Profile:
    return settings.profiles(settings.compose())["default"]


def load_tools() -> list[dict]:
    return settings.tool_specs(settings.compose())


async def run(args: argparse.Namespace) -> dict:
    scenarios = yaml.safe_load(Path(args.scenarios).read_text())
    backend = create_backend({"type": args.backend, **json.loads(args.backend_settings)})
    registry = ToolRegistry(load_tools())
    results = {}
    for name in args.variants.split(","):
        v = VARIANTS[name]
        profile = load_profile()
        if v["naive"]:
            profile = replace(profile, system_prompt=DEFAULT_SYSTEM_PROMPT)
        if not v["examples"]:
            profile = replace(profile, examples=())
        cfg = CallingConfig(strategy=v["strategy"], thought=v["thought"], max_attempts=2)
        valid = right = args_ok = total = 0
        latencies = []
        per_tool: dict[str, list[int]] = {}
        rows = []
        for rep in range(args.repeat):
            for sc in scenarios:
                msgs = build_messages(profile, AgentState("bench"), sc["observation"])
                sampling = backend.default_sampling
                if rep:
                    sampling = replace(sampling, seed=rep)
                t = time.perf_counter()
                out = await decide_once(backend, msgs, registry, None, cfg, sampling)
                latencies.append(time.perf_counter() - t)
                total += 1
                is_valid = out.status == "ok"
                is_right = is_valid and out.call.tool == sc["expect"]
                want_args = sc.get("args") or {}
                is_args = is_right and all(out.call.arguments.get(k) == x
                                           for k, x in want_args.items())
                valid += is_valid
                right += is_right
                args_ok += is_args
                per_tool.setdefault(sc["expect"], [0, 0])
                per_tool[sc["expect"]][0] += is_right
                per_tool[sc["expect"]][1] += 1
                rows.append({"scenario": sc["name"], "expect": sc["expect"],
                             "got": out.call.tool if out.call else None, "status": out.status,
                             "arguments": out.call.arguments if out.call else None,
                             "thought": out.thought})
                if args.verbose:
                    print(f"  [{name}] {sc['name']:<45} expect={sc['expect']:<8} "
                          f"got={rows[-1]['got']}({json.dumps(rows[-1]['arguments'])}) "
                          f"{out.status} # {out.thought}", flush=True)
        lat = sorted(latencies)
        results[name] = {
            "decisions": total, "schema_valid_pct": 100.0 * valid / total,
            "right_tool_pct": 100.0 * right / total, "right_args_pct": 100.0 * args_ok / total,
            "per_tool": {k: f"{a}/{b}" for k, (a, b) in per_tool.items()},
            "p50_s": lat[len(lat) // 2], "rows": rows,
        }
        r = results[name]
        print(f"{name:<11} valid={r['schema_valid_pct']:5.1f}% right_tool={r['right_tool_pct']:5.1f}%"
              f" right_args={r['right_args_pct']:5.1f}% p50={r['p50_s']:.2f}s "
              f"per_tool={r['per_tool']}", flush=True)
    await backend.aclose()
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backend", default="llama_cpp")
    ap.add_argument("--backend-settings", default="{}", help="JSON, e.g. '{\"temperature\": 0}'")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--scenarios", default=str(ROOT / "bench/scenarios.yaml"))
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--json", help="write full results here")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    results = asyncio.run(run(args))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
