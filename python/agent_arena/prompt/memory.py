"""The agent's recent actions as prompt lines: ``- tick 3: pick_up(item_id=a) -> ok``.

agents.MemoryEntry renders its line once, when it is made (a line is read on every later
tick of the memory window); the entry is described here by what is read of it only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from agent_arena.prompt.observation import render_call

MEMORY_HEADING = "Your last actions:"


class Remembered(Protocol):
    """What a memory line is made of (agents.MemoryEntry)."""

    @property
    def tick(self) -> int: ...
    @property
    def call(self) -> Mapping[str, Any] | None: ...
    @property
    def ok(self) -> bool | None: ...
    @property
    def result(self) -> Any: ...


def render_memory_line(e: Remembered) -> str:
    what = render_call(e.call) if e.call else "?"
    outcome = ""
    if e.ok is not None:
        outcome = " -> " + ("ok" if e.ok else "failed")
        if e.result not in (None, ""):
            res = e.result if isinstance(e.result, str) else json.dumps(e.result, default=str)
            outcome += f": {res[:120]}"
    return f"- tick {e.tick}: {what}{outcome}"


def render_memory(lines: Sequence[str]) -> str:
    """The memory part of the user message (empty lines: no part)."""
    return f"{MEMORY_HEADING}\n" + "\n".join(lines)
