"""Protocol v1: decoding and validation of inbound frames, encoding of replies.

docs/protocol.md is the normative text; the msgspec Structs below are its machine-checked form:
one frame is decoded and validated in a single C pass (msgspec: msgpack -> typed Struct, a
tagged union on ``type``), so JSON Schema stays where it belongs, on tool parameters. Only a
frame that fails is decoded a second time, leniently, to find the request id and say exactly
what is wrong. This module is pure (bytes in, typed messages out): tested without sockets.
"""

from __future__ import annotations

import re
import time
from typing import Annotated, Any, Union

import msgpack
import msgspec

from agent_arena.errors import ErrorCode, ProtocolError, Status

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS = (1,)
MAX_DEPTH = 32  # nesting levels accepted in a message (msgpack itself allows ~1000)

AgentId = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
RequestId = Union[int, str]


class _Message(msgspec.Struct, frozen=True, tag_field="type", forbid_unknown_fields=False):
    """Unknown fields are ignored (forward compatibility); ``id`` is echoed in the reply."""

    id: RequestId


class Fallback(msgspec.Struct, frozen=True):
    tool: str
    arguments: dict[str, Any] = {}


class Hello(_Message, frozen=True, tag="hello"):
    v: int
    client: str = ""
    tools: list[Any] = []
    fallback: Fallback | None = None
    # the server's configured tools as well as ``tools`` (a game that declares tools otherwise
    # gets exactly its own)
    server_tools: bool = False


class RegisterTools(_Message, frozen=True, tag="register_tools"):
    tools: list[Any]
    replace: bool = False
    fallback: Fallback | None = None
    server_tools: bool = False


class Observe(_Message, frozen=True, tag="observe"):
    agent_id: AgentId
    tick: int
    observation: dict[Any, Any]
    tools: list[str] | None = None
    deadline_ms: Annotated[float, msgspec.Meta(gt=0)] | None = None  # int or float ms
    profile: str | None = None
    # action mask: tool -> false | true | {argument: [allowed values]}; checked against the
    # session's tools by tools.apply_mask (which names the path of a problem)
    mask: dict[str, Any] | None = None
    # for trainers (docs/env.md): the reward since this agent's last observe, and whether this
    # observation ends its episode (the reply is then the session's fallback call)
    reward: float | None = None
    done: bool = False


class ToolResult(_Message, frozen=True, tag="tool_result"):
    agent_id: AgentId
    tick: int
    tool: str
    ok: bool
    result: Any = None
    reward: float | None = None  # optional: for training data (journal -> export)


class Reset(_Message, frozen=True, tag="reset"):
    agent_id: str | None = None
    # set when the game answers the server's reset request (reset_request): the episode it
    # has just started
    episode_id: str | None = None


class Ping(_Message, frozen=True, tag="ping"):
    pass


Message = Union[Hello, RegisterTools, Observe, ToolResult, Reset, Ping]
MESSAGE_TYPES = ("hello", "register_tools", "observe", "tool_result", "reset", "ping")
_DECODER = msgspec.msgpack.Decoder(Message)
_ENCODER = msgspec.msgpack.Encoder(enc_hook=str)


class _TooDeep(Exception):
    pass


_IS_STR = str.__instancecheck__  # isinstance(k, str) as one C call, for map(); all()


def _is_plain(obj: dict[Any, Any] | list[Any], depth: int = 0) -> bool:
    """True when every map in ``obj`` has str keys and nothing nests deeper than MAX_DEPTH.

    The common case, checked without building anything: about half the cost of ``_plain``,
    which then only runs for a frame that needs its keys converted or is too deep."""
    if depth > MAX_DEPTH:
        return False
    if type(obj) is dict:
        if not all(map(_IS_STR, obj)):
            return False
        obj = obj.values()  # type: ignore[assignment]
    for v in obj:
        t = type(v)
        if (t is dict or t is list) and not _is_plain(v, depth + 1):
            return False
    return True


def _plain(obj: Any, depth: int = 0) -> Any:
    """``obj`` itself when its maps all have str keys and it nests at most MAX_DEPTH levels;
    a copy with str keys when some key is not a str (prompts and schemas need str keys)."""
    if depth > MAX_DEPTH:
        raise _TooDeep
    if isinstance(obj, dict):
        out = obj
        for k, v in obj.items():
            w = _plain(v, depth + 1) if isinstance(v, (dict, list)) else v
            if (w is not v or not isinstance(k, str)) and out is obj:
                out = dict(obj)
            if out is not obj:
                if not isinstance(k, str):
                    del out[k]
                out[k if isinstance(k, str) else str(k)] = w
        return out
    if isinstance(obj, list):
        out_list = obj
        for i, v in enumerate(obj):
            if isinstance(v, (dict, list)):
                w = _plain(v, depth + 1)
                if w is not v:
                    if out_list is obj:
                        out_list = list(obj)
                    out_list[i] = w
        return out_list
    return obj


def unpack(frame: bytes) -> Any:
    """Lenient decode of any msgpack frame (clients, the error path, tests)."""
    try:
        return msgpack.unpackb(frame, raw=False, strict_map_key=False, use_list=True)
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        raise ProtocolError(
            f"frame is not valid msgpack ({type(exc).__name__}): send one msgpack map per frame",
            code="bad_frame",
        ) from exc


def decode(frame: bytes | memoryview) -> Message:
    """One frame -> one typed message, or ProtocolError carrying the request id if readable."""
    try:
        msg = _DECODER.decode(frame)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError) as exc:
        raise _explain(bytes(frame), exc) from None
    try:
        if type(msg) is Observe:
            if not _is_plain(msg.observation):
                msg = msgspec.structs.replace(msg, observation=_plain(msg.observation))
            if msg.mask and not _is_plain(msg.mask):
                _plain(msg.mask)  # nesting depth only
        elif type(msg) is ToolResult and isinstance(msg.result, (dict, list)) \
                and not _is_plain(msg.result):
            msg = msgspec.structs.replace(msg, result=_plain(msg.result))
    except _TooDeep:
        raise ProtocolError(f"message is nested more than {MAX_DEPTH} levels deep: flatten "
                            "the observation", request_id=msg.id) from None
    return msg


_AT = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)


def _explain(frame: bytes, exc: Exception) -> ProtocolError:
    """The slow path: say what is wrong in the client's terms, with the request id."""
    obj = unpack(frame)  # raises bad_frame for undecodable bytes
    if not isinstance(obj, dict):
        return ProtocolError(
            f"message must be a msgpack map with 'type' and 'id', got {type(obj).__name__}")
    rid = obj.get("id") if isinstance(obj.get("id"), (int, str)) \
        and not isinstance(obj.get("id"), bool) else None
    mtype = obj.get("type")
    if isinstance(exc, RecursionError):
        return ProtocolError(f"message is nested more than {MAX_DEPTH} levels deep: flatten "
                             "the observation", request_id=rid)
    if not isinstance(mtype, str):
        return ProtocolError("message has no str field 'type'", request_id=rid)
    if mtype not in MESSAGE_TYPES:
        return ProtocolError(
            f"unknown message type {mtype!r}; expected one of: {', '.join(MESSAGE_TYPES)}",
            code="unknown_type", request_id=rid)
    m = _AT.match(str(exc))
    what = (m.group("what") if m else str(exc)).replace("`", "'")
    path = (m.group("path") or "") if m else ""
    if what.startswith("Object missing required field"):
        field = what.rsplit(" ", 1)[-1]
        return ProtocolError(f"{mtype}{path}: required field {field} is missing",
                             request_id=rid)
    return ProtocolError(f"{mtype}{path}: {what[:1].lower()}{what[1:]}", request_id=rid)


def pack(message: Any) -> bytes:
    """One reply as msgpack (sets and tuples become arrays, anything unknown its str)."""
    return _ENCODER.encode(message)


# ---- replies (every server -> client message is built here) ---------------------------------

NO_USAGE = {"prompt_tokens": 0, "completion_tokens": 0, "attempts": 0}


def action(request_id: Any, agent_id: str, tick: int, call: dict[str, Any] | None,
           status: Status, *, reason: str | None = None, thought: str | None = None,
           latency_ms: float = 0.0, usage: dict[str, int] | None = None,
           backend: str = "") -> dict[str, Any]:
    """The reply to ``observe``; an ``abandoned`` one is only journaled, never sent."""
    return {"type": "action", "id": request_id, "agent_id": agent_id, "tick": tick, "call": call,
            "status": status, "reason": reason, "thought": thought,
            "latency_ms": round(latency_ms, 2), "usage": usage or NO_USAGE, "backend": backend}


def reset_request(request_id: str, *, seed: int | None = None,
                  episode_id: str | None = None) -> dict[str, Any]:
    """Server -> game: start a new episode (docs/protocol.md, "Resets"). The game answers
    with its own ``reset`` carrying the same ``episode_id`` once the new episode is ready."""
    return {"type": "reset", "id": request_id, "seed": seed, "episode_id": episode_id}


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


def error(request_id: Any, code: ErrorCode, message: str) -> dict[str, Any]:
    return {"type": "error", "id": request_id, "code": code, "message": message}
