"""`agent-arena serve`: the bridge on a socket until a signal, with its views (docs/config.md).

The pieces demo and env share live here too: building the server from the composed
configuration and preparing the backend (loading a model, starting an engine) with progress
lines, so a slow first load does not look like a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from agent_arena import settings
from agent_arena.backends.base import Backend


def build_server(cfg: dict[str, Any]) -> Any:
    from agent_arena.backends import create_backend
    from agent_arena.server import ArenaServer

    return ArenaServer(
        create_backend(cfg["backend"]), settings.server_config(cfg),
        tools=settings.tool_specs(cfg), profiles=settings.profiles(cfg),
        calling=settings.calling_config(cfg))


async def serve(cfg: dict[str, Any]) -> int:
    """Serve until SIGTERM/SIGINT; then answer every pending decision and exit 0. A second
    signal exits at once. A socket failure exits 1 with its reason."""
    from agent_arena.dashboard import start_with_views

    server = build_server(cfg)
    relay = None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():
            print("agent-arena: second signal: exiting now", file=sys.stderr, flush=True)
            os._exit(130)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, on_signal)
    server.check_config()  # refuse a bad bind before spending time loading a model
    opts = cfg.get("serve") or {}
    quiet = bool(opts.get("quiet", False))
    await prepare(server.backend, stderr_line if not quiet else None)
    endpoint = await start_with_views(server)
    failed: BaseException | None = None
    status: asyncio.Future[None] | None = None
    every = float(opts.get("status_every_s") or 0)
    if not quiet and every > 0:
        from agent_arena.metrics import StatusWindow

        window = StatusWindow(window_s=every)
        server.add_listener(window)
        status = asyncio.ensure_future(_status_lines(server, window, every))
    try:
        if server.config.ws_port:
            from agent_arena.relay import start_ws_relay

            relay = start_ws_relay(int(server.config.ws_port), endpoint,
                                   allowed_origins=server.config.ws_allowed_origins)
        print(f"agent-arena: serving on {endpoint}"
              + (f" (WebSocket relay ws://127.0.0.1:{server.config.ws_port})" if relay else "")
              + f", backend={server.backend.name}, model={server.backend.model_name}",
              flush=True)
        if server.views is not None:
            print("agent-arena: " + ", ".join(f"{k} {v}" for k, v in server.views.urls.items()),
                  flush=True)
        waiter = asyncio.ensure_future(stop.wait())
        serving = asyncio.ensure_future(server.serve_forever())
        await asyncio.wait({waiter, serving}, return_when=asyncio.FIRST_COMPLETED)
        if serving.done():
            failed = serving.exception()
        else:
            serving.cancel()
        waiter.cancel()
        if stop.is_set():
            print(f"agent-arena: stopping; answering {server.in_flight} pending decision(s) "
                  f"(grace {server.config.shutdown_grace_ms} ms)", file=sys.stderr, flush=True)
    finally:
        if status is not None:
            status.cancel()
        if relay is not None:
            from agent_arena.relay import stop_ws_relay

            stop_ws_relay(relay)
        await server.stop()
        await server.backend.close()
    if failed is not None:
        print(f"agent-arena: error: the server stopped receiving: {failed}", file=sys.stderr)
        return 1
    return 0


def stderr_line(text: str) -> None:
    print(f"agent-arena: {text}", file=sys.stderr, flush=True)


PROGRESS_EVERY_S = 5.0


async def prepare(backend: Backend, say: Callable[[str], None] | None = None) -> None:
    """Start the backend (load the model, start the managed llama-server or the engine) before
    serving, saying what is happening every few seconds so a slow first load does not look like
    a hang; a backend with nothing worth waiting for (``starting`` None) starts quietly."""
    verb = backend.starting
    if verb is None:
        await backend.start()
        return
    task = asyncio.ensure_future(backend.start())
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    if say:
        say(f"{verb} (backend={backend.name} model={backend.model_name}) ...")
    while not (await asyncio.wait({task}, timeout=PROGRESS_EVERY_S))[0]:
        if say:
            say(f"still {verb} ({loop.time() - t0:.0f} s)")
    task.result()  # its error, if any
    if say:
        say(f"{verb} took {loop.time() - t0:.1f} s")


async def _status_lines(server: Any, window: Any, every_s: float) -> None:
    """One line every ``every_s`` while anything happens (an idle server stays quiet)."""
    last = None
    while True:
        await asyncio.sleep(every_s)
        in_flight = server.snapshot().in_flight
        mark = (sum(window.totals.values()), in_flight)
        if mark != last and (mark[0] or mark[1]):
            print(window.line(in_flight), flush=True)
        last = mark
