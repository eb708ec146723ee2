"""Deadlines of open decisions: one loop timer per deadline value in flight, not per decision.

A decision's deadline is ``deadline_ms`` from when the server accepted its observe. Decisions
with the same ``deadline_ms`` therefore expire in the order they were accepted, so a FIFO per
value, with one timer armed for its oldest entry, expires them exactly when a timer each would.
What this saves is a ``TimerHandle`` per decision (created, pushed on the loop's heap,
cancelled, popped again): ~4 µs of a ~60 µs decision with an instant model.

Finished decisions are not removed from the middle of a FIFO (that would be O(n)); ``settle``
drops them from its head, so with answers arriving in about the order of the requests the FIFO
holds about what is in flight. A decision still open at the head keeps those behind it
referenced until it ends, at most ``deadline_ms`` later.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from typing import Any, Protocol


class Timed(Protocol):
    done: bool
    expires: float  # loop.time() at which the deadline passes


class _Queue:
    __slots__ = ("entries", "timer")

    def __init__(self) -> None:
        self.entries: collections.deque[Any] = collections.deque()
        self.timer: asyncio.TimerHandle | None = None


class Deadlines:
    def __init__(self, expire: Callable[[Any, float], None]) -> None:
        self._expire = expire  # called with (decision, deadline_ms) for each one that expires
        self._queues: dict[float, _Queue] = {}

    def add(self, item: Timed, deadline_ms: float, loop: asyncio.AbstractEventLoop) -> None:
        item.expires = loop.time() + deadline_ms / 1000.0
        q = self._queues.get(deadline_ms)
        if q is None:
            q = self._queues[deadline_ms] = _Queue()
        q.entries.append(item)
        if q.timer is None:
            q.timer = loop.call_at(item.expires, self._fire, deadline_ms, loop)

    def settle(self, deadline_ms: float) -> None:
        """After a decision of this deadline finished: forget the finished ones at the head."""
        q = self._queues.get(deadline_ms)
        if q is not None:
            entries = q.entries
            while entries and entries[0].done:
                entries.popleft()

    def _fire(self, deadline_ms: float, loop: asyncio.AbstractEventLoop) -> None:
        q = self._queues[deadline_ms]
        q.timer = None
        entries, now = q.entries, loop.time()
        while entries and (entries[0].done or entries[0].expires <= now):
            item = entries.popleft()
            if not item.done:
                self._expire(item, deadline_ms)
        if entries:  # the next one to expire (finished ones may have gone from the head)
            q.timer = loop.call_at(entries[0].expires, self._fire, deadline_ms, loop)
        else:  # nothing left: forget the value (a game may use many different deadlines)
            del self._queues[deadline_ms]

    def close(self) -> None:
        for q in self._queues.values():
            if q.timer is not None:
                q.timer.cancel()
        self._queues.clear()
