"""Function calling: the names this module always had, now kept in agent_arena.decide.

A strategy does two things: ``build_request`` (how to ask a backend for one call among some
tools) and ``extract`` (turn the backend's answer into a ToolCall, or say what is wrong with it).
Strategies are registered by name; the name is public API (``calling.strategy`` in configs):

- ``native``      tools + tool_choice to an OpenAI-compatible server (vLLM/SGLang guided decoding)
- ``constrained`` output constrained to the union-of-tools JSON Schema (llama.cpp grammar,
                  ``response_format`` json_schema on servers); validity is guaranteed by decoding
- ``prompt``      tools described in the prompt, first JSON object parsed leniently
- ``auto``        the best the backend's capabilities allow; a ``StrategySelector`` per backend
                  (decide/select.py, never written onto the backend) downgrades native ->
                  constrained -> prompt only when the server says it does not support the
                  feature (``tools_unsupported`` / ``schema_unsupported``, or tools silently
                  ignored). Any other backend error is a fallback for that one decision.

Every call is validated against the registry before it is returned, whatever the strategy.
The code: agent_arena.decide (one file per strategy and per chooser); import from either. The
prompt's words (tool block, description question) are agent_arena.prompt's, re-exported here.
"""

from __future__ import annotations

from agent_arena.decide import (
    CHOICES,
    CHOOSERS,
    STRATEGIES,
    CallingConfig,
    Chooser,
    Extracted,
    Outcome,
    Strategy,
    StrategySelector,
    call_from_object,
    decide_once,
    enumerate_calls,
    fallback_call,
    first_json_object,
    forced_arguments,
    list_strategies,
    pick_strategy,
    selector_for,
)
from agent_arena.decide.constrained import ConstrainedStrategy
from agent_arena.decide.description import GROUNDED_CALLS
from agent_arena.decide.native import NativeStrategy
from agent_arena.decide.prompt import PromptStrategy
from agent_arena.prompt import (
    CONTENT_FREE,
    DESCRIBE_QUESTION,
    DESCRIBE_START,
    DESCRIBE_SYSTEM,
    first_sentence,
    format_instructions,
    render_tools,
    with_tools_in_system,
)

__all__ = ["CHOICES", "CHOOSERS", "CONTENT_FREE", "DESCRIBE_QUESTION", "DESCRIBE_START",
           "DESCRIBE_SYSTEM", "GROUNDED_CALLS", "STRATEGIES", "CallingConfig", "Chooser",
           "ConstrainedStrategy", "Extracted", "NativeStrategy", "Outcome", "PromptStrategy",
           "Strategy", "StrategySelector", "call_from_object", "decide_once", "enumerate_calls",
           "fallback_call", "first_json_object", "first_sentence", "forced_arguments",
           "format_instructions", "list_strategies", "pick_strategy", "render_tools",
           "selector_for", "with_tools_in_system"]
