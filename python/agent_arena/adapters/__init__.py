"""LoRA adapters shipped with agent-arena, and how a ``backend.lora`` setting names one.

``"default"`` is the NPC-decision adapter trained for the embedded SmolLM2 (docs/training.md);
``"none"`` (or null) is the base model; anything else is a path to an adapter GGUF.
"""

from __future__ import annotations

import logging
from pathlib import Path

from agent_arena.errors import ConfigError

log = logging.getLogger("agent_arena.adapters")

HERE = Path(__file__).resolve().parent
DEFAULT_ADAPTER = HERE / "npc-smollm2-135m.lora.gguf"
OFF = ("", "none", "null", "base")


def resolve_lora(value: str | None) -> Path | None:
    """The adapter file ``value`` names, or None for the base model."""
    if value is None or str(value).strip().lower() in OFF:
        return None
    if value == "default":
        if DEFAULT_ADAPTER.is_file():
            return DEFAULT_ADAPTER
        log.warning("adapters: no shipped NPC adapter in %s; using the base model", HERE)
        return None
    path = Path(value).expanduser()
    if not path.is_file():
        raise ConfigError(f"backend.lora={value!r}: no such adapter file; give a LoRA GGUF path, "
                          "'default' (the shipped NPC adapter) or 'none'")
    return path
