"""`agent-arena env`: the game served to RL trainers through openenv-core (docs/env.md)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from agent_arena import settings
from agent_arena.env.arena import ArenaConfig

log = logging.getLogger("agent_arena.env")


def arena_config(cfg: Mapping[str, Any]) -> ArenaConfig:
    """``env:`` of the composed configuration; the tools are the configured ones."""
    e = settings.env_config(cfg)
    return ArenaConfig(world=e.world, bind=e.bind, agents=e.agents, max_ticks=e.max_ticks,
                       deadline_ms=e.deadline_ms, agent_ids=tuple(e.agent_ids),
                       tools=settings.tool_specs(dict(cfg)))


def run_env(cfg: Mapping[str, Any]) -> int:
    import uvicorn

    from agent_arena.env.openenv import make_app

    e = settings.env_config(cfg)
    app, arena = make_app(arena_config(cfg), max_sessions=e.max_sessions)
    host, port = e.host, e.port
    print(f"agent-arena env: OpenEnv on http://{host}:{port} (ws://{host}:{port}/ws), "
          f"world={arena.config.world}, agents={', '.join(arena.possible_agents)}, "
          f"bridge {arena.endpoint}", flush=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        arena.close()
    return 0
