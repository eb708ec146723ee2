"""A backend that answers from a script: for unit tests of the server's own logic and for
measuring the bridge's overhead with an instant model. Never the only test of a feature."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agent_arena.backends.base import Backend, Capabilities, ChatRequest, ChatResponse
from agent_arena.config.fields import check_bounds, setting

Responder = Callable[[ChatRequest], "str | ChatResponse"]


@dataclass
class ScriptedConfig:
    """``backend=scripted``: answers every request with ``answer`` (not a model)."""

    delay_s: float = setting(0.0, "simulated model time per request", ge=0)
    answer: str = setting('{"tool": "idle", "arguments": {}}', "the text every request gets")

    def __post_init__(self) -> None:
        check_bounds(self, "backend")


class ScriptedBackend(Backend):
    name = "scripted"

    def __init__(self, config: ScriptedConfig | None = None,
                 responses: Sequence[str | ChatResponse] | Responder | None = None,
                 **overrides: Any) -> None:
        self.config = config or ScriptedConfig(**overrides)
        self._responses = responses
        self._index = 0
        # the most recent requests only: a long bench or demo must not grow memory without end
        self.requests: collections.deque[ChatRequest] = collections.deque(maxlen=1000)

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(json_schema=True)

    async def chat(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        if self.config.delay_s:
            await asyncio.sleep(self.config.delay_s)
        r = self._responses
        if callable(r):
            out = r(request)
        elif r:
            out = r[min(self._index, len(r) - 1)]
            self._index += 1
        else:
            out = self.config.answer
        if isinstance(out, ChatResponse):
            return out
        chars = sum(len(str(m.get("content", ""))) for m in request.messages)
        return ChatResponse(text=out, prompt_tokens=chars // 4,  # a rough stand-in count
                            completion_tokens=len(out) // 4, finish_reason="stop")
