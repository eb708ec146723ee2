"""Static checks run as tests so CI enforces them: ruff on Python, gdtoolkit on GDScript."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_gdscript_parses_lints_and_is_formatted():
    proc = subprocess.run([str(ROOT / "tools/godot_web/lint.sh")], capture_output=True, text=True,
                          env={"GDTOOLKIT_BIN": str(BIN), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_python_passes_ruff():
    proc = subprocess.run([str(BIN / "ruff"), "check", "python", "tests", "bench", "scripts",
                           "tools/godot_web", "run_vllm_server.py"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
