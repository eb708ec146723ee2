"""The answer a model is asked for, and its pieces that choosers score or prefill.

``{"tool": "grab", "arguments": {"id": "a_1"}}``, as constrained decoding writes it
(tools.call_schema: "tool", then "arguments"): the training rows' answers, the likelihood
chooser's options and the description chooser's prefill are all cut from this one shape.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from agent_arena.tools import ToolCall, ToolSpec

ANSWER_START = '{"tool": "'  # the answer up to the tool's name


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
    """The answer the constrained decoder is asked for, as json.dumps writes it:
    ``{"tool": "grab", "arguments": {"id": "a_1"}}``. With ``spec`` the arguments come in the
    decoder's order (``ordered_arguments``)."""
    if isinstance(call, ToolCall):
        tool, args = call.tool, call.arguments
    else:
        tool, args = call["tool"], call.get("arguments") or {}
    return json.dumps({"tool": tool, "arguments": ordered_arguments(args, spec)},
                      ensure_ascii=False)


def assistant_text(call: Mapping[str, Any] | None, thought: str | None = None) -> str:
    """A journaled call as the constrained/prompt strategies have the model write it, its
    thought first when there was one (export's completions; "" for no call). The arguments
    stay in the recorded order."""
    if not call:
        return ""
    answer: dict[str, Any] = {}
    if thought:
        answer["thought"] = thought
    answer["tool"] = call.get("tool")
    answer["arguments"] = dict(call.get("arguments") or {})
    return json.dumps(answer, ensure_ascii=False)


def tool_head(name: str) -> str:
    """The answer after ANSWER_START up to the arguments: the name and what follows it in a
    real answer (``",`` is one token: ending at the bare quote would score a token the model
    never writes there)."""
    return f'{name}", "arguments": '


def arguments_tail(arguments: Mapping[str, Any]) -> str:
    """The rest of the answer after ``tool_head``: the arguments and the closing brace."""
    return f"{json.dumps(arguments)}}}"
