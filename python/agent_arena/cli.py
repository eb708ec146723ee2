"""`agent-arena serve | demo | config | keys` with Hydra overrides (key=value ...).

    agent-arena serve backend=llama_server server.bind=tcp://127.0.0.1:6000
    agent-arena demo demo.agents=8 demo.ticks=20 backend.temperature=0.2
    agent-arena config backend=vllm          # print the composed configuration
    agent-arena keys ./keys                  # CURVE key pairs for server and a client
    agent-arena eval bench/scenarios profile=default eval.runs=2 eval.out=eval-out
    agent-arena replay run.journal backend=llama_server   # re-decide a journal, agreement
    agent-arena export run.journal --format parquet       # trajectories for datasets / TRL
    agent-arena gen --n 20000 --seed 0 --out data.jsonl   # generated games (+ data.val.jsonl)
    agent-arena env env.agents=2 env.port=8000            # the game for RL trainers (OpenEnv)
    agent-arena train data.jsonl --out outputs/train      # LoRA for the embedded model
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

from agent_arena import settings
from agent_arena.errors import ArenaError

log = logging.getLogger("agent_arena")

USAGE = __doc__ or ""

_OWN_ARGS = {"eval": "agent_arena.evaluation", "replay": "agent_arena.replay",
             "export": "agent_arena.export", "train": "agent_arena.training.cli",
             "gen": "agent_arena.gamegen"}  # generated games and training (docs/training.md)


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, str(level).upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


async def start_with_views(server: Any) -> str:
    from agent_arena.dashboard import start_with_views as start

    return await start(server)


def build_server(cfg: dict[str, Any]) -> Any:
    from agent_arena.backends import create_backend
    from agent_arena.server import ArenaServer

    return ArenaServer(
        create_backend(cfg["backend"]), settings.server_config(cfg),
        tools=settings.tool_specs(cfg), profiles=settings.profiles(cfg),
        calling=settings.calling_config(cfg))


async def _serve(cfg: dict[str, Any]) -> int:
    """Serve until SIGTERM/SIGINT; then answer every pending decision and exit 0. A second
    signal exits at once. A socket failure exits 1 with its reason."""
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
    await _prepare(server.backend, _stderr_line if not quiet else None)
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
        await server.backend.aclose()
    if failed is not None:
        print(f"agent-arena: error: the server stopped receiving: {failed}", file=sys.stderr)
        return 1
    return 0


def _warm_up(backend: Any) -> None:
    load = getattr(backend, "load", None)
    if callable(load):
        load()


def _stderr_line(text: str) -> None:
    print(f"agent-arena: {text}", file=sys.stderr, flush=True)


PROGRESS_EVERY_S = 5.0


async def _prepare(backend: Any, say: Any = None) -> None:
    """Load the model (llama.cpp) or start the managed server (llama-server) before serving,
    saying what is happening every few seconds so a slow first load does not look like a hang."""
    if callable(getattr(backend, "load", None)):
        job: Any = asyncio.to_thread(_warm_up, backend)
        verb = "loading the model"
    elif asyncio.iscoroutinefunction(getattr(backend, "start", None)) \
            and getattr(getattr(backend, "config", None), "managed", True):
        job = backend.start()
        verb = "starting llama-server" if backend.name == "llama_server" else "starting the engine"
    else:
        return
    task = asyncio.ensure_future(job)
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


async def _demo(cfg: dict[str, Any]) -> int:
    from rich.console import Console
    from rich.live import Live

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
        await _prepare(server.backend, lambda text: console.print(text, highlight=False))
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
            await server.backend.aclose()
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


def _keys(args: Sequence[str]) -> int:
    import zmq.auth

    if not args:
        print("usage: agent-arena keys DIR", file=sys.stderr)
        return 2
    from pathlib import Path

    out = Path(args[0])
    out.mkdir(parents=True, exist_ok=True)
    (out / "clients").mkdir(exist_ok=True)
    server_pub, server_sec = zmq.auth.create_certificates(out, "server")
    client_pub, _ = zmq.auth.create_certificates(out / "clients", "client")
    (out / "clients" / "client.key_secret").rename(out / "client.key_secret")
    print(f"server secret key: {server_sec}\nauthorised clients dir: {out / 'clients'}\n"
          f"client secret key: {out / 'client.key_secret'}\n"
          f"serve with: agent-arena serve server.auth.mechanism=curve "
          f"server.auth.server_secret_key_file={server_sec} "
          f"server.auth.client_keys_dir={out / 'clients'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if args else 2
    command, overrides = args[0], args[1:]
    try:
        if command == "keys":
            return _keys(overrides)
        if command in _OWN_ARGS:  # paths and flags of their own (docs/eval.md, docs/training.md)
            import importlib

            _setup_logging("WARNING")
            return int(importlib.import_module(_OWN_ARGS[command]).cli(overrides))
        cfg = settings.compose(overrides)
        _setup_logging(cfg.get("log_level", "INFO"))
        if command == "serve":
            from agent_arena.server.config import run

            event_loop = settings.server_config(cfg).event_loop  # a bad setting fails here
            return run(_serve(cfg), event_loop)
        if command == "demo":
            return asyncio.run(_demo(cfg))
        if command == "env":
            from agent_arena.env.serve import run_env

            return run_env(cfg)
        if command == "config":
            from omegaconf import OmegaConf

            print(OmegaConf.to_yaml(cfg))
            return 0
    except ArenaError as exc:
        print(f"agent-arena: error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    print(f"agent-arena: unknown command {command!r}\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
