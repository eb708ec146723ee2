"""The prompt of one decision, and the answer it asks for: pure functions, one place.

The server sends exactly ``decision_messages(...)`` on its constrained path (the default
profile adds nothing), and the training data (gamegen.py) is built with the same functions, so
a model is trained on the very bytes it is served. Layout, stable part first so KV caches reuse
it across ticks and agents:

    system:  one short instruction                         (or a profile's system prompt)
             Tools:  - name(arg: type, ...): description   (the allowed tools, unmasked)
             the answer's shape
    user:    Your last actions: ...                        (memory lines, when any)
             Now: <the observation, rendered compactly>
             Possible now: a, b, c                         (only when a mask narrows the tools)

A profile's worked examples (agents.py) are chat turns between the two messages.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from agent_arena.tools import ToolCall, ToolSpec, type_hint

INSTRUCTION = "You control one character in a game. Choose its next action: one tool call."


# ---- the observation ---------------------------------------------------------------------------


def _num(v: float) -> str:
    """One decimal at most, none for whole numbers: 3.0 -> "3", 2.25 -> "2.2".

    Whole numbers (positions, distances) skip ``round``, the slow part. nan, inf and -inf
    are not integers and pass through ``round`` unchanged: "nan", "inf", "-inf"."""
    if v.is_integer():
        return str(int(v))
    r = round(v, 1)
    return str(int(r)) if r.is_integer() else str(r)


def render_value(v: Any) -> str:
    """Compact, JSON-like but with fewer tokens: no quotes around simple keys or words."""
    render = _BY_TYPE.get(type(v))
    return render(v) if render is not None else _render_other(v)


def _render_items(m: Mapping[Any, Any]) -> str:
    """A map's ``key: value`` pairs without the braces (a list-of-maps line shows them bare)."""
    get = _BY_TYPE.get
    return ", ".join([f"{k}: {(get(type(x)) or _render_other)(x)}" for k, x in m.items()])


def _render_map(m: Mapping[Any, Any]) -> str:
    return "{" + _render_items(m) + "}"


def _render_seq(v: Sequence[Any]) -> str:
    get = _BY_TYPE.get
    return "[" + ", ".join([(get(type(x)) or _render_other)(x) for x in v]) + "]"


# The types msgpack decodes to, by exact type: one dict lookup per value instead of a chain
# of isinstance checks (rendering the observation was the largest part of building a prompt).
_BY_TYPE: dict[type, Callable[[Any], str]] = {
    str: str, int: str, float: _num, bool: {True: "true", False: "false"}.__getitem__,
    dict: _render_map, list: _render_seq, type(None): lambda _: "none",
}


def _render_other(v: Any) -> str:
    """Everything else (subclasses, tuples, bytes, other Mappings and Sequences)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return _num(v)
    if isinstance(v, (int, str)):
        return str(v)
    if v is None:
        return "none"
    if isinstance(v, bytes):
        return f"<{len(v)} bytes>"
    if isinstance(v, Mapping):
        return _render_map(v)
    if isinstance(v, Sequence):
        return _render_seq(v)
    return str(v)


_SCALARS = (str, int, float, bool, bytes)


def _empty(value: Any) -> bool:
    t = type(value)
    if t in _SCALARS:
        return False
    if t is list or t is dict:
        return not value
    return value is None or (isinstance(value, (Sequence, Mapping)) and not isinstance(
        value, (str, bytes)) and len(value) == 0)


def _is_map(x: Any) -> bool:
    return type(x) is dict or isinstance(x, Mapping)


def render_observation(obs: Mapping[str, Any]) -> str:
    """One line per top-level key; lists of maps become one indented line per element.

    Empty values are left out: a key that is present only when it matters ("threats",
    "in_reach", "heard") is the strongest cue a small model gets, and it saves tokens.
    """
    lines = []
    for key, value in obs.items():
        t = type(value)
        if t is list:  # what msgpack gives, first: no ABC checks
            if not value:
                continue
            if all(map(_is_map, value)):
                lines.append(f"{key}:")
                lines += [f"  - {_render_items(x)}" for x in value]
                continue
        elif t is dict:
            if not value:
                continue
        elif value is None:
            continue
        elif t not in _BY_TYPE:  # tuples, other Sequences and Mappings, subclasses
            if _empty(value):
                continue
            if t not in _SCALARS and isinstance(value, Sequence) and all(map(_is_map, value)):
                lines.append(f"{key}:")
                lines += [f"  - {render_value(x)[1:-1]}" for x in value]
                continue
        lines.append(f"{key}: {render_value(value)}")
    return "\n".join(lines) or "(nothing)"


def render_call(call: Mapping[str, Any]) -> str:
    args = call.get("arguments") or {}
    return f"{call.get('tool')}({', '.join(f'{k}={render_value(v)}' for k, v in args.items())})"


# ---- the tools ---------------------------------------------------------------------------------


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
    shape = '{"thought": "<a few words>", "tool": "<name>", "arguments": {...}}' if thought \
        else '{"tool": "<name>", "arguments": {...}}'
    return f"Answer with one JSON object and nothing else: {shape}"


@functools.lru_cache(maxsize=512)
def tools_block(tools: tuple[ToolSpec, ...], thought: bool = False) -> str:
    """The tool list and the answer's shape: what follows the instruction in the system text."""
    return f"Tools:\n{render_tools(tools)}\n{format_instructions(thought)}"


@functools.lru_cache(maxsize=512)
def system_text(instruction: str, tools: tuple[ToolSpec, ...], thought: bool = False) -> str:
    """The whole system message; built once per (instruction, tools, thought)."""
    instruction = instruction.strip()
    block = tools_block(tools, thought)
    return f"{instruction}\n\n{block}" if instruction else block


def render_possible(tools: Iterable[ToolSpec]) -> str:
    """The tools a game's action mask leaves open, by name: the mask's argument values need no
    words here, the constrained decoder holds the call to them."""
    return "Possible now: " + ", ".join(spec.name for spec in tools)


def user_text(observation: Mapping[str, Any], possible: Iterable[ToolSpec] | None = None,
              memory: Sequence[str] = ()) -> str:
    """The user message: memory lines, the observation, what is possible now."""
    parts = []
    if memory:
        parts.append("Your last actions:\n" + "\n".join(memory))
    parts.append(f"Now:\n{render_observation(observation)}")
    if possible is not None:
        parts.append(render_possible(possible))
    return "\n\n".join(parts)


def decision_messages(tools: Sequence[ToolSpec], observation: Mapping[str, Any],
                      possible: Sequence[ToolSpec] | None = None, memory: Sequence[str] = (),
                      *, instruction: str = INSTRUCTION, thought: bool = False,
                      ) -> list[dict[str, str]]:
    """The chat of one decision, as the server's constrained path sends it.

    ``tools``: the tools the agent may use (listed whole, so the system text is the same from
    tick to tick); ``possible``: those a game's mask leaves open now (None: no mask, no line);
    ``memory``: the agent's recent memory lines (agents.MemoryEntry.line)."""
    return [{"role": "system", "content": system_text(instruction, tuple(tools), thought)},
            {"role": "user", "content": user_text(observation, possible, memory)}]


def ordered_arguments(arguments: Mapping[str, Any], spec: ToolSpec | None) -> dict[str, Any]:
    """``arguments`` in the order a schema-constrained decoder writes them (llama.cpp's
    json-schema grammar: required properties first, then the optional ones, each in the
    schema's order); unknown keys last. Without a spec: as given."""
    if spec is None:
        return dict(arguments)
    props = list(spec.parameters.get("properties") or {})
    required = set(spec.parameters.get("required") or ())
    order = [k for k in props if k in required] + [k for k in props if k not in required]
    out = {k: arguments[k] for k in order if k in arguments}
    out.update((k, v) for k, v in arguments.items() if k not in out)
    return out


def answer_text(call: ToolCall | Mapping[str, Any], spec: ToolSpec | None = None) -> str:
    """The answer the constrained decoder is asked for (tools.call_schema: "tool", then
    "arguments"), as json.dumps writes it: ``{"tool": "grab", "arguments": {"id": "a_1"}}``.
    With ``spec`` the arguments come in the decoder's order (``ordered_arguments``)."""
    if isinstance(call, ToolCall):
        tool, args = call.tool, call.arguments
    else:
        tool, args = call["tool"], call.get("arguments") or {}
    return json.dumps({"tool": tool, "arguments": ordered_arguments(args, spec)},
                      ensure_ascii=False)
