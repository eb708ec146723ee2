"""The masks line: what a game's action mask leaves open now, by name."""

from __future__ import annotations

from collections.abc import Iterable

from agent_arena.tools import ToolSpec


def render_possible(tools: Iterable[ToolSpec]) -> str:
    """The tools a game's action mask leaves open, by name: the mask's argument values need no
    words here, the constrained decoder holds the call to them."""
    return "Possible now: " + ", ".join(spec.name for spec in tools)
