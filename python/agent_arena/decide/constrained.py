"""``constrained``: the output constrained to the union-of-tools JSON Schema (a llama.cpp
grammar, ``response_format`` json_schema on servers); decoding guarantees valid JSON."""

from __future__ import annotations

import json

from agent_arena.backends.types import ChatRequest, ChatResponse
from agent_arena.decide.parsing import LENIENT, call_from_object, first_json_object
from agent_arena.decide.types import Extracted
from agent_arena.prompt.tool_block import with_tools_in_system
from agent_arena.tools import cached_call_schema


class ConstrainedStrategy:
    name = "constrained"

    def build_request(self, messages, tools, cfg, sampling, *, listed=None, **extra) -> ChatRequest:
        return ChatRequest(
            messages=with_tools_in_system(messages, listed or tools, cfg.thought),
            response_schema=cached_call_schema(tuple(tools), cfg.thought),  # shared: read-only
            sampling=sampling, **extra,
        )

    def extract(self, response: ChatResponse) -> Extracted:
        try:
            obj = LENIENT.decode(response.text)
        except json.JSONDecodeError:
            obj = first_json_object(response.text)  # e.g. output cut by max_tokens
            if obj is None:
                return Extracted(problems=[
                    f"output is not complete JSON (finish_reason={response.finish_reason}); "
                    "raise max_tokens if this repeats"
                ])
        return call_from_object(obj)


STRATEGY = ConstrainedStrategy()
