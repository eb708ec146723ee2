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

import asyncio
import collections
import dataclasses
import itertools
import json
import logging
import math
import re
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from agent_arena.backends.types import ChatRequest, ChatResponse, Sampling
from agent_arena.errors import BackendError, ConfigError
from agent_arena.grounding import ground, observed
from agent_arena.prompting import format_instructions, render_tools, system_text, tools_block
from agent_arena.tools import ToolCall, ToolRegistry, ToolSpec, cached_call_schema

__all__ = ["CHOICES", "STRATEGIES", "CallingConfig", "Extracted", "Outcome", "Strategy",
           "StrategySelector", "call_from_object", "decide_once", "enumerate_calls",
           "fallback_call", "first_json_object", "forced_arguments", "format_instructions",
           "list_strategies", "pick_strategy", "render_tools", "selector_for",
           "with_tools_in_system"]

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
    # how the tool is chosen: "generate" (the model writes the whole call), "likelihood"
    # (the model's log-likelihood of each possible call or tool name after the game's prompt
    # decides, open arguments are then generated) or "description" (the likelihood of what
    # each tool does, in a short prompt of its own; arguments grounded in the observation);
    # both need Capabilities.scores, else generate. "auto": likelihood when the game sent a
    # mask, description otherwise (each measured best that way, docs/benchmarks.md)
    choice: str = "auto"
    calibrate: bool = True  # likelihood/description: subtract scores on a content-free turn
    candidates: int = 1  # N samples of the first attempt, majority vote on tool, then arguments

    def __post_init__(self) -> None:
        if self.choice not in CHOICES:
            raise ConfigError(f"calling.choice={self.choice!r}; choose one of: "
                              f"{', '.join(CHOICES)}")
        if not isinstance(self.candidates, int) or not 1 <= self.candidates <= 16:
            raise ConfigError(f"calling.candidates={self.candidates!r}: samples per decision, "
                              "1 (no vote) to 16")
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


CHOICES = ("auto", "generate", "likelihood", "description")


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
    candidates: int = 1  # samples drawn for the vote (calling.candidates)
    votes: dict[str, int] | None = None  # tool -> valid samples that chose it


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
# (built in prompting.py; re-exported here for callers of the old names)


def with_tools_in_system(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[ToolSpec], thought: bool
) -> list[Mapping[str, Any]]:
    """``messages`` with the tool list and answer format appended to the system text
    (prompting.system_text: with the default profile's messages the result is exactly
    prompting.decision_messages). Only the system message is new; the other turns are shared
    with the caller (read-only)."""
    out = list(messages)
    if out and out[0].get("role") == "system":
        out[0] = {**out[0], "content": system_text(str(out[0].get("content", "")),
                                                   tuple(tools), thought)}
    else:
        out.insert(0, {"role": "system", "content": tools_block(tuple(tools), thought)})
    return out


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
    observation: Mapping[str, Any] | None = None,
) -> Outcome:
    """Ask, validate, re-ask with the validation error (bounded); ``call`` None means fall back.

    ``possible``: the allowed tools narrowed by the game's action mask (tools.apply_mask); the
    call is constrained to and validated against those. ``observation``: what the game sent,
    for grounding arguments when there is no mask (grounding.py). Backend failures become a
    ``fallback`` outcome whose reason names the cause: the game never waits on an exception.
    ``messages`` is never mutated.
    """
    listed = registry.select(allowed)
    tools = list(possible) if possible is not None else listed
    check = registry if possible is None else ToolRegistry(tools)
    allowed_names = [t.name for t in tools]
    auto = cfg.strategy == "auto"
    extra = {k: v for k, v in (("model", model), ("extra_body", extra_body),
                                ("affinity", affinity)) if v is not None}
    if len(tools) == 1 and (forced := forced_arguments(tools[0])) is not None:
        # one possible call (e.g. a mask leaves only idle): nothing for a model to choose
        return Outcome(call=ToolCall(tools[0].name, forced), status="ok", strategy="forced")
    strategy = pick_strategy(cfg.strategy, backend)
    convo = list(messages)
    out = Outcome(call=None, status="fallback", strategy=strategy.name)
    # auto: scoring, unless the config asks for candidates and a vote (they sample the call)
    choose = {"likelihood": _by_likelihood, "description": _by_description}.get(
        cfg.choice if cfg.choice != "auto" else "generate" if cfg.candidates > 1 else
        "likelihood" if possible is not None else "description")
    if choose is not None and backend.capabilities.scores and not cfg.thought \
            and strategy.name != "native":
        try:
            async with backend.turn():
                chosen = await choose(backend, convo, tools, listed, check, registry, cfg,
                                      sampling, extra, out, observation=observation)
            if chosen:
                return out
        except BackendError as exc:
            out.reason, out.error_kind = f"backend error ({exc.kind}): {exc.message}", exc.kind
            return out
    attempt = 0
    while attempt < cfg.max_attempts:
        attempt += 1
        request = strategy.build_request(convo, tools, cfg, sampling, listed=listed, **extra)
        if out.request is None:
            out.request = request
        try:
            if attempt == 1 and cfg.candidates > 1:
                response = await _vote(backend, request, strategy, cfg.candidates,
                                       lambda c: _problems(c, check, registry, allowed_names), out)
            else:
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


def enumerate_calls(spec: ToolSpec, limit: int = 4) -> list[dict[str, Any]] | None:
    """Every argument set ``spec`` accepts, when they are few: no parameters, or every
    parameter required and an enum (a game's mask makes them so), at most ``limit`` sets in
    all; else None (the arguments are open and must be generated)."""
    params = spec.parameters
    props = params.get("properties") or {}
    if not props:
        return [{}] if spec.is_valid({}) else None
    if set(params.get("required") or ()) != set(props):
        return None
    choices = []
    for v in props.values():
        enum = v.get("enum") if isinstance(v, Mapping) else None
        if not enum:
            return None
        choices.append(enum)
    if math.prod(len(c) for c in choices) > limit:
        return None
    calls = [dict(zip(props, values, strict=True)) for values in itertools.product(*choices)]
    return [c for c in calls if spec.is_valid(c)] or None


def forced_arguments(spec: ToolSpec) -> dict[str, Any] | None:
    """The only arguments ``spec`` accepts, when there is exactly one choice; else None."""
    calls = enumerate_calls(spec, limit=1)
    return calls[0] if calls else None


# ---- tool choice by likelihood ------------------------------------------------------------------

_PRIORS: dict[tuple[Any, ...], list[float]] = {}  # content-free scores (calibrate)
CONTENT_FREE = "Now:\n(nothing)"


async def _by_likelihood(backend: Backend, convo: list[Mapping[str, Any]],
                         tools: list[ToolSpec], listed: list[ToolSpec], check: ToolRegistry,
                         registry: ToolRegistry, cfg: CallingConfig, sampling: Sampling,
                         extra: dict[str, Any], out: Outcome,
                         observation: Mapping[str, Any] | None = None) -> bool:
    """Choose by the model's log-likelihood after ``{"tool": "`` (the answer format the
    examples and the constrained strategy use): of each whole call where a tool's (masked)
    arguments are few enough to enumerate, else of the tool's name, whose arguments are then
    generated constrained to its schema. True when ``out`` holds the call; False leaves the
    decision to the generate path. ``observation`` is unused: the game's mask grounds the
    arguments here (same signature as _by_description).

    Whole calls, because a mask usually leaves one or two values per argument: on the scenario
    set, scoring ``pick_up", "arguments": {"item_id": "mushroom_4"}}`` instead of the bare name
    took the calibrated right-tool share from 28 to 34 of 40 scored decisions (benchmarks.md):
    the name alone scores how likely the model is to start that call, the call scores whether
    its arguments fit what it just read. At most 4 calls per tool (enumerate_calls): the
    calibrated score of a call rewards copying its values from the observation, and a long
    list of walk targets (the demo offers 9) then out-scores the one item in reach (40 walks
    of 40 decisions with 16; 23 walks and 17 pick-ups with 4); past 4 the tool is scored by
    its name and its arguments are generated."""
    names = [t.name for t in tools]
    base = STRATEGIES["constrained"].build_request(convo, tools, cfg, sampling, listed=listed,
                                                   **extra)
    out.request = base
    out.strategy = "likelihood"
    start = '{"tool": "'
    # the name and what follows it in a real answer: '",' is one token, so ending the option
    # at the bare quote would score a token the model never writes there
    heads = {spec.name: f'{spec.name}", "arguments": ' for spec in tools}
    choices: list[tuple[ToolSpec, dict[str, Any] | None]] = []
    options: list[str] = []
    for spec in tools:
        head = heads[spec.name]
        for args in enumerate_calls(spec) or [None]:
            choices.append((spec, args))
            options.append(head if args is None else f"{head}{json.dumps(args)}}}")
    scored = await backend.score(dataclasses.replace(base, prefill=start, response_schema=None),
                                 options)
    scores, out.prompt_tokens = scored.values, scored.prompt_tokens
    prior = await _prior(backend, base, start, options) if cfg.calibrate else None
    # the tool first, by the likelihood of all its calls together (its marginal, calibrated by
    # the prior's marginal), then its best call: choosing a tool is one decision however many
    # calls the mask leaves it (the scenario set scores 87.5% either way; benchmarks.md)
    by_tool: dict[str, list[int]] = {}
    for i, (spec, _) in enumerate(choices):
        by_tool.setdefault(spec.name, []).append(i)

    def marginal(name: str) -> float:
        idx = by_tool[name]
        got = _logsumexp([scores[i] for i in idx])
        return got - _logsumexp([prior[i] for i in idx]) if prior else got

    best = by_tool[max(by_tool, key=marginal)]
    spec, args = choices[max(best, key=lambda i: scores[i] - (prior[i] if prior else 0.0))]
    return await _complete_call(backend, base, start + heads[spec.name], spec, args, check,
                                registry, names, out)


async def _complete_call(backend: Backend, base: ChatRequest, prefill: str, spec: ToolSpec,
                         args: dict[str, Any] | None, check: ToolRegistry,
                         registry: ToolRegistry, names: list[str], out: Outcome) -> bool:
    """The chosen tool's call: ``args`` as scored, or generated after ``prefill`` (the answer
    up to its arguments) constrained to the tool's schema; validated like any call."""
    if args is None:
        response = await backend.chat(dataclasses.replace(
            base, prefill=prefill, response_schema=spec.parameters))
        out.prompt_tokens += response.prompt_tokens
        out.completion_tokens += response.completion_tokens
        out.raw_text = response.text
        try:
            args = _LENIENT.decode(response.text.strip())
        except json.JSONDecodeError:
            out.reason = f"arguments for {spec.name} are not complete JSON; raise max_tokens"
            return False
    call = ToolCall(spec.name, args if isinstance(args, dict) else {})
    out.attempts = 1
    problems = _problems(call, check, registry, names)
    if problems:
        out.reason = "; ".join(problems)
        return False
    out.call, out.status, out.reason = call, "ok", None
    if not out.raw_text or args == {}:
        out.raw_text = json.dumps(call.as_wire())
    return True


DESCRIBE_SYSTEM = ("You control one character in a game. Read what the character sees and "
                   "say what it should do now.")
DESCRIBE_QUESTION = "What should the character do now?"
DESCRIBE_START = "The character should:"
GROUNDED_CALLS = 16  # grounded calls of the chosen tool scored whole; more: generated


def first_sentence(spec: ToolSpec) -> str:
    """What a tool does, in the game's own words: the first sentence of its description."""
    text = spec.description.strip().split(". ")[0].strip().rstrip(".")
    return f" {text or spec.name.replace('_', ' ')}."


async def _by_description(backend: Backend, convo: list[Mapping[str, Any]],
                          tools: list[ToolSpec], listed: list[ToolSpec], check: ToolRegistry,
                          registry: ToolRegistry, cfg: CallingConfig, sampling: Sampling,
                          extra: dict[str, Any], out: Outcome,
                          observation: Mapping[str, Any] | None = None) -> bool:
    """Without a mask, choose the tool by the model's likelihood of what it does (the first
    sentence of its description) as the answer to "what should the character do now?", in a
    short prompt of its own: the observation and nothing else; calibrated against the same
    question about nothing. The arguments continue that prompt, grounded in the observation.

    Why a prompt of its own, in words: without a mask every tool is open and a 135M model
    asked for a tool name after the game's few-shot prompt mostly copies the examples. On the
    scenario set, right tool 62.5% against 35.4% for generation (held-out set: 61.5% against
    30.8%), 47.9% if tools with nothing in view stay open; with the profile's rules as the
    system text 20.8%, with `name: sentence` options 39.6%, uncalibrated 18.8%
    (docs/benchmarks.md)."""
    names = [t.name for t in tools]
    base = STRATEGIES["constrained"].build_request(convo, tools, cfg, sampling, listed=listed,
                                                   **extra)
    out.request = base
    out.strategy = "description"
    options = [first_sentence(t) for t in tools]
    last_turn = str(convo[-1].get("content", "")) if convo else ""
    # one question for the choice and the arguments: its tokens stay in the prompt cache
    question = dataclasses.replace(
        base, messages=[{"role": "system", "content": DESCRIBE_SYSTEM},
                        {"role": "user", "content": f"{last_turn}\n\n{DESCRIBE_QUESTION}"}],
        prefill=DESCRIBE_START, response_schema=None)

    scored = await backend.score(question, options)
    scores, out.prompt_tokens = scored.values, scored.prompt_tokens
    if cfg.calibrate:
        prior = await _prior(backend, question, DESCRIBE_START, options,
                             nothing=f"{CONTENT_FREE}\n\n{DESCRIBE_QUESTION}")
        scores = [s - p for s, p in zip(scores, prior, strict=True)]
    # ids and positions among what the observation shows (grounding.py): a tool with nothing
    # in view to act on is not possible now (unless no tool is); the arguments continue this
    # short prompt (its tokens are in the prompt cache; the game's few-shot prompt would be
    # evaluated anew: 8.5 s p50 instead of 1.1 s on one core)
    grounded: list[ToolSpec | None] = list(tools)
    if observation is not None:
        seen = observed(observation)
        grounded = [ground(t, seen) for t in tools]
    possible = [i for i, g in enumerate(grounded) if g is not None] or list(range(len(tools)))
    best = max(possible, key=scores.__getitem__)
    spec = grounded[best] or tools[best]
    prefill = f'{DESCRIBE_START}{options[best]}\n{{"tool": "{spec.name}", "arguments": '
    calls = enumerate_calls(spec, limit=GROUNDED_CALLS)
    args = calls[0] if calls else None
    if calls and len(calls) > 1:
        scored = await backend.score(dataclasses.replace(question, prefill=prefill),
                                     [f"{json.dumps(c)}}}" for c in calls])
        out.prompt_tokens += scored.prompt_tokens
        args = calls[max(range(len(calls)), key=scored.values.__getitem__)]
    return await _complete_call(backend, question, prefill, spec, args, check, registry, names,
                                out)


def _logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


async def _prior(backend: Backend, base: ChatRequest, start: str, options: list[str],
                 nothing: str = CONTENT_FREE) -> list[float]:
    """The scores of the options on a content-free observation (the last turn replaced by
    ``nothing``), with the same system text, examples and tools: what the model would say
    about nothing (contextual calibration)."""
    head = base.messages[:-1]
    # the whole head: the nearest examples in it change with the observation
    key = (id(backend), tuple(str(m.get("content")) for m in head), tuple(options), nothing)
    hit = _PRIORS.get(key)
    if hit is None:
        empty = [*head, {"role": "user", "content": nothing}]
        hit = (await backend.score(dataclasses.replace(base, messages=empty, prefill=start,
                                                       response_schema=None), options)).values
        if len(_PRIORS) > 256:
            _PRIORS.clear()
        _PRIORS[key] = hit
    return hit


# ---- several candidates, one vote ----------------------------------------------------------------


async def _vote(backend: Backend, request: ChatRequest, strategy: Strategy, n: int,
                problems: Any, out: Outcome) -> ChatResponse:
    """``n`` samples of ``request`` at once (seeds 1..n: concurrent requests reach llama-server
    slots or vLLM's batch together), majority vote on the tool among the valid calls, then the
    winning tool's most common arguments. Returns the response to use: the winner's, or the
    first one when none is valid (its problems then drive the re-ask). Tokens of all count."""
    base_seed = request.sampling.seed or 0
    results = await asyncio.gather(*(
        backend.chat(dataclasses.replace(
            request, sampling=request.sampling.merged({"seed": base_seed + i + 1})))
        for i in range(n)), return_exceptions=True)
    responses = [r for r in results if isinstance(r, ChatResponse)]
    if not responses:
        raise next(r for r in results if isinstance(r, BaseException))
    valid: list[tuple[ToolCall, ChatResponse]] = []
    for r in responses:
        ex = strategy.extract(r)
        if ex.call is not None and not ex.problems and not problems(ex.call):
            valid.append((ex.call, r))
    for r in responses[1:]:  # the caller adds the returned one's tokens
        out.prompt_tokens += r.prompt_tokens
        out.completion_tokens += r.completion_tokens
    out.candidates = len(responses)
    if not valid:
        return responses[0]
    tools = collections.Counter(c.tool for c, _ in valid)
    winner = tools.most_common(1)[0][0]
    args = collections.Counter(json.dumps(c.arguments, sort_keys=True) for c, _ in valid
                               if c.tool == winner)
    best = args.most_common(1)[0][0]
    out.votes = dict(tools)
    chosen = next(r for c, r in valid if c.tool == winner
                  and json.dumps(c.arguments, sort_keys=True) == best)
    if chosen is not responses[0]:  # keep the token count honest: swap which one "counts"
        out.prompt_tokens += responses[0].prompt_tokens - chosen.prompt_tokens
        out.completion_tokens += responses[0].completion_tokens - chosen.completion_tokens
    return chosen


def _problems(call: ToolCall | None, check: ToolRegistry, registry: ToolRegistry,
              names: list[str]) -> list[str]:
    assert call is not None
    if check is not registry and call.tool in registry and call.tool not in check:
        return [f"tool {call.tool!r} is not possible now; choose one of: {', '.join(names)}"]
    return check.validate(call, names)


def fallback_call(cfg: CallingConfig) -> ToolCall:
    return ToolCall(cfg.fallback_tool, dict(cfg.fallback_arguments))
