"""GDScript unit tests (msgpack codec, ZMTP state machine, client) in the real Godot 4.6 engine.

The engine is Godot's official web export template, run in headless chromium; see
tools/godot_web/godot_web.py. ``tools/godot_web/setup.sh`` installs what it needs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from godot import harness
from godot.harness import godot_web

pytestmark = [pytest.mark.godot, pytest.mark.usefixtures("godot_runtime")]
godot_runtime = harness.godot_runtime  # the fixture: installs the runtime on first use

ROOT = Path(__file__).resolve().parent
UNIT = ROOT / "godot" / "unit"


def test_gdscript_unit_suites_pass_in_engine(tmp_path: Path) -> None:
    vectors = (ROOT / "godot" / "vectors.json").read_bytes()
    template = ROOT.parent / "godot_plugin/addons/agent_arena/script_templates/ArenaAgent"
    extra = {
        "res://vectors.json": vectors,
        "res://templates/custom_agent.gd.txt": (template / "custom_agent.gd").read_bytes(),
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
