"""`agent-arena demo`: the demo world's agents decided by the configured backend, live.

Without ``demo.endpoint`` it starts its own server (loopback, a journal of the run in
``demo.journal_dir``); with one it plays against a server already running.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from typing import Any

from agent_arena import settings
from agent_arena.cli.serve import build_server, prepare


async def demo(cfg: dict[str, Any]) -> int:
    from rich.console import Console
    from rich.live import Live

    from agent_arena.dashboard import start_with_views
    from agent_arena.world import Decision, run_demo
    from agent_arena.world.demo import AgentsView, tool_mix

    console = Console()
    d = cfg["demo"]
    # the demo prints its own lines (and the dashboard URLs); an INFO line written while the
    # live table is on screen would tear it
    logging.getLogger("agent_arena").setLevel(logging.WARNING)
    server = None
    endpoint = d.get("endpoint")
    if not endpoint:
        cfg = {**cfg, "server": {**cfg["server"], "bind": "tcp://127.0.0.1:0"}}
        if cfg["backend"].get("type") in ("llama_cpp", "xllamacpp") \
                and cfg["backend"].get("n_threads") is None:
            # the demo world is a few lines of Python, not a game: give the model every core
            cfg = {**cfg, "backend": {**cfg["backend"], "n_threads": os.cpu_count() or 1}}
        journal_dir = d.get("journal_dir")
        if journal_dir and not (cfg["server"].get("journal") or {}).get("path"):
            # the demo keeps a journal of its own run (docs/eval.md): replay it, export it
            path = os.path.join(journal_dir, time.strftime("demo-%Y%m%d-%H%M%S.journal"))
            cfg = {**cfg, "server": {**cfg["server"], "journal": {
                **(cfg["server"].get("journal") or {}), "path": path}}}
        server = build_server(cfg)
        await prepare(server.backend, lambda text: console.print(text, highlight=False))
        endpoint = await start_with_views(server)
        if server.views is not None:
            for name, url in server.views.urls.items():
                console.print(f"{name}: {url}", highlight=False, soft_wrap=True)

    def show(x: Decision) -> None:
        args = ", ".join(f"{k}={v}" for k, v in x.arguments.items())
        style = "green" if x.status == "ok" else "yellow"
        console.print(f"tick {x.tick:>3}  {x.agent_id:<6} [{style}]{x.status:<8}[/] "
                      f"{x.tool}({args})  {x.latency_ms:7.0f} ms"
                      + (f"  [dim]# {x.thought}[/]" if x.thought else "")
                      + ("" if x.valid else "  [red]INVALID[/]"), highlight=False)

    # a terminal gets a table that updates in place; a pipe or a log file gets one line each
    view = AgentsView(f"{server.backend.name if server else endpoint}")
    live = Live(view, console=console, refresh_per_second=4) if console.is_terminal else None
    try:
        with live or contextlib.nullcontext():
            summary = await run_demo(
                endpoint, settings.tool_specs(cfg), agents=int(d["agents"]),
                ticks=int(d["ticks"]), deadline_ms=int(d["deadline_ms"]), seed=int(d["seed"]),
                size=float(d["world_size"]), on_decision=view.update if live else show,
                masks=bool(d.get("masks", True)))
    finally:
        if server is not None:
            await server.stop()
            await server.backend.close()
    rate = f"{summary.n / summary.wall_s:.2f}" if summary.wall_s else "-"
    tools = ", ".join(f"{k}:{v}" for k, v in sorted(summary.tools_used().items()))
    console.print(
        f"[bold]summary[/]: decisions={summary.n} schema_valid={summary.valid_pct:.1f}% "
        f"ok={summary.count('ok')} fallback={summary.count('fallback')} "
        f"timeout={summary.count('timeout')} p50_ms={summary.latency(50):.0f} "
        f"p99_ms={summary.latency(99):.0f} decisions_per_s={rate} wall_s={summary.wall_s:.1f}\n"
        f"tools: {tools}", highlight=False)
    console.print(tool_mix(summary))
    if server is not None and server.config.journal.path:
        console.print(f"journal: {server.config.journal.path}", highlight=False, soft_wrap=True)
    return 0 if summary.valid_pct == 100.0 else 1
