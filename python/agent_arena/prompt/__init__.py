"""Every piece of every prompt, in one package: what a model reads, and nothing else here.

The decision prompt, stable part first so KV caches reuse it across ticks and agents:

    system:  one short instruction                         (or a profile's system prompt)
             Tools:  - name(arg: type, ...): description   (the allowed tools, unmasked)
             the answer's shape
    (a profile's worked examples: chat turns)
    user:    Your last actions: ...                        (memory lines, when any)
             Now: <the observation, rendered compactly>
             Possible now: a, b, c                         (only when a mask narrows the tools)

    observation.py  the observation, values and calls as compact text
    tool_block.py   "Tools:" and the answer's shape, appended to the system text
    possible.py     the masks line ("Possible now: ...")
    memory.py       memory lines ("- tick 3: pick_up(item_id=a) -> ok")
    user.py         the user message from those parts
    decision.py     INSTRUCTION and decision_messages: the prompt with no profile (gamegen's)
    profile.py      a profile's system text and examples: build_messages, decision_prompt
    parts.py        a prompt as parts, for the journal; replay takes the tool block off by them
    answer.py       the answer's shape (training rows, export), the pieces choosers score
    description.py  the description chooser's own short question
    reask.py        the turns that re-ask after an invalid call

The server sends ``build_messages`` plus the strategy's tool block; the training rows
(gamegen.py) are ``decision_messages`` plus ``answer_text``: the same bytes. A test pins every
prompt byte for byte (tests/unit/test_prompt_golden.py). Modules here import each other directly
(never this package), so agents.py can use the renderers without an import cycle.
"""

from __future__ import annotations

from agent_arena.prompt.answer import (
    ANSWER_START,
    answer_text,
    arguments_tail,
    assistant_text,
    ordered_arguments,
    tool_head,
)
from agent_arena.prompt.decision import INSTRUCTION, decision_messages
from agent_arena.prompt.description import (
    DESCRIBE_NOTHING,
    DESCRIBE_QUESTION,
    DESCRIBE_START,
    DESCRIBE_SYSTEM,
    describe_messages,
    describe_prefill,
    first_sentence,
)
from agent_arena.prompt.memory import render_memory_line
from agent_arena.prompt.observation import is_empty, render_call, render_observation, render_value
from agent_arena.prompt.parts import Prompt, strip_tool_block, without_tool_block
from agent_arena.prompt.possible import render_possible
from agent_arena.prompt.profile import (
    build_messages,
    decision_prompt,
    example_turns,
    nearest_examples,
)
from agent_arena.prompt.reask import reask
from agent_arena.prompt.tool_block import (
    format_instructions,
    render_tools,
    system_text,
    tools_block,
    with_tools_in_system,
)
from agent_arena.prompt.user import CONTENT_FREE, user_content, user_text

__all__ = ["ANSWER_START", "CONTENT_FREE", "DESCRIBE_NOTHING", "DESCRIBE_QUESTION",
           "DESCRIBE_START", "DESCRIBE_SYSTEM", "INSTRUCTION", "Prompt", "answer_text",
           "assistant_text",
           "arguments_tail", "build_messages", "decision_messages", "decision_prompt",
           "describe_messages", "describe_prefill", "example_turns", "first_sentence",
           "format_instructions", "is_empty", "nearest_examples", "ordered_arguments", "reask",
           "render_call", "render_memory_line", "render_observation", "render_possible",
           "render_tools", "render_value", "strip_tool_block", "system_text", "tool_head",
           "tools_block", "user_content", "user_text", "with_tools_in_system",
           "without_tool_block"]
