"""The reply contract on every path that could break it, over real ZeroMQ sockets.

Each accepted observe gets exactly one action; every non-nil call names a tool the session
has and validates against its schema; one client's trouble costs nobody else anything. Each
test here failed on the server before the split into transport / sessions / decisions.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import zmq
import zmq.asyncio

from agent_arena.backends.base import ChatRequest, ChatResponse
from agent_arena.backends.scripted import ScriptedBackend
from agent_arena.errors import BackendRequestError, ConfigError
from agent_arena.relay import start_ws_relay, stop_ws_relay
from agent_arena.security import AuthConfig, Authenticator
from agent_arena.server import ArenaServer, ServerConfig
from support.arena_sockets import IDLE, REPLY_S, TOOLS, GatedBackend, pack, unpack

ROOT = Path(__file__).resolve().parents[2]


async def until(cond: Any, timeout: float = REPLY_S) -> None:
    """Wait for an event the test cannot await directly (bounded only so a bug cannot hang)."""
    async def poll() -> None:
        while not cond():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), timeout)


class CancelAware(GatedBackend):
    """Records requests whose task was cancelled while the model was busy with them."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.cancelled: list[ChatRequest] = []

    async def chat(self, request: ChatRequest) -> ChatResponse:
        try:
            return await super().chat(request)
        except asyncio.CancelledError:
            self.cancelled.append(request)
            raise


# ---- stop ------------------------------------------------------------------------------------


async def test_stop_answers_every_pending_decision(arena, connect):
    """Before: stop() cancelled pending decisions and answered none of them."""
    server = await arena()
    client = await connect(server.endpoint)
    futs = [asyncio.ensure_future(client.observe(f"a{i}", 1, {"gate": "never"}))
            for i in range(20)]
    await until(lambda: server.in_flight == 20)
    await server.stop(grace_ms=0)
    replies = await asyncio.gather(*futs)
    assert sorted(r["agent_id"] for r in replies) == sorted(f"a{i}" for i in range(20))
    assert all(r["status"] == "stopping" and r["call"] == IDLE for r in replies)
    assert all("stopping" in r["reason"] for r in replies)
    assert server.transport.sock is None


async def test_decisions_that_finish_within_the_grace_are_answered_normally(arena, connect):
    server = await arena()
    backend: GatedBackend = server.backend
    client = await connect(server.endpoint)
    futs = [asyncio.ensure_future(client.observe(f"a{i}", 1, {"gate": "g"})) for i in range(5)]
    await until(lambda: server.in_flight == 5)
    stopping = asyncio.ensure_future(server.stop(grace_ms=600_000))  # never reached: event
    await until(lambda: server._stopping)
    late = await client.request("observe", agent_id="late", tick=1, observation={},
                                raise_errors=False)
    assert late["type"] == "error" and late["code"] == "shutting_down"
    assert (await client.ping())["type"] == "pong"  # still answered while stopping
    backend.gates["g"].set()
    replies = await asyncio.gather(*futs)
    assert all(r["status"] == "ok" for r in replies)
    await asyncio.wait_for(stopping, REPLY_S)  # returns when the last one is answered


def _serve(*overrides: str) -> tuple[subprocess.Popen[str], str]:
    exe = Path(sys.executable).with_name("agent-arena")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "agent_arena.cli"]
    proc = subprocess.Popen([*cmd, "serve", "backend=scripted", "server.bind=tcp://127.0.0.1:0",
                             *overrides], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    line = proc.stdout.readline() if proc.stdout else ""
    if "serving on " not in line:
        proc.kill()
        raise AssertionError(f"serve did not start: {line!r} {proc.communicate()[1]}")
    return proc, line.split("serving on ", 1)[1].split(" ")[0].rstrip(",")


def _observe_many(endpoint: str, n: int) -> zmq.Socket:
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(endpoint)
    for i in range(n):
        sock.send(pack({"type": "observe", "id": i, "agent_id": f"a{i}", "tick": 1,
                        "observation": {"hp": i}}))
    sock.send(pack({"type": "ping", "id": "after"}))  # answered after all n were accepted
    assert sock.poll(int(REPLY_S * 1000)), "no pong"
    assert unpack(sock.recv_multipart()[-1])["type"] == "pong"
    return sock


def test_sigterm_answers_every_pending_observe_and_exits_0():
    """Before: `serve backend=scripted backend.delay_s=3`, 50 in flight, SIGTERM: 0 replies."""
    proc, endpoint = _serve("backend.delay_s=600", "server.shutdown_grace_ms=100")
    try:
        sock = _observe_many(endpoint, 50)
        proc.send_signal(signal.SIGTERM)
        replies = []
        while len(replies) < 50 and sock.poll(int(REPLY_S * 1000)):
            replies.append(unpack(sock.recv_multipart()[-1]))
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert sorted(r["id"] for r in replies) == list(range(50))
        assert {r["status"] for r in replies} == {"stopping"}
        assert all(r["call"] == IDLE for r in replies)
        assert "answering 50 pending" in err and "Traceback" not in err
        sock.close(0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_second_signal_exits_at_once():
    proc, endpoint = _serve("backend.delay_s=600", "server.shutdown_grace_ms=600000")
    try:
        sock = _observe_many(endpoint, 3)
        proc.send_signal(signal.SIGTERM)
        assert proc.stderr is not None
        while "stopping" not in (line := proc.stderr.readline()):  # the first signal taken
            assert line, "serve exited before it said it was stopping"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 130  # long before the 600 s grace
        sock.close(0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ---- vanished peers, identities ------------------------------------------------------------


async def test_a_vanished_game_stops_its_decisions_and_frees_the_backend(arena, peers):
    """Before: replies to a gone peer were dropped silently and its decisions kept running."""
    server = await arena(CancelAware())
    backend: CancelAware = server.backend
    game = peers(server.endpoint)
    await game.send_msg(type="observe", id=1, agent_id="npc", tick=1,
                        observation={"gate": "slow"})
    await asyncio.wait_for(backend.started["slow"].wait(), REPLY_S)
    assert len(server.sessions) == 1
    game.close()
    await until(lambda: server.stats["abandoned"] == 1)
    assert len(backend.cancelled) == 1  # the model was told to stop
    assert server.in_flight == 0 and len(server.sessions) == 0


async def test_a_game_that_comes_back_after_its_disconnect_starts_a_new_session(arena, ctx):
    """The first connection's session is dropped when it closes (its decisions stopped); the
    same identity then gets a fresh session and is answered as usual."""
    server = await arena()
    client_sock = []
    for _ in range(2):
        s = ctx[1].socket(zmq.DEALER)
        s.linger = 0
        s.setsockopt(zmq.ROUTING_ID, b"game-7")
        s.connect(server.endpoint)
        client_sock.append(s)
        await s.send(pack({"type": "observe", "id": 1, "agent_id": "npc", "tick": 1,
                           "observation": {}}))
        assert unpack((await asyncio.wait_for(s.recv_multipart(), REPLY_S))[-1])["status"] \
            == "ok"
        if len(client_sock) == 1:
            s.close(0)
            await until(lambda: len(server.sessions) == 0)
    assert len(server.sessions) == 1
    client_sock[-1].close(0)


# ---- backends: one bad request, cancellation --------------------------------------------------


async def test_a_context_length_error_leaves_other_agents_constrained(arena, connect):
    """Before: any 4xx in auto downgraded native -> constrained -> prompt for the process."""
    class ContextLimited(GatedBackend):
        async def chat(self, request: ChatRequest) -> ChatResponse:
            if "huge" in str(request.messages[-1]["content"]):
                raise BackendRequestError("maximum context length is 2048 tokens",
                                          kind="context_length")
            return await super().chat(request)

    server = await arena(ContextLimited())
    backend = server.backend
    client = await connect(server.endpoint)
    a = await client.observe("big", 1, {"huge": "x" * 100})
    assert a["status"] == "fallback" and a["call"] == IDLE and "context_length" in a["reason"]
    b = await client.observe("small", 1, {"hp": 3})
    assert b["status"] == "ok"
    assert backend.requests[-1].response_schema is not None  # still the constrained path


# ---- caps --------------------------------------------------------------------------------------


async def test_agents_sessions_and_results_are_capped(arena, connect, peers):
    """Before: agents were removed only by hello, results kept whole (up to 1 MiB), and every
    new identity got a session until a 1 h TTL."""
    server = await arena(max_agents_per_session=2, max_sessions=2, max_result_bytes=64)
    backend: GatedBackend = server.backend
    client = await connect(server.endpoint)
    for aid in ("a", "b", "c"):
        assert (await client.observe(aid, 1, {"hp": 1}))["status"] == "ok"
    r = await client.request("tool_result", agent_id="a", tick=1, tool="move_to", ok=True,
                             raise_errors=False)
    assert r["code"] == "unknown_agent"  # evicted: least recently observed
    await client.tool_result("c", 1, "move_to", True, result={"log": "y" * 5000})
    await client.observe("c", 2, {"hp": 1})
    prompt = str(backend.requests[-1].messages[-1]["content"])
    assert "yyyy" in prompt and "y" * 200 not in prompt
    # a third session evicts the least recently seen idle one
    for name in ("p1", "p2"):
        assert (await peers(server.endpoint).ping(name))["type"] == "pong"
    assert len(server.sessions) == 2
    assert all("c" not in s.agents for s in server.sessions)  # ours was the one evicted
    assert (await client.ping())["type"] == "pong"  # the evicted one just starts anew


def test_scripted_backend_keeps_a_bounded_request_log():
    b = ScriptedBackend()
    for _ in range(3000):
        asyncio.run(b.chat(ChatRequest(messages=[{"role": "user", "content": "x"}])))
    assert 0 < len(b.requests) <= 1000


# ---- security ----------------------------------------------------------------------------------


async def test_relay_without_auth_or_origins_is_refused(ctx):
    server = ArenaServer(GatedBackend(), ServerConfig(bind="tcp://127.0.0.1:0", ws_port=5999),
                         tools=TOOLS, context=ctx[0])
    with pytest.raises(ConfigError) as err:
        server.check_config()
    assert "any web page" in err.value.message and "ws_allowed_origins" in err.value.message


def _ws_handshake(port: int, origin: str) -> str:
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection(("127.0.0.1", port), timeout=REPLY_S) as s:
        s.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\n"
                   f"Origin: {origin}\r\n\r\n").encode())
        return s.recv(4096).decode(errors="replace").split("\r\n", 1)[0]


def test_relay_checks_the_origin():
    pytest.importorskip("websockify", reason="the [ws] extra is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    relay = start_ws_relay(port, "tcp://127.0.0.1:9", allowed_origins=["http://localhost:8060"])
    try:
        assert " 403 " in _ws_handshake(port, "https://evil.example") + " "
        assert " 101 " in _ws_handshake(port, "http://localhost:8060") + " "
    finally:
        stop_ws_relay(relay)


def test_curve_without_client_keys_must_allow_any_explicitly(tmp_path):
    cfg = AuthConfig(mechanism="curve", server_secret_key_file=str(tmp_path / "s.key_secret"))
    with pytest.raises(ConfigError, match="curve_allow_any"):
        Authenticator(zmq.asyncio.Context.instance(), cfg)
    Authenticator(zmq.asyncio.Context.instance(),
                  AuthConfig(mechanism="curve", server_secret_key_file="x", curve_allow_any=True))


# ---- smaller holes -------------------------------------------------------------------------------


async def test_internal_error_reply_reaches_a_req_client(arena, peers, monkeypatch):
    """Before: the internal-error reply dropped the REQ delimiter, so REQ clients hung."""
    server = await arena()

    def broken(*_: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(server, "_observe", broken)
    req = peers(server.endpoint, zmq.REQ)
    await req.send_msg(type="observe", id=5, agent_id="a", tick=1, observation={})
    err = await req.expect(lambda m: True)
    assert err["code"] == "internal" and err["id"] == 5 and "Traceback" not in err["message"]


async def test_a_failed_socket_ends_serve_forever_with_the_error(arena):
    server = await arena()
    serving = asyncio.ensure_future(server.serve_forever())
    await asyncio.sleep(0)
    server.transport._fail(zmq.ZMQError(zmq.ETERM))
    with pytest.raises(zmq.ZMQError):
        await asyncio.wait_for(serving, REPLY_S)


async def test_a_cancelled_http_decision_closes_its_request():
    """vLLM, SGLang and llama-server abort a request whose connection closes: a superseded or
    timed-out decision must close it rather than leave the server generating for nobody."""
    from agent_arena.backends.openai import OpenAIBackend, OpenAICompatConfig

    got_request, closed = asyncio.Event(), asyncio.Event()

    async def slow_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (await reader.readline()) not in (b"\r\n", b""):
            pass  # headers; then never answer, as a busy model server would not yet
        got_request.set()
        await reader.read()  # returns b"" when the client closes the connection
        closed.set()
        writer.close()

    srv = await asyncio.start_server(slow_server, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    backend = OpenAIBackend(OpenAICompatConfig(api_base=f"http://127.0.0.1:{port}/v1",
                                               model="m", timeout_s=600, max_retries=0))
    try:
        task = asyncio.create_task(backend.chat(ChatRequest(
            messages=[{"role": "user", "content": "hi"}])))
        await asyncio.wait_for(got_request.wait(), REPLY_S)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(closed.wait(), REPLY_S)
    finally:
        await backend.close()
        srv.close()
        await srv.wait_closed()
