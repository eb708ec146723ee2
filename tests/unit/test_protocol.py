import msgpack
import pytest

from agent_arena import protocol
from agent_arena.errors import ProtocolError
from support.arena_sockets import pack

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


def ladder(depth: int, leaf=1):
    """``depth`` containers around ``leaf``, maps and lists taking turns."""
    obj = leaf
    for i in range(depth):
        obj = {"x": obj} if i % 2 else [obj]
    return obj


@pytest.mark.parametrize("depth", [31, 32, 33, 34])
@pytest.mark.parametrize("where", ["observation", "mask", "result"])
def test_nesting_limit_is_exact_in_every_checked_field(depth, where):
    """The observation is level 0: containers down to level 32 pass, one more is refused
    (the fast check and the copying walk draw the line at the same place)."""
    if where == "result":
        msg = {"type": "tool_result", "id": 1, "agent_id": "a", "tick": 1, "tool": "t",
               "ok": True, "result": {"r": ladder(depth - 1)}}
    else:
        msg = {"type": "observe", "id": 1, "agent_id": "a", "tick": 1,
               "observation": {"o": ladder(depth - 1)}}
        if where == "mask":
            msg["mask"] = {"t": {"a": ladder(depth - 1)}}
            msg["observation"] = {}
            depth += 1  # the mask's own values sit one level below its tool names
    if depth <= protocol.MAX_DEPTH + 1:
        protocol.decode(pack(msg))
    else:
        with pytest.raises(ProtocolError, match="nested more than 32 levels"):
            protocol.decode(pack(msg))


def test_non_str_keys_deep_down_become_str_and_the_rest_is_kept():
    deep = {"k": ladder(30, leaf={7: "seven"})}
    obs = {"keep": [1, {"a": 2}], "deep": deep, 3: None}
    out = protocol.decode(pack({"type": "observe", "id": 1, "agent_id": "a", "tick": 1,
                                "observation": obs})).observation
    assert out["keep"] == [1, {"a": 2}] and out["3"] is None
    node = out["deep"]["k"]
    for i in reversed(range(30)):
        node = node["x"] if i % 2 else node[0]
    assert node == {"7": "seven"}


def test_plain_observation_is_the_decoded_object_itself():
    obs = {"position": [1, 0, 2], "nearby": [{"id": "apple", "position": [4, 0, 2]}]}
    msg = protocol.decode(pack({"type": "observe", "id": 1, "agent_id": "a", "tick": 1,
                                "observation": obs}))
    assert msg.observation == obs
    assert protocol._is_plain(msg.observation)
    assert not protocol._is_plain({1: "x"}) and not protocol._is_plain([[{"a": {2: 1}}]])
