"""Metrics and the live dashboard of a running server (docs/observability.md).

Views, not part of the server: ``start_views`` starts what ``server.metrics_port`` and
``server.dashboard_port`` ask for beside a server it knows only through server/events.py;
``start_with_views`` starts them, then the server (what the CLI and the tests' servers do).
Both need the ``observe`` extra (prometheus-client, aiohttp).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_arena.errors import ConfigError
from agent_arena.server.events import RunningServer

if TYPE_CHECKING:
    from agent_arena.server.app import ArenaServer

__all__ = ["start_views", "start_with_views"]


async def start_views(server: RunningServer) -> Any:
    """Start the configured listeners on the running loop; returns their ``Views`` (None when
    neither port is set). Give it to the server (``server.views = ...``) to stop it with it."""
    cfg = server.config
    if cfg.metrics_port is None and cfg.dashboard_port is None:
        return None
    try:
        from agent_arena.dashboard.web import Views
    except ImportError as exc:
        raise ConfigError(f"server.metrics_port / server.dashboard_port need {exc.name}: pip "
                          "install 'agent-arena[observe]'") from exc
    views = Views(server)
    await views.start()
    return views


async def start_with_views(server: ArenaServer) -> str:
    """The views the configuration asks for (a busy port fails before the game port binds),
    then the server, which stops them when it stops; returns the bound endpoint."""
    server.check_config()
    server.views = await start_views(server)
    try:
        return await server.start()
    except BaseException:
        if server.views is not None:
            await server.views.stop()
        raise
