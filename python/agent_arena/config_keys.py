"""The one check every config dataclass gets when built from a plain mapping (YAML, Hydra,
keyword arguments): a key the dataclass does not know is an error that names the known ones,
instead of a TypeError from the constructor or a setting silently ignored."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from agent_arena.errors import ConfigError


def reject_unknown(cls: type, keys: Iterable[str], where: str) -> None:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(keys) - known)
    if unknown:
        raise ConfigError(f"{where} has no setting(s) {', '.join(unknown)}; known: "
                          f"{', '.join(sorted(known))}")


def build(cls: type, data: dict[str, Any], where: str) -> Any:
    reject_unknown(cls, data, where)
    return cls(**data)
