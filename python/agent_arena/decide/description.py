"""``calling.choice=description``: the tool by the likelihood of what it does, in a short
prompt of its own (its words: prompt/description.py), arguments grounded in the observation;
without a mask (``auto`` then)."""

from __future__ import annotations

import dataclasses

from agent_arena.decide.calls import enumerate_calls
from agent_arena.decide.choosing import calibration_prior, complete_call
from agent_arena.decide.types import Ask, Outcome
from agent_arena.grounding import ground, observed
from agent_arena.prompt.answer import arguments_tail
from agent_arena.prompt.description import (
    DESCRIBE_NOTHING,
    DESCRIBE_START,
    describe_messages,
    describe_prefill,
    first_sentence,
)
from agent_arena.tools import ToolSpec

GROUNDED_CALLS = 16  # grounded calls of the chosen tool scored whole; more: generated


async def by_description(ask: Ask, out: Outcome) -> bool:
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
    backend, convo, tools, cfg = ask.backend, ask.convo, ask.tools, ask.cfg
    base = ask.request()
    out.request = base
    out.strategy = "description"
    options = [first_sentence(t) for t in tools]
    last_turn = str(convo[-1].get("content", "")) if convo else ""
    # one question for the choice and the arguments: its tokens stay in the prompt cache
    question = dataclasses.replace(base, messages=describe_messages(last_turn),
                                   prefill=DESCRIBE_START, response_schema=None)

    scored = await backend.score(question, options)
    scores, out.prompt_tokens = scored.values, scored.prompt_tokens
    if cfg.calibrate:
        prior = await calibration_prior(backend, question, DESCRIBE_START, options,
                                        nothing=DESCRIBE_NOTHING)
        scores = [s - p for s, p in zip(scores, prior, strict=True)]
    # ids and positions among what the observation shows (grounding.py): a tool with nothing
    # in view to act on is not possible now (unless no tool is); the arguments continue this
    # short prompt (its tokens are in the prompt cache; the game's few-shot prompt would be
    # evaluated anew: 8.5 s p50 instead of 1.1 s on one core)
    grounded: list[ToolSpec | None] = list(tools)
    if ask.observation is not None:
        seen = observed(ask.observation)
        grounded = [ground(t, seen) for t in tools]
    possible = [i for i, g in enumerate(grounded) if g is not None] or list(range(len(tools)))
    best = max(possible, key=scores.__getitem__)
    spec = grounded[best] or tools[best]
    prefill = describe_prefill(options[best], spec.name)
    calls = enumerate_calls(spec, limit=GROUNDED_CALLS)
    args = calls[0] if calls else None
    if calls and len(calls) > 1:
        scored = await backend.score(dataclasses.replace(question, prefill=prefill),
                                     [arguments_tail(c) for c in calls])
        out.prompt_tokens += scored.prompt_tokens
        args = calls[max(range(len(calls)), key=scored.values.__getitem__)]
    return await complete_call(ask, question, prefill, spec, args, out)
