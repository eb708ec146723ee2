"""``calling.candidates=N``: N samples of the first attempt at once, a majority vote on the
tool among the valid calls, then on the winning tool's arguments."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
from typing import TYPE_CHECKING, Any

from agent_arena.backends.types import ChatRequest, ChatResponse
from agent_arena.decide.types import Outcome, Strategy
from agent_arena.tools import ToolCall

if TYPE_CHECKING:
    from agent_arena.backends.base import Backend


async def vote(backend: Backend, request: ChatRequest, strategy: Strategy, n: int,
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
