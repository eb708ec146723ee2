"""The one vocabulary of failure: every exception of the library, and the codes, kinds and
statuses that name what went wrong, as ``Literal`` types.

    ArenaError(code, message)            every error a client or user can act on
    ├── ProtocolError                    a request that does not follow docs/protocol.md
    ├── ToolError                        invalid tool spec / unknown tool
    │   └── MaskError                    an action mask the server cannot apply (bad_message)
    ├── ConfigError                      a configuration that cannot work (says how to fix it)
    │   └── ScenarioError                an eval scenario file that cannot be used
    ├── ActionRefused                    an env client's action not delivered (docs/env.md)
    └── BackendError(kind)               the model backend failed
        ├── BackendUnavailable           cannot reach / load the backend
        ├── BackendRequestError          the backend refused a request (4xx, bad params)
        └── TruncatedOutput              max_tokens cut constrained output off (vLLM)

Foreign errors (zmq, httpx, llama_cpp) are translated at the boundary that calls them, with
``raise ... from exc``; the server turns an ``ArenaError`` into an ``error`` reply. Only private
signals that never leave one module's control flow are defined elsewhere
(tests/unit/test_errors_tree.py lists them, with why).

An error has a ``code`` (``ErrorCode``: what the caller did wrong or which part failed; the
wire codes are docs/protocol.md's table). A backend error also has a ``kind``
(``BackendErrorKind``: the cause), classified here, from the server's answer
(``classify_refusal``) or an in-process engine's exception (``classify_engine_refusal``), the
way llama-cpp-python's server maps failures to stable codes: the ``auto`` strategy downgrades
only on the two ``*_unsupported`` kinds; every other kind is a fallback for that one decision,
with a reason that names the cause.

Decision statuses (``Status``) live here too: a status other than ``ok`` is how a failure
reaches the game, and this module imports nothing of the package, so the server, the decide
loop and every view can share the one type without importing each other.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

# ---- error codes ---------------------------------------------------------------------------------

# the server's `error` replies (docs/protocol.md, the table under `error`)
WireErrorCode = Literal[
    "bad_frame", "bad_message", "unknown_type", "version_mismatch", "too_large",
    "invalid_schema", "too_many_tools", "unknown_tool", "unknown_agent", "unknown_profile",
    "invalid_fallback", "overloaded", "shutting_down", "internal",
]
# the environment API (docs/env.md): an OpenEnv session, or an action ExternalBackend refuses
EnvErrorCode = Literal[
    "unknown_agent", "agent_taken", "no_free_agent", "no_agent", "reset_timeout",
    "invalid_action", "no_turn",
]
# raised to Python callers (CLI, library users); a backend error's code names its class
LocalErrorCode = Literal[
    "config", "backend", "backend_unavailable", "backend_request", "backend_truncated",
]
ErrorCode = Literal[WireErrorCode, EnvErrorCode, LocalErrorCode]

# ---- backend error kinds -------------------------------------------------------------------------

BackendErrorKind = Literal[
    "context_length", "auth", "unknown_model", "tools_unsupported", "schema_unsupported",
    "truncated", "bad_request", "transient", "unavailable",
]
# kind -> what it means (docs/backends.md lists them too)
ERROR_KINDS: dict[BackendErrorKind, str] = {
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

# ---- decision statuses ---------------------------------------------------------------------------

# what `action.status` can say (docs/protocol.md, `action`)
WireStatus = Literal["ok", "fallback", "timeout", "superseded", "stopping"]
# every way a decision ends: "abandoned" is never sent (its client is gone), only counted
Status = Literal[WireStatus, "abandoned"]
# what the decide loop returns; the server's deadline, supersede and stop make the rest
OutcomeStatus = Literal["ok", "fallback"]
STATUSES: tuple[Status, ...] = get_args(Status)


# ---- the tree ------------------------------------------------------------------------------------

class ArenaError(Exception):
    code: ErrorCode = "internal"

    def __init__(self, message: str, *, code: ErrorCode | None = None,
                 request_id: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.request_id = request_id

    def as_reply(self) -> dict[str, Any]:
        return {"type": "error", "id": self.request_id, "code": self.code, "message": self.message}


class ProtocolError(ArenaError):
    code: ErrorCode = "bad_message"


class ToolError(ArenaError):
    code: ErrorCode = "invalid_schema"


class MaskError(ToolError):
    """A mask the server cannot apply; the message names the path (``mask.pick_up.item_id[0]``)."""

    code: ErrorCode = "bad_message"


class ConfigError(ArenaError):
    code: ErrorCode = "config"


class ScenarioError(ConfigError):
    """A scenario file that cannot be used; the message names the file and the scenario."""


class ActionRefused(ArenaError):
    """``act`` could not deliver the call; ``code``: invalid_action | no_turn."""


class BackendError(ArenaError):
    code: ErrorCode = "backend"
    default_kind: BackendErrorKind = "transient"
    kind: BackendErrorKind

    def __init__(self, message: str, *, kind: BackendErrorKind | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.kind = kind or self.default_kind
        if self.kind not in ERROR_KINDS:
            raise ValueError(f"unknown backend error kind {self.kind!r}")


class BackendUnavailable(BackendError):
    code: ErrorCode = "backend_unavailable"
    default_kind: BackendErrorKind = "unavailable"


class BackendRequestError(BackendError):
    code: ErrorCode = "backend_request"
    default_kind: BackendErrorKind = "bad_request"


class TruncatedOutput(BackendError):
    """Constrained output (a json_schema answer or a tool call's arguments) that max_tokens
    cut off before it was complete JSON."""

    code: ErrorCode = "backend_truncated"
    default_kind: BackendErrorKind = "truncated"


# ---- classifying refusals ------------------------------------------------------------------------

def classify_refusal(status: int, text: str) -> BackendErrorKind:
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


# llama.cpp's words for a prompt longer than n_ctx (llama-cpp-python's ValueError, the
# llama-server engine's error message)
_ENGINE_CONTEXT_WORDS = ("context", "exceed", "n_ctx", "too long")


def classify_engine_refusal(text: str) -> BackendErrorKind:
    """The kind of a request an in-process llama.cpp engine refused: the prompt did not fit
    its context, or ``bad_request``. Features never go missing in-process, so no downgrade."""
    t = text.lower()
    return "context_length" if any(w in t for w in _ENGINE_CONTEXT_WORDS) else "bad_request"
