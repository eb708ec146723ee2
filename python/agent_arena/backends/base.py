"""The one small interface every backend implements, and the types it speaks.

A backend knows chat messages, tools and schemas; it knows nothing of games, agents or sockets.
Core methods are async; ``generate`` / ``generate_with_tools`` / ``is_available`` are sync
conveniences (the seed API) that run the async ones on a private event loop.
"""

from __future__ import annotations

import abc
import asyncio
import json
import threading
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from agent_arena.tools import ToolSpec

T = TypeVar("T")


@dataclass(frozen=True)
class Capabilities:
    """What a backend can enforce; ``auto`` strategy selection reads this."""

    native_tools: bool = False  # honours tools + tool_choice (required / named)
    json_schema: bool = False  # can constrain output to a JSON Schema
    grammar: bool = False  # llama.cpp GBNF grammars


@dataclass(frozen=True)
class Sampling:
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    repetition_penalty: float | None = None
    seed: int | None = None
    stop: list[str] | None = None

    def merged(self, other: Sampling | Mapping[str, Any] | None) -> Sampling:
        """``other``'s set fields win (agent profile over backend defaults)."""
        if other is None:
            return self
        if isinstance(other, Mapping):
            other = Sampling(**{k: v for k, v in other.items() if k in Sampling.__dataclass_fields__})
        values = {k: getattr(self, k) for k in Sampling.__dataclass_fields__}
        values.update({k: v for k in values if (v := getattr(other, k)) is not None})
        return Sampling(**values)


@dataclass(frozen=True)
class ChatRequest:
    messages: Sequence[Mapping[str, Any]]
    tools: Sequence[ToolSpec] = ()
    tool_choice: str | None = None  # "auto" | "required" | "none" | a tool name
    response_schema: Mapping[str, Any] | None = None
    sampling: Sampling = field(default_factory=Sampling)
    model: str | None = None  # e.g. a vLLM LoRA adapter name
    extra_body: Mapping[str, Any] | None = None
    slot: int | None = None  # llama-server KV slot to pin an agent to; ignored elsewhere


@dataclass(frozen=True)
class RawToolCall:
    name: str
    arguments: str | Mapping[str, Any]  # servers send a JSON string; keep it raw until parsed


@dataclass
class ChatResponse:
    text: str = ""
    tool_calls: list[RawToolCall] = field(default_factory=list)
    reasoning: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    model: str | None = None


@dataclass
class GenerationResult:
    """Seed-API result: ``.text`` and ``.metadata`` (``tool_call`` when one was made)."""

    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


class Backend(abc.ABC):
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
        """One chat completion. Raise BackendError subclasses, never foreign exceptions."""

    async def check(self) -> bool:
        """True when the backend can serve a request now."""
        return True

    async def aclose(self) -> None:
        return None

    # ---- sync conveniences (the seed API) -------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return _sync_loop().run(coro)
        raise RuntimeError(
            f"{type(self).__name__}.{coro.__qualname__.split('.')[-1]} is the sync API; "
            "inside an event loop await the async method instead"
        )

    def is_available(self) -> bool:
        return self._run(self.check())

    def generate(self, prompt: str, **sampling: Any) -> GenerationResult:
        req = ChatRequest(
            messages=[{"role": "user", "content": prompt}],
            sampling=self.default_sampling.merged(sampling),
        )
        resp = self._run(self.chat(req))
        return GenerationResult(text=resp.text, metadata=_metadata(resp))

    def generate_with_tools(
        self, prompt: str, tools: Sequence[Any], **sampling: Any
    ) -> GenerationResult:
        """Ask for exactly one call among ``tools`` (flat or OpenAI form), validated."""
        from agent_arena.calling import CallingConfig, decide_once  # local: avoids a cycle
        from agent_arena.tools import ToolRegistry

        registry = ToolRegistry(tools)
        messages = [{"role": "user", "content": prompt}]
        cfg = CallingConfig(strategy=sampling.pop("strategy", "auto"))
        outcome = self._run(
            decide_once(self, messages, registry, None, cfg, self.default_sampling.merged(sampling))
        )
        meta: dict[str, Any] = {"status": outcome.status, "attempts": outcome.attempts,
                                "strategy": outcome.strategy}
        if outcome.call is not None and outcome.status == "ok":
            meta["tool_call"] = {"name": outcome.call.tool, "arguments": outcome.call.arguments}
        if outcome.reason:
            meta["reason"] = outcome.reason
        return GenerationResult(text=outcome.raw_text, metadata=meta)

    def close(self) -> None:
        self._run(self.aclose())


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


class _SyncLoop:
    """One long-lived loop in a thread so sync calls can reuse async clients across calls."""

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
