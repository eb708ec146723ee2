"""The committed GDScript test vectors must match what libzmq and msgpack produce today."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

HERE = Path(__file__).parents[1] / "godot"


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_vectors", HERE / "make_vectors.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_committed_vectors_match_generator() -> None:
    generator = _load_generator()
    fresh = generator.render(generator.generate())
    committed = (HERE / "vectors.json").read_text(encoding="utf-8")
    assert json.loads(committed) == json.loads(fresh), (
        "tests/godot/vectors.json drifted: run .venv/bin/python tests/godot/make_vectors.py"
    )
    assert committed == fresh


def test_vectors_cover_every_boundary() -> None:
    vectors = json.loads((HERE / "vectors.json").read_text(encoding="utf-8"))
    ints = {e["value"]["v"] for e in vectors["msgpack"]["encode"] if e["value"]["t"] == "int"}
    for bound in (
        127,
        128,
        255,
        256,
        65535,
        65536,
        2**31,
        2**32,
        -32,
        -33,
        -128,
        -129,
        -32768,
        -32769,
        2**63 - 1,
        -(2**63),
    ):
        assert str(bound) in ints
    zmtp = vectors["zmtp"]
    assert zmtp["router"]["null"]["sent_before_our_greeting"] == 10
    assert zmtp["router"]["plain"]["error"]
    assert zmtp["dealer"]["null"]["pongs"]


def test_vectors_cover_the_addon_edges() -> None:
    """The boundaries issue 13 listed are in the file the engine tests read."""
    vectors = json.loads((HERE / "vectors.json").read_text(encoding="utf-8"))
    mp = vectors["msgpack"]
    names = {e["name"] for section in ("encode", "decode_only", "errors") for e in mp[section]}
    for name in (
        "float nan",
        "float inf",
        "float -inf",
        "float -0.0",
        "float32 NaN",
        "float32 inf",
        "float32 -inf",
        "float32 -0.0",
        "str of 16 chars, 31 UTF-8 bytes",
        "str of 85 chars, 255 UTF-8 bytes",
        "str of 86 chars, 256 UTF-8 bytes",
        "str of 21845 chars, 65535 UTF-8 bytes",
        "str of 21846 chars, 65536 UTF-8 bytes",
        "list of length 65535",
        "dict of length 65535",
        "fixext1",
        "fixext2",
        "fixext4",
        "fixext8",
        "fixext16",
        "ext8",
        "ext16",
        "ext32",
        "str with a NUL byte",
        "str with an invalid UTF-8 lead byte",
        "nesting one level too deep",
        "arrays nested 33 deep",
    ):
        assert name in names, name
    router = vectors["zmtp"]["router"]["null"]
    assert bytes.fromhex(router["frame_255"]["hex"])[:2] == b"\x00\xff"
    assert bytes.fromhex(router["frame_256"]["hex"])[0] == 0x02  # long form


def test_nesting_limit_agrees_with_the_server() -> None:
    """msgpack.gd refuses exactly what the server refuses (protocol.MAX_DEPTH)."""
    import re

    from agent_arena import protocol

    source = (HERE.parent.parent / "godot_plugin/addons/agent_arena/msgpack.gd").read_text()
    match = re.search(r"^const MAX_DEPTH: int = (\d+)$", source, re.MULTILINE)
    assert match is not None
    assert int(match.group(1)) == protocol.MAX_DEPTH == _load_generator().MAX_DEPTH
