"""Hardening (issue 25): one client must never freeze, crash or steer the server.

One regression test per reproduced path, over real ZeroMQ sockets against a real ArenaServer
with the scripted backend (what is tested is the server's own logic). A path that froze or
killed the process runs the server in a subprocess, so a freeze fails the test (no reply
within REPLY_S, which only bounds a hang) and an abort shows as the process's exit status,
instead of taking pytest down.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
import zmq.asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_arena.errors import ConfigError
from agent_arena.security import AuthConfig
from support.arena_sockets import IDLE, REPLY_S, GatedBackend, Peer, pack, unpack

ROOT = Path(__file__).resolve().parents[2]
EVIL = "^(a+)+$"  # exponential for a backtracking engine on "aaaa...!"
EVIL_INPUT = "a" * 40 + "!"

# A server in its own process: argv[1] is JSON {"config": ServerConfig kwargs, "answer": str,
# "delay_s": float}; prints the bound endpoint, serves until killed.
_SERVE = r"""
import asyncio, json, sys
sys.path.insert(0, sys.argv[2])
from support.arena_sockets import TOOLS
from agent_arena.backends.scripted import ScriptedBackend
from agent_arena.security import AuthConfig
from agent_arena.server import ArenaServer, ServerConfig
spec = json.loads(sys.argv[1])
cfg = spec.get("config", {})
if "auth" in cfg:
    cfg["auth"] = AuthConfig(**cfg["auth"])
async def main():
    server = ArenaServer(ScriptedBackend(answer=spec.get("answer",
                         '{"tool": "idle", "arguments": {}}'), delay_s=spec.get("delay_s", 0.0)),
                         ServerConfig(bind="tcp://127.0.0.1:0", **cfg), tools=TOOLS)
    print(await server.start(), flush=True)
    await server.serve_forever()
asyncio.run(main())
"""


class ServerProcess:
    def __init__(self, **spec: Any) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SERVE, json.dumps(spec), str(ROOT / "tests")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert self.proc.stdout is not None
        self.endpoint = self.proc.stdout.readline().strip()
        if not self.endpoint.startswith("tcp://"):
            self.stop()
            raise AssertionError(f"server did not start: {self.proc.communicate()[1]}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.kill()
        _, err = self.proc.communicate(timeout=30)
        return err


@pytest.fixture
def serve() -> Iterator[Any]:
    made: list[ServerProcess] = []

    def factory(**spec: Any) -> ServerProcess:
        made.append(ServerProcess(**spec))
        return made[-1]

    yield factory
    for p in made:
        p.stop()


def _tool(name: str, props: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "description": "t",
            "parameters": {"type": "object", "properties": props, **extra}}


# ---- 1. regular expressions cannot freeze the server ------------------------------------------


async def test_a_catastrophic_pattern_in_a_fallback_is_answered_and_pings_still_are(serve,
                                                                                      peers):
    """Before: no reply to the register_tools, pings unanswered, only SIGKILL stopped it (the
    fallback check ran Python's backtracking ``re``)."""
    server = serve()
    game = peers(server.endpoint)
    tool = _tool("t", {"s": {"type": "string", "pattern": EVIL}}, required=["s"])
    await game.send_msg(type="register_tools", id="r", tools=[tool],
                        fallback={"tool": "t", "arguments": {"s": EVIL_INPUT}})
    err = await game.expect("r")
    assert err["type"] == "error" and err["code"] == "invalid_fallback", err
    assert "pattern" in err["message"] or EVIL in err["message"]
    assert (await game.ping())["type"] == "pong"
    other = peers(server.endpoint)
    await other.send_msg(type="hello", id="h", v=1, tools=[tool],
                         fallback={"tool": "t", "arguments": {"s": EVIL_INPUT}})
    assert (await other.expect("h"))["code"] == "invalid_fallback"
    assert (await other.ping())["type"] == "pong"


async def test_a_model_call_failing_a_catastrophic_pattern_is_a_fallback(serve, peers):
    """Before: the model's call failed the fast check, and the message for the re-ask came
    from Python's ``re``: the decision never ended and nothing else was answered."""
    answer = json.dumps({"tool": "t", "arguments": {"s": EVIL_INPUT}})
    server = serve(answer=answer)
    game = peers(server.endpoint)
    tool = _tool("t", {"s": {"type": "string", "pattern": EVIL}}, required=["s"])
    await game.send_msg(type="register_tools", id="r", tools=[tool], server_tools=True)
    assert (await game.expect("r"))["type"] == "ack"
    await game.send_msg(type="observe", id="o", agent_id="a", tick=1, observation={"hp": 1},
                        tools=["t", "idle"])
    action = await game.expect("o")
    assert action["type"] == "action" and action["status"] == "fallback", action
    assert action["call"] == IDLE
    await game.send_msg(type="observe", id="m", agent_id="a", tick=2, observation={"hp": 1},
                        tools=["t", "idle"], mask={"t": {"s": [EVIL_INPUT]}})
    err = await game.expect("m")
    assert err["type"] == "error" and err["code"] == "bad_message", err
    assert (await game.ping())["type"] == "pong"


async def test_a_pattern_a_linear_engine_cannot_run_is_refused_at_registration(arena,
                                                                               connect):
    server = await arena()
    client = await connect(server.endpoint)
    for pattern in ("^(a+)+\\1$", "(?=a)a"):  # a backreference, a lookahead
        r = await client.request("register_tools", tools=[
            _tool("t", {"s": {"type": "string", "pattern": pattern}})], raise_errors=False)
        assert r["type"] == "error" and r["code"] == "invalid_schema", r
        assert "pattern" in r["message"]
    assert (await client.ping())["type"] == "pong"


# ---- 2. references: local only -----------------------------------------------------------------


class _CountingHTTP:
    """A tiny HTTP server on loopback that counts the requests it gets."""

    def __init__(self) -> None:
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                hits.append(self.path)
                body = b'{"type": "string"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


async def test_a_remote_ref_is_invalid_schema_and_nothing_is_fetched(arena, connect):
    """Before: the server sent GET requests to the address at the fallback and mask checks."""
    web = _CountingHTTP()
    try:
        server = await arena()
        client = await connect(server.endpoint)
        for ref in (f"{web.url}/s.json", f"{web.url}/s.json#/x", "file:///etc/passwd",
                    "other.json"):
            tool = _tool("t", {"s": {"$ref": ref}})
            r = await client.request("register_tools", tools=[tool], raise_errors=False)
            assert r["type"] == "error" and r["code"] == "invalid_schema", r
            assert "$ref" in r["message"] and "local" in r["message"]
            r = await client.request("hello", v=1, tools=[tool], raise_errors=False)
            assert r["type"] == "error" and r["code"] == "invalid_schema", r
        # a base URI of its own does not turn a relative reference into a remote one
        tool = _tool("t", {"s": {"$ref": "s.json"}}, **{"$id": f"{web.url}/root.json"})
        r = await client.request("register_tools", tools=[tool], raise_errors=False)
        assert r["type"] == "error" and r["code"] == "invalid_schema", r
        assert web.hits == []
        assert (await client.ping())["type"] == "pong"
    finally:
        web.close()


async def test_local_refs_work_for_fallbacks_masks_and_calls(arena, connect):
    """Before: a mask on an argument defined by ``#/$defs/...`` was an ``internal`` error."""
    server = await arena()
    client = await connect(server.endpoint)
    tool = _tool("t", {"kind": {"$ref": "#/$defs/kind"}}, required=["kind"],
                 **{"$defs": {"kind": {"type": "string", "enum": ["a", "b"]}}})
    r = await client.request("register_tools", tools=[tool],
                             fallback={"tool": "t", "arguments": {"kind": "a"}},
                             raise_errors=False)
    assert r["type"] == "ack", r
    a = await client.observe("x", 1, {"hp": 1}, mask={"t": {"kind": ["b"]}})
    assert a["status"] in ("ok", "fallback")
    r = await client.request("observe", agent_id="x", tick=2, observation={},
                             mask={"t": {"kind": ["c"]}}, raise_errors=False)
    assert r["type"] == "error" and r["code"] == "bad_message" and "mask.t.kind" in r["message"]


async def test_a_ref_loop_is_a_clear_error_at_registration(arena, connect):
    """Before: a ``$ref`` loop registered fine, and a mask on it gave ``internal``."""
    server = await arena()
    client = await connect(server.endpoint)
    loops = [
        _tool("t", {"a": {"$ref": "#/properties/a"}}),
        _tool("t", {"a": {"$ref": "#/$defs/x"}},
              **{"$defs": {"x": {"allOf": [{"$ref": "#/$defs/y"}]}, "y": {"$ref": "#/$defs/x"}}}),
    ]
    for tool in loops:
        r = await client.request("register_tools", tools=[tool], raise_errors=False)
        assert r["type"] == "error" and r["code"] == "invalid_schema", r
        assert "loop" in r["message"] and "$ref" in r["message"]
    # recursion through a property is a tree, not a loop: allowed, and a mask on it works
    tree = _tool("t", {"node": {"$ref": "#/$defs/node"}}, **{"$defs": {"node": {
        "type": "object", "properties": {"child": {"$ref": "#/$defs/node"}}}}})
    assert (await client.request("register_tools", tools=[tree]))["type"] == "ack"
    a = await client.observe("x", 1, {"hp": 1}, mask={"t": {"node": [{"child": {}}]}})
    assert a["type"] == "action"


# ---- 3. large registrations ----------------------------------------------------------------------


async def test_tools_per_session_and_schema_size_and_depth_are_capped(arena, connect):
    """Before: 10,000 tools were accepted in one request (and blocked the loop ~5 s)."""
    server = await arena(max_tools_per_session=8, max_schema_bytes=2000, max_schema_depth=6)
    client = await connect(server.endpoint)
    many = [_tool(f"t{i}", {}) for i in range(8)]
    too_many = [*many, _tool("t8", {})]  # 9 > 8
    r = await client.request("register_tools", tools=too_many, raise_errors=False)
    assert r["type"] == "error" and r["code"] == "too_many_tools", r
    assert "server.max_tools_per_session=8" in r["message"]
    r = await client.request("register_tools", tools=many, server_tools=True,
                             raise_errors=False)  # with the 5 server tools: 13 > 8
    assert r["type"] == "error" and r["code"] == "too_many_tools", r
    r = await client.request("register_tools", tools=many, replace=True,
                             fallback={"tool": "t0", "arguments": {}}, raise_errors=False)
    assert r["type"] == "ack", r  # exactly at the cap
    r = await client.request("hello", v=1, tools=too_many, raise_errors=False)
    assert r["type"] == "error" and r["code"] == "too_many_tools", r
    big = _tool("big", {f"p{i}": {"type": "string", "description": "x" * 50} for i in range(40)})
    r = await client.request("register_tools", tools=[big], raise_errors=False)
    assert r["type"] == "error" and r["code"] == "invalid_schema", r
    assert "server.max_schema_bytes=2000" in r["message"]
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(6):
        deep = {"type": "array", "items": deep}
    r = await client.request("register_tools", tools=[_tool("deep", {"d": deep})],
                             raise_errors=False)
    assert r["type"] == "error" and r["code"] == "invalid_schema", r
    assert "server.max_schema_depth=6" in r["message"]
    assert (await client.ping())["type"] == "pong"


def test_the_caps_are_settings_with_bounds():
    from agent_arena.server import ServerConfig

    cfg = ServerConfig()
    assert cfg.max_tools_per_session >= 64 and cfg.max_schema_bytes >= 16384
    assert cfg.max_schema_depth >= 16
    for name in ("max_tools_per_session", "max_schema_bytes", "max_schema_depth"):
        with pytest.raises(ConfigError, match=f"server.{name}"):
            ServerConfig(**{name: 0})


# ---- 4, 5. routing identities ------------------------------------------------------------------


def _dealer(ctx: zmq.Context, endpoint: str, identity: bytes,
            plain: tuple[str, str] | None = None) -> zmq.Socket:
    s = ctx.socket(zmq.DEALER)
    s.linger = 0
    s.setsockopt(zmq.ROUTING_ID, identity)
    if plain:
        s.plain_username, s.plain_password = plain[0].encode(), plain[1].encode()
    s.connect(endpoint)
    return s


def _replies(sock: zmq.Socket, wait_s: float) -> list[dict[str, Any]]:
    out = []
    end = time.monotonic() + wait_s
    while (left := end - time.monotonic()) > 0 and sock.poll(int(left * 1000)):
        out.append(unpack(sock.recv_multipart()[-1]))
    return out


def _same_identity_twice(endpoint: str, plain: tuple[str, str] | None) -> None:
    """The issue's sequence (with backend.delay_s=2): A says hello and observes; B, with A's
    identity, connects and pings; A pings; A closes, then B. The pauses pace the sequence as
    reproduced; nothing is asserted about time."""
    ctx = zmq.Context()
    try:
        a = _dealer(ctx, endpoint, b"game-1", plain)
        a.send(pack({"type": "hello", "id": "h", "v": 1}))
        a.send(pack({"type": "observe", "id": "o", "agent_id": "n", "tick": 1,
                     "observation": {}}))
        time.sleep(0.3)
        b = _dealer(ctx, endpoint, b"game-1", plain)
        b.send(pack({"type": "ping", "id": "pb"}))
        _replies(b, 0.3)
        a.send(pack({"type": "ping", "id": "pa"}))
        _replies(a, 2.5)
        a.close(0)
        time.sleep(1.0)
        b.close(0)
        time.sleep(0.5)
    finally:
        ctx.destroy(0)


@pytest.mark.parametrize("auth", [False, True])
def test_a_second_connection_with_the_same_identity_does_not_kill_the_server(serve, auth):
    """Before: the second run of this sequence aborted the server in libzmq
    (``Assertion failed: !_io_error (src/stream_engine_base.cpp:310)``, SIGABRT)."""
    users = {"player": "pw"}
    server = serve(delay_s=2.0, config={"auth": {"mechanism": "plain", "users": users}}
                   if auth else {})
    plain = ("player", "pw") if auth else None
    for _ in range(3):
        _same_identity_twice(server.endpoint, plain)
        assert server.alive(), server.stop()[-2000:]
    ctx = zmq.Context()
    try:
        s = _dealer(ctx, server.endpoint, b"game-1", plain)
        s.send(pack({"type": "ping", "id": "last"}))
        assert s.poll(int(REPLY_S * 1000)), "no pong after the handovers"
        assert unpack(s.recv_multipart()[-1])["type"] == "pong"
    finally:
        ctx.destroy(0)
    assert server.alive()
    assert "Assertion failed" not in server.stop()


def test_a_flood_then_a_close_does_not_kill_the_server(serve):
    """libzmq's ZMTP heartbeat timer writes to a connection whose input stopped (its queue
    full, or its session without a pipe after a handover) and whose peer then closed:
    ``Assertion failed: !_io_error`` (stream_engine_base.cpp:310), SIGABRT, within one
    heartbeat interval. Here: connections that claim an identity in use (never read) flood
    and close. Before (heartbeats on by default): aborted."""
    server = serve(config={"max_pending": 10})  # receive queue: 1000 messages per peer
    ctx = zmq.Context()
    try:
        holder = _dealer(ctx, server.endpoint, b"flood-1")
        holder.send(pack({"type": "ping", "id": "h"}))
        assert holder.poll(int(REPLY_S * 1000))
        holder.recv_multipart()
        for _ in range(2):
            s = _dealer(ctx, server.endpoint, b"flood-1")
            s.linger, s.sndhwm = 2000, 0
            for i in range(60_000):
                s.send(pack({"type": "observe", "id": i, "agent_id": f"a{i % 50}", "tick": i,
                             "observation": {"x": "y" * 200}}))
            s.close()
            time.sleep(6.0)  # past the old default heartbeat interval (5 s): pacing only
            assert server.alive(), server.stop()[-2000:]
        holder.send(pack({"type": "ping", "id": "after"}))
        assert holder.poll(int(REPLY_S * 1000)), "no pong after the flood"
    finally:
        ctx.destroy(0)
    assert "Assertion failed" not in server.stop()


async def test_another_user_cannot_take_over_an_identity(arena, ctx):
    """Before: under PLAIN, bob connecting with ann's identity had libzmq hand the connection
    over: ann was disconnected, her accepted observe dropped as 'peer gone', her pings lost."""
    server = await arena(auth=AuthConfig(mechanism="plain", users={"ann": "a", "bob": "b"}))
    backend: GatedBackend = server.backend

    def peer(user: str, password: str) -> Peer:
        p = Peer.__new__(Peer)
        p.sock = _dealer(ctx[1], server.endpoint, b"same-game", (user, password))
        p.inbox = []
        return p

    ann = peer("ann", "a")
    bob = None
    try:
        await ann.send_msg(type="observe", id="ann-1", agent_id="npc", tick=1,
                           observation={"gate": "g"})
        await asyncio.wait_for(backend.started["g"].wait(), REPLY_S)
        bob = peer("bob", "b")
        await bob.send_msg(type="ping", id="bob-ping")
        with pytest.raises(asyncio.TimeoutError):  # refused: the identity is in use
            await bob.expect("bob-ping", timeout=1.0)
        assert (await ann.ping("ann-ping"))["type"] == "pong"  # ann keeps her connection
        backend.gates["g"].set()
        action = await ann.expect("ann-1")
        assert action["type"] == "action" and action["status"] == "ok"  # her reply reaches her
        assert server.stats["abandoned"] == 0
    finally:
        ann.close()
        if bob is not None:
            bob.close()


# ---- 6. the relay -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


_RELAY_PARENT = r"""
import sys, time
from agent_arena.relay import start_ws_relay
proc = start_ws_relay(int(sys.argv[1]), sys.argv[2], allowed_origins=["http://localhost:1"])
print(proc.pid, flush=True)
time.sleep(600)
"""


def test_the_relay_dies_with_its_server():
    """Before: the server SIGKILLed, websockify kept the port (and its old Origin list)."""
    pytest.importorskip("websockify")
    port = _free_port()
    parent = subprocess.Popen([sys.executable, "-c", _RELAY_PARENT, str(port),
                               "tcp://127.0.0.1:1"], stdout=subprocess.PIPE, text=True,
                              cwd=ROOT)
    assert parent.stdout is not None
    relay_pid = int(parent.stdout.readline())
    try:
        assert _listening(port)
        parent.kill()
        parent.wait()
        end = time.monotonic() + REPLY_S  # only bounds a relay that never dies
        while (_pid_alive(relay_pid) or _listening(port)) and time.monotonic() < end:
            time.sleep(0.05)  # the group is SIGKILLed at once; the port closes as they exit
        assert not _pid_alive(relay_pid), "the relay outlived its server"
        assert not _listening(port), "something of the relay still holds its port"
    finally:
        if _pid_alive(relay_pid):
            os.killpg(relay_pid, signal.SIGKILL)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (no parent reaped it yet) is dead for our purpose
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_relay_port_already_taken_is_a_clear_error():
    """Before: the new relay failed to bind, but the old listener on the port answered the
    readiness probe, so the server reported a relay that was not its own."""
    pytest.importorskip("websockify")
    from agent_arena.relay import start_ws_relay

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(ConfigError, match=f"{port}.*in use"):
            start_ws_relay(port, "tcp://127.0.0.1:1", allowed_origins=["http://localhost:1"])


# ---- fuzz: registration and the checks it feeds ---------------------------------------------------

_PATTERNS = st.sampled_from([EVIL, "(a|aa)+$", "^(\\w+\\s?)*$", "(?=a)", "\\1(a)", "[", "a{99}{99}",
                             "^[a-z]+$", ""])
_REFS = st.sampled_from(["#", "#/properties/a", "#/$defs/x", "#/$defs/nope", "#x", "x.json",
                         "http://127.0.0.1:9/s", "#/properties/a/items", "#%2F"])
_KEYWORDS = {"type": st.sampled_from(["string", "integer", "object", "array", "frog"]),
             "pattern": _PATTERNS, "$ref": _REFS, "$anchor": st.just("x"),
             "enum": st.lists(st.text(max_size=3), max_size=3),
             "minLength": st.integers(-1, 3), "$id": st.sampled_from(["x", "http://a/b", "#"])}
_schemas = st.recursive(
    st.fixed_dictionaries({}, optional=_KEYWORDS),
    lambda inner: st.fixed_dictionaries({}, optional={
        **_KEYWORDS, "items": inner, "not": inner, "allOf": st.lists(inner, max_size=2),
        "properties": st.dictionaries(st.sampled_from(["a", "b", "a/b"]), inner, max_size=2),
        "patternProperties": st.dictionaries(_PATTERNS, inner, max_size=1),
        "$defs": st.dictionaries(st.sampled_from(["x", "y"]), inner, max_size=2)}),
    max_leaves=8)


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[tuple[ServerProcess, zmq.Socket]]:
    server = ServerProcess()
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(server.endpoint)
    yield server, sock
    ctx.destroy(0)
    server.stop()


_ids = iter(range(10**9))


def _ask(sock: zmq.Socket, **msg: Any) -> dict[str, Any]:
    rid = next(_ids)
    sock.send(pack({**msg, "id": rid}))
    while sock.poll(int(REPLY_S * 1000)):  # only bounds a hang
        m = unpack(sock.recv_multipart()[-1])
        if m.get("id") == rid:
            return m
    raise AssertionError(f"no reply to {msg['type']}: the server stopped answering")


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(props=st.dictionaries(st.sampled_from(["a", "b"]), _schemas, max_size=2),
       defs=st.dictionaries(st.sampled_from(["x", "y"]), _schemas, max_size=2),
       value=st.text(alphabet="a!", max_size=40) | st.integers(-(2**63), 2**64 - 1)
       | st.lists(st.just("a")))
def test_fuzz_registration_masks_and_fallbacks_always_answer(fuzz_server, props, defs, value):
    server, sock = fuzz_server
    tool = _tool("f", props, **({"$defs": defs} if defs else {}))
    r = _ask(sock, type="register_tools", tools=[tool], replace=False,
             fallback={"tool": "f", "arguments": {k: value for k in props}})
    assert r["type"] in ("ack", "error"), r
    assert r.get("code") != "internal", r
    if r["type"] == "ack":
        for arg in props:
            m = _ask(sock, type="observe", agent_id="z", tick=1, observation={"v": value},
                     mask={"f": {arg: [value]}})
            assert m["type"] in ("action", "error") and m.get("code") != "internal", m
    assert _ask(sock, type="ping")["type"] == "pong"
    assert server.alive()


async def test_a_large_fallback_against_unique_items_is_answered(serve, peers):
    """python-jsonschema checks ``uniqueItems`` over maps pair by pair: 20,000 maps in a
    fallback took minutes of the event loop for the message alone."""
    server = serve()
    game = peers(server.endpoint)
    tool = _tool("u", {"xs": {"type": "array", "uniqueItems": True,
                              "items": {"type": "object"}, "maxItems": 3}})
    items = [{"i": i} for i in range(20_000)]
    await game.send_msg(type="register_tools", id="r", tools=[tool],
                        fallback={"tool": "u", "arguments": {"xs": items}})
    err = await game.expect("r")
    assert err["type"] == "error" and err["code"] == "invalid_fallback", err
    assert (await game.ping())["type"] == "pong"
