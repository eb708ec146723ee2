"""``native``: tools and tool_choice sent to an OpenAI-compatible server (vLLM / SGLang
guided decoding); the server's tool call read back, or one written in the content."""

from __future__ import annotations

from agent_arena.backends.types import ChatRequest, ChatResponse
from agent_arena.decide.parsing import call_from_object, first_json_object
from agent_arena.decide.types import Extracted


class NativeStrategy:
    name = "native"

    def build_request(self, messages, tools, cfg, sampling, *, listed=None, **extra) -> ChatRequest:
        choice = tools[0].name if len(tools) == 1 else "required"
        return ChatRequest(messages=list(messages), tools=tuple(tools), tool_choice=choice,
                           sampling=sampling, **extra)

    def extract(self, response: ChatResponse) -> Extracted:
        if not response.tool_calls:
            ex = call_from_object(first_json_object(response.text)) if response.text else None
            if ex is not None and ex.call is not None:
                return ex  # some templates put the call in content
            return Extracted(no_call=True, problems=["the server returned no tool call"])
        first = response.tool_calls[0]
        return call_from_object({"tool": first.name, "arguments": first.arguments})


STRATEGY = NativeStrategy()
