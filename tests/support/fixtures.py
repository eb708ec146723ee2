"""Shared fixtures: the shipped tools and profiles, the embedded model (loaded once), servers on
free loopback ports. Helpers that test modules import: ``ROOT``, ``game_tools``, ``default_profiles``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent_arena import settings
from agent_arena.agents import Profile

ROOT = Path(__file__).resolve().parents[2]


def game_tools() -> list[dict[str, Any]]:
    """The default tools of the shipped config tree (configs/tools/game.yaml)."""
    return settings.tool_specs(settings.compose())


def default_profiles() -> dict[str, Profile]:
    """The profiles of the shipped config tree (configs/agents/default.yaml)."""
    return settings.profiles(settings.compose())


@pytest.fixture(scope="session")
def tools() -> list[dict[str, Any]]:
    return game_tools()


@pytest.fixture(scope="session")
def llama_backend():
    """One real llama.cpp model (embedded SmolLM2) for the whole session."""
    from agent_arena.backends.llama_cpp import LlamaCppBackend, LlamaCppConfig

    backend = LlamaCppBackend(LlamaCppConfig(seed=0))
    backend.load()
    yield backend
    backend.unload()


@pytest.fixture
async def make_server(tools) -> AsyncIterator[Any]:
    """Factory: ``await make_server(backend, **server_config)`` -> started ArenaServer."""
    from agent_arena.dashboard import start_with_views
    from agent_arena.server import ArenaServer, ServerConfig

    started: list[ArenaServer] = []

    async def factory(backend, *, calling=None, profiles=None, **cfg: Any) -> ArenaServer:
        cfg.setdefault("bind", "tcp://127.0.0.1:0")
        server = ArenaServer(backend, ServerConfig(**cfg), tools=tools,
                             profiles=profiles or default_profiles(), calling=calling)
        await start_with_views(server)  # metrics / dashboard when asked
        started.append(server)
        return server

    yield factory
    for s in started:
        await s.stop()
