"""The command sections of config.yaml: ``serve``, ``demo``, ``env``, ``eval``, ``replay``.

The server's, calling's and each backend's sections are declared beside the code they set
(server/config.py, calling.py, backends/); config/app.py lists them all.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent_arena.config.fields import check_bounds, setting
from agent_arena.errors import STATUSES

PORT = {"ge": 0, "le": 65535}


@dataclass
class ServeConfig:
    """``serve.*``: what `agent-arena serve` prints while it runs."""

    quiet: bool = setting(False, "no progress or status lines (warnings and errors still print)")
    status_every_s: float = setting(10.0, "one status line this often: decisions/s, p50, "
                                          "fallbacks (0: none)", ge=0)


    def __post_init__(self) -> None:
        check_bounds(self, "serve")

@dataclass
class DemoConfig:
    """``demo.*``: the built-in demo world (`agent-arena demo`)."""

    agents: int = setting(4, "agents in the demo world", ge=1)
    ticks: int = setting(10, "ticks to run", ge=1)
    deadline_ms: int = setting(30_000, "per decision; late decisions get the fallback call",
                               ge=1)
    seed: int = setting(7, "the world's random seed")
    world_size: float = setting(12.0, "side of the square world", gt=0)
    masks: bool = setting(True, "the world sends action masks (what is possible now) with "
                                "observe")
    endpoint: str | None = setting(None, "null: start a server in-process; else connect to "
                                         "this endpoint")
    journal_dir: str | None = setting("outputs/journals", "each in-process run journals to "
                                      "DIR/demo-<time>.journal (null: no journal; "
                                      "server.journal.path set: that file instead)")


    def __post_init__(self) -> None:
        check_bounds(self, "demo")

@dataclass
class EnvConfig:
    """``env.*``: `agent-arena env`, the game for RL trainers over OpenEnv (docs/env.md)."""

    world: str = setting("demo", "demo: the in-process demo world; external: your game "
                                 "connects to bind", choices=("demo", "external"))
    bind: str = setting("tcp://127.0.0.1:0", "the bridge's socket (world=external: a fixed "
                                             "port for your game)")
    agents: int = setting(1, "demo world: agents (one OpenEnv session each)", ge=1)
    agent_ids: list[str] = setting(factory=list, help="world=external: the agents your game "
                                                      "observes each tick")
    max_ticks: int = setting(20, "demo world: ticks per episode", ge=1)
    deadline_ms: int = setting(300_000, "per decision: a trainer's generation must fit (then: "
                                        "fallback call)", ge=1)
    host: str = setting("127.0.0.1", "OpenEnv HTTP/WebSocket server address")
    port: int = setting(8000, "OpenEnv HTTP/WebSocket server port", **PORT)
    max_sessions: int | None = setting(None, "OpenEnv sessions at once (null: one per agent)",
                                       ge=1)


    def __post_init__(self) -> None:
        check_bounds(self, "env")

@dataclass
class EvalConfig:
    """``eval.*``: how `agent-arena eval` runs scenarios (docs/eval.md)."""

    runs: int = setting(1, "each scenario this many times; run r > 0 samples with seed = r",
                        ge=1)
    profile: str = setting("default", "profile under test (a scenario may name its own)")
    deadline_ms: int = setting(120_000, "per decision; a timeout counts as a timeout, not an "
                                        "error", ge=1)
    concurrency: int = setting(1, "decisions in flight at once (1: latency of one agent "
                                  "alone)", ge=1)
    out: str | None = setting(None, "directory for report.json and chart.png")
    compare: list[str] = setting(factory=list, help="earlier report.json files drawn in the "
                                                    "same chart")
    label: str | None = setting(None, "name of this run in tables and charts (default "
                                      "backend/profile)")
    masks: bool = setting(True, "send the scenarios' action masks (false: as a game that sends "
                                "none)")


    def __post_init__(self) -> None:
        check_bounds(self, "eval")

@dataclass
class ReplayConfig:
    """``replay.*``: `agent-arena replay JOURNAL` (docs/eval.md)."""

    profile: str | None = setting(None, "null: the recorded prompts; a name: rebuilt from "
                                        "observations")
    sampling: str = setting("recorded", "recorded: as the journal says; backend: the backend's "
                                        "defaults", choices=("recorded", "backend"))
    seed: int | None = setting(None, "force this sampling seed on every request")
    limit: int = setting(0, "replay only the first N decisions (0: all)", ge=0)
    statuses: list[str] = setting(factory=lambda: ["ok", "fallback", "timeout"],
                                  help="the recorded statuses replayed", choices=STATUSES)
    out: str | None = setting(None, "write the JSON report here")

    def __post_init__(self) -> None:
        check_bounds(self, "replay")
