"""Reference client: what the Godot addon does, in Python (DEALER socket, protocol v1).

Requests are matched to replies by ``id``; many may be in flight and replies come back as each
finishes. ``request`` returns the reply map; ``error`` replies are raised as ``ArenaError`` with
the server's code (``raise_errors=False`` returns them instead).

The server may also send a request of its own: ``reset`` (docs/protocol.md, "Resets"), handed
to ``on_reset(message)``; the game answers it with ``reset(episode_id=...)`` when its new
episode is ready.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import zmq
import zmq.asyncio

from agent_arena import protocol
from agent_arena.errors import ArenaError


class ArenaClient:
    def __init__(
        self,
        endpoint: str = "tcp://127.0.0.1:5555",
        *,
        name: str = "python-client",
        context: zmq.asyncio.Context | None = None,
        plain: tuple[str, str] | None = None,
        curve_server_key: bytes | None = None,
        curve_keypair: tuple[bytes, bytes] | None = None,
        timeout_s: float = 60.0,
        on_reset: Callable[[dict[str, Any]], Awaitable[None] | None] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.name = name
        self.timeout_s = timeout_s
        self.ctx = context or zmq.asyncio.Context.instance()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        if plain is not None:
            self.sock.plain_username, self.sock.plain_password = (x.encode() for x in plain)
        if curve_server_key is not None:
            public, secret = curve_keypair or zmq.curve_keypair()
            self.sock.curve_publickey, self.sock.curve_secretkey = public, secret
            self.sock.curve_serverkey = curve_server_key
        self._ids = itertools.count(1)
        self._waiting: dict[Any, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self.unmatched: list[dict[str, Any]] = []  # replies nobody waited for (e.g. id nil errors)
        self.on_reset = on_reset
        self.resets: list[dict[str, Any]] = []  # the server's reset requests, in order
        self._handlers: set[asyncio.Task[None]] = set()

    async def connect(self) -> ArenaClient:
        self.sock.connect(self.endpoint)
        self._reader = asyncio.create_task(self._read(), name="arena-client-read")
        return self

    async def close(self) -> None:
        if self._reader:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):
                pass
        for fut in self._waiting.values():
            if not fut.done():
                fut.cancel()
        self.sock.close(0)

    async def __aenter__(self) -> ArenaClient:
        return await self.connect()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def _read(self) -> None:
        while True:
            frames = await self.sock.recv_multipart()
            reply = protocol.unpack(frames[-1])
            if isinstance(reply, dict) and reply.get("type") == "reset":
                self._server_reset(reply)  # a request from the server, not a reply
                continue
            fut = self._waiting.pop(reply.get("id"), None) if isinstance(reply, dict) else None
            if fut is not None and not fut.done():
                fut.set_result(reply)
            else:
                self.unmatched.append(reply)

    def _server_reset(self, message: dict[str, Any]) -> None:
        self.resets.append(message)
        if self.on_reset is None:
            return
        out = self.on_reset(message)
        if asyncio.iscoroutine(out):
            task = asyncio.ensure_future(out)
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)

    # ---- raw -----------------------------------------------------------------------------------

    async def send_raw(self, *frames: bytes) -> None:
        await self.sock.send_multipart(list(frames))

    async def request(self, mtype: str, *, raise_errors: bool = True, timeout_s: float | None = None,
                      **fields: Any) -> dict[str, Any]:
        rid = fields.pop("id", None) or next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = fut
        await self.sock.send(protocol.pack({"type": mtype, "id": rid, **fields}))
        try:
            reply = await asyncio.wait_for(fut, timeout_s or self.timeout_s)
        finally:
            self._waiting.pop(rid, None)
        if raise_errors and reply.get("type") == "error":
            raise ArenaError(reply.get("message", ""), code=reply.get("code"), request_id=rid)
        return reply

    # ---- protocol ------------------------------------------------------------------------------

    async def hello(self, tools: Iterable[Mapping[str, Any]] = (), *,
                    fallback: Mapping[str, Any] | None = None,
                    server_tools: bool = False) -> dict[str, Any]:
        """``tools``: the game's own tools (the session then has exactly these, plus the
        server's configured ones only with ``server_tools``). ``fallback`` ({tool, arguments}):
        the call this session gets on a timeout or a failed decision; checked against the tools."""
        extra: dict[str, Any] = {"fallback": dict(fallback)} if fallback is not None else {}
        if server_tools:
            extra["server_tools"] = True
        return await self.request("hello", v=protocol.PROTOCOL_VERSION, client=self.name,
                                  tools=list(tools), **extra)

    async def register_tools(self, tools: Iterable[Mapping[str, Any]], *, replace: bool = False,
                             fallback: Mapping[str, Any] | None = None,
                             server_tools: bool = False) -> dict[str, Any]:
        extra: dict[str, Any] = {"fallback": dict(fallback)} if fallback is not None else {}
        if server_tools:
            extra["server_tools"] = True
        return await self.request("register_tools", tools=list(tools), replace=replace, **extra)

    async def observe(self, agent_id: str, tick: int, observation: Mapping[str, Any], *,
                      tools: list[str] | None = None, deadline_ms: int | None = None,
                      profile: str | None = None, mask: Mapping[str, Any] | None = None,
                      reward: float | None = None, done: bool = False,
                      **kw: Any) -> dict[str, Any]:
        """``mask``: what is possible now (docs/protocol.md, "Action masks"), e.g.
        ``{"pick_up": {"item_id": ["apple-3"]}, "flee": False}``. ``reward``: the agent's
        reward since its last observe; ``done``: this observation ends its episode."""
        fields: dict[str, Any] = {"agent_id": agent_id, "tick": tick,
                                  "observation": dict(observation)}
        if reward is not None:
            fields["reward"] = reward
        if done:
            fields["done"] = True
        if mask is not None:
            fields["mask"] = dict(mask)
        if tools is not None:
            fields["tools"] = tools
        if deadline_ms is not None:
            fields["deadline_ms"] = deadline_ms
            # the server answers by the deadline: never give up on the reply before it
            kw.setdefault("timeout_s", max(self.timeout_s, deadline_ms / 1000.0 + 30.0))
        if profile is not None:
            fields["profile"] = profile
        return await self.request("observe", **fields, **kw)

    async def tool_result(self, agent_id: str, tick: int, tool: str, ok: bool,
                          result: Any = None, *, reward: float | None = None) -> dict[str, Any]:
        extra = {"reward": reward} if reward is not None else {}
        return await self.request("tool_result", agent_id=agent_id, tick=tick, tool=tool, ok=ok,
                                  result=result, **extra)

    async def reset(self, agent_id: str | None = None, *,
                    episode_id: str | None = None) -> dict[str, Any]:
        """Forget the agents' memory and stop their pending decisions; ``episode_id``: the
        answer to the server's reset request (the new episode is ready)."""
        fields: dict[str, Any] = {"agent_id": agent_id} if agent_id else {}
        if episode_id is not None:
            fields["episode_id"] = episode_id
        return await self.request("reset", **fields)

    async def ping(self, timeout_s: float | None = None) -> dict[str, Any]:
        return await self.request("ping", timeout_s=timeout_s)
