"""GDScript unit tests (msgpack codec, ZMTP state machine, client) in the real Godot 4.6 engine.

The engine is Godot's official web export template, run in headless chromium; see
tools/godot_web/godot_web.py. ``tools/godot_web/setup.sh`` installs what it needs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from godot import harness
from godot.harness import godot_web

pytestmark = [pytest.mark.godot, pytest.mark.usefixtures("godot_runtime")]
godot_runtime = harness.godot_runtime  # the fixture: installs the runtime on first use

ROOT = Path(__file__).resolve().parent
UNIT = ROOT / "godot" / "unit"


# What a GDScript value can hold: int64, float64, str (no NUL: Godot strings end there), bytes.
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)))
    | st.binary(max_size=300)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=20)
        | st.dictionaries(
            st.text(max_size=10).filter(lambda k: "\x00" not in k), inner, max_size=20
        )
    ),
    max_leaves=60,
)


def fuzz_cases(count: int = 300) -> list[str]:
    """Values drawn by hypothesis (derandomized: the same cases every run), packed by msgpack."""
    cases: list[str] = []

    @settings(max_examples=count, derandomize=True, database=None, deadline=None)
    @given(_VALUES)
    def draw(value: Any) -> None:
        cases.append(msgpack.packb(value, use_bin_type=True).hex())

    draw()
    return cases


def test_gdscript_unit_suites_pass_in_engine(tmp_path: Path) -> None:
    vectors = (ROOT / "godot" / "vectors.json").read_bytes()
    template = ROOT.parent / "godot_plugin/addons/agent_arena/script_templates/ArenaAgent"
    extra = {
        "res://vectors.json": vectors,
        "res://templates/custom_agent.gd.txt": (template / "custom_agent.gd").read_bytes(),
        "res://fuzz.json": json.dumps(fuzz_cases()).encode(),
    }
    result = godot_web.run_project(UNIT, tmp_path / "site", extra)
    output = "\n".join(result.lines)
    assert "Godot Engine v4.6" in output, output
    summary = [line for line in result.printed if line.startswith("RESULT ")]
    assert summary, f"the test scene did not finish:\n{output}"
    match = re.match(r"RESULT passed=(\d+) failed=(\d+)", summary[-1])
    assert match is not None
    passed, failed = int(match.group(1)), int(match.group(2))
    assert result.errors == [], output
    assert failed == 0 and result.exit_code == 0, output
    assert passed > 300, output
    # The bounded queue warns once when it starts dropping observations.
    assert any("dropped" in w for w in result.warnings), output
