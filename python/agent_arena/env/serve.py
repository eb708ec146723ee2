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
    e = dict(cfg.get("env") or {})
    return ArenaConfig(world=str(e.get("world", "demo")),
                       bind=str(e.get("bind", "tcp://127.0.0.1:0")),
                       agents=int(e.get("agents", 1)), max_ticks=int(e.get("max_ticks", 20)),
                       deadline_ms=int(e.get("deadline_ms", 300_000)),
                       agent_ids=tuple(e.get("agent_ids") or ()),
                       tools=settings.tool_specs(dict(cfg)))


def run_env(cfg: Mapping[str, Any]) -> int:
    import uvicorn

    from agent_arena.env.openenv import make_app

    e = dict(cfg.get("env") or {})
    app, arena = make_app(arena_config(cfg), max_sessions=e.get("max_sessions"))
    host, port = str(e.get("host", "127.0.0.1")), int(e.get("port", 8000))
    print(f"agent-arena env: OpenEnv on http://{host}:{port} (ws://{host}:{port}/ws), "
          f"world={arena.config.world}, agents={', '.join(arena.possible_agents)}, "
          f"bridge {arena.endpoint}", flush=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        arena.close()
    return 0
