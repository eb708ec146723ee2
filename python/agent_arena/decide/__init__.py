"""One decision: from the game's messages and tools to one validated call (or a fallback).

    types.py        CallingConfig, Outcome, Extracted, Ask (a decision's question, what a
                    chooser gets); the Strategy and Chooser interfaces and their registries
                    (STRATEGIES, CHOOSERS: name -> module, loaded when used)
    registry.py     the name registry itself
    constrained.py  prompt.py  native.py   one file per strategy (how to ask, how to read)
    select.py       ``auto``: a StrategySelector per backend, downgraded on "unsupported"
    likelihood.py   description.py         one file per chooser (choice by the model's scores)
    choosing.py     what choosers share: finishing the call, calibration priors
    vote.py         N candidates, one vote;  calls.py: enumerable calls, why a call is refused
    parsing.py      a call out of a model's text (the prompt's words: agent_arena.prompt)
    loop.py         decide_once: ask, validate, re-ask (bounded)

Everything here knows backends only through backends/types.py and the Backend interface;
nothing here knows games, sessions or sockets. agent_arena.calling re-exports these names.
"""

from __future__ import annotations

from agent_arena.decide.calls import enumerate_calls, forced_arguments
from agent_arena.decide.loop import decide_once
from agent_arena.decide.parsing import call_from_object, first_json_object
from agent_arena.decide.select import StrategySelector, pick_strategy, selector_for
from agent_arena.decide.types import (
    CHOICES,
    CHOOSERS,
    STRATEGIES,
    Ask,
    CallingConfig,
    Chooser,
    Extracted,
    Outcome,
    Strategy,
    fallback_call,
    list_strategies,
)

__all__ = ["CHOICES", "CHOOSERS", "STRATEGIES", "Ask", "CallingConfig", "Chooser", "Extracted",
           "Outcome", "Strategy", "StrategySelector", "call_from_object", "decide_once",
           "enumerate_calls", "fallback_call", "first_json_object", "forced_arguments",
           "list_strategies", "pick_strategy", "selector_for"]
