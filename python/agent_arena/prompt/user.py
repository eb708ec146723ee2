"""The user message of one decision: memory lines, the observation, what is possible now."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from agent_arena.prompt.memory import render_memory
from agent_arena.prompt.observation import render_observation
from agent_arena.prompt.possible import render_possible
from agent_arena.tools import ToolSpec

NOW_HEADING = "Now:"
# the user message of an observation of nothing: contextual calibration's question
CONTENT_FREE = f"{NOW_HEADING}\n(nothing)"


def user_content(memory: Sequence[str], observation: str, possible: str | None) -> str:
    """The user message from its rendered parts (memory lines, observation text, masks line)."""
    parts = [render_memory(memory)] if memory else []
    parts.append(f"{NOW_HEADING}\n{observation}")
    if possible is not None:
        parts.append(possible)
    return "\n\n".join(parts)


def user_text(observation: Mapping[str, Any], possible: Iterable[ToolSpec] | None = None,
              memory: Sequence[str] = ()) -> str:
    """The user message: memory lines, the observation, what is possible now (``possible``
    None: no mask, no line)."""
    return user_content(memory, render_observation(observation),
                        render_possible(possible) if possible is not None else None)
