"""The one small interface every backend implements.

A backend knows chat messages, tools and schemas; it knows nothing of games, agents or sockets.
Every method is async, and a backend has a lifecycle: ``await backend.start()`` loads the model,
starts its child server or checks its health (a no-op by default, and a first request starts
what it needs anyway); ``await backend.close()`` frees what it holds (a no-op by default);
``async with backend:`` does both. The seed API's blocking conveniences (``is_available``,
``generate``, ``generate_with_tools``) are thin methods that hand the backend to
agent_arena.seed.SyncBackend through ``sync_front``, which seed sets when agent_arena.backends
loads it (every import of a backend runs that package first), so this module imports nothing
above it; the seed's blocking close is ``backend.sync().close()``. The types it speaks live in
backends/types.py (re-exported here for existing imports).
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol, TypeVar

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

__all__ = ["Backend", "Capabilities", "ChatRequest", "ChatResponse", "GenerationResult",
           "RawToolCall", "Sampling", "Scores"]


class SyncFront(Protocol):
    """The seed's blocking calls over one backend (agent_arena.seed.SyncBackend)."""

    def is_available(self) -> bool: ...
    def generate(self, prompt: str, **sampling: Any) -> GenerationResult: ...
    def generate_with_tools(self, prompt: str, tools: Sequence[Any],
                            **sampling: Any) -> GenerationResult: ...
    def close(self) -> None: ...


_B = TypeVar("_B", bound="Backend")


class Backend(abc.ABC):
    name: str = "base"
    #: wraps a backend in the seed's sync API; agent_arena.seed sets it (see the docstring)
    sync_front: ClassVar[Callable[[Backend], SyncFront] | None] = None

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

    # ---- lifecycle -------------------------------------------------------------------------

    @property
    def starting(self) -> str | None:
        """What ``start`` does, in words, for progress lines ("loading the model"); None when
        it has nothing worth waiting for (an HTTP client)."""
        return None

    async def start(self) -> None:
        """Load the model, start the child server or connect, so the first decision does not
        wait for it; safe to call twice. Without it a backend starts on its first request."""
        return None

    async def close(self) -> None:
        """Free what ``start`` or the requests took (the model, the child, HTTP clients); the
        backend may be started again later."""
        return None

    async def __aenter__(self: _B) -> _B:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- the seed's synchronous API (outside an event loop), delegated to sync_front ----------

    def sync(self) -> SyncFront:
        front = type(self).sync_front
        if front is None:  # only if someone loaded this file without its package
            raise RuntimeError("import agent_arena.backends for the sync API")
        return front(self)

    def is_available(self) -> bool:
        return self.sync().is_available()

    def generate(self, prompt: str, **sampling: Any) -> GenerationResult:
        return self.sync().generate(prompt, **sampling)

    def generate_with_tools(self, prompt: str, tools: Sequence[Any],
                            **sampling: Any) -> GenerationResult:
        """Ask for exactly one call among ``tools`` (flat or OpenAI form), validated."""
        return self.sync().generate_with_tools(prompt, tools, **sampling)
