"""The ZeroMQ ROUTER server: sessions, concurrent decisions, supersede, deadlines, replies.

Flow of one frame: socket -> protocol.decode -> handler -> (observe) a task per decision:
agents.build_messages -> calling.decide_once -> backend -> validated call -> reply. The server
knows nothing of HTTP or llama.cpp; a bad request costs one ``error`` reply and nothing else.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import zmq
import zmq.asyncio

from agent_arena import __version__, protocol
from agent_arena.agents import AgentState, Profile, build_messages
from agent_arena.backends.base import Backend
from agent_arena.calling import CallingConfig, decide_once, fallback_call
from agent_arena.errors import ArenaError, ConfigError, ProtocolError, ToolError
from agent_arena.security import AuthConfig, Authenticator
from agent_arena.tools import ToolCall, ToolRegistry

log = logging.getLogger("agent_arena.server")


@dataclass
class ServerConfig:
    bind: str = "tcp://127.0.0.1:5555"
    max_message_bytes: int = 1 << 20  # per frame; the socket drops frames over 4x this
    default_deadline_ms: int = 15000
    max_pending: int = 10000  # decisions in flight over all sessions
    heartbeat_ivl_ms: int = 5000  # ZMTP PING interval (0: off)
    heartbeat_timeout_ms: int = 15000
    session_ttl_s: float = 3600.0  # forget sessions idle this long
    ws_port: int | None = None  # start a WebSocket relay for web-exported games
    auth: AuthConfig = field(default_factory=AuthConfig)


@dataclass
class Pending:
    request_id: Any
    envelope: list[bytes]
    tick: int
    task: asyncio.Task[None] | None = None


@dataclass
class Session:
    id: str
    tools: ToolRegistry
    agents: dict[str, AgentState] = field(default_factory=dict)
    pending: dict[str, Pending] = field(default_factory=dict)
    client: str = ""
    last_seen: float = field(default_factory=time.monotonic)


def is_loopback(endpoint: str) -> bool:
    """True for ipc://, inproc:// and tcp:// on 127.0.0.0/8, ::1 or localhost."""
    if endpoint.startswith(("ipc://", "inproc://")):
        return True
    if not endpoint.startswith("tcp://"):
        return False
    host = endpoint[len("tcp://"):].rsplit(":", 1)[0].strip("[]")
    if ";" in host:  # tcp://source;dest form
        host = host.split(";")[-1]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # interface names, "*", hostnames


class ArenaServer:
    def __init__(
        self,
        backend: Backend,
        config: ServerConfig | None = None,
        *,
        tools: Sequence[Any] = (),
        profiles: Mapping[str, Profile] | None = None,
        calling: CallingConfig | None = None,
        context: zmq.asyncio.Context | None = None,
    ) -> None:
        self.config = config or ServerConfig()
        self.backend = backend
        self.default_tools = ToolRegistry(tools)
        self.profiles = dict(profiles or {})
        self.profiles.setdefault("default", Profile())
        self.calling = calling or CallingConfig()
        self.ctx = context or zmq.asyncio.Context.instance()
        self.sessions: dict[bytes, Session] = {}
        self.endpoint: str | None = None
        self._sock: zmq.asyncio.Socket | None = None
        self._auth: Authenticator | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._next_slot = 0  # agents get consecutive KV slots; backends take it modulo theirs
        self.stats = {"decisions": 0, "ok": 0, "fallback": 0, "timeout": 0, "superseded": 0,
                      "errors": 0}
        if self.calling.fallback_tool not in self.default_tools and len(self.default_tools):
            log.warning("server: fallback tool %r is not among the default tools",
                        self.calling.fallback_tool)

    # ---- lifecycle -----------------------------------------------------------------------------

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
        if cfg.auth.enabled:
            Authenticator(self.ctx, cfg.auth)  # checks mechanism, users and key file settings

    async def start(self) -> str:
        """Bind and start serving in the background; returns the bound endpoint."""
        cfg = self.config
        self.check_config()
        sock = self.ctx.socket(zmq.ROUTER)
        sock.linger = 0
        sock.setsockopt(zmq.MAXMSGSIZE, cfg.max_message_bytes * 4)
        sock.setsockopt(zmq.ROUTER_HANDOVER, 1)
        # A ROUTER silently drops a reply when the peer's outbound queue holds SNDHWM messages
        # (default 1000): a burst of finished decisions for one game with >= ~1000 agents lost
        # actions. Every accepted observe must get its reply, so allow all that can be pending.
        sock.setsockopt(zmq.SNDHWM, max(1000, 2 * cfg.max_pending))
        if cfg.heartbeat_ivl_ms:
            sock.setsockopt(zmq.HEARTBEAT_IVL, cfg.heartbeat_ivl_ms)
            sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, cfg.heartbeat_timeout_ms)
        if cfg.auth.enabled:
            self._auth = Authenticator(self.ctx, cfg.auth)
            self._auth.start()
            self._auth.apply(sock)
        try:
            if cfg.bind.startswith("tcp://") and cfg.bind.endswith(":0"):
                port = sock.bind_to_random_port(cfg.bind.rsplit(":", 1)[0])
                self.endpoint = f"{cfg.bind.rsplit(':', 1)[0]}:{port}"
            else:
                sock.bind(cfg.bind)
                self.endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        except zmq.ZMQError as exc:
            sock.close(0)
            if self._auth:
                self._auth.stop()
            raise ConfigError(f"cannot bind {cfg.bind}: {exc}; is another server on that port? "
                              "choose another with server.bind=tcp://127.0.0.1:PORT") from exc
        self._sock = sock
        self._loop_task = asyncio.create_task(self._recv_loop(), name="arena-recv")
        log.info("server: listening on %s (backend=%s model=%s auth=%s)", self.endpoint,
                 self.backend.name, self.backend.model_name, cfg.auth.mechanism)
        return self.endpoint

    async def serve_forever(self) -> None:
        if self._loop_task is None:
            await self.start()
        assert self._loop_task is not None
        await self._loop_task

    async def stop(self) -> None:
        self._stopping = True
        for t in list(self._tasks):
            t.cancel()
        if self._loop_task:
            self._loop_task.cancel()
            try:
                await self._loop_task
            except (asyncio.CancelledError, Exception):
                pass
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None
        if self._auth:
            self._auth.stop()
        log.info("server: stopped (%s)", self.stats)

    async def __aenter__(self) -> ArenaServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    # ---- receive loop --------------------------------------------------------------------------

    async def _recv_loop(self) -> None:
        assert self._sock is not None
        last_sweep = time.monotonic()
        while not self._stopping:
            frames = await self._sock.recv_multipart()
            try:
                await self._handle_frames(frames)
            except Exception:  # a bug must not take the server down for everyone
                log.exception("server: internal error while handling a message")
                await self._send(frames[:1], protocol.error(None, "internal",
                                                            "internal server error; see logs"))
            now = time.monotonic()
            if now - last_sweep > 60:
                last_sweep = now
                self._sweep_sessions(now)

    async def _handle_frames(self, frames: list[bytes]) -> None:
        identity, rest = frames[0], frames[1:]
        envelope = [identity]
        if rest and rest[0] == b"" and len(rest) > 1:  # REQ client: keep the delimiter
            envelope.append(b"")
            rest = rest[1:]
        if len(rest) != 1:
            await self._send(envelope, protocol.error(
                None, "bad_frame", f"expected one payload frame, got {len(rest)}: send one "
                "msgpack map per message"))
            return
        payload = rest[0]
        if len(payload) > self.config.max_message_bytes:
            await self._send(envelope, protocol.error(
                None, "too_large", f"message of {len(payload)} bytes exceeds max_message_bytes="
                f"{self.config.max_message_bytes}; send smaller observations"))
            return
        try:
            msg = protocol.decode(payload)
        except ProtocolError as exc:
            self.stats["errors"] += 1
            log.info("server: rejected message: %s: %s", exc.code, exc.message)
            await self._send(envelope, exc.as_reply())
            return
        session = self._session(identity)
        try:
            await self._dispatch(session, envelope, msg)
        except ArenaError as exc:
            self.stats["errors"] += 1
            log.info("server: %s %s: %s", type(msg).__name__, exc.code, exc.message)
            await self._send(envelope, protocol.error(msg.id, exc.code, exc.message))

    def _session(self, identity: bytes) -> Session:
        s = self.sessions.get(identity)
        if s is None:
            s = Session(id=uuid.uuid4().hex[:12], tools=self.default_tools.copy())
            self.sessions[identity] = s
        s.last_seen = time.monotonic()
        return s

    def _sweep_sessions(self, now: float) -> None:
        for ident, s in list(self.sessions.items()):
            if not s.pending and now - s.last_seen > self.config.session_ttl_s:
                del self.sessions[ident]

    async def _send(self, envelope: list[bytes], message: dict[str, Any]) -> None:
        if self._sock is None:
            return
        try:
            await self._sock.send_multipart([*envelope, protocol.pack(message)])
        except zmq.ZMQError as exc:
            log.warning("server: could not send %s: %s", message.get("type"), exc)

    # ---- handlers ------------------------------------------------------------------------------

    async def _dispatch(self, s: Session, env: list[bytes], msg: protocol.Message) -> None:
        if isinstance(msg, protocol.Observe):
            self._observe(s, env, msg)
        elif isinstance(msg, protocol.Ping):
            await self._send(env, protocol.pong(msg.id))
        elif isinstance(msg, protocol.ToolResult):
            agent = s.agents.get(msg.agent_id)
            if agent is None:
                raise ProtocolError(
                    f"tool_result for agent {msg.agent_id!r}, which this session never observed",
                    code="unknown_agent")
            agent.record_result(msg.tick, msg.tool, msg.ok, msg.result)
            await self._send(env, protocol.ack(msg.id, "tool_result"))
        elif isinstance(msg, protocol.RegisterTools):
            names = s.tools.register(msg.tools, replace=msg.replace)
            log.info("server: session %s registered tools %s", s.id, ",".join(names))
            await self._send(env, protocol.ack(msg.id, "register_tools", tools=s.tools.names()))
        elif isinstance(msg, protocol.Hello):
            await self._hello(s, env, msg)
        elif isinstance(msg, protocol.Reset):
            ids = [msg.agent_id] if msg.agent_id is not None else list(s.agents)
            for aid in ids:
                self._supersede(s, aid, "reset")
                if aid in s.agents:
                    s.agents[aid].reset()
            await self._send(env, protocol.ack(msg.id, "reset", agents=ids))

    async def _hello(self, s: Session, env: list[bytes], msg: protocol.Hello) -> None:
        if msg.v not in protocol.SUPPORTED_VERSIONS:
            raise ProtocolError(
                f"protocol version {msg.v} is not supported; this server speaks "
                f"{', '.join(map(str, protocol.SUPPORTED_VERSIONS))}: update the client or server",
                code="version_mismatch")
        tools = self.default_tools.copy()
        if msg.tools:
            tools.register(msg.tools)  # raises before anything changes
        for aid in list(s.pending):
            self._supersede(s, aid, "session restarted by hello")
        s.tools, s.agents, s.client = tools, {}, msg.client
        log.info("server: session %s hello from %r", s.id, msg.client)
        await self._send(env, {
            "type": "welcome", "id": msg.id, "v": protocol.PROTOCOL_VERSION,
            "server": f"agent-arena/{__version__}", "session": s.id,
            "backend": self.backend.name, "model": self.backend.model_name,
            "tools": tools.names(), "max_message_bytes": self.config.max_message_bytes,
            "default_deadline_ms": self.config.default_deadline_ms,
        })

    def _observe(self, s: Session, env: list[bytes], msg: protocol.Observe) -> None:
        t0 = time.monotonic()
        profile = self.profiles.get(msg.profile or "default")
        if profile is None:
            raise ProtocolError(f"profile {msg.profile!r} is not configured; configured: "
                                f"{', '.join(self.profiles)}", code="unknown_profile")
        allowed = msg.tools if msg.tools is not None else (
            list(profile.tools) if profile.tools is not None else None)
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
        in_flight = sum(len(x.pending) for x in self.sessions.values())
        if msg.agent_id not in s.pending and in_flight >= self.config.max_pending:
            raise ArenaError(f"{in_flight} decisions in flight (server.max_pending); retry later",
                             code="overloaded")
        self._supersede(s, msg.agent_id, f"superseded by observe id={msg.id!r}")
        agent = s.agents.get(msg.agent_id)
        if agent is None:
            agent = s.agents[msg.agent_id] = AgentState(msg.agent_id, profile.memory_window,
                                                        slot=self._next_slot)
            self._next_slot += 1
        pending = Pending(msg.id, env, msg.tick)
        s.pending[msg.agent_id] = pending
        task = asyncio.create_task(self._decide(s, agent, profile, allowed, msg, pending, t0))
        pending.task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _supersede(self, s: Session, agent_id: str, why: str) -> None:
        old = s.pending.pop(agent_id, None)
        if old is None:
            return
        if old.task is not None:
            old.task.cancel()
        self.stats["superseded"] += 1
        reply = {"type": "action", "id": old.request_id, "agent_id": agent_id, "tick": old.tick,
                 "call": None, "status": "superseded", "reason": why, "thought": None,
                 "latency_ms": 0.0, "usage": {"prompt_tokens": 0, "completion_tokens": 0,
                                              "attempts": 0}, "backend": self.backend.name}
        task = asyncio.create_task(self._send(old.envelope, reply))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _decide(self, s: Session, agent: AgentState, profile: Profile,
                      allowed: list[str] | None, msg: protocol.Observe, pending: Pending,
                      t0: float) -> None:
        deadline_s = (msg.deadline_ms or self.config.default_deadline_ms) / 1000.0
        calling = self.calling
        status, reason, thought = "ok", None, None
        usage = {"prompt_tokens": 0, "completion_tokens": 0, "attempts": 0}
        try:
            # inside the try: an observation the prompt cannot render must still get its reply
            messages = build_messages(profile, agent, msg.observation)
            sampling = self.backend.default_sampling.merged(profile.sampling)
            remaining = deadline_s - (time.monotonic() - t0)
            outcome = await asyncio.wait_for(
                decide_once(self.backend, messages, s.tools, allowed, calling, sampling,
                            model=profile.model, extra_body=profile.extra_body or None,
                            slot=agent.slot),
                timeout=max(remaining, 0.001))
            call: ToolCall = outcome.call or fallback_call(calling)
            status, reason, thought = outcome.status, outcome.reason, outcome.thought
            usage = {"prompt_tokens": outcome.prompt_tokens,
                     "completion_tokens": outcome.completion_tokens, "attempts": outcome.attempts}
        except asyncio.TimeoutError:
            call, status = fallback_call(calling), "timeout"
            reason = f"no decision within deadline_ms={int(deadline_s * 1000)}"
        except Exception as exc:  # a bug in a strategy/backend must not leave the game waiting
            log.exception("server: decision for agent %s failed", msg.agent_id)
            call, status = fallback_call(calling), "fallback"
            reason = f"internal error while deciding ({type(exc).__name__}); see server logs"
        if s.pending.get(msg.agent_id) is not pending:
            return  # superseded while finishing; that reply is already on its way
        del s.pending[msg.agent_id]
        if status == "ok":
            problems = s.tools.validate(call, allowed)
            if problems:  # belt and braces: an invalid call never reaches the game
                log.error("server: strategy returned an invalid call: %s", problems)
                call, status, reason = fallback_call(calling), "fallback", "; ".join(problems)
        agent.record_action(msg.tick, call.as_wire())
        latency = (time.monotonic() - t0) * 1000.0
        self.stats["decisions"] += 1
        self.stats[status] += 1
        log.info("decision: session=%s agent=%s tick=%s tool=%s status=%s latency_ms=%.0f",
                 s.id, msg.agent_id, msg.tick, call.tool, status, latency)
        await self._send(pending.envelope, {
            "type": "action", "id": msg.id, "agent_id": msg.agent_id, "tick": msg.tick,
            "call": call.as_wire(), "status": status, "reason": reason, "thought": thought,
            "latency_ms": round(latency, 2), "usage": usage, "backend": self.backend.name,
        })

