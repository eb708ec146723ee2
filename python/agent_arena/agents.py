"""Per-agent state (the memory window) and profiles (how one kind of agent thinks).

What a profile and a memory add to the prompt is rendered in agent_arena.prompt (profile.py:
the system text and examples; memory.py: a memory line, rendered once per entry, here).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agent_arena.config.build import reject_unknown
from agent_arena.prompt.decision import INSTRUCTION
from agent_arena.prompt.memory import render_memory_line

__all__ = ["DEFAULT_SYSTEM_PROMPT", "AgentState", "MemoryEntry", "Profile"]

DEFAULT_SYSTEM_PROMPT = INSTRUCTION


@dataclass(frozen=True)
class Profile:
    """How one kind of agent thinks; chosen per observe by name (``profile`` field)."""

    name: str = "default"
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    tools: tuple[str, ...] | None = None  # allowed tools; None: all registered
    memory_window: int = 4
    sampling: Mapping[str, Any] = field(default_factory=dict)  # overrides backend defaults
    model: str | None = None  # e.g. a vLLM LoRA adapter name
    extra_body: Mapping[str, Any] = field(default_factory=dict)
    # Worked examples, sent as real chat turns right after the system text (so they are part
    # of the cached prefix): [{observation: {...}, call: {tool, arguments}, thought: str}].
    # Small models copy the shape of chat-turn examples far better than prose rules.
    examples: tuple[Mapping[str, Any], ...] = ()
    # Repeat the k examples most similar to the current observation (by which keys are
    # present) right before it. The fixed examples stay in the cached prefix; only these turns
    # vary. On SmolLM2-135M the examples took right tools from 25% to 45%; 0-3 nearest
    # examples all landed within 35-55%, i.e. noise on 20 scenarios (docs/benchmarks.md).
    nearest_examples: int = 1

    @classmethod
    def from_mapping(cls, name: str, data: Mapping[str, Any]) -> Profile:
        reject_unknown(cls, data, f"profile {name!r}")
        values = dict(data)
        values["name"] = name
        if values.get("tools") is not None:
            values["tools"] = tuple(values["tools"])
        values["examples"] = tuple(values.get("examples") or ())
        return cls(**values)


@dataclass(frozen=True)
class MemoryEntry:
    tick: int
    call: Mapping[str, Any] | None = None
    ok: bool | None = None
    result: Any = None
    line: str = field(default="", compare=False)  # its prompt line, rendered once

    def __post_init__(self) -> None:
        object.__setattr__(self, "line", render_memory_line(self))


class AgentState:
    def __init__(self, agent_id: str, window: int = 4, *, max_result_bytes: int = 1024) -> None:
        self.agent_id = agent_id
        self.max_result_bytes = max_result_bytes  # a result is kept as text cut to this size
        self.memory: deque[MemoryEntry] = deque(maxlen=max(window, 0) or None)
        self.window = window
        self.last_tick: int | None = None

    def record_action(self, tick: int, call: Mapping[str, Any]) -> None:
        """The model's own choice (never a fallback: the model did not choose that)."""
        self.last_tick = tick
        if self.window:
            self.memory.append(MemoryEntry(tick=tick, call=dict(call)))

    def record_result(self, tick: int, tool: str, ok: bool, result: Any) -> None:
        """Attach the game's outcome to the action of that tick (or log it on its own)."""
        if not self.window:
            return
        result = _capped(result, self.max_result_bytes)
        for i in range(len(self.memory) - 1, -1, -1):
            e = self.memory[i]
            if e.tick == tick and e.call and e.call.get("tool") == tool and e.ok is None:
                self.memory[i] = MemoryEntry(tick, e.call, ok, result)
                return
        self.memory.append(MemoryEntry(tick, {"tool": tool, "arguments": {}}, ok, result))

    def reset(self) -> None:
        self.memory.clear()
        self.last_tick = None


def _capped(result: Any, limit: int) -> Any:
    """Small results as they are; a large one as its JSON text cut to ``limit`` characters, so a
    chatty game cannot make memory grow by megabytes per agent."""
    if result is None or isinstance(result, (bool, int, float)):
        return result
    text = result if isinstance(result, str) else json.dumps(result, default=str)
    if len(text) <= limit:
        return result
    return text[:limit] + "..."
