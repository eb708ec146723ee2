"""Agent Arena: game observations in over ZeroMQ, validated tool calls out."""

from agent_arena.errors import (
    ArenaError,
    BackendError,
    BackendRequestError,
    BackendUnavailable,
    ConfigError,
    ProtocolError,
    ToolError,
)
from agent_arena.tools import ToolCall, ToolRegistry, ToolSpec

__version__ = "0.1.0"

__all__ = [
    "ArenaError",
    "BackendError",
    "BackendRequestError",
    "BackendUnavailable",
    "ConfigError",
    "ProtocolError",
    "ToolCall",
    "ToolError",
    "ToolRegistry",
    "ToolSpec",
    "__version__",
]
