"""One exception tree for the library.

    ArenaError(code, message)            every error a client or user can act on
    ├── ProtocolError                    a request that does not follow docs/protocol.md
    ├── ToolError                        invalid tool spec / unknown tool
    ├── ConfigError                      a configuration that cannot work (says how to fix it)
    └── BackendError(kind)               the model backend failed
        ├── BackendUnavailable           cannot reach / load the backend
        └── BackendRequestError          the backend refused a request (4xx, bad params)

Foreign errors (zmq, httpx, llama_cpp) are translated at the boundary that calls them, with
``raise ... from exc``; the server turns an ``ArenaError`` into an ``error`` reply.

A backend error also carries a ``kind`` (one of ``ERROR_KINDS``), classified where the backend
reads the server's answer, the way llama-cpp-python's server maps failures to stable codes:
the ``auto`` strategy downgrades only on the two ``*_unsupported`` kinds; every other kind is
a fallback for that one decision, with a reason that names the cause.
"""

from __future__ import annotations

from typing import Any

# kind -> what it means (docs/backends.md lists them too)
ERROR_KINDS = {
    "context_length": "the prompt does not fit the model's context window",
    "auth": "the server refused the API key",
    "unknown_model": "the server does not serve that model or LoRA adapter",
    "tools_unsupported": "the server does not support tools / tool_choice",
    "schema_unsupported": "the server does not support constrained (JSON Schema) output",
    "truncated": "max_tokens cut the constrained output off before it was complete",
    "bad_request": "the server refused this one request for another reason",
    "transient": "a time-out, overload or server error that may pass",
    "unavailable": "the server cannot be reached or the model cannot be loaded",
}


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
    default_kind = "transient"

    def __init__(self, message: str, *, kind: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.kind = kind or self.default_kind
        if self.kind not in ERROR_KINDS:
            raise ValueError(f"unknown backend error kind {self.kind!r}")


class BackendUnavailable(BackendError):
    code = "backend_unavailable"
    default_kind = "unavailable"


class BackendRequestError(BackendError):
    code = "backend_request"
    default_kind = "bad_request"


def classify_refusal(status: int, text: str) -> str:
    """The kind of a 4xx answer from an OpenAI-compatible server (vLLM, SGLang, llama-server).

    Matches the wording these servers use; an answer that matches nothing is ``bad_request``
    (a fallback for that decision, never a downgrade for everyone).
    """
    t = text.lower()
    if status in (401, 403):
        return "auth"
    if any(w in t for w in ("context length", "context window", "maximum context",
                            "exceeds the available context", "too many tokens", "prompt is too long",
                            "longer than the maximum", "exceed_context_size")):
        return "context_length"
    if status == 404 or ("model" in t and ("does not exist" in t or "not found" in t)):
        return "unknown_model"
    unsupported = ("not supported", "unsupported", "not enabled", "requires --",
                   "not implemented", "is not available")
    if any(w in t for w in unsupported):
        if any(w in t for w in ("tool", "function call")):
            return "tools_unsupported"
        if any(w in t for w in ("response_format", "json_schema", "structured", "guided",
                                "grammar")):
            return "schema_unsupported"
    return "bad_request"
