"""The turns that re-ask after an invalid call: what the model said, and what is wrong."""

from __future__ import annotations

import json
from typing import Any

from agent_arena.backends.types import ChatResponse


def reask(previous: ChatResponse, problems: list[str]) -> list[dict[str, Any]]:
    """The model's answer as an assistant turn (a native tool call as the JSON the other
    strategies ask for), then the validation errors as the user's turn."""
    said = previous.text
    if previous.tool_calls:
        tc = previous.tool_calls[0]
        args = tc.arguments if isinstance(tc.arguments, str) else json.dumps(tc.arguments)
        said = json.dumps({"tool": tc.name, "arguments": args})
    return [
        {"role": "assistant", "content": said or "(no answer)"},
        {"role": "user", "content": "That call is invalid: " + "; ".join(problems)
         + ". Answer again with one corrected call."},
    ]
