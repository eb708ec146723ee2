"""Benchmark: how fast the addon parses and dispatches a burst of frames in the Godot engine.

Runs tests/godot/bench (zmtp.gd fed N action frames in one read; the client dispatching the same
burst frame by frame) in Godot's official 4.6 web runtime in headless chromium, and prints a
table. Numbers go to docs/godot.md; no test asserts on them.

    python3 tools/godot_web/bench_parse.py          # needs tools/godot_web/setup.sh once
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import godot_web  # noqa: E402

REPO = HERE.parent.parent
BENCH = REPO / "tests" / "godot" / "bench"
FAKE = REPO / "tests" / "godot" / "unit" / "fake_transport.gd"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        extra = {"res://fake_transport.gd": FAKE.read_bytes()}
        result = godot_web.run_project(BENCH, Path(tmp) / "site", extra, timeout_s=900)
    rows = [json.loads(line[6:]) for line in result.printed if line.startswith("BENCH ")]
    if result.exit_code != 0 or not rows:
        print("\n".join(result.lines))
        return 1
    print("| frames in one read | zmtp parse ms | frames/s | client: longest frame ms | frames |")
    print("|---:|---:|---:|---:|---:|")
    parse = {r["frames"]: r for r in rows if r["case"] == "zmtp_parse"}
    for r in rows:
        if r["case"] != "client_dispatch":
            continue
        p = parse[r["frames"]]
        print(
            f"| {r['frames']} | {p['ms']:.0f} | {p['frames_per_s']:.0f} | "
            f"{r['longest_frame_ms']:.1f} | {r['engine_frames']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
