"""The ROUTER socket: options, auth, one envelope split/join pair, peer-gone events.

Knows bytes and envelopes, nothing of sessions or decisions: each inbound message goes to the
``handler`` it is given, each reply comes back through ``send``. It runs on the event loop with
``loop.add_reader`` on the socket's FD and non-blocking calls, draining every message that is
waiting in one pass (ZeroMQ's FD is edge-triggered: after any send or receive the pending events
are re-checked, or a waiting message could sit unnoticed).

Peers: every message's source connection (``SRCFD``) and ZAP user are recorded per routing
identity; the socket monitor's DISCONNECTED event (a closed connection, or one TCP keepalive
found dead) and a send refused with EHOSTUNREACH (``ROUTER_MANDATORY``) report the
peer gone through ``on_peer_gone``. Identities are first come, first served (no
ROUTER_HANDOVER): while a connection holds one, libzmq ignores any other connection that
claims it, so no client can disconnect another or take over its replies. An identity that
comes back from another user after its first connection closed (before the monitor said so)
ends the first user's session, and a reply is only delivered to the user who asked.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import zmq
import zmq.asyncio
from zmq.utils.monitor import parse_monitor_message

from agent_arena.errors import ConfigError
from agent_arena.security import Authenticator
from agent_arena.server.config import ServerConfig

log = logging.getLogger("agent_arena.server")

KEEPALIVE_INTVL_S = 5
KEEPALIVE_PROBES = 3


@dataclass(frozen=True)
class Envelope:
    """Where a message came from: routing identity, ZAP user, and whether a REQ delimiter
    must be echoed (REQ clients hang without it)."""

    identity: bytes
    user: str = ""
    req: bool = False

    def frames(self, payload: bytes) -> list[bytes]:
        return [self.identity, b"", payload] if self.req else [self.identity, payload]


Handler = Callable[[Envelope, "list[zmq.Frame]"], None]
PeerGone = Callable[[str, bytes], None]


def _zap_user(frame: zmq.Frame) -> str:
    """The ZAP user of an authenticated connection. Without server.auth the socket speaks the
    NULL mechanism and no ZAP handler sees it, so there is no user to ask for: the caller skips
    this (asking raises, and an exception per message was ~5% of a decision)."""
    try:
        return frame.get("User-Id")
    except zmq.ZMQError:  # a connection ZAP did not see
        return ""


class Transport:
    def __init__(self, ctx: zmq.Context[Any], config: ServerConfig, handler: Handler,
                 on_peer_gone: PeerGone) -> None:
        self.config = config
        self.handler = handler
        self.on_peer_gone = on_peer_gone
        self.ctx = zmq.Context.shadow(ctx.underlying)  # sync API on the caller's context
        # ZAP runs on asyncio sockets of the same context
        self._actx = ctx if isinstance(ctx, zmq.asyncio.Context) else \
            zmq.asyncio.Context.shadow(ctx.underlying)
        self.endpoint: str | None = None
        self.sock: zmq.Socket[Any] | None = None
        self._monitor: zmq.Socket[Any] | None = None
        self._auth: Authenticator | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._outbox: collections.deque[list[bytes]] = collections.deque()
        self._check_scheduled = False
        self._flush_scheduled = False
        self._peer_fd: dict[bytes, int] = {}  # identity -> connection it last spoke from
        self._fd_peer: dict[int, bytes] = {}
        self._peer_user: dict[bytes, str] = {}
        self._stale_events: dict[int, int] = {}  # fd -> DISCONNECTED events about a gone peer
        self.closed: asyncio.Future[None] | None = None  # set (or failed) when receiving ends
        self.stats = {"received": 0, "sent": 0, "dropped_replies": 0}

    # ---- lifecycle ---------------------------------------------------------------------

    def start(self) -> str:
        cfg = self.config
        self._loop = asyncio.get_running_loop()
        self.closed = self._loop.create_future()
        sock = self.ctx.socket(zmq.ROUTER)
        sock.linger = 0
        sock.setsockopt(zmq.MAXMSGSIZE, cfg.max_message_bytes * 4)
        # No ROUTER_HANDOVER: an identity belongs to the connection that has it until that one
        # is gone. With handover, a second connection with the same identity aborted libzmq
        # 4.3.5 (stream_engine_base.cpp:310, !_io_error) and let any user disconnect any other
        # (issue 25); without it, libzmq ignores the newcomer (docs/security.md).
        sock.setsockopt(zmq.ROUTER_HANDOVER, 0)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)  # a reply to a gone peer fails, not vanishes
        # Every accepted observe must get its reply: allow a burst of all that can be pending.
        sock.setsockopt(zmq.SNDHWM, max(1000, 2 * cfg.max_pending))
        sock.setsockopt(zmq.RCVHWM, max(1000, 2 * cfg.max_pending))
        # Dead peers (host gone, network cut) are found by TCP keepalive: the kernel probes a
        # connection silent for heartbeat_timeout_ms, KEEPALIVE_PROBES times KEEPALIVE_INTVL_S
        # apart. Clients' own ZMTP PINGs are answered, and a TTL in them is honoured.
        sock.setsockopt(zmq.TCP_KEEPALIVE, 1)
        sock.setsockopt(zmq.TCP_KEEPALIVE_IDLE, max(1, cfg.heartbeat_timeout_ms // 1000 or 15))
        sock.setsockopt(zmq.TCP_KEEPALIVE_INTVL, KEEPALIVE_INTVL_S)
        sock.setsockopt(zmq.TCP_KEEPALIVE_CNT, KEEPALIVE_PROBES)
        if cfg.heartbeat_ivl_ms:
            # The server's own ZMTP PINGs: libzmq's heartbeat timer writes to a connection
            # whose input stopped (queue full) and whose peer then closed, and aborts the
            # process (stream_engine_base.cpp:310); a client can arrange that at will.
            log.warning("server: ZMTP heartbeats on (server.heartbeat_ivl_ms=%d): a client that "
                        "floods and closes can abort the process in libzmq; see "
                        "docs/security.md", cfg.heartbeat_ivl_ms)
            sock.setsockopt(zmq.HEARTBEAT_IVL, cfg.heartbeat_ivl_ms)
            sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, cfg.heartbeat_timeout_ms)
        if cfg.auth.enabled:
            self._auth = Authenticator(self._actx, cfg.auth)
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
        self.sock = sock
        self._monitor = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        self._loop.add_reader(sock.getsockopt(zmq.FD), self._on_events)
        self._loop.add_reader(self._monitor.getsockopt(zmq.FD), self._on_monitor)
        self._loop.call_soon(self._on_events)  # messages (events) may already be queued
        self._loop.call_soon(self._on_monitor)
        return self.endpoint

    def close(self, linger_ms: int = 0) -> None:
        """Stop receiving; replies already queued are flushed for up to ``linger_ms``."""
        if self.sock is None:
            return
        assert self._loop is not None
        self._flush_outbox()
        for s in (self.sock, self._monitor):
            if s is not None:
                self._loop.remove_reader(s.getsockopt(zmq.FD))
        if self._monitor is not None:
            self.sock.disable_monitor()
            self._monitor.close(0)
            self._monitor = None
        self.sock.close(linger=linger_ms)
        self.sock = None
        if self._auth:
            self._auth.stop()
            self._auth = None
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        """The socket itself failed: nothing more can be received; the app decides what next."""
        log.error("server: receive loop failed: %s: %s", type(exc).__name__, exc)
        if self.closed is not None and not self.closed.done():
            self.closed.set_exception(exc)

    # ---- receiving ---------------------------------------------------------------------

    def _on_events(self) -> None:
        self._check_scheduled = False
        sock = self.sock
        if sock is None:
            return
        try:
            if self._outbox:
                self._flush_outbox()
            for _ in range(1024):  # then yield to the loop (timers, replies) and come back
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK, copy=False)
                except zmq.Again:
                    return
                self.stats["received"] += 1
                self._receive(frames)
                if self.sock is None:
                    return
            self._schedule_check()
        except zmq.ZMQError as exc:
            self._fail(exc)
        except Exception:  # a bug in envelope handling: log it, keep serving everyone else
            log.exception("server: internal error while receiving")
            self._schedule_check()

    def _receive(self, frames: list[zmq.Frame]) -> None:
        first = frames[0]
        identity = first.bytes
        user = "" if self._auth is None else _zap_user(first)
        fd = first.get(zmq.SRCFD)
        other = self._fd_peer.get(fd)
        if other is not None and other != identity and self._peer_fd.get(other) == fd:
            # the kernel reused the fd of a connection whose DISCONNECTED event is still on
            # its way: that peer is gone, and the event, when it comes, is not about this one
            self._stale_events[fd] = self._stale_events.get(fd, 0) + 1
            self._peer_gone(other)
        old_fd = self._peer_fd.get(identity)
        if old_fd != fd:
            if old_fd is not None and self._fd_peer.get(old_fd) == identity:
                del self._fd_peer[old_fd]
            self._peer_fd[identity] = fd
            self._fd_peer[fd] = identity
        old_user = self._peer_user.get(identity)
        if old_user != user:
            self._peer_user[identity] = user
            if old_user is not None:  # another user reconnected with it: the first one is gone
                self.on_peer_gone(old_user, identity)
        rest = frames[1:]
        req = len(rest) > 1 and len(rest[0]) == 0
        if req:
            rest = rest[1:]
        self.handler(Envelope(identity, user, req), rest)

    def _on_monitor(self) -> None:
        mon = self._monitor
        while mon is not None:
            try:
                msg = mon.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            except zmq.ZMQError:
                return
            event = parse_monitor_message(msg)
            if event["event"] == zmq.EVENT_DISCONNECTED:
                self._connection_closed(int(event["value"]))
            mon = self._monitor

    def _connection_closed(self, fd: int) -> None:
        if self._stale_events.get(fd):
            self._stale_events[fd] -= 1
            return
        identity = self._fd_peer.pop(fd, None)
        if identity is None or self._peer_fd.get(identity) != fd:
            return  # never spoke, or its identity moved to a newer connection
        del self._peer_fd[identity]
        self._peer_gone(identity)

    def _peer_gone(self, identity: bytes) -> None:
        user = self._peer_user.pop(identity, None)
        fd = self._peer_fd.pop(identity, None)
        if fd is not None and self._fd_peer.get(fd) == identity:
            del self._fd_peer[fd]
        if user is not None:
            self.on_peer_gone(user, identity)

    # ---- sending -----------------------------------------------------------------------

    def send(self, envelope: Envelope, payload: bytes) -> bool:
        """Send one reply: the first of a loop iteration at once, the others queued and sent
        back to back by ``_flush_soon`` in the next iteration.

        Sending replies in one burst lets libzmq wake its I/O thread once for many messages
        instead of once per reply (each wake-up is a syscall and a context switch). False when
        the reply cannot be delivered to whoever asked (it is dropped)."""
        if self.sock is None:
            return False
        if self._peer_user.get(envelope.identity, envelope.user) != envelope.user:
            self.stats["dropped_replies"] += 1  # the identity now belongs to another user
            return False
        self._outbox.append(envelope.frames(payload))
        if not self._flush_scheduled and self._loop is not None:
            self._flush_scheduled = True
            if len(self._outbox) == 1:
                # The first reply of a loop iteration leaves at once (with one agent, a loop
                # iteration less per decision); the ones after it wait for _flush_soon.
                self._flush_outbox()
            self._loop.call_soon(self._flush_soon)
        return True

    def _flush_soon(self) -> None:
        self._flush_scheduled = False
        self._flush_outbox()
        self._schedule_check()

    def _flush_outbox(self) -> None:
        """Send queued replies in order until the socket would block (SNDHWM): the rest wait
        for the socket's next event."""
        sock = self.sock
        send = sock.send_multipart if sock is not None else None
        while self._outbox and send is not None:
            frames = self._outbox[0]
            try:
                send(frames, zmq.NOBLOCK)
            except zmq.Again:
                return
            except zmq.ZMQError as exc:
                self.stats["dropped_replies"] += 1
                if exc.errno == errno.EHOSTUNREACH:
                    self._outbox.popleft()
                    self._peer_gone(frames[0])
                    continue
                log.warning("server: could not send a reply: %s", exc)
            else:
                self.stats["sent"] += 1
            self._outbox.popleft()

    def _schedule_check(self) -> None:
        """A send may consume the FD's edge while messages wait: look again soon, once."""
        if not self._check_scheduled and self._loop is not None:
            self._check_scheduled = True
            self._loop.call_soon(self._on_events)
