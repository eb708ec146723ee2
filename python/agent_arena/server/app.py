"""ArenaServer: wires transport, sessions and decisions, and owns start and stop.

Flow of one message: transport (envelope) -> protocol.decode -> a handler here -> (observe)
decisions.start -> ... -> decisions.finish -> transport.send. Handlers are plain functions on
the event loop (nothing here awaits), so a message is handled completely before the next is
read. A bad request costs one ``error`` reply and nothing else.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import zmq
import zmq.asyncio

from agent_arena import __version__, protocol
from agent_arena.agents import Profile
from agent_arena.backends.base import Backend
from agent_arena.calling import CallingConfig, fallback_call
from agent_arena.errors import ArenaError, ConfigError, ErrorCode, ProtocolError, ToolError
from agent_arena.schemas import SchemaLimits
from agent_arena.security import Authenticator
from agent_arena.server.config import GC_THRESHOLD, ServerConfig, is_loopback
from agent_arena.server.decisions import Decisions, JournalLike
from agent_arena.server.events import Attached, Listener, Snapshot, backend_slots
from agent_arena.server.sessions import Session, Sessions, checked_fallback, fallback_for
from agent_arena.server.transport import Envelope, Transport
from agent_arena.tools import ToolRegistry, apply_mask

log = logging.getLogger("agent_arena.server")

SWEEP_S = 60.0


class ArenaServer:
    def __init__(
        self,
        backend: Backend,
        config: ServerConfig | None = None,
        *,
        tools: Sequence[Any] = (),
        profiles: Mapping[str, Profile] | None = None,
        calling: CallingConfig | None = None,
        context: zmq.Context[Any] | None = None,
        journal: JournalLike | None = None,
    ) -> None:
        self.config = config or ServerConfig()
        self.backend = backend
        self.default_tools = ToolRegistry(tools, max_tools=self.config.max_tools_per_session,
                                          limits=SchemaLimits(self.config.max_schema_bytes,
                                                              self.config.max_schema_depth))
        self.profiles = dict(profiles or {})
        self.profiles.setdefault("default", Profile())
        self.calling = calling or CallingConfig()
        if self.calling.choice in ("likelihood", "description") \
                and not backend.capabilities.scores:
            # said, not silently replaced by generation
            raise ConfigError(f"calling.choice={self.calling.choice} needs a backend that scores "
                              f"continuations; backend {backend.name} cannot: use "
                              "calling.choice=auto|generate, or backend=llama_cpp")
        self._own_journal = journal is None and self.config.journal.path is not None
        if self._own_journal:
            from agent_arena.journal import Journal

            journal = Journal(self.config.journal)
        self.journal = journal
        self.ctx = context or zmq.asyncio.Context.instance()
        fallback = fallback_call(self.calling)
        if len(self.default_tools):
            try:
                checked_fallback(self.default_tools, fallback, "the configured tools")
            except ToolError as exc:
                raise ConfigError(f"calling.fallback_tool={fallback.tool!r} with "
                                  f"calling.fallback_arguments={fallback.arguments}: "
                                  f"{exc.message}") from None
        self.sessions = Sessions(self.config, self.default_tools, fallback)
        self.decisions = Decisions(backend, self.calling, self._reply, journal)
        self.transport = Transport(self.ctx, self.config, self._on_message, self._on_peer_gone)
        self.endpoint: str | None = None
        self._stopping = False
        self._stopped = False
        self._gc_acquired = False
        self._sweeper: asyncio.TimerHandle | None = None
        self._errors: collections.Counter[str] = collections.Counter()
        # metrics / dashboard HTTP (agent_arena.dashboard), when the CLI started them
        self.views: Attached | None = None

    @property
    def stats(self) -> dict[str, int]:
        return {**self.decisions.stats, "errors": sum(self._errors.values())}

    @property
    def in_flight(self) -> int:
        return self.decisions.in_flight

    @property
    def error_counts(self) -> dict[str, int]:
        """Error replies sent so far, by code (read at scrape time, not counted twice)."""
        return dict(self._errors)

    def snapshot(self) -> Snapshot:
        """What views read of the server now (server/events.py)."""
        sessions = list(self.sessions)
        return Snapshot(backend=self.backend.name, model=str(self.backend.model_name),
                        endpoint=self.endpoint, in_flight=self.in_flight,
                        sessions=len(sessions), agents=sum(len(s.agents) for s in sessions),
                        error_counts=self.error_counts,
                        backend_slots=backend_slots(self.backend))

    def add_listener(self, fn: Listener) -> None:
        """Call ``fn(DecisionEvent)`` as each decision finishes, after its reply is sent."""
        self.decisions.listeners.append(fn)

    # ---- lifecycle ---------------------------------------------------------------------

    def check_config(self) -> None:
        """Raise ConfigError for a configuration that cannot start (before loading a model)."""
        cfg = self.config
        if not is_loopback(cfg.bind) and not cfg.auth.enabled:
            raise ConfigError(
                f"refusing to bind {cfg.bind} without authentication: anyone on the network "
                "could drive your agents. Configure server.auth.mechanism=plain with "
                "server.auth.users={name: password} (what the Godot addon speaks) or "
                "server.auth.mechanism=curve (see docs/security.md), or bind tcp://127.0.0.1"
            )
        if cfg.ws_port and not cfg.auth.enabled and not cfg.ws_allowed_origins:
            raise ConfigError(
                "server.ws_port without authentication would let any web page you visit drive "
                "your agents and read their observations (browsers let pages open WebSockets "
                "to localhost). Configure server.auth.mechanism=plain (the Godot web export "
                "speaks it), or allow only your game's page: "
                "server.ws_allowed_origins=[http://localhost:8060] (see docs/security.md)")
        if cfg.auth.enabled:
            Authenticator(self.ctx, cfg.auth)  # checks mechanism, users and key file settings

    async def start(self) -> str:
        """Bind and start serving in the background; returns the bound endpoint."""
        self.check_config()
        self.endpoint = self.transport.start()
        if self.config.gc_threshold is not None:
            GC_THRESHOLD.acquire(self.config.gc_threshold)
            self._gc_acquired = True
        self._sweeper = asyncio.get_running_loop().call_later(SWEEP_S, self._sweep)
        log.info("server: listening on %s (backend=%s model=%s auth=%s)", self.endpoint,
                 self.backend.name, self.backend.model_name, self.config.auth.mechanism)
        return self.endpoint

    async def serve_forever(self) -> None:
        """Until stop(); raises when receiving failed (a socket error), so callers exit non-0."""
        if self.endpoint is None:
            await self.start()
        assert self.transport.closed is not None
        await asyncio.shield(self.transport.closed)

    async def stop(self, grace_ms: int | None = None) -> None:
        """Stop accepting, answer every pending decision, close. Bounded by the grace."""
        if self._stopped:
            return
        self._stopped = self._stopping = True
        grace = self.config.shutdown_grace_ms if grace_ms is None else grace_ms
        pending = self.decisions.in_flight
        await self.decisions.drain(grace / 1000.0)
        if self._sweeper is not None:
            self._sweeper.cancel()
        self.transport.close(linger_ms=max(grace, 100))
        if self._gc_acquired:
            GC_THRESHOLD.release()
            self._gc_acquired = False
        if self._own_journal:
            await self.journal.aclose()  # type: ignore[union-attr]
        if self.views is not None:
            await self.views.stop()
        log.info("server: stopped (%d decisions were pending; %s)", pending, self.stats)

    async def __aenter__(self) -> ArenaServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    def _sweep(self) -> None:
        self.sessions.sweep(time.monotonic())
        self._sweeper = asyncio.get_running_loop().call_later(SWEEP_S, self._sweep)

    # ---- in and out --------------------------------------------------------------------

    def _reply(self, env: Envelope, message: Mapping[str, Any]) -> None:
        self.transport.send(env, protocol.pack(message))  # type: ignore[arg-type]

    def _error(self, env: Envelope, request_id: Any, code: ErrorCode, message: str) -> None:
        self._errors[code] += 1
        log.info("server: error %s: %s", code, message)
        self._reply(env, protocol.error(request_id, code, message))

    def _on_message(self, env: Envelope, frames: list[zmq.Frame]) -> None:
        if len(frames) != 1:
            self._error(env, None, "bad_frame", f"expected one payload frame, got {len(frames)}: "
                        "send one msgpack map per message")
            return
        payload = frames[0].bytes
        if len(payload) > self.config.max_message_bytes:
            self._error(env, None, "too_large", f"message of {len(payload)} bytes exceeds "
                        f"max_message_bytes={self.config.max_message_bytes}; send smaller "
                        "observations (over 4x that, the connection itself is dropped)")
            return
        msg: protocol.Message | None = None
        try:
            msg = protocol.decode(payload)
            if self._stopping and not isinstance(msg, protocol.Ping):
                raise ArenaError("the server is stopping: reconnect and send hello when it is "
                                 "back", code="shutting_down")
            self._dispatch(self.sessions.touch((env.user, env.identity)), env, msg)
        except ArenaError as exc:
            rid = msg.id if msg is not None else exc.request_id
            self._error(env, rid, exc.code, exc.message)
        except Exception:  # a bug must not take the server down for everyone
            log.exception("server: internal error while handling a message")
            self._error(env, msg.id if msg is not None else None, "internal",
                        "internal server error; see the server log")

    def _on_peer_gone(self, user: str, identity: bytes) -> None:
        s = self.sessions.drop((user, identity))
        if s is None:
            return
        n = len(s.pending)
        self.decisions.abandon(s)
        log.info("server: session %s gone (client %r); %d pending decision(s) stopped", s.id,
                 s.client, n)

    def _journal(self, kind: str, s: Session, fields: Mapping[str, Any]) -> None:
        """One journal record (the journal packs it at once and writes it off the loop)."""
        if self.journal is not None:
            self.journal.record(kind, {"session": s.id, "client": s.client, **fields})

    # ---- handlers ----------------------------------------------------------------------

    def _dispatch(self, s: Session, env: Envelope, msg: protocol.Message) -> None:
        if isinstance(msg, protocol.Observe):
            self._observe(s, env, msg)
        elif isinstance(msg, protocol.Ping):
            self._reply(env, protocol.pong(msg.id))
        elif isinstance(msg, protocol.ToolResult):
            self._tool_result(s, env, msg)
        elif isinstance(msg, protocol.RegisterTools):
            self._register_tools(s, env, msg)
        elif isinstance(msg, protocol.Hello):
            self._hello(s, env, msg)
        elif isinstance(msg, protocol.Reset):
            ids = [msg.agent_id] if msg.agent_id is not None else list(s.agents)
            for aid in ids:
                self.decisions.supersede(s, aid, "reset")
                if aid in s.agents:
                    s.agents[aid].reset()
            self._reply(env, protocol.ack(msg.id, "reset", agents=ids))

    def _hello(self, s: Session, env: Envelope, msg: protocol.Hello) -> None:
        if msg.v not in protocol.SUPPORTED_VERSIONS:
            raise ProtocolError(
                f"protocol version {msg.v} is not supported; this server speaks "
                f"{', '.join(map(str, protocol.SUPPORTED_VERSIONS))}: update the client or server",
                code="version_mismatch")
        tools = self.default_tools
        if msg.tools:  # the game's own tools, exactly (the server's too only when asked)
            tools = self.default_tools.copy() if msg.server_tools else self.default_tools.empty()
            tools.register(msg.tools)  # raises before anything changes
        fallback = fallback_for(tools, msg.fallback, self.sessions.default_fallback, "hello")
        for aid in list(s.pending):
            self.decisions.supersede(s, aid, "session restarted by hello")
        s.tools, s.fallback, s.agents, s.client = tools, fallback, collections.OrderedDict(), \
            msg.client
        s.declared = bool(msg.tools)
        log.info("server: session %s hello from %r", s.id, msg.client)
        self._journal("hello", s, {"id": msg.id, "v": msg.v, "tools": _specs(tools),
                                   "fallback": fallback.as_wire()})
        self._reply(env, protocol.welcome(
            msg.id, server=f"agent-arena/{__version__}", session=s.id,
            backend=self.backend.name, model=self.backend.model_name, tools=tools.names(),
            fallback=fallback.as_wire(), max_message_bytes=self.config.max_message_bytes,
            default_deadline_ms=self.config.default_deadline_ms))

    def _register_tools(self, s: Session, env: Envelope, msg: protocol.RegisterTools) -> None:
        if msg.tools and not s.declared:  # the first declaration replaces the server's tools
            tools = self.default_tools.copy() if msg.server_tools else self.default_tools.empty()
        else:
            tools = s.tools.copy()
        names = tools.register(msg.tools, replace=msg.replace)
        fallback = fallback_for(tools, msg.fallback, s.fallback, "register_tools")
        s.tools, s.fallback = tools, fallback  # all or nothing: only after every check
        s.declared = s.declared or bool(msg.tools)
        log.info("server: session %s registered tools %s", s.id, ",".join(names))
        self._journal("register_tools", s, {"id": msg.id, "tools": _specs(tools),
                                            "replace": msg.replace,
                                            "fallback": fallback.as_wire()})
        self._reply(env, protocol.ack(msg.id, "register_tools", tools=tools.names(),
                                      fallback=fallback.as_wire()))

    def _tool_result(self, s: Session, env: Envelope, msg: protocol.ToolResult) -> None:
        agent = s.agents.get(msg.agent_id)
        if agent is None:
            raise ProtocolError(
                f"tool_result for agent {msg.agent_id!r}, which this session never observed",
                code="unknown_agent")
        agent.record_result(msg.tick, msg.tool, msg.ok, msg.result)
        self._journal("tool_result", s, {"id": msg.id, "agent_id": msg.agent_id,
                                         "tick": msg.tick, "tool": msg.tool, "ok": msg.ok,
                                         "result": msg.result, "reward": msg.reward})
        self._reply(env, protocol.ack(msg.id, "tool_result"))

    def _observe(self, s: Session, env: Envelope, msg: protocol.Observe) -> None:
        profile = self.profiles.get(msg.profile or "default")
        if profile is None:
            raise ProtocolError(f"profile {msg.profile!r} is not configured; configured: "
                                f"{', '.join(self.profiles)}", code="unknown_profile")
        allowed = msg.tools if msg.tools is not None else _profile_tools(profile, s)
        if allowed is not None:
            missing = [n for n in allowed if n not in s.tools]
            if missing:
                raise ToolError(
                    f"observe.tools names {', '.join(map(repr, missing))}, not registered; "
                    f"registered: {', '.join(s.tools.names())}", code="unknown_tool")
            if not allowed:
                raise ProtocolError("observe.tools is empty: allow at least one tool")
        elif not len(s.tools):
            raise ToolError("no tools are registered: send register_tools first",
                            code="unknown_tool")
        # the game's action mask: checked now, so a bad one is an error reply, not a fallback
        possible = (apply_mask(s.tools.select(allowed), msg.mask, s.tools.names())
                    if msg.mask else None)
        in_flight = self.decisions.in_flight
        if msg.agent_id not in s.pending and in_flight >= self.config.max_pending:
            raise ArenaError(f"{in_flight} decisions in flight (server.max_pending); retry later",
                             code="overloaded")
        agent = self.sessions.agent(s, msg.agent_id, profile.memory_window)
        self.decisions.supersede(s, msg.agent_id, f"superseded by observe id={msg.id!r}")
        self._journal("observe", s, {"id": msg.id, "agent_id": msg.agent_id, "tick": msg.tick,
                                     "observation": msg.observation, "tools": allowed,
                                     "profile": profile.name, "deadline_ms": msg.deadline_ms,
                                     "mask": msg.mask})
        self.decisions.start(s, env, msg, agent, profile, allowed,
                             msg.deadline_ms or self.config.default_deadline_ms, possible)


def _profile_tools(profile: Profile, s: Session) -> list[str] | None:
    """The profile's allowed tools that this session has (a profile written for the server's
    tools still fits a game that declared its own); an error when they share none."""
    if profile.tools is None:
        return None
    shared = [n for n in profile.tools if n in s.tools]
    if not shared:
        raise ToolError(
            f"profile {profile.name!r} allows {', '.join(profile.tools)}, none of which this "
            f"session registered ({', '.join(s.tools.names())}): send observe.tools, or use a "
            "profile without a tools list", code="unknown_tool")
    return shared


def _specs(tools: ToolRegistry) -> list[dict[str, Any]]:
    return [spec.to_flat() for spec in tools.select(None)]
