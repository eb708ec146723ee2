"""The demo page (`make demo-web`) in headless Chromium: live decisions, drawn, photographed.

tools/godot_web/demo_web.py builds the demo for Godot's 4.6 web runtime, starts `agent-arena
serve` with the embedded model and its WebSocket relay (PLAIN) and serves the page; this test
opens the page, packed with the tests' probe (tests/godot/demo_probe), with ``shot=4``. Once four
decisions arrived, an NPC walked and both overlays show a decision, the probe prints
"DEMO SHOT {state}" and the runner saves a screenshot. The test
checks, from the engine's own output, that NPCs moved and that the overlay shows the decisions
the server really sent (tool, latency, status), and, from the picture, that the scene was drawn
with both NPCs and the overlay text. The screenshot is kept as a test artifact
($AGENT_ARENA_ARTIFACTS, default ~/.cache/agent-arena/artifacts/demo-web.png).

Nothing races the clock: the shot waits for events; the timeouts only guard against a hang.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import struct
import sys
import zlib
from pathlib import Path

import pytest

from support.godot_harness import demo_probe_files, free_port, godot_web

pytestmark = [pytest.mark.godot, pytest.mark.llama, pytest.mark.usefixtures("godot_runtime")]

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "godot_web"))

import demo_web  # noqa: E402

RUN_GUARD_S = 1500  # hang guard only
# pytest-timeout's project default (600 s) would race a slow machine: model load + decisions.
pytestmark.append(pytest.mark.timeout(demo_web.START_TIMEOUT_S + RUN_GUARD_S + 120))
ARTIFACTS = Path(os.environ.get("AGENT_ARENA_ARTIFACTS", godot_web.CACHE / "artifacts"))


def read_png_rgb(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB rows of an 8-bit, non-interlaced RGB/RGBA PNG (what Chromium
    writes), with the standard library only."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert header is not None
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, header
    channels = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    i = 0
    for _ in range(height):
        kind = raw[i]
        line = bytearray(raw[i + 1 : i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up = previous[x]
            corner = previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                line[x] = (line[x] + pred) & 0xFF
        previous = line
        rgb = bytes(line) if channels == 3 else bytes(b for j, b in enumerate(line) if j % 4 != 3)
        rows.append(rgb)
    return width, height, rows


def test_demo_page_shows_live_decisions(tmp_path: Path) -> None:
    shot = tmp_path / "demo-web.png"
    demo = demo_web.DemoWeb(
        tmp_path / "site",
        http_port=free_port(),
        ws_port=free_port(),
        zmq_port=free_port(),
        thought=True,
        overrides=["server.heartbeat_timeout_ms=60000"],
        query={"shot": "4"},
        log_path=tmp_path / "server.log",
        extra=demo_probe_files(),  # the probe prints "DEMO SHOT" (the demo does not)
    )
    with demo:
        result = godot_web.run_headless(demo.url, timeout_s=RUN_GUARD_S, screenshot=shot)
    output = "\n".join(result.lines)
    assert result.errors == [], output
    assert result.exit_code == 0 and shot.exists(), output
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / "demo-web.png")

    state = json.loads(next(x for x in result.printed if x.startswith("DEMO SHOT "))[10:])
    actions = [
        json.loads(x[len("E2E ACTION ") :]) for x in result.printed if x.startswith("E2E ACTION ")
    ]
    # Agents moved: the engine's own positions, not the server's word.
    assert max(state["moved"].values()) >= 0.5, state
    # The overlay shows real decisions: each NPC's label is its last action as the server sent it.
    assert set(state["overlays"]) == {"ada", "bo"}, state
    for agent_id, text in state["overlays"].items():
        mine = [a for a in actions if a["agent_id"] == agent_id]
        assert mine, (agent_id, actions)
        last = mine[-1]
        lines = text.split("\n")
        assert lines[0] == agent_id
        assert lines[1].startswith(last["call"]["tool"] + " "), (text, last)
        shown_ms = math.floor(last["latency_ms"] + 0.5)  # GDScript's roundi, not banker's
        assert lines[-1] == f"{shown_ms} ms  {last['status']}", (text, last)
        if last.get("thought"):
            assert any(line.startswith('"') for line in lines[2:-1]), (text, last)
    # The panel counts what arrived.
    decided = len(actions)
    match = re.search(r"decisions (\d+)", state["panel"])
    assert match is not None and int(match.group(1)) >= 4, state["panel"]
    assert int(match.group(1)) <= decided + state["statuses"].get("superseded", 0), state
    assert re.search(r"p50 latency \d+ ms", state["panel"]), state["panel"]
    assert "connected" in state["panel"], state["panel"]
    # The tool mix: one count per action the NPCs executed (superseded replies have none).
    mix = dict(re.findall(r"(move_to|pick_up|say|wave|idle) (\d+)", state["panel"]))
    assert set(mix) == {"move_to", "pick_up", "say", "wave", "idle"}, state["panel"]
    assert sum(map(int, mix.values())) == int(match.group(1)) - state["statuses"].get(
        "superseded", 0
    ), state

    # The picture: the scene was drawn (floor, both NPCs in their colours, light overlay text).
    width, height, rows = read_png_rgb(shot)
    assert (width, height) == (960, 540)
    reds = blues = whites = 0
    colours: set[tuple[int, int, int]] = set()
    for row in rows[::2]:
        for x in range(0, len(row), 6):
            r, g, b = row[x], row[x + 1], row[x + 2]
            colours.add((r >> 4, g >> 4, b >> 4))
            if r > 120 and r > 2 * g and r > 2 * b:
                reds += 1  # Ada (and the apples)
            elif b > 120 and b > 1.5 * r and b > 1.2 * g:
                blues += 1  # Bo
            elif r > 200 and g > 200 and b > 170:
                whites += 1  # overlay and panel text
    assert len(colours) > 40, f"a flat picture: {len(colours)} colours"
    assert reds > 20 and blues > 20 and whites > 20, (reds, blues, whites)
    print(f"\nscreenshot {ARTIFACTS / 'demo-web.png'}; state {state}")
