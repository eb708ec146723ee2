"""A trainer's engine as a backend: the caller supplies the async generate callable.

An RL trainer (Verl, TRL, OpenRLHF) owns the model and its weights; the agent system should run
unchanged around it. So this backend does no inference of its own: it turns each ChatRequest
into ``await generate(messages, sampling, response_schema)`` and the answer back into a
ChatResponse. ``messages`` is a fresh list of ``{"role", "content"}`` dicts, ``sampling`` a
dict of the set Sampling fields (temperature, top_p, top_k, max_tokens, seed, stop, ...), and
``response_schema`` the JSON Schema the output must match (None for free text; an engine that
can constrain decoding, e.g. vLLM structured outputs, should; one that cannot is still safe:
every call is validated and re-asked by the calling layer).

The callable returns an ``EngineOutput``, a mapping with ``text`` and optional
``prompt_tokens`` / ``completion_tokens`` / ``finish_reason``, or a plain string. Whatever it
raises becomes a BackendError here (one boundary), so the game gets a fallback, not a crash.

    server = ArenaServer(EngineBackend(generate=my_rollout_engine.generate), ...)

From a config: ``backend=engine backend.generate=my_pkg.rollout:generate`` (import path of an
async callable, or of a zero-argument factory returning one when ``backend.factory=true``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent_arena.backends.base import Backend, Capabilities, ChatRequest, ChatResponse, Sampling
from agent_arena.config.fields import check_bounds, setting
from agent_arena.errors import BackendError, BackendRequestError, ConfigError


@dataclass
class EngineOutput:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None


GenerateFn = Callable[
    [list[dict[str, Any]], dict[str, Any], "Mapping[str, Any] | None"],
    Awaitable["EngineOutput | Mapping[str, Any] | str"],
]


@dataclass
class EngineConfig:
    """``backend=engine``: a caller-supplied async generate callable (a trainer's engine)."""

    generate: str | None = setting(None, "'package.module:callable' (async or not): "
                                         "(messages, sampling, schema) -> text")
    factory: bool = setting(False, "generate names a zero-argument factory returning the "
                                   "callable")
    model_name: str = setting("engine", "what actions and journals report as the model")
    json_schema: bool = setting(True, "the engine honours response_schema (false: prompt "
                                      "strategy)")
    max_concurrency: int = setting(0, "requests in flight at once (0: no limit; the engine "
                                      "batches)", ge=0)
    temperature: float | None = setting(0.2, "sampling temperature", ge=0)
    top_p: float | None = setting(None, "nucleus sampling", ge=0, le=1)
    top_k: int | None = setting(None, "sample among the k likeliest tokens")
    max_tokens: int | None = setting(96, "tokens an answer may take", ge=1)
    seed: int | None = setting(None, "sampling seed")

    def __post_init__(self) -> None:
        check_bounds(self, "backend")


def load_callable(path: str, *, factory: bool = False) -> GenerateFn:
    module, _, attr = path.partition(":")
    if not module or not attr:
        raise ConfigError(f"backend.generate={path!r}: write it as 'package.module:callable'")
    try:
        obj: Any = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"backend.generate={path!r} cannot be imported: {exc}") from exc
    if factory:
        obj = obj()
    if not callable(obj):
        raise ConfigError(f"backend.generate={path!r} is not callable")
    return obj


class EngineBackend(Backend):
    name = "engine"

    def __init__(self, config: EngineConfig | None = None, *, generate: GenerateFn | None = None,
                 **overrides: Any) -> None:
        self.config = config or EngineConfig(**overrides)
        if generate is None:
            if not self.config.generate:
                raise ConfigError("the engine backend needs a generate callable: pass "
                                  "EngineBackend(generate=...) or set backend.generate="
                                  "'package.module:callable'")
            generate = load_callable(self.config.generate, factory=self.config.factory)
        self._generate = generate
        self._model_name = self.config.model_name
        n = self.config.max_concurrency
        self._limit = asyncio.Semaphore(n) if n > 0 else None
        self.stats = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "errors": 0}

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(native_tools=False, json_schema=self.config.json_schema)

    @property
    def default_sampling(self) -> Sampling:
        return Sampling.of(self.config, ("temperature", "top_p", "top_k", "max_tokens", "seed"))

    async def chat(self, request: ChatRequest) -> ChatResponse:
        sampling = self.default_sampling.merged(request.sampling)
        sdict = {k: v for k, v in dataclasses.asdict(sampling).items() if v is not None}
        messages = [{"role": str(m.get("role")), "content": str(m.get("content") or "")}
                    for m in request.messages]
        schema = request.response_schema if self.config.json_schema else None
        try:
            if self._limit is None:
                out = await self._call(messages, sdict, schema)
            else:
                async with self._limit:
                    out = await self._call(messages, sdict, schema)
        except asyncio.CancelledError:
            raise
        except BackendError:
            self.stats["errors"] += 1
            raise
        except Exception as exc:  # the caller's engine: translate at this one boundary
            self.stats["errors"] += 1
            raise BackendRequestError(
                f"engine generate failed: {type(exc).__name__}: {exc}") from exc
        resp = _response(out, self._model_name)
        self.stats["requests"] += 1
        self.stats["prompt_tokens"] += resp.prompt_tokens
        self.stats["completion_tokens"] += resp.completion_tokens
        return resp

    async def _call(self, messages: list[dict[str, Any]], sampling: dict[str, Any],
                    schema: Mapping[str, Any] | None) -> Any:
        result = self._generate(messages, sampling, schema)
        if inspect.isawaitable(result):
            result = await result
        return result


def _response(out: Any, model: str) -> ChatResponse:
    if isinstance(out, str):
        return ChatResponse(text=out, finish_reason="stop", model=model)
    if isinstance(out, EngineOutput):
        out = dataclasses.asdict(out)
    if not isinstance(out, Mapping) or not isinstance(out.get("text"), str):
        raise BackendRequestError(
            "engine generate must return a str, an EngineOutput or a mapping with 'text'; got "
            f"{type(out).__name__}")
    return ChatResponse(text=out["text"], prompt_tokens=int(out.get("prompt_tokens") or 0),
                        completion_tokens=int(out.get("completion_tokens") or 0),
                        finish_reason=out.get("finish_reason"), model=model)


__all__: Sequence[str] = ("EngineBackend", "EngineConfig", "EngineOutput", "GenerateFn",
                          "load_callable")
