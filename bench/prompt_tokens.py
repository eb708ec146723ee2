"""Prompt tokens per decision, the short prompt against the earlier default, on demo observations.

    PYTHONPATH=python python bench/prompt_tokens.py [--agents 4] [--ticks 3]

Counts the tokens of the chat the server sends on its constrained path (the GGUF's chat template
applied, as the llama_cpp backend does), with the embedded model's tokenizer (SmolLM2-135M),
for observations and masks of the demo world (world/sim.py):

- ``short``: the default profile (prompt.decision_messages: instruction, tools, observation);
- ``rules``: the earlier default (written rules, five worked examples, the nearest one repeated),
  kept as the profile ``rules`` in configs/agents/default.yaml.

``PYTHONPATH=<another tree>/python`` measures that tree's prompt instead (its own profiles).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parents[1] / "python"))  # after PYTHONPATH

from agent_arena import settings  # noqa: E402
from agent_arena.agents import AgentState  # noqa: E402
from agent_arena.backends.llama_cpp import (  # noqa: E402
    LlamaCppBackend,
    LlamaCppConfig,
    embedded_model_path,
)
from agent_arena.calling import STRATEGIES, CallingConfig  # noqa: E402
from agent_arena.prompt import build_messages  # noqa: E402
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
    count = _counter()
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
                    n = count(req.messages)
                    counts[name]["mask" if masked else "no mask"].append(n)
        world.step()
    print("| prompt | no mask: mean (min-max) | mask: mean (min-max) |")
    print("| --- | --- | --- |")
    for name, by in counts.items():
        cells = [f"{statistics.mean(v):.0f} ({min(v)}-{max(v)})" for v in by.values()]
        print(f"| {name} | {cells[0]} | {cells[1]} |")
    return 0


def _counter() -> Callable[[Sequence[Mapping[str, Any]]], int]:
    """Prompt tokens of a chat: llama.cpp's own (the backend's template and tokenizer) when
    llama_cpp is installed, else the same GGUF's tokenizer and chat template via transformers."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        from transformers import AutoTokenizer

        path = embedded_model_path()
        tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        print(f"(tokenizer: transformers on {path.name}; llama_cpp is not installed)")
        return lambda msgs: len(tok(tok.apply_chat_template(
            list(msgs), tokenize=False, add_generation_prompt=True),
            add_special_tokens=False)["input_ids"])
    backend = LlamaCppBackend(LlamaCppConfig(seed=0))
    backend.load()
    print(f"(tokenizer: llama.cpp on {backend.model_path.name})")
    return lambda msgs: len(backend._prompt_tokens(backend._llm, msgs, ""))


if __name__ == "__main__":
    raise SystemExit(main())
