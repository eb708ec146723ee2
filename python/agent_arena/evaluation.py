"""Evaluation: scenario files, argument predicates, a runner through the real server, a report.

A scenario is one observation with what a sensible agent would do (docs/eval.md has the file
format). The runner drives each one as a game would: a real ``ArenaServer`` on a loopback port,
``ArenaClient`` over a real socket, ``hello`` with the file's tools, one ``observe`` per scenario
(a fresh agent id each time, so no memory carries over). What is measured is therefore exactly
what a game gets: the server's prompt, strategy, validation, fallbacks and latency. Each reply is
judged on the client side against an independent copy of the tool schemas.

Metrics (all shares of decisions): schema-valid (status ok and the call validates), right tool
(valid and one of the expected tools), right arguments (right tool and every predicate of that
alternative holds), fallback, timeout; p50/p99 of the server's latency_ms; tokens per decision.

Three rooms: scenarios.py (files and predicates), this module (running them, the command
line), eval_report.py (rows, metrics, tables, chart); their names are re-exported here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from agent_arena.config.build import build as build_config  # the one builder (eval, replay)
from agent_arena.config.sections import EvalConfig  # declared with the other sections
from agent_arena.errors import ConfigError, WireStatus
from agent_arena.eval_report import (
    CHART_METRICS,
    WIDTH,
    DecisionRow,
    EvalReport,
    Metrics,
    confusion,
    confusion_table,
    load_report,
    metrics_table,
    percentile,
    plot_comparison,
    print_report,
)
from agent_arena.scenarios import (
    DEFAULT_WITHIN,
    MODIFIERS,
    OPS,
    Alternative,
    ArgCheck,
    Expectation,
    Judgement,
    Scenario,
    ScenarioError,
    ScenarioSet,
    _same,
    load_scenarios,
    parse_expectation,
    scenario_paths,
)
from agent_arena.tools import ToolCall, ToolRegistry

__all__ = ["CHART_METRICS", "DEFAULT_WITHIN", "MODIFIERS", "OPS", "WIDTH", "Alternative",
           "ArgCheck", "DecisionRow", "EvalConfig", "EvalReport", "Expectation", "Judgement",
           "Metrics", "Scenario", "ScenarioError", "ScenarioSet", "_same", "build_config",
           "cli", "confusion", "confusion_table", "evaluate", "judge_reply", "load_report",
           "load_scenarios", "metrics_table", "parse_expectation", "percentile",
           "plot_comparison", "print_report", "run_eval", "scenario_paths", "split_args"]


# ---- running -------------------------------------------------------------------------------------


def _run_profiles(profiles: Mapping[str, Any], names: Iterable[str], runs: int) -> dict[str, Any]:
    """Profile copies for runs > 0 that differ only by sampling seed (``name~rN``)."""
    out = dict(profiles)
    for name in names:
        base = profiles[name]
        for r in range(1, runs):
            sampling = {**dict(base.sampling), "seed": r}
            out[f"{name}~r{r}"] = dataclasses.replace(base, name=f"{name}~r{r}",
                                                      sampling=sampling)
    return out


async def run_eval(
    backend: Any,
    sets: Sequence[ScenarioSet],
    *,
    tools: Sequence[Mapping[str, Any]],
    profiles: Mapping[str, Any],
    calling: Any = None,
    config: EvalConfig | None = None,
    on_row: Callable[[DecisionRow], None] | None = None,
) -> list[DecisionRow]:
    """Every scenario of ``sets`` ``config.runs`` times through a real server and socket."""
    from agent_arena.client import ArenaClient
    from agent_arena.server import ArenaServer, ServerConfig

    cfg = config or EvalConfig()
    wanted = {cfg.profile} | {s.profile for ss in sets for s in ss.scenarios if s.profile}
    missing = sorted(n for n in wanted if n not in profiles)
    if missing:
        raise ConfigError(f"profile(s) {missing} not configured; configured: "
                          f"{', '.join(profiles)}")
    server = ArenaServer(backend, ServerConfig(bind="tcp://127.0.0.1:0"), tools=list(tools),
                         profiles=_run_profiles(profiles, wanted, cfg.runs), calling=calling)
    endpoint = await server.start()
    rows: list[DecisionRow] = []
    gate = asyncio.Semaphore(max(1, cfg.concurrency))
    try:
        async with ArenaClient(endpoint, name="agent-arena eval",
                               timeout_s=cfg.deadline_ms / 1000 + 60) as client:
            for ss in sets:
                await client.hello(tools=ss.tool_specs, fallback=ss.fallback)
                # the game's own copy, as the server has it: a set that declares tools has
                # exactly those (protocol.md), one that declares none the server's
                check = ToolRegistry(ss.tool_specs or list(tools))
                for run in range(cfg.runs):
                    rows.extend(await asyncio.gather(*(
                        _decide(client, gate, ss.name, sc, run, cfg, check, on_row)
                        for sc in ss.scenarios)))
    finally:
        await server.stop()
    return rows


async def _decide(client: Any, gate: asyncio.Semaphore, set_name: str, sc: Scenario, run: int,
                  cfg: EvalConfig, check: ToolRegistry,
                  on_row: Callable[[DecisionRow], None] | None) -> DecisionRow:
    prof = sc.profile or cfg.profile
    extra = dict(sc.observe)
    if not cfg.masks:
        extra.pop("mask", None)
    async with gate:
        reply = await client.observe(
            f"{set_name}/{sc.id}#{run}", run, sc.observation,
            tools=list(sc.tools) if sc.tools is not None else None, deadline_ms=cfg.deadline_ms,
            profile=prof if run == 0 else f"{prof}~r{run}", **extra)
    row = judge_reply(reply, sc, set_name, run, check)
    if on_row:
        on_row(row)
    return row


def judge_reply(reply: Mapping[str, Any], sc: Scenario, set_name: str, run: int,
                check: ToolRegistry) -> DecisionRow:
    call = reply.get("call")
    status = cast(WireStatus, str(reply.get("status")))  # as the server sent it
    valid = False
    if status == "ok" and isinstance(call, Mapping):
        valid = not check.validate(ToolCall(call.get("tool"), call.get("arguments")),
                                   sc.tools)
    j = sc.expect.judge(call, valid, sc.observation)
    usage = reply.get("usage") or {}
    return DecisionRow(
        run=run, set=set_name, scenario=sc.id, expected=sc.expect.label,
        tool=call.get("tool") if isinstance(call, Mapping) else None,
        arguments=dict(call.get("arguments") or {}) if isinstance(call, Mapping) else None,
        status=status, valid=j.valid, right_tool=j.right_tool, right_args=j.right_args,
        latency_ms=float(reply.get("latency_ms") or 0.0),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        attempts=int(usage.get("attempts") or 0), reason=reply.get("reason"),
        failed=list(j.failed))


async def evaluate(
    backend: Any,
    paths: Sequence[str | Path],
    *,
    tools: Sequence[Mapping[str, Any]],
    profiles: Mapping[str, Any],
    calling: Any = None,
    config: EvalConfig | None = None,
    on_row: Callable[[DecisionRow], None] | None = None,
) -> EvalReport:
    """Load the scenario files, run them, build the report (written when ``config.out``)."""
    cfg = config or EvalConfig()
    files = scenario_paths(paths)
    sets = [load_scenarios(p) for p in files]
    names = [s.name for s in sets]
    if len(set(names)) != len(names):
        raise ScenarioError(f"two scenario files share a name: {names}")
    rows = await run_eval(backend, sets, tools=tools, profiles=profiles, calling=calling,
                          config=cfg, on_row=on_row)
    strategy = getattr(calling, "strategy", "auto")
    label = cfg.label or f"{backend.name}/{cfg.profile}" + (
        f"/{strategy}" if strategy != "auto" else "")
    report = EvalReport.build(rows, label=label, backend=backend.name, model=backend.model_name,
                              profile=cfg.profile, strategy=strategy, runs=cfg.runs,
                              files=[str(f) for f in files])
    if cfg.out:
        earlier = [load_report(p) for p in cfg.compare]  # before this run's report replaces one
        report.write(cfg.out)
        plot_comparison([*earlier, report], Path(cfg.out) / "chart.png")
    return report


# ---- command line --------------------------------------------------------------------------------


def split_args(args: Sequence[str], section: str) -> tuple[list[str], list[str]]:
    """Paths (no ``=``) and Hydra overrides; a bare ``profile=X`` means ``SECTION.profile=X``."""
    paths = [a for a in args if "=" not in a]
    overrides = [f"{section}.{a}" if a.startswith("profile=") else a
                 for a in args if "=" in a]
    return paths, overrides


def cli(args: Sequence[str]) -> int:
    """``agent-arena eval SCENARIOS... [backend=...] [profile=...] [eval.runs=N] [eval.out=DIR]``"""
    from rich.console import Console

    from agent_arena import settings
    from agent_arena.backends import create_backend

    paths, overrides = split_args(args, "eval")
    if not paths:
        print("usage: agent-arena eval SCENARIO_FILE_OR_DIR... [backend=...] [profile=NAME] "
              "[eval.runs=N] [eval.out=DIR] (docs/eval.md)")
        return 2
    cfg = settings.compose(overrides)
    console = Console(width=max(Console().width, WIDTH))
    config = build_config(EvalConfig, cfg.get("eval"), "eval")
    backend = create_backend(cfg["backend"])

    def show(r: DecisionRow) -> None:
        word, color = ("right", "green") if r.right_args else ("tool", "yellow") \
            if r.right_tool else ("wrong", "red")
        args_text = json.dumps(r.arguments, ensure_ascii=False) if r.arguments is not None else ""
        console.print(f"[{color}]{word:<5}[/] {r.set}/{r.scenario:<44} expect={r.expected:<8} "
                      f"got={r.tool}{args_text} {r.status} {r.latency_ms:.0f} ms", highlight=False)

    async def go() -> EvalReport:
        try:
            await backend.start()
            return await evaluate(backend, paths, tools=settings.tool_specs(cfg),
                                  profiles=settings.profiles(cfg),
                                  calling=settings.calling_config(cfg), config=config,
                                  on_row=show)
        finally:
            await backend.close()

    earlier = [load_report(p) for p in config.compare]
    report = asyncio.run(go())
    print_report([*earlier, report], console)
    if config.out:
        console.print(f"wrote {Path(config.out) / 'report.json'} and "
                      f"{Path(config.out) / 'chart.png'}")
    return 0
