"""The calls a tool allows, when few enough to list, and why a call is not acceptable now."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

from agent_arena.tools import ToolCall, ToolRegistry, ToolSpec


def enumerate_calls(spec: ToolSpec, limit: int = 4) -> list[dict[str, Any]] | None:
    """Every argument set ``spec`` accepts, when they are few: no parameters, or every
    parameter required and an enum (a game's mask makes them so), at most ``limit`` sets in
    all; else None (the arguments are open and must be generated)."""
    params = spec.parameters
    props = params.get("properties") or {}
    if not props:
        return [{}] if spec.is_valid({}) else None
    if set(params.get("required") or ()) != set(props):
        return None
    choices = []
    for v in props.values():
        enum = v.get("enum") if isinstance(v, Mapping) else None
        if not enum:
            return None
        choices.append(enum)
    if math.prod(len(c) for c in choices) > limit:
        return None
    calls = [dict(zip(props, values, strict=True)) for values in itertools.product(*choices)]
    return [c for c in calls if spec.is_valid(c)] or None


def forced_arguments(spec: ToolSpec) -> dict[str, Any] | None:
    """The only arguments ``spec`` accepts, when there is exactly one choice; else None."""
    calls = enumerate_calls(spec, limit=1)
    return calls[0] if calls else None


def call_problems(call: ToolCall | None, check: ToolRegistry, registry: ToolRegistry,
              names: list[str]) -> list[str]:
    assert call is not None
    if check is not registry and call.tool in registry and call.tool not in check:
        return [f"tool {call.tool!r} is not possible now; choose one of: {', '.join(names)}"]
    return check.validate(call, names)
