"""Metrics and the live dashboard of a running server (docs/observability.md).

``ArenaServer.start`` calls ``start_views`` when ``server.metrics_port`` or
``server.dashboard_port`` is set; both need the ``observe`` extra (prometheus-client, aiohttp).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_arena.errors import ConfigError

if TYPE_CHECKING:
    from agent_arena.server.app import ArenaServer

__all__ = ["start_views"]


async def start_views(server: ArenaServer) -> Any:
    """Start the configured listeners on the running loop; returns their ``Views``."""
    try:
        from agent_arena.dashboard.web import Views
    except ImportError as exc:
        raise ConfigError(f"server.metrics_port / server.dashboard_port need {exc.name}: pip "
                          "install 'agent-arena[observe]'") from exc
    views = Views(server)
    await views.start()
    return views
