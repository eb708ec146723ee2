"""The seed's synchronous API (``is_available``, ``generate``, ``generate_with_tools``,
``close``) as a wrapper around any backend's async core: ``SyncBackend(backend)``.

It sits above backends and calling (``generate_with_tools`` runs the same validate-and-re-ask
loop as the server); nothing below imports it. ``Backend``'s own sync methods delegate here
through ``Backend.sync_front``, which this module sets when loaded (agent_arena.backends loads
it), so backends/base.py never imports upward. The sync calls run on one long-lived private
loop in a thread, so async clients (httpx pools) are reused across calls.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from agent_arena.backends.base import Backend
from agent_arena.backends.types import ChatRequest, ChatResponse, GenerationResult

T = TypeVar("T")


class SyncBackend:
    """The seed's blocking calls over ``backend`` (any Backend); call them outside a loop."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """``coro`` (one of the backend's) run to its end on the private loop; outside a loop."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return _sync_loop().run(coro)
        coro.close()
        raise RuntimeError(
            f"{type(self.backend).__name__}.{coro.__qualname__.split('.')[-1]} is the sync API; "
            "inside an event loop await the async method instead"
        )

    def is_available(self) -> bool:
        return self.run(self.backend.check())

    def generate(self, prompt: str, **sampling: Any) -> GenerationResult:
        req = ChatRequest(
            messages=[{"role": "user", "content": prompt}],
            sampling=self.backend.default_sampling.merged(sampling),
        )
        resp = self.run(self.backend.chat(req))
        return GenerationResult(text=resp.text, metadata=_metadata(resp))

    def generate_with_tools(
        self, prompt: str, tools: Sequence[Any], **sampling: Any
    ) -> GenerationResult:
        """Ask for exactly one call among ``tools`` (flat or OpenAI form), validated."""
        from agent_arena.calling import CallingConfig, decide_once
        from agent_arena.tools import ToolRegistry

        registry = ToolRegistry(tools)
        messages = [{"role": "user", "content": prompt}]
        cfg = CallingConfig(strategy=sampling.pop("strategy", "auto"))
        outcome = self.run(decide_once(
            self.backend, messages, registry, None, cfg,
            self.backend.default_sampling.merged(sampling)))
        meta: dict[str, Any] = {"status": outcome.status, "attempts": outcome.attempts,
                                "strategy": outcome.strategy}
        if outcome.call is not None and outcome.status == "ok":
            meta["tool_call"] = {"name": outcome.call.tool, "arguments": outcome.call.arguments}
        if outcome.reason:
            meta["reason"] = outcome.reason
        return GenerationResult(text=outcome.raw_text, metadata=meta)

    def close(self) -> None:
        self.run(self.backend.close())


def _metadata(resp: ChatResponse) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "prompt_tokens": resp.prompt_tokens,
        "completion_tokens": resp.completion_tokens,
        "finish_reason": resp.finish_reason,
    }
    if resp.reasoning:
        meta["reasoning"] = resp.reasoning
    if resp.tool_calls:
        tc = resp.tool_calls[0]
        args = tc.arguments
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except json.JSONDecodeError:
                pass
        meta["tool_call"] = {"name": tc.name, "arguments": args}
    return meta


Backend.sync_front = SyncBackend  # Backend.generate(...) etc. delegate here


class _SyncLoop:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name="agent-arena-sync")
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()


_SYNC: _SyncLoop | None = None
_SYNC_LOCK = threading.Lock()


def _sync_loop() -> _SyncLoop:
    global _SYNC
    with _SYNC_LOCK:
        if _SYNC is None:
            _SYNC = _SyncLoop()
        return _SYNC
