"""``auto``: the best strategy a backend's capabilities allow, one ``StrategySelector`` per
backend (kept here, never written onto the backend). It downgrades native -> constrained ->
prompt only when the server says it lacks the feature (``tools_unsupported`` /
``schema_unsupported``, or tools silently ignored); any other error is one decision's fallback.
"""

from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING, Any

from agent_arena.decide.types import STRATEGIES, Strategy, list_strategies
from agent_arena.errors import BackendErrorKind, ConfigError

if TYPE_CHECKING:
    from agent_arena.backends.base import Backend

log = logging.getLogger("agent_arena.calling")


def pick_strategy(name: str, backend: Backend) -> Strategy:
    """The strategy for ``name``; ``auto`` asks the backend's selector."""
    if name == "auto":
        return selector_for(backend).current()
    if name not in STRATEGIES:
        raise ConfigError(
            f"unknown calling strategy {name!r}; choose one of: {', '.join(list_strategies())}")
    return STRATEGIES[name]


class StrategySelector:
    """The ``auto`` choice for one backend: starts from its capabilities, and downgrades only
    when the server shows it lacks a feature. One bad request (a context-length 400, a
    misspelt LoRA name, a 401) never changes what every other agent gets."""

    ORDER = ("native", "constrained", "prompt")

    def __init__(self, backend: Backend) -> None:
        caps = backend.capabilities
        self.backend_name = backend.name
        self.usable = {"native": caps.native_tools, "constrained": caps.json_schema or caps.grammar,
                       "prompt": True}
        log.info("calling: auto strategy picks %r for backend %s (native_tools=%s, json_schema=%s,"
                 " grammar=%s)", self.current().name, backend.name, caps.native_tools,
                 caps.json_schema, caps.grammar)

    def current(self) -> Strategy:
        return STRATEGIES[next(n for n in self.ORDER if self.usable[n])]

    def downgrade(self, strategy: Strategy, why: str) -> Strategy | None:
        """Mark ``strategy`` unusable on this backend; the next one, or None at the end."""
        if strategy.name == "prompt":
            return None
        self.usable[strategy.name] = False
        nxt = self.current()
        log.warning("calling: backend %s %s; auto strategy now uses %r", self.backend_name, why,
                    nxt.name)
        return nxt


_SELECTORS: weakref.WeakKeyDictionary[Any, StrategySelector] = weakref.WeakKeyDictionary()
# a backend error kind that says the server lacks a strategy's feature -> that strategy
UNSUPPORTED: dict[BackendErrorKind, str] = {"tools_unsupported": "native",
                                            "schema_unsupported": "constrained"}


def selector_for(backend: Backend) -> StrategySelector:
    sel = _SELECTORS.get(backend)
    if sel is None:
        sel = _SELECTORS[backend] = StrategySelector(backend)
    return sel
