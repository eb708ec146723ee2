"""Protocol v1: decoding and validation of inbound frames, encoding of replies.

docs/protocol.md is the normative text; the schemas below are its machine-checked form. This
module is pure (bytes in, typed messages out) so it is tested without sockets.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Union

import msgpack
from jsonschema import Draft202012Validator

from agent_arena.errors import ProtocolError

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS = (1,)

_ID = {"type": ["integer", "string"]}
_FALLBACK = {"type": "object", "properties": {"tool": {"type": "string"},
                                              "arguments": {"type": "object"}},
             "required": ["tool"]}
_SCHEMAS: dict[str, dict[str, Any]] = {
    "hello": {
        "properties": {
            "v": {"type": "integer"},
            "client": {"type": "string"},
            "tools": {"type": "array"},
            "fallback": _FALLBACK,
        },
        "required": ["v"],
    },
    "register_tools": {
        "properties": {"tools": {"type": "array"}, "replace": {"type": "boolean"},
                       "fallback": _FALLBACK},
        "required": ["tools"],
    },
    "observe": {
        "properties": {
            "agent_id": {"type": "string", "minLength": 1, "maxLength": 256},
            "tick": {"type": "integer"},
            "observation": {"type": "object"},
            "tools": {"type": "array", "items": {"type": "string"}},
            "deadline_ms": {"type": "integer", "exclusiveMinimum": 0},
            "profile": {"type": "string"},
        },
        "required": ["agent_id", "tick", "observation"],
    },
    "tool_result": {
        "properties": {
            "agent_id": {"type": "string", "minLength": 1, "maxLength": 256},
            "tick": {"type": "integer"},
            "tool": {"type": "string"},
            "ok": {"type": "boolean"},
            "reward": {"type": "number"},
        },
        "required": ["agent_id", "tick", "tool", "ok"],
    },
    "reset": {"properties": {"agent_id": {"type": "string"}}},
    "ping": {"properties": {}},
}
_VALIDATORS = {
    name: Draft202012Validator(
        {
            "type": "object",
            "properties": {"type": {"type": "string"}, "id": _ID, **s["properties"]},
            "required": ["type", "id", *s.get("required", [])],
        }
    )
    for name, s in _SCHEMAS.items()
}
MESSAGE_TYPES = tuple(_SCHEMAS)


@dataclass(frozen=True)
class Hello:
    id: Any
    v: int
    client: str = ""
    tools: list[Any] = field(default_factory=list)
    fallback: dict[str, Any] | None = None


@dataclass(frozen=True)
class RegisterTools:
    id: Any
    tools: list[Any]
    replace: bool = False
    fallback: dict[str, Any] | None = None


@dataclass(frozen=True)
class Observe:
    id: Any
    agent_id: str
    tick: int
    observation: dict[str, Any]
    tools: list[str] | None = None
    deadline_ms: int | None = None
    profile: str | None = None


@dataclass(frozen=True)
class ToolResult:
    id: Any
    agent_id: str
    tick: int
    tool: str
    ok: bool
    result: Any = None
    reward: float | None = None  # optional: for training data (journal -> export)


@dataclass(frozen=True)
class Reset:
    id: Any
    agent_id: str | None = None


@dataclass(frozen=True)
class Ping:
    id: Any


Message = Union[Hello, RegisterTools, Observe, ToolResult, Reset, Ping]
_CLASSES: dict[str, type] = {
    "hello": Hello,
    "register_tools": RegisterTools,
    "observe": Observe,
    "tool_result": ToolResult,
    "reset": Reset,
    "ping": Ping,
}


MAX_DEPTH = 32  # nesting levels accepted in a message (msgpack itself allows ~1000)


class _TooDeep(Exception):
    pass


def _keys_to_str(obj: Any, depth: int = 0) -> Any:
    """msgpack maps may have non-str keys; JSON Schema and prompts need str keys."""
    if depth > MAX_DEPTH:
        raise _TooDeep
    if isinstance(obj, dict):
        return {(k if isinstance(k, str) else str(k)): _keys_to_str(v, depth + 1)
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [_keys_to_str(v, depth + 1) for v in obj]
    return obj


def unpack(frame: bytes) -> Any:
    try:
        return msgpack.unpackb(frame, raw=False, strict_map_key=False, use_list=True)
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        raise ProtocolError(
            f"frame is not valid msgpack ({type(exc).__name__}): send one msgpack map per frame",
            code="bad_frame",
        ) from exc


def decode(frame: bytes) -> Message:
    """One frame -> one typed message, or ProtocolError carrying the request id if readable."""
    obj = unpack(frame)
    if not isinstance(obj, dict):
        raise ProtocolError(
            f"message must be a msgpack map with 'type' and 'id', got {type(obj).__name__}"
        )
    rid = obj.get("id") if isinstance(obj.get("id"), (int, str)) else None
    try:
        obj = _keys_to_str(obj)
    except _TooDeep:
        raise ProtocolError(f"message is nested more than {MAX_DEPTH} levels deep: flatten "
                            "the observation", request_id=rid) from None
    mtype = obj.get("type")
    if not isinstance(mtype, str):
        raise ProtocolError("message has no str field 'type'", request_id=rid)
    validator = _VALIDATORS.get(mtype)
    if validator is None:
        raise ProtocolError(
            f"unknown message type {mtype!r}; expected one of: {', '.join(MESSAGE_TYPES)}",
            code="unknown_type",
            request_id=rid,
        )
    err = next(iter(sorted(validator.iter_errors(obj), key=lambda e: list(e.path))), None)
    if err is not None:
        where = ".".join(str(p) for p in err.absolute_path)
        raise ProtocolError(
            f"{mtype}{('.' + where) if where else ''}: {err.message}", request_id=rid
        )
    cls = _CLASSES[mtype]
    fields = cls.__dataclass_fields__
    return cls(**{k: v for k, v in obj.items() if k in fields})


def pack(message: dict[str, Any]) -> bytes:
    return msgpack.packb(message, use_bin_type=True, default=_default)


def _default(obj: Any) -> Any:
    if isinstance(obj, (set, tuple)):
        return list(obj)
    return str(obj)


# ---- replies (every server -> client message is built here) ---------------------------------

# action.status values; docs/protocol.md says what the game should do with each
STATUSES = ("ok", "fallback", "timeout", "superseded", "stopping")
NO_USAGE = {"prompt_tokens": 0, "completion_tokens": 0, "attempts": 0}


def action(request_id: Any, agent_id: str, tick: int, call: dict[str, Any] | None, status: str,
           *, reason: str | None = None, thought: str | None = None, latency_ms: float = 0.0,
           usage: dict[str, int] | None = None, backend: str = "") -> dict[str, Any]:
    return {"type": "action", "id": request_id, "agent_id": agent_id, "tick": tick, "call": call,
            "status": status, "reason": reason, "thought": thought,
            "latency_ms": round(latency_ms, 2), "usage": usage or NO_USAGE, "backend": backend}


def welcome(request_id: Any, *, server: str, session: str, backend: str, model: str,
            tools: list[str], fallback: dict[str, Any], max_message_bytes: int,
            default_deadline_ms: int) -> dict[str, Any]:
    return {"type": "welcome", "id": request_id, "v": PROTOCOL_VERSION, "server": server,
            "session": session, "backend": backend, "model": model, "tools": tools,
            "fallback": fallback, "max_message_bytes": max_message_bytes,
            "default_deadline_ms": default_deadline_ms}


def pong(request_id: Any) -> dict[str, Any]:
    return {"type": "pong", "id": request_id, "time": time.time()}


def ack(request_id: Any, of: str, **extra: Any) -> dict[str, Any]:
    return {"type": "ack", "id": request_id, "of": of, **extra}


def error(request_id: Any, code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "id": request_id, "code": code, "message": message}
