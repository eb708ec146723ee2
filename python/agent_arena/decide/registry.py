"""Things registered by name, loaded when first asked for (like vLLM's tool parsers).

A name is public API (it appears in configs: ``calling.strategy``, ``calling.choice``); a
registry maps it to ``(module, attribute)`` and imports the module only when the name is
used, so registering costs nothing and no module here needs to import another to list them.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Generic, TypeVar

from agent_arena.errors import ConfigError

T = TypeVar("T")


class Registry(Mapping[str, T], Generic[T]):
    """``name -> object``, read like a dict; ``what`` names the kind in errors."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._where: dict[str, tuple[str, str]] = {}
        self._loaded: dict[str, T] = {}

    def register(self, name: str, module: str, attribute: str) -> None:
        """Register ``module.attribute`` as ``name``; one name never means two things."""
        if self._where.get(name, (module, attribute)) != (module, attribute):
            raise ValueError(f"{self.what} {name!r} is already registered to "
                             f"{self._where[name]}")
        self._where[name] = (module, attribute)

    def names(self) -> list[str]:
        return list(self._where)

    def require(self, name: str) -> T:
        """``self[name]``, or a ConfigError that lists the names there are."""
        try:
            return self[name]
        except KeyError:
            raise ConfigError(f"unknown {self.what} {name!r}; choose one of: "
                              f"{', '.join(self._where)}") from None

    def __getitem__(self, name: str) -> T:
        hit = self._loaded.get(name)
        if hit is None:
            module, attribute = self._where[name]  # KeyError: not registered
            hit = self._loaded[name] = getattr(importlib.import_module(module), attribute)
        return hit

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, name: object) -> bool:
        return name in self._where
