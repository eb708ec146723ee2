"""The tools in the system text: ``Tools:``, one line per tool, and the answer's shape.

The constrained and prompt strategies append this block to the system text
(``with_tools_in_system``); native tool calling sends the tools apart and never sees it. The
block lists every allowed tool, unmasked, so the system text (the cached prefix) stays the same
from tick to tick.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from agent_arena.tools import ToolSpec, type_hint

TOOLS_HEADING = "Tools:"


def render_tools(tools: Iterable[ToolSpec]) -> str:
    """One line per tool, ``- name(arg: type, ...): description``; stable text."""
    lines = []
    for spec in tools:
        props = spec.parameters.get("properties", {})
        args = ", ".join(f"{k}: {type_hint(v)}" for k, v in props.items())
        desc = " ".join(spec.description.split())  # one line, whatever the game wrote
        lines.append(f"- {spec.name}({args}): {desc}" if desc else f"- {spec.name}({args})")
    return "\n".join(lines)


def format_instructions(thought: bool = False) -> str:
    """The answer's shape, as constrained decoding writes it (tools.call_schema)."""
    shape = '{"thought": "<a few words>", "tool": "<name>", "arguments": {...}}' if thought \
        else '{"tool": "<name>", "arguments": {...}}'
    return f"Answer with one JSON object and nothing else: {shape}"


@functools.lru_cache(maxsize=512)
def tools_block(tools: tuple[ToolSpec, ...], thought: bool = False) -> str:
    """The tool list and the answer's shape: what follows the instruction in the system text."""
    return f"{TOOLS_HEADING}\n{render_tools(tools)}\n{format_instructions(thought)}"


@functools.lru_cache(maxsize=512)
def system_text(instruction: str, tools: tuple[ToolSpec, ...], thought: bool = False) -> str:
    """The whole system message; built once per (instruction, tools, thought)."""
    instruction = instruction.strip()
    block = tools_block(tools, thought)
    return f"{instruction}\n\n{block}" if instruction else block


def block_after(instruction: str, sent: str) -> str:
    """The tool block of ``sent``, a system text ``system_text`` built on ``instruction``
    (the inverse of system_text, cut by the known instruction's length, not by a search)."""
    instruction = instruction.strip()
    return sent[len(instruction) + 2:] if instruction else sent


def with_tools_in_system(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[ToolSpec], thought: bool
) -> list[Mapping[str, Any]]:
    """``messages`` with the tool list and answer format appended to the system text (with
    the default profile's messages the result is exactly decision.decision_messages). Only
    the system message is new; the other turns are shared with the caller (read-only)."""
    out = list(messages)
    if out and out[0].get("role") == "system":
        out[0] = {**out[0], "content": system_text(str(out[0].get("content", "")),
                                                   tuple(tools), thought)}
    else:
        out.insert(0, {"role": "system", "content": tools_block(tuple(tools), thought)})
    return out
