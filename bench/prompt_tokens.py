"""Prompt tokens per decision, the short prompt against the earlier default, on demo observations.

    PYTHONPATH=python python bench/prompt_tokens.py [--agents 4] [--ticks 3]

(``PYTHONPATH=<another tree>/python`` measures that tree's prompt.) Counts the tokens of the chat the server sends on its constrained path (the GGUF's chat template
applied, as the llama_cpp backend does), with the embedded model's tokenizer (SmolLM2-135M),
for observations and masks of the demo world (world/sim.py):

- ``short``: the default profile (prompting.decision_messages: instruction, tools, observation);
- ``rules``: the earlier default (written rules, five worked examples, the nearest one repeated),
  kept as the profile ``rules`` in configs/agents/default.yaml.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1] / "python"))  # after PYTHONPATH

from agent_arena import settings  # noqa: E402
from agent_arena.agents import AgentState, build_messages  # noqa: E402
from agent_arena.backends.llama_cpp import LlamaCppBackend, LlamaCppConfig  # noqa: E402
from agent_arena.calling import STRATEGIES, CallingConfig  # noqa: E402
from agent_arena.tools import ToolRegistry, apply_mask  # noqa: E402
from agent_arena.world.sim import World  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=4)
    ap.add_argument("--ticks", type=int, default=3)
    ap.add_argument("--profiles", nargs="+", default=["default", "rules"])
    a = ap.parse_args()
    cfg = settings.compose()
    specs = ToolRegistry(settings.tool_specs(cfg)).select(None)
    profiles = settings.profiles(cfg)
    backend = LlamaCppBackend(LlamaCppConfig(seed=0))
    backend.load()
    llm = backend._llm
    world = World.generate(a.agents, seed=7)
    counts: dict[str, dict[str, list[int]]] = {
        p: {"no mask": [], "mask": []} for p in a.profiles if p in profiles}
    for _ in range(a.ticks):
        for agent in list(world.agents):
            obs = world.observe(agent)
            for masked in (False, True):
                possible = apply_mask(specs, world.mask(agent)) if masked else None
                for name in counts:
                    msgs = build_messages(profiles[name], AgentState(agent), obs, possible)
                    req = STRATEGIES["constrained"].build_request(
                        msgs, possible or specs, CallingConfig(), None, listed=specs)
                    n = len(backend._prompt_tokens(llm, req.messages, ""))
                    counts[name]["mask" if masked else "no mask"].append(n)
        world.step()
    print("| prompt | no mask: mean (min-max) | mask: mean (min-max) |")
    print("| --- | --- | --- |")
    for name, by in counts.items():
        cells = [f"{statistics.mean(v):.0f} ({min(v)}-{max(v)})" for v in by.values()]
        print(f"| {name} | {cells[0]} | {cells[1]} |")
    backend.unload()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
