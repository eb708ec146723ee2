"""Reading a call out of a model's text: lenient JSON, the shapes models write calls in.

Pure functions: no backend, no I/O. What is wrong with an answer comes back as data
(``Extracted.problems``), never as an exception, so the re-ask loop can quote it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agent_arena.decide.types import Extracted
from agent_arena.tools import ToolCall

# grammar-constrained strings may hold raw control characters: accept them, validate after.
# One decoder for all calls (json.loads with a keyword builds a new one every time).
LENIENT = json.JSONDecoder(strict=False)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)
_THINK = re.compile(r"<think>.*?(</think>|$)", re.S)


def first_json_object(text: str) -> Any:
    """The first decodable JSON object in ``text`` (code fences, prose and <think> tolerated)."""
    text = _THINK.sub("", text)
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = LENIENT
    for cand in candidates:
        for i, ch in enumerate(cand):
            if ch != "{":
                continue
            try:
                obj, _ = decoder.raw_decode(cand, i)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                return obj
    return None


def call_from_object(obj: Any) -> Extracted:
    """Accept {"tool"|"name", "arguments"|"parameters"|"args"} shapes; say what is missing."""
    if not isinstance(obj, dict):
        return Extracted(problems=['no JSON object found; answer with {"tool": ..., "arguments": {...}}'])
    name = obj.get("tool", obj.get("name", obj.get("function")))
    if isinstance(name, dict):  # {"function": {"name":..., "arguments":...}}
        obj, name = name, name.get("name")
    args = obj.get("arguments", obj.get("parameters", obj.get("args", {})))
    if isinstance(args, str):
        try:
            args = LENIENT.decode(args)
        except json.JSONDecodeError:
            return Extracted(problems=[f"arguments is not a JSON object: {args[:80]!r}"])
    thought = obj.get("thought") if isinstance(obj.get("thought"), str) else None
    if not isinstance(name, str):
        return Extracted(thought=thought, problems=['missing "tool": the name of one tool'])
    if args is None:
        args = {}
    return Extracted(call=ToolCall(name, args), thought=thought)
