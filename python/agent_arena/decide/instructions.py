"""The tool list and answer format in the system text, for the strategies that prompt for
JSON (constrained, prompt). The words themselves are built in prompting.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agent_arena.prompting import system_text, tools_block
from agent_arena.tools import ToolSpec


def with_tools_in_system(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[ToolSpec], thought: bool
) -> list[Mapping[str, Any]]:
    """``messages`` with the tool list and answer format appended to the system text
    (prompting.system_text: with the default profile's messages the result is exactly
    prompting.decision_messages). Only the system message is new; the other turns are shared
    with the caller (read-only)."""
    out = list(messages)
    if out and out[0].get("role") == "system":
        out[0] = {**out[0], "content": system_text(str(out[0].get("content", "")),
                                                   tuple(tools), thought)}
    else:
        out.insert(0, {"role": "system", "content": tools_block(tuple(tools), thought)})
    return out
