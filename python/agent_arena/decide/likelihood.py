"""``calling.choice=likelihood``: the tool (or whole call) by the model's log-likelihood
after the game's own prompt; where the game sent a mask (``auto`` picks it then)."""

from __future__ import annotations

import dataclasses
from typing import Any

from agent_arena.decide.calls import enumerate_calls
from agent_arena.decide.choosing import calibration_prior, complete_call, logsumexp
from agent_arena.decide.types import Ask, Outcome
from agent_arena.prompt.answer import ANSWER_START, arguments_tail, tool_head
from agent_arena.tools import ToolSpec


async def by_likelihood(ask: Ask, out: Outcome) -> bool:
    """Choose by the model's log-likelihood after ``{"tool": "`` (the answer format the
    examples and the constrained strategy use): of each whole call where a tool's (masked)
    arguments are few enough to enumerate, else of the tool's name, whose arguments are then
    generated constrained to its schema. True when ``out`` holds the call; False leaves the
    decision to the generate path. ``ask.observation`` is unused: the game's mask grounds the
    arguments here.

    Whole calls, because a mask usually leaves one or two values per argument: on the scenario
    set, scoring ``pick_up", "arguments": {"item_id": "mushroom_4"}}`` instead of the bare name
    took the calibrated right-tool share from 28 to 34 of 40 scored decisions (benchmarks.md):
    the name alone scores how likely the model is to start that call, the call scores whether
    its arguments fit what it just read. At most 4 calls per tool (enumerate_calls): the
    calibrated score of a call rewards copying its values from the observation, and a long
    list of walk targets (the demo offers 9) then out-scores the one item in reach (40 walks
    of 40 decisions with 16; 23 walks and 17 pick-ups with 4); past 4 the tool is scored by
    its name and its arguments are generated."""
    backend, tools, cfg = ask.backend, ask.tools, ask.cfg
    base = ask.request()
    out.request = base
    out.strategy = "likelihood"
    start = ANSWER_START
    heads = {spec.name: tool_head(spec.name) for spec in tools}
    choices: list[tuple[ToolSpec, dict[str, Any] | None]] = []
    options: list[str] = []
    for spec in tools:
        head = heads[spec.name]
        for args in enumerate_calls(spec) or [None]:
            choices.append((spec, args))
            options.append(head if args is None else head + arguments_tail(args))
    scored = await backend.score(dataclasses.replace(base, prefill=start, response_schema=None),
                                 options)
    scores, out.prompt_tokens = scored.values, scored.prompt_tokens
    prior = await calibration_prior(backend, base, start, options) if cfg.calibrate else None
    # the tool first, by the likelihood of all its calls together (its marginal, calibrated by
    # the prior's marginal), then its best call: choosing a tool is one decision however many
    # calls the mask leaves it (the scenario set scores 87.5% either way; benchmarks.md)
    by_tool: dict[str, list[int]] = {}
    for i, (spec, _) in enumerate(choices):
        by_tool.setdefault(spec.name, []).append(i)

    def marginal(name: str) -> float:
        idx = by_tool[name]
        got = logsumexp([scores[i] for i in idx])
        return got - logsumexp([prior[i] for i in idx]) if prior else got

    best = by_tool[max(by_tool, key=marginal)]
    spec, args = choices[max(best, key=lambda i: scores[i] - (prior[i] if prior else 0.0))]
    return await complete_call(ask, base, start + heads[spec.name], spec, args, out)
