"""Real-socket helpers shared by the server tests: a gated scripted backend, raw peers, and
fixtures that start servers and clients on free loopback ports (closed at teardown).

The scripted backend's timing is controlled with gates (asyncio events), not sleeps, so no
test built on these asserts on durations.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import msgpack
import pytest
import yaml
import zmq
import zmq.asyncio
from jsonschema import Draft202012Validator

from agent_arena.backends.base import ChatRequest, ChatResponse
from agent_arena.backends.scripted import ScriptedBackend
from agent_arena.client import ArenaClient
from agent_arena.dashboard import start_with_views
from agent_arena.errors import BackendError
from agent_arena.server import ArenaServer, ServerConfig

ROOT = Path(__file__).resolve().parents[2]
TOOLS: list[dict[str, Any]] = [
    {"name": name, **spec}
    for name, spec in yaml.safe_load((ROOT / "configs/tools/game.yaml").read_text()).items()
]
SCHEMAS = {t["name"]: t["parameters"] for t in TOOLS}
MOVE = '{"thought": "go", "tool": "move_to", "arguments": {"target": [4, 0, 2]}}'
IDLE = {"tool": "idle", "arguments": {}}
MAX = 4096  # max_message_bytes for the bad-input tests; the socket hard limit is 4x
REPLY_S = 10.0  # generous: only bounds a test that would otherwise hang


def pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def unpack(frame: bytes) -> Any:
    return msgpack.unpackb(frame, raw=False, strict_map_key=False)


def assert_valid_call(call: dict[str, Any]) -> None:
    assert set(call) == {"tool", "arguments"}
    assert call["tool"] in SCHEMAS
    errors = list(Draft202012Validator(SCHEMAS[call["tool"]]).iter_errors(call["arguments"]))
    assert errors == [], errors


class GatedBackend(ScriptedBackend):
    """Scripted answers, but a request whose observation says ``gate: NAME`` waits until the
    test opens that gate; ``boom`` in an observation makes the backend fail (BackendError)."""

    def __init__(self, answer: str = MOVE) -> None:
        super().__init__(answer=answer)
        self.gates: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.started: dict[str, asyncio.Event] = defaultdict(asyncio.Event)

    async def chat(self, request: ChatRequest) -> ChatResponse:
        text = str(request.messages[-1]["content"])
        if "boom" in text:
            self.requests.append(request)
            raise BackendError("the model process crashed (simulated)")
        m = re.search(r"gate: (\w+)", text)
        if m:
            self.started[m.group(1)].set()
            await self.gates[m.group(1)].wait()
        return await super().chat(request)

    def open_all(self) -> None:
        for g in self.gates.values():
            g.set()


class Peer:
    """A raw DEALER (or REQ) socket: send any frames, pick replies by a predicate."""

    def __init__(self, ctx: zmq.asyncio.Context, endpoint: str, kind: int = zmq.DEALER) -> None:
        self.sock = ctx.socket(kind)
        self.sock.linger = 0
        self.sock.connect(endpoint)
        self.inbox: list[dict[str, Any]] = []

    async def send(self, *frames: bytes) -> None:
        await self.sock.send_multipart(list(frames))

    async def send_msg(self, **msg: Any) -> None:
        await self.send(pack(msg))

    async def expect(self, pred: Callable[[dict[str, Any]], bool] | Any,
                     timeout: float = REPLY_S) -> dict[str, Any]:
        """First reply matching ``pred`` (a callable, or a request id to match)."""
        if not callable(pred):
            rid = pred
            pred = lambda m: m.get("id") == rid
        for i, m in enumerate(self.inbox):
            if pred(m):
                return self.inbox.pop(i)
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            left = end - loop.time()
            if left <= 0:
                raise asyncio.TimeoutError
            frames = await asyncio.wait_for(self.sock.recv_multipart(), left)
            m = unpack(frames[-1])
            if pred(m):
                return m
            self.inbox.append(m)

    async def ping(self, rid: Any = "p") -> dict[str, Any]:
        await self.send_msg(type="ping", id=rid)
        return await self.expect(rid)

    def close(self) -> None:
        self.sock.close(0)


@pytest.fixture
def ctx() -> Any:
    """Server and clients get their own contexts (as separate processes would)."""
    server_ctx, client_ctx = zmq.asyncio.Context(), zmq.asyncio.Context()
    yield server_ctx, client_ctx
    client_ctx.destroy(linger=0)
    server_ctx.destroy(linger=0)


@pytest.fixture
async def arena(ctx) -> AsyncIterator[Callable[..., Any]]:
    """Factory: ``server = await arena(backend, **server_config)``; stopped at teardown."""
    started: list[ArenaServer] = []

    async def factory(backend: Any = None, **cfg: Any) -> ArenaServer:
        cfg.setdefault("bind", "tcp://127.0.0.1:0")
        server = ArenaServer(backend or GatedBackend(), ServerConfig(**cfg), tools=TOOLS,
                             context=ctx[0])
        await start_with_views(server)  # metrics / dashboard when asked
        started.append(server)
        return server

    yield factory
    for s in started:
        if isinstance(s.backend, GatedBackend):
            s.backend.open_all()
        await s.stop()


@pytest.fixture
async def connect(ctx) -> AsyncIterator[Callable[..., Any]]:
    """Factory: ``client = await connect(endpoint, **ArenaClient kwargs)``; closed at teardown."""
    clients: list[ArenaClient] = []

    async def factory(endpoint: str, **kw: Any) -> ArenaClient:
        kw.setdefault("timeout_s", REPLY_S)
        client = ArenaClient(endpoint, context=ctx[1], **kw)
        clients.append(client)
        return await client.connect()

    yield factory
    for c in clients:
        await c.close()


@pytest.fixture
def peers(ctx) -> Any:
    made: list[Peer] = []

    def factory(endpoint: str, kind: int = zmq.DEALER) -> Peer:
        made.append(Peer(ctx[1], endpoint, kind))
        return made[-1]

    yield factory
    for p in made:
        p.close()
