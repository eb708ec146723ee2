"""The GDScript's shape, read as text (fast; no engine): perception lives in sensor nodes and the
demo scene carries no end-to-end test switches.

Perception (items in reach, threats, earshot) was written inline in arena_agent.gd, and the
earshot check twice more (the agent's listeners, demo_agent.gd's wave targets). Now each is one
ArenaSensor under godot_plugin/addons/agent_arena/sensors/ and the agents ask their sensors; the
switches only tests used (e2e, expect_refused, shot, pause_s) live in tests/godot/demo_probe/.
What the sensors perceive is checked in the engine by tests/godot/unit/test_sensors.gd.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ADDON = ROOT / "godot_plugin" / "addons" / "agent_arena"
SENSORS = ADDON / "sensors"
DEMO = ROOT / "godot_plugin" / "demo"
PROBE = ROOT / "tests" / "godot" / "demo_probe"
AGENTS = (ADDON / "arena_agent.gd", DEMO / "demo_agent.gd")


def _gdscript_files() -> list[Path]:
    files = sorted(ADDON.rglob("*.gd")) + sorted(DEMO.glob("*.gd"))
    return [f for f in files if "script_templates" not in f.parts]


def _code(path: Path) -> str:
    """The script without its comments and doc comments (which may name what moved)."""
    return "\n".join(line.split("#", 1)[0] for line in path.read_text().splitlines())


def test_each_sensor_is_a_named_node_class() -> None:
    expected = {
        "arena_sensor.gd": ("ArenaSensor", "Node"),
        "item_sensor.gd": ("ItemSensor", "ArenaSensor"),
        "threat_sensor.gd": ("ThreatSensor", "ArenaSensor"),
        "earshot_sensor.gd": ("EarshotSensor", "ArenaSensor"),
    }
    for name, (class_name, base) in expected.items():
        text = (SENSORS / name).read_text()
        assert re.search(rf"^class_name {class_name}$", text, re.M), name
        assert re.search(rf"^extends {base}$", text, re.M), name
        assert "@export" in text or name == "arena_sensor.gd", f"{name}: no exported parameters"


def test_the_earshot_check_is_written_once() -> None:
    """`hearing_radius` (the earshot distance) is read in one file only: the EarshotSensor."""
    users = [
        f.relative_to(ROOT).as_posix() for f in _gdscript_files() if "hearing_radius" in _code(f)
    ]
    assert users == ["godot_plugin/addons/agent_arena/sensors/earshot_sensor.gd"], users


def test_agents_measure_no_distances_of_their_own() -> None:
    """arena_agent.gd and demo_agent.gd ask their sensors what is near; they compute no
    distance to another node (reach, threats, earshot) themselves."""
    for path in AGENTS:
        code = _code(path)
        for word in ("distance_to", "hearing_radius", "perception_radius", "get_nodes_in_group"):
            assert word not in code, f"{path.name} still uses {word}"


def test_the_demo_composes_its_sensors() -> None:
    scene = (DEMO / "main.tscn").read_text()
    for script in ("item_sensor.gd", "earshot_sensor.gd"):
        assert f'path="res://addons/agent_arena/sensors/{script}"' in scene, script
    # each NPC's ArenaAgent has the sensors as children
    for npc in ("Ada", "Bo"):
        assert f'parent="{npc}/ArenaAgent"' in scene, npc


def test_the_demo_scene_has_no_end_to_end_switches() -> None:
    """The demo is a game: the switches only tests use are the probe's (tests/godot/demo_probe)."""
    code = _code(DEMO / "main.gd")
    for switch in ("e2e", "expect_refused", "shot", "pause_s", "E2E", "DEMO SHOT"):
        assert switch not in code, f"main.gd still knows the test switch {switch!r}"
    probe = "\n".join(p.read_text() for p in sorted(PROBE.glob("*.gd")))
    for switch in ("e2e", "expect_refused", "shot", "pause_s", "E2E OK", "DEMO SHOT"):
        assert switch in probe, f"the probe lacks {switch!r}"
