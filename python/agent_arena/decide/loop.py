"""``decide_once``: ask, validate, re-ask with the validation error (bounded).

One decision: a forced call when only one is possible; else a chooser by scores when the
config and the backend allow (types.CHOOSERS); else the strategy generates the call (N
candidates and a vote when asked), every call validated against the registry and the mask,
and an invalid one re-asked with what is wrong. Backend failures become a ``fallback``
outcome whose reason names the cause: the game never waits on an exception.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from agent_arena.backends.types import Sampling
from agent_arena.decide.calls import call_problems, forced_arguments
from agent_arena.decide.select import UNSUPPORTED, pick_strategy, selector_for
from agent_arena.decide.types import CHOOSERS, Ask, CallingConfig, Outcome
from agent_arena.decide.vote import vote
from agent_arena.errors import BackendError
from agent_arena.prompt.reask import reask
from agent_arena.tools import ToolCall, ToolRegistry, ToolSpec

if TYPE_CHECKING:
    from agent_arena.backends.base import Backend


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
    # auto: scoring for a bare model, unless the config asks for candidates and a vote (they
    # sample the call); a trained adapter takes one constrained pass, which the choosers did
    # not beat with it (docs/benchmarks.md, "Third round")
    choice = cfg.choice if cfg.choice != "auto" else \
        "generate" if cfg.candidates > 1 or backend.capabilities.adapter else \
        "likelihood" if possible is not None else "description"
    choose = CHOOSERS.get(choice)
    if choose is not None and backend.capabilities.scores and not cfg.thought \
            and strategy.name != "native":
        try:
            async with backend.turn():
                chosen = await choose(Ask(backend, convo, tools, listed, check, registry, cfg,
                                          sampling, extra, observation), out)
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
                response = await vote(backend, request, strategy, cfg.candidates,
                                       lambda c: call_problems(c, check, registry, allowed_names), out)
            else:
                response = await backend.chat(request)
        except BackendError as exc:
            feature = UNSUPPORTED.get(exc.kind)
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
        problems = ex.problems or call_problems(ex.call, check, registry, allowed_names)
        if not problems:
            out.call, out.status, out.thought, out.reason = ex.call, "ok", ex.thought, None
            return out
        out.thought = ex.thought
        out.reason = "; ".join(problems)
        convo = convo + reask(response, problems)
    out.status = "fallback"
    return out
