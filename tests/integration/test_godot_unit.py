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

from support.godot_harness import godot_web

pytestmark = [pytest.mark.godot, pytest.mark.usefixtures("godot_runtime")]

ROOT = Path(__file__).resolve().parents[1]  # tests/
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


@pytest.fixture(scope="module")
def unit_run(godot_runtime: Path, tmp_path_factory: pytest.TempPathFactory) -> godot_web.RunResult:
    """One run of every GDScript suite in the engine (the tests below read its output)."""
    vectors = (ROOT / "godot" / "vectors.json").read_bytes()
    template = ROOT.parent / "godot_plugin/addons/agent_arena/script_templates/ArenaAgent"
    extra = {
        "res://vectors.json": vectors,
        "res://templates/custom_agent.gd.txt": (template / "custom_agent.gd").read_bytes(),
        "res://fuzz.json": json.dumps(fuzz_cases()).encode(),
        # the demo's NPC, for test_sensors.gd (it extends the addon's ArenaAgent by path)
        "res://demo/demo_agent.gd": (ROOT.parent / "godot_plugin/demo/demo_agent.gd").read_bytes(),
    }
    return godot_web.run_project(UNIT, tmp_path_factory.mktemp("unit") / "site", extra)


def test_gdscript_unit_suites_pass_in_engine(unit_run: godot_web.RunResult) -> None:
    result = unit_run
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
    # Every suite ran (a suite that fails to compile would leave its checks out silently).
    for suite in ("agent.observation", "masks.hearing", "sensors.earshot", "sensors.demo_agent"):
        assert f"SUITE {suite}" in result.printed, suite
    # The bounded queue warns once when it starts dropping observations.
    assert any("dropped" in w for w in result.warnings), output


def _mask_frames(result: godot_web.RunResult) -> dict[str, bytes]:
    """The observe frames tests/godot/unit/test_masks.gd printed, by label."""
    frames = {}
    for line in result.printed:
        if line.startswith("MASK FRAME "):
            label, hex_frame = line[len("MASK FRAME ") :].split(" ")
            frames[label] = bytes.fromhex(hex_frame)
    return frames


# What ArenaAgent sends for each scene state of test_masks.gd (the engine checks it too; here the
# bytes are decoded by msgpack-python and applied by the server's own code).
IN_REACH = {"item_id": ["apple-1", "apple-2"]}
EXPECTED_MASKS: dict[str, dict[str, Any] | None] = {
    "items_in_reach": {"pick_up": IN_REACH, "flee": False, "say": False},
    "nothing_in_reach": {"pick_up": False, "flee": False, "say": False},
    "threat": {"pick_up": IN_REACH, "flee": {"threat_id": ["wolf-1"]}, "say": False},
    "threat_gone": {"pick_up": IN_REACH, "flee": False, "say": False},
    "someone_near": {"pick_up": IN_REACH, "flee": False},
    "heard": {"pick_up": IN_REACH, "flee": False},
    "alone_again": {"pick_up": IN_REACH, "flee": False, "say": False},
    "player_spoke": {"pick_up": IN_REACH, "flee": False},
    "allowed": {"pick_up": IN_REACH},
    "nothing_possible": None,
    "registered": {"say": False},
    "override": {"pick_up": {"item_id": ["apple-2"]}, "flee": False, "say": True},
}


def test_observe_frames_carry_the_mask_the_server_accepts(unit_run: godot_web.RunResult) -> None:
    """The addon's observe frames, decoded independently of msgpack.gd, carry the masks above as
    msgpack booleans, lists and maps; the server's decoder takes them and its apply_mask narrows
    the default tools with them (values fit the schemas, only registered tools are named)."""
    import yaml

    from agent_arena import protocol
    from agent_arena.tools import MaskError, ToolRegistry, apply_mask

    frames = _mask_frames(unit_run)
    assert set(frames) == set(EXPECTED_MASKS), "\n".join(unit_run.lines)
    game = yaml.safe_load((ROOT.parent / "configs/tools/game.yaml").read_text())
    registry = ToolRegistry([{"name": name, **spec} for name, spec in game.items()])
    for label, expected in EXPECTED_MASKS.items():
        raw = msgpack.unpackb(frames[label], raw=False)
        assert raw["type"] == "observe" and raw["agent_id"] in {"Npc", "Custom"}, raw
        # as JSON text: msgpack true/false, not 0/1 (which == would take for False/True)
        sent = json.dumps(raw.get("mask"), sort_keys=True)
        assert sent == json.dumps(expected, sort_keys=True), (label, sent)
        message = protocol.decode(frames[label])
        assert isinstance(message, protocol.Observe)
        assert message.mask == expected, label
        possible = apply_mask(registry.select(message.tools), message.mask)
        names = [spec.name for spec in possible]
        for tool, rule in (expected or {}).items():
            assert (tool in names) == (rule is not False), (label, tool, names)
            if isinstance(rule, dict):
                spec = next(s for s in possible if s.name == tool)
                for arg, values in rule.items():
                    assert spec.parameters["properties"][arg]["enum"] == values, (label, tool)
    # A profile that allows fewer tools (scout: move_to, say, idle) and no allowed list: the
    # server either takes the mask or refuses it with bad_message and a message that starts with
    # "mask", which is what ArenaAgent reads to ask again without it.
    scout = registry.select(["move_to", "say", "idle"])
    for label in ("items_in_reach", "threat"):
        mask = msgpack.unpackb(frames[label], raw=False)["mask"]
        try:
            apply_mask(scout, mask)
        except MaskError as exc:
            assert exc.code == "bad_message" and exc.message.startswith("mask"), exc.message
            reply = msgpack.unpackb(protocol.pack(protocol.error(7, exc.code, exc.message)))
            assert reply["type"] == "error" and reply["id"] == 7, reply
    heard = msgpack.unpackb(frames["heard"], raw=False)["observation"]["heard"]
    assert heard == [{"from": "Friend", "text": "hello Npc"}]
    threat = msgpack.unpackb(frames["threat"], raw=False)["observation"]["threats"]
    assert [t["id"] for t in threat] == ["wolf-1"]
    assert msgpack.unpackb(frames["allowed"], raw=False)["tools"] == ["move_to", "pick_up", "idle"]
