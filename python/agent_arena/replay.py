"""Replay: re-decide a journal's decisions on another backend / model / profile, and compare.

``agent-arena replay JOURNAL [backend=...] [profile=NAME] [replay.seed=0] [replay.out=FILE]``

Two modes:

- recorded prompts (no ``profile``): each decision is asked again with the exact messages the
  model saw, the same allowed tools and (by default) the same sampling. The tool list that the
  constrained / prompt strategies append to the system text is taken off first (by the prompt
  parts the journal records beside the messages; in journals written before them, by finding
  the block in the text: prompt/parts.py) and put back by the replaying strategy, so a backend
  whose ``auto`` strategy differs still gets the right form.
  The model writes the whole call on them (``calling.choice=auto`` means generate here: the
  likelihood and description choices score prompts of their own).
- rebuilt prompts (``profile=NAME``): the prompt is built again from the recorded observation
  with that profile, replaying each agent's memory from the recorded calls and tool results
  (not the replayed ones: the world the observations came from is the recorded one).

Decisions go straight through ``calling.decide_once`` (the server builds its own prompts, so
recorded ones cannot go through it); latency is therefore the model's, without the socket.
Reported: agreement with the recorded calls (same tool, same call), validity, fallbacks,
latency and tokens.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_arena.config.sections import ReplayConfig  # declared with the other sections
from agent_arena.errors import OutcomeStatus, Status
from agent_arena.eval_report import percentile
from agent_arena.export import DecisionTrace, load_traces
from agent_arena.journal import ReadReport
from agent_arena.scenarios import _same
from agent_arena.tools import ToolCall, ToolRegistry


@dataclass
class ReplayRow:
    index: int
    session: str
    agent_id: str
    tick: int
    recorded_tool: str | None
    recorded_arguments: dict[str, Any] | None
    recorded_status: Status
    tool: str | None
    arguments: dict[str, Any] | None
    status: OutcomeStatus
    valid: bool
    same_tool: bool
    same_call: bool
    latency_ms: float
    recorded_latency_ms: float
    prompt_tokens: int
    completion_tokens: int
    reason: str | None = None


@dataclass
class ReplaySummary:
    label: str
    backend: str
    model: str
    mode: str
    decisions: int
    same_tool_pct: float
    same_call_pct: float
    schema_valid_pct: float
    fallback_pct: float
    recorded_valid_pct: float
    p50_ms: float
    p99_ms: float
    recorded_p50_ms: float
    recorded_p99_ms: float
    tokens_per_decision: float
    agreement: dict[str, dict[str, int]]  # recorded tool -> replayed tool -> count
    rows: list[ReplayRow]

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _sampling(tr: DecisionTrace, backend: Any, cfg: ReplayConfig) -> Any:
    from agent_arena.backends.base import Sampling

    base = backend.default_sampling
    if cfg.sampling == "recorded" and tr.sampling:
        known = {k: v for k, v in tr.sampling.items() if k in Sampling.__dataclass_fields__}
        if isinstance(known.get("stop"), tuple):
            known["stop"] = list(known["stop"])
        base = Sampling(**known)
    if cfg.seed is not None:
        base = dataclasses.replace(base, seed=cfg.seed)
    return base


def _registry(tr: DecisionTrace, default_tools: Sequence[Mapping[str, Any]]) -> ToolRegistry:
    return ToolRegistry(tr.tool_specs if tr.tool_specs is not None else list(default_tools))


async def replay(
    backend: Any,
    decisions: Sequence[DecisionTrace],
    *,
    tools: Sequence[Mapping[str, Any]] = (),
    profiles: Mapping[str, Any] | None = None,
    calling: Any = None,
    config: ReplayConfig | None = None,
    on_row: Callable[[ReplayRow], None] | None = None,
) -> ReplaySummary:
    """Re-decide ``decisions`` on ``backend``; ``tools`` stands in for sessions whose tool
    specs the journal lacks."""
    from agent_arena.agents import AgentState
    from agent_arena.calling import CallingConfig, decide_once, fallback_call
    from agent_arena.prompt import build_messages, without_tool_block

    cfg = config or ReplayConfig()
    calling = calling or CallingConfig()
    profile = None
    if cfg.profile is not None:
        profiles = dict(profiles or {})
        if cfg.profile not in profiles:
            raise KeyError(f"profile {cfg.profile!r} is not configured; configured: "
                           f"{', '.join(profiles)}")
        profile = profiles[cfg.profile]
    selected = list(decisions)[: cfg.limit or None]
    states: dict[tuple[str, str], Any] = {}
    rows: list[ReplayRow] = []
    for i, tr in enumerate(selected):
        registry = _registry(tr, tools)
        allowed = tr.allowed
        specs = registry.select(allowed)
        call_cfg = calling
        if profile is None:
            messages, thought = without_tool_block(tr.messages, tr.prompt, specs, tr.strategy)
            # the exact messages are generated on: choosing by scores asks other prompts
            choice = "generate" if calling.choice == "auto" else calling.choice
            call_cfg = dataclasses.replace(calling, thought=thought or calling.thought,
                                           choice=choice)
            model, extra = None, None
        else:
            state = states.get((tr.session, tr.agent_id))
            if state is None:
                state = states[(tr.session, tr.agent_id)] = AgentState(tr.agent_id,
                                                                       profile.memory_window)
            messages = build_messages(profile, state, tr.observation or {})
            if profile.tools is not None and allowed is None:
                allowed = list(profile.tools)
            model, extra = profile.model, dict(profile.extra_body) or None
        sampling = _sampling(tr, backend, cfg)
        t0 = time.perf_counter()
        out = await decide_once(backend, messages, registry, allowed, call_cfg, sampling,
                                model=model, extra_body=extra, observation=tr.observation)
        latency = (time.perf_counter() - t0) * 1000.0
        call = out.call if out.status == "ok" and out.call is not None else fallback_call(call_cfg)
        valid = out.status == "ok" and not registry.validate(call, allowed)
        rec = tr.call or {}
        same_tool = out.status == "ok" and tr.status == "ok" and call.tool == rec.get("tool")
        same_call = same_tool and _same(call.arguments, rec.get("arguments") or {})
        row = ReplayRow(
            index=i, session=tr.session, agent_id=tr.agent_id, tick=tr.tick,
            recorded_tool=rec.get("tool"), recorded_arguments=rec.get("arguments"),
            recorded_status=tr.status, tool=call.tool, arguments=dict(call.arguments),
            status=out.status, valid=valid, same_tool=same_tool, same_call=same_call,
            latency_ms=round(latency, 2), recorded_latency_ms=tr.latency_ms,
            prompt_tokens=out.prompt_tokens, completion_tokens=out.completion_tokens,
            reason=out.reason)
        rows.append(row)
        if on_row:
            on_row(row)
        if profile is not None:  # memory follows the recorded world, not the replay
            state.record_action(tr.tick, ToolCall(rec.get("tool") or "?",
                                                  dict(rec.get("arguments") or {})).as_wire())
            if tr.result is not None and rec.get("tool"):
                state.record_result(tr.tick, rec["tool"], bool(tr.result.get("ok")),
                                    tr.result.get("result"))
    return summarize(rows, backend=backend.name, model=backend.model_name,
                     mode=f"profile={cfg.profile}" if profile is not None else "recorded prompts")


def summarize(rows: Sequence[ReplayRow], *, backend: str, model: str, mode: str) -> ReplaySummary:
    n = len(rows)

    def pct(k: int) -> float:
        return round(100.0 * k / n, 2) if n else 0.0

    agreement: dict[str, dict[str, int]] = {}
    for r in rows:
        a = agreement.setdefault(r.recorded_tool if r.recorded_status == "ok"
                                 else r.recorded_status, {})
        b = r.tool if r.status == "ok" else r.status
        a[str(b)] = a.get(str(b), 0) + 1
    lat = [r.latency_ms for r in rows]
    rec = [r.recorded_latency_ms for r in rows]
    return ReplaySummary(
        label=f"{backend} ({mode})", backend=backend, model=model, mode=mode, decisions=n,
        same_tool_pct=pct(sum(r.same_tool for r in rows)),
        same_call_pct=pct(sum(r.same_call for r in rows)),
        schema_valid_pct=pct(sum(r.valid for r in rows)),
        fallback_pct=pct(sum(r.status != "ok" for r in rows)),
        recorded_valid_pct=pct(sum(r.recorded_status == "ok" for r in rows)),
        p50_ms=round(percentile(lat, 50), 1), p99_ms=round(percentile(lat, 99), 1),
        recorded_p50_ms=round(percentile(rec, 50), 1),
        recorded_p99_ms=round(percentile(rec, 99), 1),
        tokens_per_decision=round(sum(r.prompt_tokens + r.completion_tokens for r in rows) / n, 1)
        if n else 0.0,
        agreement={k: dict(sorted(v.items())) for k, v in sorted(agreement.items())},
        rows=list(rows))


def print_summary(s: ReplaySummary, console: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console(width=max(Console().width, 150))
    t = Table(title=f"replay: {s.label}, model {s.model}", title_justify="left")
    for head in ("n", "same tool %", "same call %", "valid %", "fallback %", "recorded valid %",
                 "p50 ms", "p99 ms", "recorded p50 ms", "tokens/dec"):
        t.add_column(head, justify="right")
    t.add_row(str(s.decisions), f"{s.same_tool_pct:.1f}", f"{s.same_call_pct:.1f}",
              f"{s.schema_valid_pct:.1f}", f"{s.fallback_pct:.1f}", f"{s.recorded_valid_pct:.1f}",
              f"{s.p50_ms:.0f}", f"{s.p99_ms:.0f}", f"{s.recorded_p50_ms:.0f}",
              f"{s.tokens_per_decision:.0f}")
    console.print(t)
    cols = sorted({c for row in s.agreement.values() for c in row})
    console.print("recorded (rows) vs replayed (columns)")
    a = Table()
    a.add_column("recorded")
    for c in cols:
        a.add_column(c, justify="right")
    for k, row in s.agreement.items():
        a.add_row(k, *(str(row.get(c, "")) for c in cols))
    console.print(a)


async def replay_journal(path: str | Path, backend: Any, **kw: Any) -> ReplaySummary:
    cfg: ReplayConfig = kw.get("config") or ReplayConfig()
    report = ReadReport()
    decisions = load_traces(path, statuses=cfg.statuses, report=report)
    summary = await replay(backend, decisions, **kw)
    if cfg.out:
        Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
        Path(cfg.out).write_text(json.dumps(summary.to_json(), indent=1, default=str))
    return summary


def cli(args: Sequence[str]) -> int:
    """``agent-arena replay JOURNAL [backend=...] [profile=NAME] [replay.seed=N] [replay.out=F]``"""
    import asyncio

    from agent_arena import settings
    from agent_arena.backends import create_backend
    from agent_arena.evaluation import build_config, split_args

    paths, overrides = split_args(args, "replay")
    if len(paths) != 1:
        print("usage: agent-arena replay JOURNAL [backend=...] [profile=NAME] [replay.seed=N] "
              "[replay.limit=N] [replay.out=FILE] (docs/eval.md)")
        return 2
    cfg = settings.compose(overrides)
    config = build_config(ReplayConfig, cfg.get("replay"), "replay")
    backend = create_backend(cfg["backend"])

    async def go() -> ReplaySummary:
        try:
            await backend.start()
            return await replay_journal(paths[0], backend, tools=settings.tool_specs(cfg),
                                        profiles=settings.profiles(cfg),
                                        calling=settings.calling_config(cfg), config=config)
        finally:
            await backend.close()

    print_summary(asyncio.run(go()))
    return 0
