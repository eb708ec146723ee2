"""What the choosers share: finishing the chosen tool's call, and contextual calibration
(what the model would score on a content-free observation), cached per backend and prompt:
the cache is kept per backend object (weakly, like select.py's selectors), never by ``id()``,
which a new backend may reuse."""

from __future__ import annotations

import dataclasses
import json
import math
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from agent_arena.backends.types import ChatRequest
from agent_arena.decide.parsing import LENIENT
from agent_arena.decide.types import Ask, Outcome
from agent_arena.prompt.user import CONTENT_FREE
from agent_arena.tools import ToolCall, ToolSpec

if TYPE_CHECKING:
    from agent_arena.backends.base import Backend

# backend -> (prompt head, options, nothing) -> content-free scores (calibrate)
PRIORS: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], list[float]]] = \
    weakref.WeakKeyDictionary()
MAX_PRIORS = 256  # per backend; then the cache starts over


async def complete_call(ask: Ask, base: ChatRequest, prefill: str, spec: ToolSpec,
                        args: dict[str, Any] | None, out: Outcome) -> bool:
    """The chosen tool's call: ``args`` as scored, or generated after ``prefill`` (the answer
    up to its arguments) constrained to the tool's schema; validated like any call."""
    if args is None:
        response = await ask.backend.chat(dataclasses.replace(
            base, prefill=prefill, response_schema=spec.parameters))
        out.prompt_tokens += response.prompt_tokens
        out.completion_tokens += response.completion_tokens
        out.raw_text = response.text
        try:
            args = LENIENT.decode(response.text.strip())
        except json.JSONDecodeError:
            out.reason = f"arguments for {spec.name} are not complete JSON; raise max_tokens"
            return False
    call = ToolCall(spec.name, args if isinstance(args, dict) else {})
    out.attempts = 1
    problems = ask.problems(call)
    if problems:
        out.reason = "; ".join(problems)
        return False
    out.call, out.status, out.reason = call, "ok", None
    if not out.raw_text or args == {}:
        out.raw_text = json.dumps(call.as_wire())
    return True


def logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


async def calibration_prior(backend: Backend, base: ChatRequest, start: str,
                            options: list[str], nothing: str = CONTENT_FREE) -> list[float]:
    """The scores of the options on a content-free observation (the last turn replaced by
    ``nothing``), with the same system text, examples and tools: what the model would say
    about nothing (contextual calibration)."""
    head = base.messages[:-1]
    # the whole head: the nearest examples in it change with the observation
    key = (tuple(str(m.get("content")) for m in head), tuple(options), nothing)
    cache = PRIORS.get(backend)
    if cache is None:
        cache = PRIORS[backend] = {}
    hit = cache.get(key)
    if hit is None:
        empty = [*head, {"role": "user", "content": nothing}]
        hit = (await backend.score(dataclasses.replace(base, messages=empty, prefill=start,
                                                       response_schema=None), options)).values
        if len(cache) > MAX_PRIORS:
            cache.clear()
        cache[key] = hit
    return hit
