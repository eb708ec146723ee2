"""The conversation and tool registry the choice tests decide on: scripted in
tests/unit/test_choice.py, on the embedded model in tests/integration/test_choice_llama.py."""

from __future__ import annotations

import json

from agent_arena.tools import ToolRegistry
from support.arena_sockets import TOOLS

REG = ToolRegistry(TOOLS)
MSGS = [{"role": "system", "content": "You play a game."},
        {"role": "user", "content": "Now:\ngoal: collect apple\nin_reach: [apple-3]"}]


def _call(tool: str, **args) -> str:
    return json.dumps({"tool": tool, "arguments": args})
