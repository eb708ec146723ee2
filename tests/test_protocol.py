import msgpack
import pytest

from agent_arena import protocol
from agent_arena.errors import ProtocolError


def pack(obj) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


GOOD = [
    ({"type": "hello", "id": 1, "v": 1, "client": "g"}, protocol.Hello),
    ({"type": "register_tools", "id": "r", "tools": []}, protocol.RegisterTools),
    ({"type": "observe", "id": 2, "agent_id": "a", "tick": 0, "observation": {}},
     protocol.Observe),
    ({"type": "observe", "id": 3, "agent_id": "a", "tick": 5, "observation": {"hp": 1},
      "tools": ["idle"], "deadline_ms": 100, "profile": "scout"}, protocol.Observe),
    ({"type": "tool_result", "id": 4, "agent_id": "a", "tick": 5, "tool": "idle", "ok": True,
      "result": {"x": 1}}, protocol.ToolResult),
    ({"type": "reset", "id": 5}, protocol.Reset),
    ({"type": "reset", "id": 6, "agent_id": "a"}, protocol.Reset),
    ({"type": "ping", "id": 7, "extra": "ignored"}, protocol.Ping),
]


@pytest.mark.parametrize("msg,cls", GOOD)
def test_decode_good(msg, cls):
    out = protocol.decode(pack(msg))
    assert isinstance(out, cls)
    assert out.id == msg["id"]


BAD = [
    (b"\xc1", "bad_frame", None),  # never-used msgpack byte
    (pack([1, 2]), "bad_message", None),
    (pack({"id": 1}), "bad_message", 1),
    (pack({"type": "fly", "id": 9}), "unknown_type", 9),
    (pack({"type": "ping"}), "bad_message", None),
    (pack({"type": "observe", "id": 1, "agent_id": "a", "tick": "x", "observation": {}}),
     "bad_message", 1),
    (pack({"type": "observe", "id": 1, "agent_id": 5, "tick": 1, "observation": {}}),
     "bad_message", 1),
    (pack({"type": "observe", "id": 1, "agent_id": "a", "tick": 1}), "bad_message", 1),
    (pack({"type": "observe", "id": 1, "agent_id": "a", "tick": 1, "observation": {},
           "deadline_ms": 0}), "bad_message", 1),
    (pack({"type": "tool_result", "id": 2, "agent_id": "a", "tick": 1, "tool": "x"}),
     "bad_message", 2),
    (pack({"type": "hello", "id": 3}), "bad_message", 3),
    (pack({"type": "ping", "id": 1.5}), "bad_message", None),
]


@pytest.mark.parametrize("frame,code,rid", BAD)
def test_decode_bad(frame, code, rid):
    with pytest.raises(ProtocolError) as err:
        protocol.decode(frame)
    assert err.value.code == code
    assert err.value.request_id == rid
    assert err.value.message  # says what is wrong


def test_error_names_the_field():
    frame = pack({"type": "observe", "id": 1, "agent_id": "a", "tick": "x", "observation": {}})
    with pytest.raises(ProtocolError, match=r"observe\.tick"):
        protocol.decode(frame)


def test_non_str_keys_in_observation_become_str():
    out = protocol.decode(pack({"type": "observe", "id": 1, "agent_id": "a", "tick": 1,
                                "observation": {1: "one", "nested": {2: [3]}}}))
    assert out.observation == {"1": "one", "nested": {"2": [3]}}


def test_pack_roundtrip_reply():
    reply = protocol.error(3, "unknown_tool", "no")
    assert msgpack.unpackb(protocol.pack(reply)) == reply


def nested(depth: int):
    obj = {"leaf": 1}
    for _ in range(depth):
        obj = {"x": obj}
    return obj


def test_nesting_limit_is_a_clear_error():
    ok = {"type": "observe", "id": 1, "agent_id": "a", "tick": 1, "observation": nested(25)}
    assert protocol.decode(pack(ok)).observation == nested(25)
    deep = {**ok, "observation": nested(40)}
    with pytest.raises(ProtocolError, match="nested more than 32 levels") as err:
        protocol.decode(pack(deep))
    assert err.value.code == "bad_message" and err.value.request_id == 1
