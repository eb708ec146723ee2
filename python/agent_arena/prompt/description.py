"""The description chooser's question (decide/description.py): a short prompt of its own.

The observation and nothing else, then "what should the character do now?", answered by the
first sentence of a tool's description; the call's arguments continue the same prompt (its
tokens stay in the prompt cache). Why a prompt of its own: decide/description.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent_arena.prompt.answer import ANSWER_START, tool_head
from agent_arena.prompt.user import CONTENT_FREE
from agent_arena.tools import ToolSpec

DESCRIBE_SYSTEM = ("You control one character in a game. Read what the character sees and "
                   "say what it should do now.")
DESCRIBE_QUESTION = "What should the character do now?"
DESCRIBE_START = "The character should:"
# the question about nothing (contextual calibration)
DESCRIBE_NOTHING = f"{CONTENT_FREE}\n\n{DESCRIBE_QUESTION}"


def first_sentence(spec: ToolSpec) -> str:
    """What a tool does, in the game's own words: the first sentence of its description."""
    text = spec.description.strip().split(". ")[0].strip().rstrip(".")
    return f" {text or spec.name.replace('_', ' ')}."


def describe_messages(last_turn: str) -> list[Mapping[str, Any]]:
    """The question: ``last_turn`` (the decision's user message) and what to do now."""
    return [{"role": "system", "content": DESCRIBE_SYSTEM},
            {"role": "user", "content": f"{last_turn}\n\n{DESCRIBE_QUESTION}"}]


def describe_prefill(option: str, tool: str) -> str:
    """The answer so far once ``tool`` (described by ``option``) is chosen: its arguments come
    next."""
    return f"{DESCRIBE_START}{option}\n{ANSWER_START}{tool_head(tool)}"
