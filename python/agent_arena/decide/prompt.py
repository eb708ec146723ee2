"""``prompt``: the tools described in the prompt, the first JSON object parsed leniently
(any backend can do this; the last resort of ``auto``). The words: agent_arena.prompt."""

from __future__ import annotations

from agent_arena.backends.types import ChatRequest, ChatResponse
from agent_arena.decide.parsing import call_from_object, first_json_object
from agent_arena.decide.types import Extracted
from agent_arena.prompt.tool_block import with_tools_in_system


class PromptStrategy:
    name = "prompt"

    def build_request(self, messages, tools, cfg, sampling, *, listed=None, **extra) -> ChatRequest:
        return ChatRequest(messages=with_tools_in_system(messages, listed or tools, cfg.thought),
                           sampling=sampling, **extra)

    def extract(self, response: ChatResponse) -> Extracted:
        return call_from_object(first_json_object(response.text))


STRATEGY = PromptStrategy()
