"""Gymnasium spaces for tool calls and turns (PettingZoo asks for them).

A tool call is not a fixed-size vector: ``ToolCallSpace`` holds ``{"tool", "arguments"}`` maps
and samples a call valid for the agent's current turn (its tools as narrowed by the game's
mask), so a random policy exercises the game instead of being refused every step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import gymnasium
import numpy as np

TURN_KEYS = frozenset({"agent_id", "tick", "messages", "tools", "observation", "reward", "done",
                       "error"})


def sample_value(schema: Mapping[str, Any], rng: np.random.Generator) -> Any:
    """A value that the (simple) JSON Schema accepts: enums, strings, numbers, arrays,
    objects; enough for game tools."""
    if "enum" in schema:
        values = list(schema["enum"])
        return values[int(rng.integers(len(values)))]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = kind[0] if kind else None
    if kind == "string":
        n = max(int(schema.get("minLength", 1)), 1)
        text = ("hello " * n)[:max(n, min(5, int(schema.get("maxLength", 5))))]
        return text.strip() or "x" * n
    if kind in ("number", "integer"):
        lo = schema.get("minimum", 0)
        hi = schema.get("maximum", lo + 10)
        v = rng.uniform(lo, hi)
        return int(v) if kind == "integer" else round(float(v), 1)
    if kind == "boolean":
        return bool(rng.integers(2))
    if kind == "array":
        n = int(schema.get("minItems", 0))
        return [sample_value(schema.get("items") or {}, rng) for _ in range(n)]
    if kind == "object" or "properties" in schema:
        return sample_arguments(schema, rng)
    return None


def sample_arguments(schema: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    props = schema.get("properties") or {}
    return {k: sample_value(props[k], rng) for k in schema.get("required", []) if k in props}


class ToolCallSpace(gymnasium.Space[dict[str, Any]]):
    """``{"tool": str, "arguments": {...}}``; ``turn()`` gives the agent's current turn."""

    def __init__(self, turn: Callable[[], Mapping[str, Any] | None],
                 seed: int | None = None) -> None:
        super().__init__(seed=seed)
        self._turn = turn

    def sample(self, mask: Any = None, probability: Any = None) -> dict[str, Any]:
        turn = self._turn() or {}
        tools = [t["function"] for t in turn.get("tools") or []]
        if not tools:
            return {"tool": "idle", "arguments": {}}
        fn = tools[int(self.np_random.integers(len(tools)))]
        return {"tool": fn["name"],
                "arguments": sample_arguments(fn.get("parameters") or {}, self.np_random)}

    def contains(self, x: Any) -> bool:
        return isinstance(x, Mapping) and isinstance(x.get("tool"), str) and isinstance(
            x.get("arguments", {}), Mapping)

    @property
    def is_np_flattenable(self) -> bool:
        return False


class TurnSpace(gymnasium.Space[dict[str, Any]]):
    """What an agent receives: the prompt messages, the tools (JSON Schemas), the raw
    observation, the reward since its last turn, done, and the error of a refused call."""

    def __init__(self) -> None:
        super().__init__()

    def sample(self, mask: Any = None, probability: Any = None) -> dict[str, Any]:
        return {"agent_id": "", "tick": 0, "messages": [], "tools": [], "observation": {},
                "reward": 0.0, "done": False, "error": None}

    def contains(self, x: Any) -> bool:
        return isinstance(x, Mapping) and TURN_KEYS <= set(x)

    @property
    def is_np_flattenable(self) -> bool:
        return False
