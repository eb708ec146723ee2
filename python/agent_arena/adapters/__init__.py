"""LoRA adapters packaged with agent-arena, and how a ``backend.lora`` setting names one.

``none`` (or null) is the base model; a bare name is an adapter packaged here (``npc`` =
adapters/npc.gguf, docs/training.md); anything else is a path to a GGUF LoRA adapter.
"""

from __future__ import annotations

from pathlib import Path

from agent_arena.errors import ConfigError

ADAPTERS = Path(__file__).resolve().parent
NO_LORA = ("", "none", "null", "off")


def resolve_lora(value: str | None) -> Path | None:
    """The adapter file ``value`` names, or None for the base model."""
    if value is None or str(value).strip().lower() in NO_LORA:
        return None
    text = str(value)
    packaged = ADAPTERS / f"{text}.gguf"
    if "/" not in text and "\\" not in text and not text.endswith(".gguf"):
        if packaged.is_file():
            return packaged
        known = sorted(p.stem for p in ADAPTERS.glob("*.gguf"))
        raise ConfigError(f"backend.lora={text!r} is neither a packaged adapter "
                          f"({', '.join(known) or 'none packaged'}) nor a .gguf path; "
                          "use none for the base model")
    path = Path(text).expanduser()
    if not path.is_file():
        raise ConfigError(f"backend.lora={text!r}: no such file; give a GGUF LoRA adapter "
                          "(agent-arena train writes OUT/adapter.gguf) or none")
    return path
