"""A backend whose model lives in this process (llama_cpp, xllamacpp): ``load()`` loads it,
blocking and at most once (a lock); ``await start()`` runs that in a thread, so the event loop
never waits for a model file."""

from __future__ import annotations

import abc
import asyncio
from typing import Any

from agent_arena.backends.base import Backend


class InProcessBackend(Backend):
    @property
    def starting(self) -> str | None:
        return "loading the model"

    async def start(self) -> None:
        await asyncio.to_thread(self.load)

    @abc.abstractmethod
    def load(self) -> Any:
        """Load the model now (otherwise on first use) and return it; blocking, thread-safe."""
