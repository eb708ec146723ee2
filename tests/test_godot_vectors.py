"""The committed GDScript test vectors must match what libzmq and msgpack produce today."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

HERE = Path(__file__).parent / "godot"


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
