"""Function-calling strategies and the validate-and-re-ask loop.

A strategy does two things: ``build_request`` (how to ask a backend for one call among some
tools) and ``extract`` (turn the backend's answer into a ToolCall, or say what is wrong with it).
Strategies are registered by name; the name is public API (``calling.strategy`` in configs):

- ``native``      tools + tool_choice to an OpenAI-compatible server (vLLM/SGLang guided decoding)
- ``constrained`` output constrained to the union-of-tools JSON Schema (llama.cpp grammar,
                  ``response_format`` json_schema on servers); validity is guaranteed by decoding
- ``prompt``      tools described in the prompt, first JSON object parsed leniently
- ``auto``        the best the backend's capabilities allow; a ``StrategySelector`` per backend
                  (owned here, never written onto the backend) downgrades native -> constrained
                  -> prompt only when the server says it does not support the feature
                  (``tools_unsupported`` / ``schema_unsupported``, or tools silently ignored).
                  Any other backend error is a fallback for that one decision.

Every call is validated against the registry before it is returned, whatever the strategy.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from agent_arena.backends.types import ChatRequest, ChatResponse, Sampling
from agent_arena.errors import BackendError, ConfigError
from agent_arena.tools import ToolCall, ToolRegistry, ToolSpec, cached_call_schema, type_hint

if TYPE_CHECKING:
    from agent_arena.backends.base import Backend

log = logging.getLogger("agent_arena.calling")


@dataclass(frozen=True)
class CallingConfig:
    strategy: str = "auto"  # auto | constrained | native | prompt
    max_attempts: int = 2  # model calls per decision (first try + re-asks)
    thought: bool = False  # ask for a short "thought" before the call (constrained/prompt)
    fallback_tool: str = "idle"
    fallback_arguments: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.strategy not in list_strategies():
            raise ConfigError(f"calling.strategy={self.strategy!r} is not a strategy; choose one "
                              f"of: {', '.join(list_strategies())}")
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ConfigError(f"calling.max_attempts={self.max_attempts!r}: it counts model calls "
                              "per decision (first try + re-asks) and must be at least 1")
        if not isinstance(self.fallback_tool, str) or not self.fallback_tool:
            raise ConfigError(f"calling.fallback_tool={self.fallback_tool!r}: name a tool")
        if not isinstance(self.fallback_arguments, Mapping):
            raise ConfigError("calling.fallback_arguments must be a map of the fallback tool's "
                              f"arguments, got {self.fallback_arguments!r}")


@dataclass
class Extracted:
    call: ToolCall | None = None
    thought: str | None = None
    problems: list[str] = field(default_factory=list)
    no_call: bool = False  # the backend answered without any call (native tools ignored)


@dataclass
class Outcome:
    """What one decision came to; ``call`` is None unless ``status`` is ok (the caller owns the
    fallback call, since only it knows the session's tools)."""

    call: ToolCall | None
    status: str  # ok | fallback
    strategy: str
    attempts: int = 0
    reason: str | None = None
    thought: str | None = None
    raw_text: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    request: ChatRequest | None = None  # the first request sent (journal, replay)
    error_kind: str | None = None  # backend error kind when a backend error ended it


class Strategy(Protocol):
    name: str

    def build_request(
        self, messages: Sequence[Mapping[str, Any]], tools: Sequence[ToolSpec], cfg: CallingConfig,
        sampling: Sampling, *, listed: Sequence[ToolSpec] | None = None, **extra: Any,
    ) -> ChatRequest:
        """``tools``: the calls possible now (constrain and validate with these); ``listed``: the
        tools the system text describes (default ``tools``), kept unmasked so the cached prompt
        prefix stays the same from tick to tick. ``extra``: more ChatRequest fields (model,
        extra_body, affinity), set at once."""
        ...

    def extract(self, response: ChatResponse) -> Extracted: ...


# ---- prompt text shared by the strategies ------------------------------------------------------


def render_tools(tools: Iterable[ToolSpec]) -> str:
    """One line per tool: stable text (so it sits in the cached prompt prefix)."""
    lines = []
    for spec in tools:
        props = spec.parameters.get("properties", {})
        args = ", ".join(f"{k}: {type_hint(v)}" for k, v in props.items())
        lines.append(f"- {spec.name}({args}): {spec.description}")
    return "\n".join(lines)


def format_instructions(thought: bool) -> str:
    shape = '{"thought": "<a few words>", "tool": "<name>", "arguments": {...}}' if thought \
        else '{"tool": "<name>", "arguments": {...}}'
    return f"Answer with one JSON object and nothing else: {shape}"


def with_tools_in_system(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[ToolSpec], thought: bool
) -> list[Mapping[str, Any]]:
    """``messages`` with the tool list and answer format appended to the system text.

    Only the system message is new; the other turns are shared with the caller (read-only).
    The system text is built once per (system prompt, tools, thought)."""
    out = list(messages)
    if out and out[0].get("role") == "system":
        out[0] = {**out[0], "content": _system_text(str(out[0].get("content", "")),
                                                    tuple(tools), thought)}
    else:
        out.insert(0, {"role": "system", "content": _tools_block(tuple(tools), thought)})
    return out


@functools.lru_cache(maxsize=512)
def _tools_block(tools: tuple[ToolSpec, ...], thought: bool) -> str:
    return f"Tools:\n{render_tools(tools)}\n{format_instructions(thought)}"


@functools.lru_cache(maxsize=512)
def _system_text(system: str, tools: tuple[ToolSpec, ...], thought: bool) -> str:
    return f"{system}\n\n{_tools_block(tools, thought)}"


# ---- parsing -----------------------------------------------------------------------------------

# grammar-constrained strings may hold raw control characters: accept them, validate after.
# One decoder for all calls (json.loads with a keyword builds a new one every time).
_LENIENT = json.JSONDecoder(strict=False)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)
_THINK = re.compile(r"<think>.*?(</think>|$)", re.S)


def first_json_object(text: str) -> Any:
    """The first decodable JSON object in ``text`` (code fences, prose and <think> tolerated)."""
    text = _THINK.sub("", text)
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = _LENIENT
    for cand in candidates:
        for i, ch in enumerate(cand):
            if ch != "{":
                continue
            try:
                obj, _ = decoder.raw_decode(cand, i)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                return obj
    return None


def call_from_object(obj: Any) -> Extracted:
    """Accept {"tool"|"name", "arguments"|"parameters"|"args"} shapes; say what is missing."""
    if not isinstance(obj, dict):
        return Extracted(problems=['no JSON object found; answer with {"tool": ..., "arguments": {...}}'])
    name = obj.get("tool", obj.get("name", obj.get("function")))
    if isinstance(name, dict):  # {"function": {"name":..., "arguments":...}}
        obj, name = name, name.get("name")
    args = obj.get("arguments", obj.get("parameters", obj.get("args", {})))
    if isinstance(args, str):
        try:
            args = _LENIENT.decode(args)
        except json.JSONDecodeError:
            return Extracted(problems=[f"arguments is not a JSON object: {args[:80]!r}"])
    thought = obj.get("thought") if isinstance(obj.get("thought"), str) else None
    if not isinstance(name, str):
        return Extracted(thought=thought, problems=['missing "tool": the name of one tool'])
    if args is None:
        args = {}
    return Extracted(call=ToolCall(name, args), thought=thought)


# ---- strategies --------------------------------------------------------------------------------


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
            obj = _LENIENT.decode(response.text)
        except json.JSONDecodeError:
            obj = first_json_object(response.text)  # e.g. output cut by max_tokens
            if obj is None:
                return Extracted(problems=[
                    f"output is not complete JSON (finish_reason={response.finish_reason}); "
                    "raise max_tokens if this repeats"
                ])
        return call_from_object(obj)


class PromptStrategy:
    name = "prompt"

    def build_request(self, messages, tools, cfg, sampling, *, listed=None, **extra) -> ChatRequest:
        return ChatRequest(messages=with_tools_in_system(messages, listed or tools, cfg.thought),
                           sampling=sampling, **extra)

    def extract(self, response: ChatResponse) -> Extracted:
        return call_from_object(first_json_object(response.text))


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


STRATEGIES: dict[str, Strategy] = {s.name: s for s in
                                   (ConstrainedStrategy(), PromptStrategy(), NativeStrategy())}


def list_strategies() -> list[str]:
    return ["auto", *STRATEGIES]


def pick_strategy(name: str, backend: Backend) -> Strategy:
    """The strategy for ``name``; ``auto`` asks the backend's selector."""
    if name == "auto":
        return selector_for(backend).current()
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ConfigError(
            f"unknown calling strategy {name!r}; choose one of: {', '.join(list_strategies())}"
        ) from None


class StrategySelector:
    """The ``auto`` choice for one backend: starts from its capabilities, and downgrades only
    when the server shows it lacks a feature. One bad request (a context-length 400, a
    misspelt LoRA name, a 401) never changes what every other agent gets."""

    ORDER = ("native", "constrained", "prompt")

    def __init__(self, backend: Backend) -> None:
        caps = backend.capabilities
        self.backend_name = backend.name
        self.usable = {"native": caps.native_tools, "constrained": caps.json_schema or caps.grammar,
                       "prompt": True}
        log.info("calling: auto strategy picks %r for backend %s (native_tools=%s, json_schema=%s,"
                 " grammar=%s)", self.current().name, backend.name, caps.native_tools,
                 caps.json_schema, caps.grammar)

    def current(self) -> Strategy:
        return STRATEGIES[next(n for n in self.ORDER if self.usable[n])]

    def downgrade(self, strategy: Strategy, why: str) -> Strategy | None:
        """Mark ``strategy`` unusable on this backend; the next one, or None at the end."""
        if strategy.name == "prompt":
            return None
        self.usable[strategy.name] = False
        nxt = self.current()
        log.warning("calling: backend %s %s; auto strategy now uses %r", self.backend_name, why,
                    nxt.name)
        return nxt


_SELECTORS: weakref.WeakKeyDictionary[Any, StrategySelector] = weakref.WeakKeyDictionary()
_UNSUPPORTED = {"tools_unsupported": "native", "schema_unsupported": "constrained"}


def selector_for(backend: Backend) -> StrategySelector:
    sel = _SELECTORS.get(backend)
    if sel is None:
        sel = _SELECTORS[backend] = StrategySelector(backend)
    return sel


def _reask(previous: ChatResponse, problems: list[str]) -> list[dict[str, Any]]:
    said = previous.text
    if previous.tool_calls:
        tc = previous.tool_calls[0]
        args = tc.arguments if isinstance(tc.arguments, str) else json.dumps(tc.arguments)
        said = json.dumps({"tool": tc.name, "arguments": args})
    return [
        {"role": "assistant", "content": said or "(no answer)"},
        {"role": "user", "content": "That call is invalid: " + "; ".join(problems)
         + ". Answer again with one corrected call."},
    ]


async def decide_once(
    backend: Backend,
    messages: Sequence[Mapping[str, Any]],
    registry: ToolRegistry,
    allowed: Sequence[str] | None,
    cfg: CallingConfig,
    sampling: Sampling,
    *,
    model: str | None = None,
    extra_body: Mapping[str, Any] | None = None,
    affinity: str | None = None,
    possible: Sequence[ToolSpec] | None = None,
) -> Outcome:
    """Ask, validate, re-ask with the validation error (bounded); ``call`` None means fall back.

    ``possible``: the allowed tools narrowed by the game's action mask (tools.apply_mask); the
    call is constrained to and validated against those. Backend failures become a ``fallback``
    outcome whose reason names the cause: the game never waits on an exception. ``messages`` is
    never mutated.
    """
    listed = registry.select(allowed)
    tools = list(possible) if possible is not None else listed
    check = registry if possible is None else ToolRegistry(tools)
    allowed_names = [t.name for t in tools]
    auto = cfg.strategy == "auto"
    extra = {k: v for k, v in (("model", model), ("extra_body", extra_body),
                                ("affinity", affinity)) if v is not None}
    strategy = pick_strategy(cfg.strategy, backend)
    convo = list(messages)
    out = Outcome(call=None, status="fallback", strategy=strategy.name)
    attempt = 0
    while attempt < cfg.max_attempts:
        attempt += 1
        request = strategy.build_request(convo, tools, cfg, sampling, listed=listed, **extra)
        if out.request is None:
            out.request = request
        try:
            response = await backend.chat(request)
        except BackendError as exc:
            feature = _UNSUPPORTED.get(exc.kind)
            if auto and feature == strategy.name:
                nxt = selector_for(backend).downgrade(
                    strategy, f"does not support {strategy.name} requests ({exc.message[:120]})")
                if nxt is not None:
                    strategy, out.strategy = nxt, nxt.name
                    attempt -= 1
                    continue
            out.reason, out.error_kind = f"backend error ({exc.kind}): {exc.message}", exc.kind
            break
        out.attempts = attempt
        out.raw_text = response.text
        out.prompt_tokens += response.prompt_tokens
        out.completion_tokens += response.completion_tokens
        ex = strategy.extract(response)
        if ex.no_call and auto:
            nxt = selector_for(backend).downgrade(
                strategy, "ignored tools/tool_choice (no tool call came back)")
            if nxt is not None:
                strategy, out.strategy = nxt, nxt.name
                attempt -= 1
                continue
        problems = ex.problems or _problems(ex.call, check, registry, allowed_names)
        if not problems:
            out.call, out.status, out.thought, out.reason = ex.call, "ok", ex.thought, None
            return out
        out.thought = ex.thought
        out.reason = "; ".join(problems)
        convo = convo + _reask(response, problems)
    out.status = "fallback"
    return out


def _problems(call: ToolCall | None, check: ToolRegistry, registry: ToolRegistry,
              names: list[str]) -> list[str]:
    assert call is not None
    if check is not registry and call.tool in registry and call.tool not in check:
        return [f"tool {call.tool!r} is not possible now; choose one of: {', '.join(names)}"]
    return check.validate(call, names)


def fallback_call(cfg: CallingConfig) -> ToolCall:
    return ToolCall(cfg.fallback_tool, dict(cfg.fallback_arguments))
