"""The chat of one decision with no profile: the instruction, the tools, the observation.

The server sends exactly this on its constrained path with the default profile, and the
training data (gamegen.py) is built with it, so a model is trained on the very bytes it is
served.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agent_arena.prompt.tool_block import system_text
from agent_arena.prompt.user import user_text
from agent_arena.tools import ToolSpec

INSTRUCTION = "You control one character in a game. Choose its next action: one tool call."


def decision_messages(tools: Sequence[ToolSpec], observation: Mapping[str, Any],
                      possible: Sequence[ToolSpec] | None = None, memory: Sequence[str] = (),
                      *, instruction: str = INSTRUCTION, thought: bool = False,
                      ) -> list[dict[str, str]]:
    """The chat of one decision, as the server's constrained path sends it.

    ``tools``: the tools the agent may use (listed whole, so the system text is the same from
    tick to tick); ``possible``: those a game's mask leaves open now (None: no mask, no line);
    ``memory``: the agent's recent memory lines (agents.MemoryEntry.line). This is what the
    backend receives; decide_once takes the profile's part (profile.build_messages) and adds
    the tool block itself (native tool calling sends the tools apart)."""
    return [{"role": "system", "content": system_text(instruction, tuple(tools), thought)},
            {"role": "user", "content": user_text(observation, possible, memory)}]
