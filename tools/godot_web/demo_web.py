"""`make demo-web`: the Godot demo as a page anyone can open.

Builds godot_plugin/demo for Godot's official 4.6 web runtime (the one the tests use), starts
`agent-arena serve` with the embedded model and its WebSocket relay (PLAIN authentication, a
fresh password each run), serves the page on loopback and prints one URL. Open it: two NPCs
walk, pick up, talk and wait on live decisions; above each one its last action, thought and
latency; top left decisions/s, p50 latency and the count of each status.

    python tools/godot_web/demo_web.py [--port 8060] [--ws-port 5556] [--zmq-port 5555]
                                       [--no-thought] [server overrides ...]

Everything listens on 127.0.0.1 only. Ctrl+C stops the server and the page.
The screenshot test (tests/integration/test_godot_demo_web.py) drives the same :class:`DemoWeb`. It runs
with the project's venv (``make demo-web``), so it starts the server through
agent_arena.launch.process like every other child.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import threading
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

import godot_web  # noqa: E402

from agent_arena.errors import ArenaError  # noqa: E402
from agent_arena.launch.process import ChildProcess  # noqa: E402

DEMO = REPO / "godot_plugin" / "demo"
USER = "demo"
# Loading the model can take minutes on a busy 2-core machine: this only guards against a hang.
START_TIMEOUT_S = 900.0


class DemoWeb:
    """Server (ZeroMQ + WebSocket relay, PLAIN) + built page + static server, all on loopback."""

    def __init__(
        self,
        site_dir: Path,
        http_port: int = 8060,
        ws_port: int = 5556,
        zmq_port: int = 5555,
        thought: bool = True,
        overrides: list[str] | None = None,
        query: dict[str, str] | None = None,
        log_path: Path | None = None,
        extra: dict[str, bytes] | None = None,
    ) -> None:
        self.site_dir = site_dir
        self.http_port = http_port
        self.ws_port = ws_port
        self.zmq_port = zmq_port
        self.password = secrets.token_urlsafe(12)
        self.thought = thought
        self.overrides = list(overrides or [])
        self.query = dict(query or {})
        self.log_path = log_path or site_dir.parent / "demo-web-server.log"
        self._server: ChildProcess | None = None
        # files packed over the demo's (the screenshot test's probe); none for people
        self.extra = dict(extra or {})
        self._site: godot_web.Site | None = None

    @property
    def url(self) -> str:
        query = {
            "url": f"ws://127.0.0.1:{self.ws_port}/",
            "user": USER,
            "password": self.password,
            **self.query,
        }
        return f"http://127.0.0.1:{self.http_port}/index.html?" + urllib.parse.urlencode(query)

    def server_command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "agent_arena.cli",
            "serve",
            f"server.bind=tcp://127.0.0.1:{self.zmq_port}",
            f"server.ws_port={self.ws_port}",
            "server.auth.mechanism=plain",
            f"calling.thought={'true' if self.thought else 'false'}",
            *self.overrides,
        ]

    def start(self) -> str:
        """Build the page, start the server (wait until it serves), start the static server."""
        files = godot_web.collect_project(DEMO, self.extra)
        godot_web.build_site(files, self.site_dir, resize_policy=2)
        env = {
            **os.environ,
            # The password travels in the environment, not on the command line (ps shows that).
            "AGENT_ARENA_PLAIN_USERS": f"{USER}:{self.password}",
            "PYTHONUNBUFFERED": "1",
        }
        if self.log_path.exists():
            self.log_path.unlink()  # this run's lines only
        self._server = ChildProcess(self.server_command(), name="agent-arena serve",
                                    log_path=self.log_path, new_session=True, env=env, cwd=REPO)
        self._server.start()
        try:
            self._server.wait_for_line("serving on", START_TIMEOUT_S)
        except ArenaError as exc:
            self.stop()
            raise RuntimeError(f"agent-arena serve did not start: {exc.message}") from None
        self._site = godot_web.Site(self.site_dir, self.http_port)
        self._site.__enter__()
        return self.url

    @property
    def server_exited(self) -> bool:
        return self._server is not None and not self._server.running

    def stop(self) -> None:
        if self._site is not None:
            self._site.__exit__(None, None, None)
            self._site = None
        if self._server is not None:
            self._server.stop(timeout=30)  # SIGTERM to its group, SIGKILL after 30 s
        self._server = None

    def __enter__(self) -> DemoWeb:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description="Serve the Godot demo as a page (loopback only)")
    parser.add_argument("--port", type=int, default=8060, help="HTTP port of the page")
    parser.add_argument("--ws-port", type=int, default=5556, help="WebSocket relay port")
    parser.add_argument("--zmq-port", type=int, default=5555, help="ZeroMQ server port")
    parser.add_argument("--no-thought", action="store_true", help="no thought before each call")
    parser.add_argument("overrides", nargs="*", help="agent-arena serve overrides (Hydra)")
    args = parser.parse_args()
    site = godot_web.CACHE / "sites" / "demo-web"
    demo = DemoWeb(
        site,
        http_port=args.port,
        ws_port=args.ws_port,
        zmq_port=args.zmq_port,
        thought=not args.no_thought,
        overrides=args.overrides,
    )
    print("[demo-web] building the page and starting agent-arena serve (loading the model) ...")
    try:
        url = demo.start()
    except RuntimeError as exc:
        print(f"[demo-web] {exc}", file=sys.stderr)
        return 1
    print(f"[demo-web] server log: {demo.log_path}")
    print(f"\nopen {url}\n\n(Ctrl+C to stop)", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.is_set():
            if demo.server_exited:
                print("[demo-web] the server exited; see the log", file=sys.stderr)
                return 1
            stop.wait(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        demo.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
