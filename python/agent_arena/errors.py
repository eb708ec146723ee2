"""One exception tree for the library.

    ArenaError(code, message)            every error a client or user can act on
    ├── ProtocolError                    a request that does not follow docs/protocol.md
    ├── ToolError                        invalid tool spec / unknown tool
    ├── ConfigError                      a configuration that cannot work (says how to fix it)
    └── BackendError                     the model backend failed
        ├── BackendUnavailable           cannot reach / load the backend
        └── BackendRequestError          the backend refused a request (4xx, bad params)

Foreign errors (zmq, httpx, llama_cpp) are translated at the boundary that calls them, with
``raise ... from exc``; the server turns an ``ArenaError`` into an ``error`` reply.
"""

from __future__ import annotations

from typing import Any


class ArenaError(Exception):
    code = "internal"

    def __init__(self, message: str, *, code: str | None = None, request_id: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.request_id = request_id

    def as_reply(self) -> dict[str, Any]:
        return {"type": "error", "id": self.request_id, "code": self.code, "message": self.message}


class ProtocolError(ArenaError):
    code = "bad_message"


class ToolError(ArenaError):
    code = "invalid_schema"


class ConfigError(ArenaError):
    code = "config"


class BackendError(ArenaError):
    code = "backend"


class BackendUnavailable(BackendError):
    code = "backend_unavailable"


class BackendRequestError(BackendError):
    code = "backend_request"
