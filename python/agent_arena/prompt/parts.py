"""A decision's prompt as its parts, kept beside the messages (the journal's ``prompt``).

``Prompt`` is what profile.decision_prompt builds: the profile's system text, its example
turns, and the user message's parts (memory lines, observation text, masks line). Its
``messages()`` are the chat the strategy receives; its ``record`` adds what the strategy put
on top (the tool block) and is written to the journal's ``action`` record, so replay takes the
tool block off by the recorded parts (``without_tool_block``) instead of searching the text.
Journals written before the parts are read the old way (``strip_tool_block``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent_arena.prompt.tool_block import (
    TOOLS_HEADING,
    block_after,
    format_instructions,
    render_tools,
)
from agent_arena.prompt.user import user_content
from agent_arena.tools import ToolSpec


@dataclass(frozen=True, slots=True)
class Prompt:
    """One decision's prompt before the calling strategy adds the tools (read-only)."""

    system: Mapping[str, str]  # the profile's system message (shared: never mutate it)
    turns: tuple[Mapping[str, str], ...]  # the profile's example turns (shared)
    memory: tuple[str, ...]  # memory lines
    observation: str  # the observation, rendered
    possible: str | None  # the masks line (None: no mask)

    def messages(self) -> list[dict[str, str]]:
        user = user_content(self.memory, self.observation, self.possible)
        return [self.system, *self.turns, {"role": "user", "content": user}]  # type: ignore[list-item]

    def record(self, sent: Sequence[Mapping[str, Any]] | None, thought: bool) -> dict[str, Any]:
        """The parts for the journal: ``sent`` is the request's messages (tools: the block the
        strategy appended to the system text, None when it added none, e.g. native)."""
        system = self.system["content"]
        head = str(sent[0].get("content", "")) if sent else system
        return {"system": system, "tools": None if head == system else block_after(system, head),
                "thought": thought, "examples": len(self.turns), "memory": list(self.memory),
                "observation": self.observation, "possible": self.possible}


def without_tool_block(messages: Sequence[Mapping[str, Any]], parts: Mapping[str, Any] | None,
                       tools: Sequence[ToolSpec], strategy: str
                       ) -> tuple[list[dict[str, Any]], bool]:
    """The conversation before the strategy added its tool list, and whether a thought was
    asked for: by the recorded ``parts`` (Prompt.record); without them (a journal written
    before the parts) by ``strip_tool_block``."""
    if not isinstance(parts, Mapping) or not isinstance(parts.get("system"), str):
        return strip_tool_block(messages, tools, strategy)
    out = [dict(m) for m in messages]
    if parts.get("tools") is None or not out or out[0].get("role") != "system":
        return out, False
    out[0]["content"] = parts["system"]
    return out, bool(parts.get("thought"))


_TOOLS_MARK = f"\n\n{TOOLS_HEADING}\n"


def strip_tool_block(messages: Sequence[Mapping[str, Any]], tools: Sequence[Any],
                     strategy: str) -> tuple[list[dict[str, Any]], bool]:
    """``without_tool_block`` for journals written before the parts: the block is found by
    rebuilding it for ``tools`` (either answer shape), else cut at its heading. Messages
    recorded without the block come back unchanged."""
    out = [dict(m) for m in messages]
    if strategy not in ("constrained", "prompt") or not out or out[0].get("role") != "system":
        return out, False
    text = str(out[0].get("content") or "")
    for thought in (False, True):
        block = f"{TOOLS_HEADING}\n{render_tools(tools)}\n{format_instructions(thought)}"
        if text == block:
            return out[1:], thought
        if text.endswith("\n\n" + block):
            out[0]["content"] = text[: -len(block) - 2]
            return out, thought
    cut = text.rfind(_TOOLS_MARK)
    if cut >= 0:  # the tool list changed format since; drop it all the same
        out[0]["content"] = text[:cut]
        return out, '"thought"' in text[cut:]
    return out, False
