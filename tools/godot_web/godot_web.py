"""Run a Godot project in the official Godot 4.6 web runtime, headless, from Python.

Pieces (all standard library, plus the runtime that ``setup.sh`` puts in the cache):

- :func:`pack_pck` writes Godot's PCK format version 3 (the format the 4.6 web template loads);
- :func:`collect_project` gathers a project tree (text ``project.godot``, ``.tscn``, ``.gd``,
  data files) and the addon into ``res://`` paths, and writes the global script class cache so
  ``class_name`` types resolve as they do in an editor-exported game;
- :func:`build_site` writes ``index.html`` + ``index.pck`` next to the engine's ``index.js`` and
  ``index.wasm``; :class:`Site` serves it on loopback;
- :func:`run_headless` opens the page in chromium through ``run_page.cjs`` (playwright-core)
  and returns the engine's printed lines and exit code.

Command line, e.g. to show the demo to a person::

    python tools/godot_web/godot_web.py serve godot_plugin/demo --port 8060
    python tools/godot_web/godot_web.py run tests/godot/unit
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

try:
    from typing import Self
except ImportError:  # Python 3.10
    from typing_extensions import Self

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
ADDON = REPO / "godot_plugin" / "addons" / "agent_arena"
CACHE = Path(os.environ.get("AGENT_ARENA_CACHE", Path.home() / ".cache" / "agent-arena"))
WEB_CACHE = CACHE / "godot_web"
RUNTIME = WEB_CACHE / "runtime"
RUNTIME_FILES = (
    "index.js",
    "index.wasm",
    "index.audio.worklet.js",
    "index.audio.position.worklet.js",
)
PACKED_SUFFIXES = {".godot", ".tscn", ".tres", ".gd", ".json", ".cfg", ".txt"}
# Engine lines that are not errors of the project under test:
# - printed on start when a pack has no editor import data;
# - printed at exit by the official 4.6 web build whenever a 3D physics body existed (reproduced
#   with a scene holding nothing but one StaticBody3D); an engine-internal leak report.
HARMLESS = (
    "Could not load global script cache",
    "Pages in use exist at exit in PagedAllocator: N16WorkerThreadPool5GroupE",
)


# ----------------------------------------------------------------------------------- PCK v3


def pack_pck(files: dict[str, bytes]) -> bytes:
    """Godot PCK version 3 with offsets relative to the file base (flag 2), as 4.6 reads it.

    Header (0x70 bytes): "GDPC", u32 3, u32 4, u32 6, u32 0 (engine version), u32 flags = 2,
    u64 file base = 0x70, u64 directory offset, padding. Data from the file base, every file
    16-byte aligned. Directory: u32 count, then per file u32 path length (NUL included, padded
    to 4), path without ``res://``, u64 offset from the base, u64 size, 16-byte MD5, u32 flags.
    """
    base = 0x70
    blob = bytearray()
    entries = []
    for path, data in files.items():
        rel = path.removeprefix("res://")
        entries.append((rel, len(blob), data))
        blob += data
        blob += b"\0" * (-len(blob) % 16)
    directory = bytearray(struct.pack("<I", len(entries)))
    for rel, offset, data in entries:
        raw = rel.encode("utf-8") + b"\0"
        raw += b"\0" * (-len(raw) % 4)
        directory += struct.pack("<I", len(raw)) + raw
        directory += struct.pack("<QQ", offset, len(data)) + hashlib.md5(data).digest()
        directory += struct.pack("<I", 0)
    header = b"GDPC" + struct.pack("<IIIIIQQ", 3, 4, 6, 0, 2, base, base + len(blob))
    header += b"\0" * (base - len(header))
    return bytes(header + blob + directory)


# ---------------------------------------------------------------------------------- project


_CLASS_RE = re.compile(r"^class_name\s+(\w+)", re.MULTILINE)
_EXTENDS_RE = re.compile(r"^extends\s+(\S+)", re.MULTILINE)


def collect_project(
    project_dir: Path, extra: dict[str, bytes] | None = None, addon: Path | None = ADDON
) -> dict[str, bytes]:
    """``res://`` path -> bytes for a text project, with the addon mounted at addons/agent_arena."""
    files: dict[str, bytes] = {}
    for path in sorted(project_dir.rglob("*")):
        if path.is_file() and path.suffix in PACKED_SUFFIXES and ".godot/" not in path.as_posix():
            rel = path.relative_to(project_dir).as_posix()
            if addon is not None and rel.startswith("addons/agent_arena/"):
                continue  # mounted from the source tree below (the demo links it)
            files["res://" + rel] = path.read_bytes()
    if addon is not None:
        for path in sorted(addon.rglob("*.gd")):
            rel = path.relative_to(addon).as_posix()
            if not rel.startswith("script_templates/"):
                files["res://addons/agent_arena/" + rel] = path.read_bytes()
        files["res://addons/agent_arena/plugin.cfg"] = (addon / "plugin.cfg").read_bytes()
    files.update(extra or {})
    files["res://.godot/global_script_class_cache.cfg"] = _class_cache(files)
    return files


def _class_cache(files: dict[str, bytes]) -> bytes:
    """The editor's global class list (what an export would ship) for ``class_name`` scripts."""
    entries = []
    for path, data in files.items():
        if not path.endswith(".gd"):
            continue
        text = data.decode("utf-8")
        named = _CLASS_RE.search(text)
        if not named:
            continue
        base = _EXTENDS_RE.search(text)
        entries.append(
            "{\n"
            f'"base": &"{base.group(1) if base else "RefCounted"}",\n'
            f'"class": &"{named.group(1)}",\n'
            '"icon": "",\n"is_abstract": false,\n"is_tool": '
            f"{'true' if '@tool' in text else 'false'},\n"
            '"language": &"GDScript",\n'
            f'"path": "{path}"\n'
            "}"
        )
    return ("list=[" + ", ".join(entries) + "]\n").encode("utf-8")


_HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Agent Arena (Godot web)</title>
<link rel="icon" href="data:,">
<style>html,body{margin:0;background:#111}canvas{display:block;width:100vw;height:100vh}</style>
</head><body><canvas id="canvas" tabindex="0"></canvas>
<script src="index.js"></script>
<script>
const engine = new Engine(__CONFIG__);
const show = (prefix, args) => console.log(prefix + Array.from(args).join(" "));
engine.startGame({
  onPrint: function () { show("[out] ", arguments); },
  onPrintError: function () { show("[err] ", arguments); },
  onExit: function (code) { window.__godotExit = code; },
}).catch((err) => { console.log("[err] startGame failed: " + err); window.__godotExit = 125; });
</script></body></html>
"""


def build_site(
    files: dict[str, bytes],
    out_dir: Path,
    runtime: Path = RUNTIME,
    args: list[str] | None = None,
    resize_policy: int = 0,
) -> Path:
    """Write index.html, index.pck and the engine files (hard links when possible).

    ``args`` become the engine's command line; user arguments go after ``"--"`` and reach
    GDScript through ``OS.get_cmdline_user_args()``. ``resize_policy`` 0 keeps the small
    default canvas (cheap, for tests); 2 fills the browser window (for people).
    """
    if not all((runtime / name).exists() for name in RUNTIME_FILES):
        raise FileNotFoundError(
            f"Godot web runtime missing in {runtime}: run tools/godot_web/setup.sh"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    pck = pack_pck(files)
    (out_dir / "index.pck").write_bytes(pck)
    for name in RUNTIME_FILES:
        target = out_dir / name
        if target.exists():
            target.unlink()
        try:
            os.link(runtime / name, target)
        except OSError:
            shutil.copyfile(runtime / name, target)
    config = {
        "executable": "index",
        "args": list(args or []),
        "fileSizes": {"index.pck": len(pck), "index.wasm": (runtime / "index.wasm").stat().st_size},
        "canvasResizePolicy": resize_policy,
        "emscriptenPoolSize": 8,
        "ensureCrossOriginIsolationHeaders": True,
        "experimentalVK": False,
        "focusCanvas": False,
        "gdextensionLibs": [],
    }
    (out_dir / "index.html").write_text(_HTML.replace("__CONFIG__", json.dumps(config)))
    return out_dir


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map: ClassVar[dict[str, str]] = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm",
        ".pck": "application/octet-stream",
        ".js": "application/javascript",
    }

    def end_headers(self) -> None:
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class Site:
    """Serve a built site on 127.0.0.1 (a free port unless one is given) in a thread."""

    def __init__(self, root: Path, port: int = 0) -> None:
        handler = functools.partial(_Handler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/index.html"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ------------------------------------------------------------------------------------ runner


@dataclass
class RunResult:
    exit_code: int
    lines: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def printed(self) -> list[str]:
        return [line[6:] for line in self.lines if line.startswith("[out] ")]

    @property
    def warnings(self) -> list[str]:
        return [line for line, kind in self._classified() if kind == "warning"]

    @property
    def errors(self) -> list[str]:
        """Engine errors (script errors included) and page errors; warnings are not errors."""
        return [line for line, kind in self._classified() if kind == "error"]

    def _classified(self) -> list[tuple[str, str]]:
        out = []
        previous = "out"
        for line in self.lines:
            if line.startswith("[out] ") or line.startswith("[page] screenshot saved "):
                kind = "out"
            elif line.startswith("[err] ") and line[6:].lstrip().startswith("at: "):
                kind = previous  # the source location line that follows a warning or error
            elif line.startswith("[err] WARNING:"):
                kind = "warning"
            elif any(h in line for h in HARMLESS):
                kind = "harmless"
            else:
                kind = "error"
            out.append((line, kind))
            previous = kind
        return out


def run_headless(url: str, timeout_s: float = 60.0, screenshot: Path | None = None) -> RunResult:
    """Run the page until the game quits (or, with ``screenshot``, until the game prints a line
    starting with ``DEMO SHOT``: the page is then saved as that PNG and the run ends with 0)."""
    node = shutil.which("node")
    if node is None:
        raise FileNotFoundError("node is required to drive chromium (playwright-core)")
    started = time.monotonic()
    cmd = [node, str(HERE / "run_page.cjs"), url, str(int(timeout_s * 1000))]
    if screenshot is not None:
        cmd.append(str(screenshot))
    proc = subprocess.run(
        cmd,
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout_s + 30,
        env={**os.environ, "AGENT_ARENA_GODOT_WEB": str(WEB_CACHE)},
    )
    lines = proc.stdout.splitlines()
    if proc.stderr.strip():
        lines += ["[page] node: " + line for line in proc.stderr.splitlines()]
    return RunResult(proc.returncode, lines, time.monotonic() - started)


def run_project(
    project_dir: Path,
    work_dir: Path,
    extra: dict[str, bytes] | None = None,
    timeout_s: float = 60.0,
    args: list[str] | None = None,
    port: int = 0,
) -> RunResult:
    """Pack, serve (on ``port``, 0: any free one) and run a project once; returns what the
    engine printed."""
    build_site(collect_project(project_dir, extra), work_dir, args=args)
    with Site(work_dir, port) as site:
        return run_headless(site.url, timeout_s)


def main() -> int:
    parser = argparse.ArgumentParser(description="Run a Godot project in the 4.6 web runtime")
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run headless and print the engine output")
    run.add_argument("project", type=Path)
    run.add_argument("--timeout", type=float, default=60.0)
    serve = sub.add_parser("serve", help="serve the project as a page for a person to open")
    serve.add_argument("project", type=Path)
    serve.add_argument("--port", type=int, default=8060)
    args = parser.parse_args()
    work = CACHE / "sites" / args.project.resolve().name
    if args.cmd == "run":
        result = run_project(args.project, work, timeout_s=args.timeout)
        print("\n".join(result.lines))
        print(f"exit {result.exit_code} after {result.seconds:.1f}s")
        return 0 if result.exit_code == 0 and not result.errors else 1
    build_site(collect_project(args.project), work, resize_policy=2)
    with Site(work, args.port) as site:
        print(f"open {site.url}  (Ctrl+C to stop)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main())
