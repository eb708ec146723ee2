"""Generate the byte vectors the GDScript codec and ZMTP tests check against.

Every ZMTP byte string here is what real libzmq (through pyzmq) sent or accepted: a raw TCP
socket plays the other side of a real ROUTER or DEALER and records the stream. Every msgpack
byte string comes from the ``msgpack`` library. Run it to refresh the committed file:

    .venv/bin/python tests/godot/make_vectors.py            # writes tests/godot/vectors.json
    .venv/bin/python tests/godot/make_vectors.py --check    # exit 1 if the file drifted

Values are written as tagged JSON (``{"t": "int", "v": "..."}``) because JSON numbers cannot
carry int64 or exact floats into GDScript.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any

import msgpack
import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

VECTORS_PATH = Path(__file__).with_name("vectors.json")
USERNAME = "arena"
PASSWORD = "s3cret-pässword"
WRONG_PASSWORD = "not-the-password"
IDENTITY = b"npc-1"
TIMEOUT_S = 5.0
MAX_INLINE = 1024
# Nesting depth limit shared by msgpack.gd (MAX_DEPTH) and the server (protocol.MAX_DEPTH):
# the top-level value is depth 0; a value at depth MAX_DEPTH + 1 is refused.
MAX_DEPTH = 32


# --------------------------------------------------------------------------- msgpack values


def tag(value: Any) -> Any:
    """Tagged JSON form of a msgpack value (lossless for int64, float64 and bytes).

    Large regular values get a compact recipe (``str_repeat``, ``bin_repeat``,
    ``array_range``, ``map_range``) that the GDScript test expands.
    """
    compact = _compact(value)
    if compact is not None:
        return compact
    if value is None:
        return {"t": "nil"}
    if isinstance(value, bool):
        return {"t": "bool", "v": value}
    if isinstance(value, int):
        return {"t": "int", "v": str(value)}
    if isinstance(value, float):
        return {"t": "float", "v": struct.pack(">d", value).hex()}
    if isinstance(value, str):
        return {"t": "str", "v": value}
    if isinstance(value, bytes):
        return {"t": "bin", "v": value.hex()}
    if isinstance(value, list):
        return {"t": "array", "v": [tag(v) for v in value]}
    if isinstance(value, dict):
        return {"t": "map", "v": [[tag(k), tag(v)] for k, v in value.items()]}
    raise TypeError(type(value))


def _compact(value: Any) -> dict[str, Any] | None:
    if isinstance(value, (str, bytes)) and len(value) > 64 and len(set(value)) == 1:
        unit = value[:1]
        if isinstance(value, str):
            return {"t": "str_repeat", "v": unit, "n": len(value)}
        return {"t": "bin_repeat", "v": unit.hex(), "n": len(value)}
    if isinstance(value, list) and len(value) > 64 and value == list(range(len(value))):
        return {"t": "array_range", "n": len(value)}
    if (
        isinstance(value, dict)
        and len(value) > 64
        and value == {f"k{i}": i for i in range(len(value))}
    ):
        return {"t": "map_range", "n": len(value)}
    return None


def wire(raw: bytes) -> dict[str, Any]:
    """Bytes as hex, or as size + SHA-256 when they are too long to commit comfortably."""
    if len(raw) <= MAX_INLINE:
        return {"hex": raw.hex()}
    return {"size": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}


def pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def nest(levels: int) -> list:
    """``levels`` arrays inside each other; the innermost (empty) one is at depth levels - 1."""
    value: list = []
    for _ in range(levels - 1):
        value = [value]
    return value


def msgpack_vectors() -> dict[str, Any]:
    ints = [
        0,
        1,
        127,
        128,
        255,
        256,
        65535,
        65536,
        2**31 - 1,
        2**31,
        2**32 - 1,
        2**32,
        2**63 - 1,
        -1,
        -32,
        -33,
        -128,
        -129,
        -32768,
        -32769,
        -(2**31),
        -(2**31) - 1,
        -(2**63),
    ]
    floats = [
        0.0,
        -0.0,
        1.5,
        -2.25,
        0.1,
        1e300,
        -3.4028234663852886e38,
        5e-324,
        float("nan"),
        float("inf"),
        float("-inf"),
    ]
    strings = [
        "",
        "a",
        "x" * 31,
        "x" * 32,
        "x" * 255,
        "x" * 256,
        "x" * 65535,
        "x" * 65536,
        "héllo",
        "日本語テキスト",
        "🎮 agents",
        "é" * 16,
        "日" * 11,
        # multi-byte UTF-8 at every length boundary (sizes are bytes, not characters)
        "é" * 15 + "x",  # 31 bytes: the largest fixstr ("é" * 16 above: 32 bytes, str8)
        "日" * 85,  # 255 bytes: the largest str8
        "日" * 85 + "x",  # 256 bytes: str16
        "日" * 21845,  # 65535 bytes: the largest str16
        "日" * 21845 + "x",  # 65536 bytes: str32
        "🎮" * 64,  # 4-byte sequences, 256 bytes
    ]
    bins = [
        b"",
        b"\x00\xff\x10",
        bytes(range(256)),
        b"\xab" * 255,
        b"\xab" * 256,
        b"\xab" * 65535,
        b"\xab" * 65536,
    ]
    arrays = [
        [],
        [1, 2, 3],
        list(range(15)),
        list(range(16)),
        list(range(65535)),  # the largest array16
        list(range(65536)),
        nest(MAX_DEPTH + 1),  # the deepest value both the addon and the server accept
    ]
    maps = [
        {},
        {"type": "observe", "id": 7},
        {f"k{i}": i for i in range(15)},
        {f"k{i}": i for i in range(16)},
        {f"k{i}": i for i in range(65535)},  # the largest map16
        {f"k{i}": i for i in range(65536)},
    ]
    nested = [
        {
            "type": "observe",
            "id": 42,
            "agent_id": "npc-1",
            "tick": 3,
            "observation": {
                "position": [1.5, 0.0, -2.25],
                "nearby_items": [{"name": "apple", "distance": 2.5}],
                "inventory": [],
                "goal": "collect the apples",
                "flags": {"hungry": True, "asleep": False, "target": None},
            },
            "tools": ["move_to", "say", "idle"],
            "deadline_ms": 1500,
        },
        [[[[]]], {"a": {"b": {"c": [None, True, -1, 2.5, "ü", b"\x01"]}}}],
    ]
    values = [None, True, False] + ints + floats + strings + bins + arrays + maps + nested
    encode = []
    for value in values:
        name = _describe(value)
        encode.append({"name": name, "value": tag(value), **wire(pack(value))})

    # Forms the Python library never writes but a peer may: the decoder must accept them.
    decode_only = []
    for name, raw in [
        ("float32 1.5", b"\xca" + struct.pack(">f", 1.5)),
        ("float32 -0.25", b"\xca" + struct.pack(">f", -0.25)),
        ("float32 3.4028234663852886e38", b"\xca" + struct.pack(">f", 3.4028234663852886e38)),
        ("float32 NaN", b"\xca\x7f\xc0\x00\x00"),
        ("float32 inf", b"\xca\x7f\x80\x00\x00"),
        ("float32 -inf", b"\xca\xff\x80\x00\x00"),
        ("float32 -0.0", b"\xca\x80\x00\x00\x00"),
        ("float64 NaN", b"\xcb\x7f\xf8" + b"\x00" * 6),
        ("uint8 holding 5", b"\xcc\x05"),
        ("uint16 holding 5", b"\xcd\x00\x05"),
        ("uint32 holding 5", b"\xce\x00\x00\x00\x05"),
        ("uint64 holding 5", b"\xcf" + struct.pack(">Q", 5)),
        ("int8 holding 5", b"\xd0\x05"),
        ("int16 holding -5", b"\xd1" + struct.pack(">h", -5)),
        ("int32 holding 100", b"\xd2" + struct.pack(">i", 100)),
        ("int64 holding -1", b"\xd3" + struct.pack(">q", -1)),
        ("str8 holding 'ab'", b"\xd9\x02ab"),
        ("str16 holding 'ab'", b"\xda\x00\x02ab"),
        ("str32 holding 'ab'", b"\xdb\x00\x00\x00\x02ab"),
        ("bin16 holding 2 bytes", b"\xc5\x00\x02\x01\x02"),
        ("bin32 holding 2 bytes", b"\xc6\x00\x00\x00\x02\x01\x02"),
        ("array16 holding [1]", b"\xdc\x00\x01\x01"),
        ("array32 holding [1]", b"\xdd\x00\x00\x00\x01\x01"),
        ("map16 holding {1: 2}", b"\xde\x00\x01\x01\x02"),
        ("map32 holding {1: 2}", b"\xdf\x00\x00\x00\x01\x01\x02"),
        ("map with int keys", pack({1: "one", -2: "minus two"})),
    ]:
        value = msgpack.unpackb(raw, raw=False, strict_map_key=False)
        decode_only.append({"name": name, "value": tag(value), "hex": raw.hex()})

    errors = []
    for value in values:
        raw = pack(value)
        if 1 < len(raw) <= MAX_INLINE:
            errors.append(
                {
                    "name": f"truncated {_describe(value)}",
                    "hex": raw[:-1].hex(),
                    "error": "truncated",
                }
            )
    for name, raw, error in [
        ("empty input", b"", "truncated"),
        ("uint64 above int64", b"\xcf" + struct.pack(">Q", 2**63), "int range"),
        ("uint64 max", b"\xcf" + b"\xff" * 8, "int range"),
        ("fixext1", b"\xd4\x01\x00", "ext"),
        ("ext8", b"\xc7\x01\x05\x00", "ext"),
        ("timestamp ext", b"\xd6\xff\x00\x00\x00\x00", "ext"),
        ("never used 0xc1", b"\xc1", "0xc1"),
        ("array32 claiming 2^32-1 items", b"\xdd\xff\xff\xff\xff", "truncated"),
        ("trailing bytes", b"\x01\x02", "trailing"),
        ("fixext2", b"\xd5\x01\x00\x00", "ext"),
        ("fixext4", b"\xd6\x01" + b"\x00" * 4, "ext"),
        ("fixext8", b"\xd7\x01" + b"\x00" * 8, "ext"),
        ("fixext16", b"\xd8\x01" + b"\x00" * 16, "ext"),
        ("ext16", b"\xc8\x00\x01\x05\x00", "ext"),
        ("ext32", b"\xc9\x00\x00\x00\x01\x05\x00", "ext"),
        ("str with an invalid UTF-8 lead byte", b"\xa3a\xffb", "UTF-8"),
        ("str with a truncated UTF-8 sequence", b"\xa2\xe6\x97", "UTF-8"),
        ("str with an overlong UTF-8 NUL", b"\xa2\xc0\x80", "UTF-8"),
        ("str with a UTF-16 surrogate", b"\xa3\xed\xa0\x80", "UTF-8"),
        ("str above U+10FFFF", b"\xa4\xf4\x90\x80\x80", "UTF-8"),
        ("str with a NUL byte", b"\xa3a\x00b", "NUL"),
        ("map key str with a NUL byte", b"\x81\xa2a\x00\x01", "NUL"),
        ("nesting one level too deep", pack(nest(MAX_DEPTH + 2)), "nesting"),
    ]:
        with_lib = _lib_rejects(raw)
        # The library reads ext types and big uints, and strings with NUL; GDScript cannot.
        # Nesting: the library allows ~1000 levels, the server (protocol.MAX_DEPTH) does not.
        assert with_lib or error in ("int range", "ext", "NUL", "nesting"), name
        errors.append({"name": name, "hex": raw.hex(), "error": error})

    godot = [
        {
            "name": "Vector2(1.5, -2)",
            "kind": "vector2",
            "v": ["1.5", "-2"],
            "hex": pack([1.5, -2.0]).hex(),
        },
        {
            "name": "Vector3(1.5, 0, -2.25)",
            "kind": "vector3",
            "v": ["1.5", "0", "-2.25"],
            "hex": pack([1.5, 0.0, -2.25]).hex(),
        },
        {
            "name": "Vector3i(1, -200, 70000)",
            "kind": "vector3i",
            "v": ["1", "-200", "70000"],
            "hex": pack([1, -200, 70000]).hex(),
        },
        {
            "name": 'StringName &"move_to"',
            "kind": "string_name",
            "v": ["move_to"],
            "hex": pack("move_to").hex(),
        },
        {
            "name": "PackedStringArray",
            "kind": "packed_strings",
            "v": ["a", "日本"],
            "hex": pack(["a", "日本"]).hex(),
        },
    ]
    return {"encode": encode, "decode_only": decode_only, "errors": errors, "godot": godot}


def _lib_rejects(raw: bytes) -> bool:
    try:
        msgpack.unpackb(raw, raw=False, strict_map_key=False, ext_hook=_no_ext)
    except Exception:  # noqa: BLE001 - any library refusal counts
        return True
    return False


def _no_ext(code: int, data: bytes) -> Any:
    raise ValueError("ext")


def _describe(value: Any) -> str:
    depth = 0
    inner = value
    while isinstance(inner, list) and len(inner) == 1 and isinstance(inner[0], list):
        depth, inner = depth + 1, inner[0]
    if depth >= 4:
        return f"arrays nested {depth + 1} deep"
    if isinstance(value, str) and not value.isascii():
        return f"str of {len(value)} chars, {len(value.encode())} UTF-8 bytes"
    if isinstance(value, (str, bytes, list, dict)) and len(value) > 20:
        return f"{type(value).__name__} of length {len(value)}"
    if isinstance(value, float):
        return f"float {value!r}"
    return f"{type(value).__name__} {value!r}"


# --------------------------------------------------------------------------- ZMTP on the wire


def greeting(mechanism: str, as_server: bool) -> bytes:
    """The ZMTP 3.1 greeting as the spec writes it (checked against libzmq below)."""
    return (
        b"\xff"
        + b"\x00" * 8
        + b"\x7f"
        + b"\x03\x01"
        + mechanism.encode().ljust(20, b"\x00")
        + (b"\x01" if as_server else b"\x00")
        + b"\x00" * 31
    )


def command(name: str, data: bytes = b"") -> bytes:
    body = bytes([len(name)]) + name.encode() + data
    return frame(body, command=True)


def frame(body: bytes, more: bool = False, command: bool = False) -> bytes:
    flags = (1 if more else 0) | (4 if command else 0)
    if len(body) > 255:
        return bytes([flags | 2]) + struct.pack(">Q", len(body)) + body
    return bytes([flags, len(body)]) + body


class Raw:
    """A raw TCP endpoint that records exactly what libzmq sends."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.settimeout(TIMEOUT_S)
        self.buf = b""

    def recv_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"peer closed with {len(self.buf)}/{n} bytes")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_idle(self, wait_s: float = 0.3) -> bytes:
        """Everything the peer sends before it goes quiet for ``wait_s``."""
        self.sock.settimeout(wait_s)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self.buf += chunk
        except TimeoutError:
            pass
        finally:
            self.sock.settimeout(TIMEOUT_S)
        out, self.buf = self.buf, b""
        return out

    def recv_frame(self) -> bytes:
        head = self.recv_exact(2)
        if head[0] & 2:
            rest = self.recv_exact(7)
            size = struct.unpack(">Q", head[1:] + rest)[0]
            return head + rest + self.recv_exact(size)
        return head + self.recv_exact(head[1])

    def recv_frames(self, count: int) -> bytes:
        return b"".join(self.recv_frame() for _ in range(count))

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.sock.close()


def _raw_connect(port: int) -> Raw:
    return Raw(socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S))


def _poll_recv(sock: zmq.Socket) -> list[bytes]:
    assert sock.poll(int(TIMEOUT_S * 1000)), "libzmq socket received nothing"
    return sock.recv_multipart()


def router_side(ctx: zmq.Context) -> dict[str, Any]:
    """A raw client against real ROUTER sockets: what a ROUTER sends a DEALER."""
    out: dict[str, Any] = {}

    # NULL mechanism, with heartbeats so libzmq sends PING.
    router = ctx.socket(zmq.ROUTER)
    router.linger = 0
    router.setsockopt(zmq.HEARTBEAT_IVL, 200)
    router.setsockopt(zmq.HEARTBEAT_TIMEOUT, 5000)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    raw = _raw_connect(port)
    first = raw.recv_idle()
    # libzmq sends only its 10-byte signature until it has read ours.
    assert len(first) == 10 and first[0] == 0xFF and first[9] == 0x7F, first
    raw.send(greeting("NULL", False))
    rest = raw.recv_exact(64 - len(first))
    ready = raw.recv_frame()
    out["null"] = {
        "greeting": (first + rest).hex(),
        "sent_before_our_greeting": len(first),
        "ready": ready.hex(),
    }
    raw.send(command("READY", props({"Socket-Type": b"DEALER", "Identity": b""})))
    hello = pack({"type": "hello", "id": 1, "v": 1, "client": "godot"})
    raw.send(frame(hello))
    identity, payload = _poll_recv(router)
    assert payload == hello
    welcome = pack({"type": "welcome", "id": 1, "v": 1, "server": "agent-arena"})
    router.send_multipart([identity, welcome])
    out["null"]["reply"] = {"frames": [welcome.hex()], "hex": raw.recv_frame().hex()}
    parts = [b"part-one", b"y" * 300, b""]
    router.send_multipart([identity, *parts])
    out["null"]["multipart"] = {
        "frames": [p.hex() for p in parts],
        "hex": raw.recv_frames(len(parts)).hex(),
    }
    # The short/long frame boundary as libzmq writes it: 255 bytes short, 256 bytes long form.
    for size in (255, 256):
        body = bytes([size & 0xFF]) * size
        router.send_multipart([identity, body])
        out["null"][f"frame_{size}"] = {"frames": [body.hex()], "hex": raw.recv_frame().hex()}
    ping = raw.recv_frame()
    assert ping[2:7] == b"\x04PING", ping
    out["null"]["ping"] = ping.hex()
    raw.close()
    router.close()

    # PLAIN mechanism through a real ZAP authenticator.
    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_plain(domain="*", passwords={USERNAME: PASSWORD})
    try:
        router = ctx.socket(zmq.ROUTER)
        router.linger = 0
        router.plain_server = True
        port = router.bind_to_random_port("tcp://127.0.0.1")

        raw = _raw_connect(port)
        first = raw.recv_idle()
        raw.send(greeting("PLAIN", False))
        rest = raw.recv_exact(64 - len(first))
        raw.send(command("HELLO", plain_hello(USERNAME, PASSWORD)))
        welcome_cmd = raw.recv_frame()
        raw.send(command("INITIATE", props({"Socket-Type": b"DEALER", "Identity": IDENTITY})))
        ready = raw.recv_frame()
        raw.send(frame(hello))
        identity, payload = _poll_recv(router)
        assert identity == IDENTITY and payload == hello
        out["plain"] = {
            "greeting": (first + rest).hex(),
            "sent_before_our_greeting": len(first),
            "welcome": welcome_cmd.hex(),
            "ready": ready.hex(),
        }
        raw.close()

        raw = _raw_connect(port)
        raw.recv_idle()
        raw.send(greeting("PLAIN", False))
        raw.recv_exact(64 - len(first))
        raw.send(command("HELLO", plain_hello(USERNAME, WRONG_PASSWORD)))
        error = raw.recv_frame()
        # libzmq 4.3 writes this ERROR with a damaged name prefix (0x5E "RROR" instead of
        # 0x05 "ERROR"): the client has to recognise both forms.
        assert error[2:8] in (b"\x05ERROR", b"^RROR\x03"), error
        out["plain"]["error"] = error.hex()
        raw.close()
        router.close()
    finally:
        auth.stop()
    return out


def open_dealer(
    ctx: zmq.Context,
    listener: socket.socket,
    mechanism: str,
    recorded: dict[str, Any],
    options: dict[str, Any],
) -> tuple[zmq.Socket, Raw, bytes, bytes]:
    """Connect a real DEALER to our raw listener and answer its greeting with the ROUTER's
    recorded one: the socket, the raw connection, what the DEALER sent before seeing the
    peer's greeting, and its whole 64-byte greeting."""
    dealer = ctx.socket(zmq.DEALER)
    dealer.linger = 0
    for key, value in options.items():
        setattr(dealer, key, value)
    dealer.connect(f"tcp://127.0.0.1:{listener.getsockname()[1]}")
    conn, _ = listener.accept()
    raw = Raw(conn)
    first = raw.recv_idle()
    raw.send(bytes.fromhex(recorded["greeting"]))
    own = first + raw.recv_exact(64 - len(first))
    assert own[10:] == greeting(mechanism, False)[10:], own
    return dealer, raw, first, own


def dealer_side(ctx: zmq.Context, router: dict[str, Any]) -> dict[str, Any]:
    """Real DEALER sockets against a raw server: what a DEALER sends (our reference)."""
    out: dict[str, Any] = {}
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        for name, identity in [("null", b""), ("null_identity", IDENTITY)]:
            opts = {"routing_id": identity} if identity else {}
            dealer, raw, first, own = open_dealer(ctx, listener, "NULL", router["null"], opts)
            ready = raw.recv_frame()
            raw.send(bytes.fromhex(router["null"]["ready"]))
            entry: dict[str, Any] = {
                "greeting": own.hex(),
                "sent_before_peer_greeting": len(first),
                "identity": identity.hex(),
                "ready": ready.hex(),
            }
            if not identity:
                entry["messages"] = []
                for parts in (
                    [pack({"type": "ping", "id": 2})],
                    [b"a" * 255],
                    [b"b" * 256],
                    [b"one", b"", b"three" * 100],
                ):
                    dealer.send_multipart(parts)
                    entry["messages"].append(
                        {
                            "frames": [p.hex() for p in parts],
                            "hex": raw.recv_frames(len(parts)).hex(),
                        }
                    )
                # A ROUTER's PING (as recorded) and a PING with context, and libzmq's PONGs.
                entry["pongs"] = []
                for ping in (
                    bytes.fromhex(router["null"]["ping"]),
                    command("PING", b"\x00\x64" + b"ctx-0123456789ab"),
                ):
                    raw.send(ping)
                    entry["pongs"].append({"ping": ping.hex(), "pong": raw.recv_frame().hex()})
            out[name] = entry
            raw.close()
            dealer.close()

        opts = {"plain_username": USERNAME.encode(), "plain_password": PASSWORD.encode()}
        dealer, raw, _, own = open_dealer(ctx, listener, "PLAIN", router["plain"], opts)
        hello_cmd = raw.recv_frame()
        raw.send(bytes.fromhex(router["plain"]["welcome"]))
        initiate = raw.recv_frame()
        raw.send(bytes.fromhex(router["plain"]["ready"]))
        dealer.send(b"after-plain")
        out["plain"] = {
            "greeting": own.hex(),
            "username": USERNAME,
            "password": PASSWORD,
            "hello": hello_cmd.hex(),
            "initiate": initiate.hex(),
            "first_message": raw.recv_frame().hex(),
        }
        raw.close()
        dealer.close()
    finally:
        listener.close()
    return out


def props(values: dict[str, bytes]) -> bytes:
    return b"".join(
        bytes([len(k)]) + k.encode() + struct.pack(">I", len(v)) + v for k, v in values.items()
    )


def plain_hello(user: str, password: str) -> bytes:
    u, p = user.encode(), password.encode()
    return bytes([len(u)]) + u + bytes([len(p)]) + p


def zmtp_vectors() -> dict[str, Any]:
    ctx = zmq.Context()
    try:
        router = router_side(ctx)
        dealer = dealer_side(ctx, router)
    finally:
        ctx.destroy(linger=0)
    return {
        # The greetings we send (zero padding, as the spec writes it), accepted by libzmq above.
        "spec_greeting_null": greeting("NULL", False).hex(),
        "spec_greeting_plain": greeting("PLAIN", False).hex(),
        "router": router,
        "dealer": dealer,
        "wrong_password": WRONG_PASSWORD,
        "identity": IDENTITY.decode(),
    }


def generate() -> dict[str, Any]:
    return {
        "about": "generated by tests/godot/make_vectors.py from libzmq (pyzmq) and msgpack; "
        "do not edit by hand",
        "msgpack": msgpack_vectors(),
        "zmtp": zmtp_vectors(),
    }


def render(vectors: dict[str, Any]) -> str:
    return json.dumps(vectors, indent=1, ensure_ascii=False, sort_keys=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed file drifted")
    parser.add_argument("--out", type=Path, default=VECTORS_PATH)
    args = parser.parse_args()
    started = time.monotonic()
    text = render(generate())
    if args.check:
        if not args.out.exists() or args.out.read_text(encoding="utf-8") != text:
            print(f"{args.out} drifted: run {Path(__file__).name} to regenerate", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date")
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(text)} chars) in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
