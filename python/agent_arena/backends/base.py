"""The one small interface every backend implements.

A backend knows chat messages, tools and schemas; it knows nothing of games, agents or sockets.
Core methods are async; the seed API's sync conveniences (``generate``,
``generate_with_tools``, ``is_available``) come from agent_arena.seed. The types it speaks
live in backends/types.py (re-exported here for existing imports).
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Sequence

from agent_arena.backends.types import (
    Capabilities,
    ChatRequest,
    ChatResponse,
    GenerationResult,
    RawToolCall,
    Sampling,
    Scores,
)
from agent_arena.errors import BackendRequestError
from agent_arena.seed import SeedAPI

__all__ = ["Backend", "Capabilities", "ChatRequest", "ChatResponse", "GenerationResult",
           "RawToolCall", "Sampling", "Scores"]


class Backend(SeedAPI, abc.ABC):
    name: str = "base"

    @property
    @abc.abstractmethod
    def capabilities(self) -> Capabilities: ...

    @property
    def model_name(self) -> str:
        return getattr(self, "_model_name", self.name)

    @property
    def default_sampling(self) -> Sampling:
        return Sampling()

    @abc.abstractmethod
    async def chat(self, request: ChatRequest) -> ChatResponse:
        """One chat completion. Raise BackendError subclasses (with a ``kind``), never foreign
        exceptions. Cancelling the awaiting task must stop the work (stop generating, close the
        HTTP request) so the model is free for the next decision."""

    async def score(self, request: ChatRequest, options: Sequence[str]) -> Scores:
        """Log-likelihood of each option as the continuation of ``request`` (its messages, then
        ``request.prefill``), one pass over the shared prompt. Only with Capabilities.scores."""
        raise BackendRequestError(f"backend {self.name} cannot score continuations",
                                  kind="bad_request")

    def turn(self) -> contextlib.AbstractAsyncContextManager[object]:
        """Held across the requests of one multi-step decision (likelihood choice: score,
        prior, arguments), so a backend with one prompt cache runs them back to back instead
        of between other agents' requests; servers that batch need nothing."""
        return contextlib.nullcontext()

    async def check(self) -> bool:
        """True when the backend can serve a request now."""
        return True

    async def aclose(self) -> None:
        return None
