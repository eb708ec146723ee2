"""A wrapper that keeps every request it forwards to a real backend: to look at the exact
prompts a server builds (tests, benchmarks, debugging a profile). It changes nothing else."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from agent_arena.backends.base import Backend, Capabilities, ChatRequest, ChatResponse, Sampling
from agent_arena.backends.types import Scores


class RecordingBackend(Backend):
    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = inner.name
        self.requests: list[ChatRequest] = []

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    @property
    def model_name(self) -> str:
        return self.inner.model_name

    @property
    def default_sampling(self) -> Sampling:
        return self.inner.default_sampling

    async def chat(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        return await self.inner.chat(request)

    async def score(self, request: ChatRequest, options: Sequence[str]) -> Scores:
        """Forwarded (and kept) like chat: the capabilities it passes on promise it."""
        self.requests.append(request)
        return await self.inner.score(request, options)

    def turn(self) -> contextlib.AbstractAsyncContextManager[object]:
        return self.inner.turn()

    async def check(self) -> bool:
        return await self.inner.check()
