"""Sessions: one per (authenticated user, routing identity), with caps and eviction.

No sockets and no decisions here: the app asks for a session when a message arrives, drops it
when its peer is gone, and this module keeps memory bounded (sessions, agents per session,
idle time). Each session owns its tool registry and its fallback call, and the fallback is
checked against the registry whenever the tools change, so no reply can ever carry a fallback
the game did not register.
"""

from __future__ import annotations

import collections
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from agent_arena.agents import AgentState
from agent_arena.errors import ArenaError, ToolError
from agent_arena.protocol import Fallback
from agent_arena.server.config import ServerConfig
from agent_arena.tools import ToolCall, ToolRegistry

log = logging.getLogger("agent_arena.server")

SessionKey = tuple[str, bytes]  # (ZAP user, routing identity)


@dataclass
class Session:
    key: SessionKey
    id: str
    tools: ToolRegistry
    fallback: ToolCall
    agents: collections.OrderedDict[str, AgentState] = field(
        default_factory=collections.OrderedDict)
    # agent id -> its server.decisions.Decision in flight; sessions only count and test keys, so
    # this module need not know decisions (which imports this one)
    pending: dict[str, Any] = field(default_factory=dict)
    client: str = ""
    last_seen: float = field(default_factory=time.monotonic)
    # True once the game declared tools of its own: from then on ``tools`` holds only what the
    # game declared (plus the server's, if it asked for them with ``server_tools``)
    declared: bool = False


def checked_fallback(tools: ToolRegistry, call: ToolCall, where: str) -> ToolCall:
    """``call`` if it validates against ``tools``; else a ToolError that says how to fix it."""
    problems = tools.validate(call)
    if problems:
        raise ToolError(
            f"{where} leaves no valid fallback call: {'; '.join(problems)}. The fallback "
            f"({call.tool} {call.arguments}) is what the game gets on a timeout or a failed "
            "decision: register that tool, or name another with fallback: {tool, arguments}",
            code="invalid_fallback")
    return call


def fallback_from_message(spec: Fallback | None, default: ToolCall) -> ToolCall:
    if spec is None:
        return default
    return ToolCall(spec.tool, dict(spec.arguments))


def fallback_for(tools: ToolRegistry, spec: Fallback | None, current: ToolCall,
                 where: str) -> ToolCall:
    """The fallback a session gets after declaring ``tools``: the one the game named; else the
    current one when it still validates; else the first declared tool that validates with no
    arguments (a game's "wait"); else an ``invalid_fallback`` error saying what to send."""
    if spec is not None:
        return checked_fallback(tools, fallback_from_message(spec, current), where)
    if not tools.validate(current):
        return current
    for name in tools.names():
        call = ToolCall(name, {})
        if not tools.validate(call):
            return call
    return checked_fallback(tools, current, where)


class Sessions:
    def __init__(self, config: ServerConfig, default_tools: ToolRegistry,
                 default_fallback: ToolCall) -> None:
        self.config = config
        self.default_tools = default_tools
        self.default_fallback = default_fallback
        self._by_key: collections.OrderedDict[SessionKey, Session] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[Session]:
        return iter(list(self._by_key.values()))

    def touch(self, key: SessionKey) -> Session:
        """The session of ``key``, created (and an idle one evicted at the cap) when new."""
        s = self._by_key.get(key)
        now = time.monotonic()
        if s is not None:
            s.last_seen = now
            self._by_key.move_to_end(key)
            return s
        if len(self._by_key) >= self.config.max_sessions:
            self._evict_one()
        s = Session(key=key, id=uuid.uuid4().hex[:12], tools=self.default_tools,
                    fallback=self.default_fallback, last_seen=now)
        self._by_key[key] = s
        return s

    def _evict_one(self) -> None:
        for key, s in self._by_key.items():  # least recently seen first
            if not s.pending:
                del self._by_key[key]
                log.info("server: evicted idle session %s (server.max_sessions=%d)", s.id,
                         self.config.max_sessions)
                return
        raise ArenaError(f"{len(self._by_key)} sessions, all with decisions in flight "
                         "(server.max_sessions); retry later", code="overloaded")

    def drop(self, key: SessionKey) -> Session | None:
        return self._by_key.pop(key, None)

    def agent(self, s: Session, agent_id: str, window: int) -> AgentState:
        """The agent's state, created when new; the least recently observed idle agent of the
        session is evicted at ``max_agents_per_session``."""
        agent = s.agents.get(agent_id)
        if agent is not None:
            s.agents.move_to_end(agent_id)
            return agent
        if len(s.agents) >= self.config.max_agents_per_session:
            victim = next((a for a in s.agents if a not in s.pending), None)
            if victim is None:
                raise ArenaError(f"session has {len(s.agents)} agents with decisions in flight "
                                 "(server.max_agents_per_session); reset agents you no longer "
                                 "use", code="overloaded")
            del s.agents[victim]
        agent = s.agents[agent_id] = AgentState(agent_id, window,
                                                max_result_bytes=self.config.max_result_bytes)
        return agent

    def sweep(self, now: float) -> None:
        ttl = self.config.session_ttl_s
        for key, s in list(self._by_key.items()):
            if not s.pending and now - s.last_seen > ttl:
                del self._by_key[key]
