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
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agent_arena.config.build import build as build_config  # the one builder (eval, replay)
from agent_arena.config.sections import EvalConfig  # declared with the other sections
from agent_arena.errors import ConfigError
from agent_arena.tools import ToolCall, ToolRegistry


class ScenarioError(ConfigError):
    """A scenario file that cannot be used; the message names the file and the scenario."""


# ---- predicates ----------------------------------------------------------------------------------

OPS = ("equals", "one_of", "near", "farther_from", "non_empty", "contains", "from_observation")
MODIFIERS = {"near": "within", "farther_from": "than"}
DEFAULT_WITHIN = 1.0


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def _point(v: Any) -> list[float] | None:
    if isinstance(v, Mapping):  # {x, y, z}
        v = [v[k] for k in ("x", "y", "z") if k in v]
    if not isinstance(v, (list, tuple)) or not v:
        return None
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
        return None
    return [float(x) for x in v]


def _strings(value: Any) -> Iterable[str]:
    """Every string (and map key) inside an observation: what an id may be copied from."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


@dataclass(frozen=True)
class ArgCheck:
    """One predicate on one argument, e.g. ``target near [7, 0, 3] within 1``."""

    arg: str
    op: str
    value: Any = None
    tolerance: float | None = None

    def holds(self, arguments: Mapping[str, Any], observation: Mapping[str, Any]) -> bool:
        if self.arg not in arguments:
            return False
        got = arguments[self.arg]
        if self.op == "equals":
            return _same(got, self.value)
        if self.op == "one_of":
            return any(_same(got, v) for v in self.value)
        if self.op == "non_empty":
            return isinstance(got, str) and bool(got.strip()) == bool(self.value)
        if self.op == "contains":
            words = self.value if isinstance(self.value, list) else [self.value]
            return isinstance(got, str) and any(str(w).lower() in got.lower() for w in words)
        if self.op == "from_observation":
            return isinstance(got, str) and (got in set(_strings(observation))) == bool(self.value)
        p, q = _point(got), _point(self.value)
        if p is None or q is None or len(p) != len(q):
            return False
        d = math.dist(p, q)
        if self.op == "near":
            return d <= (self.tolerance if self.tolerance is not None else DEFAULT_WITHIN)
        if self.op == "farther_from":
            return d > (self.tolerance or 0.0)
        raise AssertionError(self.op)

    def describe(self) -> str:
        extra = f" {MODIFIERS[self.op]} {self.tolerance:g}" if self.op in MODIFIERS and \
            self.tolerance is not None else ""
        return f"{self.arg} {self.op} {json.dumps(self.value)}{extra}"


@dataclass(frozen=True)
class Alternative:
    """One acceptable action: a tool and the predicates its arguments must satisfy."""

    tool: str | None  # None: any tool
    checks: tuple[ArgCheck, ...] = ()


@dataclass(frozen=True)
class Judgement:
    valid: bool
    right_tool: bool
    right_args: bool
    failed: tuple[str, ...] = ()  # predicates that did not hold (of the best alternative)


@dataclass(frozen=True)
class Expectation:
    alternatives: tuple[Alternative, ...]

    @property
    def tools(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a.tool or "*" for a in self.alternatives))

    @property
    def label(self) -> str:
        return "|".join(self.tools)

    def judge(self, call: Mapping[str, Any] | None, valid: bool,
              observation: Mapping[str, Any]) -> Judgement:
        if not valid or call is None:
            return Judgement(False, False, False)
        matching = [a for a in self.alternatives if a.tool in (None, call.get("tool"))]
        if not matching:
            return Judgement(True, False, False)
        args = call.get("arguments") or {}
        best: tuple[str, ...] = ()
        for alt in matching:
            failed = tuple(c.describe() for c in alt.checks if not c.holds(args, observation))
            if not failed:
                return Judgement(True, True, True)
            if not best or len(failed) < len(best):
                best = failed
        return Judgement(True, True, False, best)


def _checks(arg: str, spec: Any, where: str) -> list[ArgCheck]:
    if not isinstance(spec, Mapping):
        return [ArgCheck(arg, "equals", spec)]  # shorthand: item_id: apple-3
    unknown = set(spec) - set(OPS) - set(MODIFIERS.values())
    if unknown:
        raise ScenarioError(f"{where}: argument {arg!r} has unknown predicate(s) "
                            f"{', '.join(sorted(unknown))}; known: {', '.join(OPS)} "
                            "(with 'within' for near, 'than' for farther_from)")
    out = []
    for op in OPS:
        if op not in spec:
            continue
        value = spec[op]
        tol = spec.get(MODIFIERS.get(op, ""), None)
        if op == "one_of" and not isinstance(value, list):
            raise ScenarioError(f"{where}: {arg}.one_of must be a list")
        if op in ("near", "farther_from") and _point(value) is None:
            raise ScenarioError(f"{where}: {arg}.{op} must be a position like [x, y, z]")
        if op == "farther_from" and tol is None:
            raise ScenarioError(f"{where}: {arg}.farther_from needs 'than: <distance>'")
        out.append(ArgCheck(arg, op, value, None if tol is None else float(tol)))
    if not out:
        raise ScenarioError(f"{where}: argument {arg!r} has no predicate; use one of {OPS}")
    return out


def parse_expectation(data: Any, where: str) -> Expectation:
    """``{tool, arguments}``, ``{tool: [a, b]}`` or a list of such alternatives."""
    items = data if isinstance(data, list) else [data]
    alts: list[Alternative] = []
    for item in items:
        if isinstance(item, str):
            item = {"tool": item}
        if not isinstance(item, Mapping):
            raise ScenarioError(f"{where}: expect must be a map or a list of maps")
        unknown = set(item) - {"tool", "arguments"}
        if unknown:
            raise ScenarioError(f"{where}: expect has unknown key(s) {sorted(unknown)}; "
                                "use tool and arguments")
        tools = item.get("tool")
        tools = tools if isinstance(tools, list) else [tools]
        checks: list[ArgCheck] = []
        for arg, spec in dict(item.get("arguments") or {}).items():
            checks.extend(_checks(str(arg), spec, where))
        alts.extend(Alternative(t, tuple(checks)) for t in tools)
    if not alts:
        raise ScenarioError(f"{where}: expect lists no action")
    return Expectation(tuple(alts))


# ---- scenario files ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    id: str
    observation: Mapping[str, Any]
    expect: Expectation
    tools: tuple[str, ...] | None = None  # observe.tools (allowed now); None: all of the set's
    profile: str | None = None  # None: the profile under test
    tags: tuple[str, ...] = ()
    # other fields sent with this observe as they are (e.g. action masks the game knows)
    observe: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class ScenarioSet:
    name: str
    scenarios: list[Scenario]
    tool_specs: list[dict[str, Any]] = field(default_factory=list)  # sent in hello
    path: str | None = None


_SCENARIO_KEYS = {"id", "name", "observation", "expect", "tools", "profile", "tags", "observe"}
_FILE_KEYS = {"name", "tools", "allowed", "scenarios", "description"}


def _scenario(data: Any, where: str, default_tools: tuple[str, ...] | None) -> Scenario:
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{where}: a scenario must be a map")
    unknown = set(data) - _SCENARIO_KEYS
    if unknown:
        raise ScenarioError(f"{where}: unknown key(s) {sorted(unknown)}; known: "
                            f"{', '.join(sorted(_SCENARIO_KEYS))}")
    sid = data.get("id") or data.get("name")
    if not isinstance(sid, str) or not sid:
        raise ScenarioError(f"{where}: every scenario needs an id")
    obs = data.get("observation")
    if not isinstance(obs, Mapping):
        raise ScenarioError(f"{where} ({sid}): observation must be a map")
    if "expect" not in data:
        raise ScenarioError(f"{where} ({sid}): missing expect")
    tools = data.get("tools", default_tools)
    return Scenario(id=sid, observation=dict(obs),
                    expect=parse_expectation(data["expect"], f"{where} ({sid})"),
                    tools=tuple(tools) if tools is not None else None,
                    profile=data.get("profile"), tags=tuple(data.get("tags") or ()),
                    observe=dict(data.get("observe") or {}))


def load_scenarios(path: str | Path) -> ScenarioSet:
    """A YAML file (a list of scenarios, or a map with ``scenarios`` and file-level ``tools``)
    or a JSONL file (one scenario per line)."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"no scenario file at {path}")
    text = path.read_text()
    specs: list[dict[str, Any]] = []
    allowed: tuple[str, ...] | None = None
    name = path.stem
    if path.suffix == ".jsonl":
        try:
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise ScenarioError(f"{path}: line {exc.lineno}: {exc.msg}") from exc
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ScenarioError(f"{path}: not YAML: {exc}") from exc
        if isinstance(data, Mapping):
            unknown = set(data) - _FILE_KEYS
            if unknown:
                raise ScenarioError(f"{path}: unknown top-level key(s) {sorted(unknown)}; "
                                    f"known: {', '.join(sorted(_FILE_KEYS))}")
            name = str(data.get("name") or name)
            tools = data.get("tools") or {}
            specs = ([{"name": k, **dict(v)} for k, v in tools.items()]
                     if isinstance(tools, Mapping) else list(tools))
            if data.get("allowed") is not None:
                allowed = tuple(data["allowed"])
            elif specs:
                allowed = tuple(s["name"] for s in specs)
            items = data.get("scenarios") or []
        else:
            items = data or []
    if not isinstance(items, list) or not items:
        raise ScenarioError(f"{path}: no scenarios")
    scenarios = [_scenario(x, f"{path}#{i + 1}", allowed) for i, x in enumerate(items)]
    ids = [s.id for s in scenarios]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ScenarioError(f"{path}: duplicate scenario ids {dupes}")
    return ScenarioSet(name=name, scenarios=scenarios, tool_specs=specs, path=str(path))


def scenario_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given; a directory means its *.yaml, *.yml and *.jsonl files, sorted."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(x for x in p.iterdir() if x.suffix in (".yaml", ".yml", ".jsonl")))
        else:
            out.append(p)
    return out


# ---- running -------------------------------------------------------------------------------------


@dataclass
class DecisionRow:
    """One decision as the game saw it, and how it was judged."""

    run: int
    set: str
    scenario: str
    expected: str
    tool: str | None
    arguments: dict[str, Any] | None
    status: str
    valid: bool
    right_tool: bool
    right_args: bool
    latency_ms: float
    prompt_tokens: int
    completion_tokens: int
    attempts: int
    reason: str | None = None
    failed: list[str] = field(default_factory=list)

    @property
    def chosen(self) -> str:
        """Column of the confusion matrix: the tool when valid, else what happened."""
        if self.valid and self.tool:
            return self.tool
        return self.status if self.status != "ok" else "invalid"


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
                await client.hello(tools=ss.tool_specs)
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
    status = str(reply.get("status"))
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


# ---- the report ----------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Inclusive-method percentile (as the demo reports); 0 for no values."""
    v = sorted(values)
    if not v:
        return 0.0
    if len(v) == 1:
        return v[0]
    return statistics.quantiles(v, n=100, method="inclusive")[int(q) - 1]


@dataclass
class Metrics:
    decisions: int
    schema_valid_pct: float
    right_tool_pct: float
    right_args_pct: float
    fallback_pct: float
    timeout_pct: float
    p50_ms: float
    p99_ms: float
    tokens_per_decision: float
    prompt_tokens_per_decision: float
    completion_tokens_per_decision: float

    @classmethod
    def of(cls, rows: Sequence[DecisionRow]) -> Metrics:
        n = len(rows)

        def pct(k: int) -> float:
            return round(100.0 * k / n, 2) if n else 0.0

        lat = [r.latency_ms for r in rows]
        pt = sum(r.prompt_tokens for r in rows)
        ct = sum(r.completion_tokens for r in rows)
        return cls(
            decisions=n, schema_valid_pct=pct(sum(r.valid for r in rows)),
            right_tool_pct=pct(sum(r.right_tool for r in rows)),
            right_args_pct=pct(sum(r.right_args for r in rows)),
            fallback_pct=pct(sum(r.status == "fallback" for r in rows)),
            timeout_pct=pct(sum(r.status == "timeout" for r in rows)),
            p50_ms=round(percentile(lat, 50), 1), p99_ms=round(percentile(lat, 99), 1),
            tokens_per_decision=round((pt + ct) / n, 1) if n else 0.0,
            prompt_tokens_per_decision=round(pt / n, 1) if n else 0.0,
            completion_tokens_per_decision=round(ct / n, 1) if n else 0.0)


def confusion(rows: Sequence[DecisionRow]) -> dict[str, dict[str, int]]:
    """expected (tool or a|b) -> chosen (tool, or fallback/timeout/invalid) -> count."""
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        row = out.setdefault(r.expected, {})
        row[r.chosen] = row.get(r.chosen, 0) + 1
    return {k: dict(sorted(v.items())) for k, v in sorted(out.items())}


@dataclass
class EvalReport:
    label: str
    backend: str
    model: str
    profile: str
    strategy: str
    scenarios: int
    runs: int
    metrics: Metrics
    per_run: list[Metrics]
    per_set: dict[str, Metrics]
    per_expected: dict[str, Metrics]
    confusion: dict[str, dict[str, int]]
    rows: list[DecisionRow]
    files: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, rows: Sequence[DecisionRow], *, label: str, backend: str, model: str,
              profile: str, strategy: str, runs: int, files: Sequence[str] = ()) -> EvalReport:
        def groups(key: Callable[[DecisionRow], Any]) -> dict[Any, list[DecisionRow]]:
            g: dict[Any, list[DecisionRow]] = {}
            for r in rows:
                g.setdefault(key(r), []).append(r)
            return g

        return cls(
            label=label, backend=backend, model=model, profile=profile, strategy=strategy,
            scenarios=len({(r.set, r.scenario) for r in rows}), runs=runs,
            metrics=Metrics.of(rows),
            per_run=[Metrics.of(v) for _, v in sorted(groups(lambda r: r.run).items())],
            per_set={k: Metrics.of(v) for k, v in sorted(groups(lambda r: r.set).items())},
            per_expected={k: Metrics.of(v) for k, v in
                          sorted(groups(lambda r: r.expected).items())},
            confusion=confusion(rows), rows=list(rows), files=list(files))

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EvalReport:
        d = dict(data)
        d["metrics"] = Metrics(**d["metrics"])
        d["per_run"] = [Metrics(**m) for m in d.get("per_run", [])]
        d["per_set"] = {k: Metrics(**m) for k, m in d.get("per_set", {}).items()}
        d["per_expected"] = {k: Metrics(**m) for k, m in d.get("per_expected", {}).items()}
        d["rows"] = [DecisionRow(**r) for r in d.get("rows", [])]
        return cls(**d)

    def write(self, out_dir: str | Path) -> Path:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        path = out / "report.json"
        path.write_text(json.dumps(self.to_json(), indent=1))
        return path


_COLUMNS = [("decisions", "n", "{:.0f}"), ("schema_valid_pct", "valid %", "{:.1f}"),
            ("right_tool_pct", "right tool %", "{:.1f}"),
            ("right_args_pct", "right args %", "{:.1f}"), ("fallback_pct", "fallback %", "{:.1f}"),
            ("timeout_pct", "timeout %", "{:.1f}"), ("p50_ms", "p50 ms", "{:.0f}"),
            ("p99_ms", "p99 ms", "{:.0f}"), ("tokens_per_decision", "tokens/dec", "{:.0f}")]
WIDTH = 150  # tables are read in logs and CI output too, where rich would assume 80 columns


def metrics_table(title: str, named: Sequence[tuple[str, Metrics]]) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("", no_wrap=True)
    for _, head, _ in _COLUMNS:
        table.add_column(head, justify="right")
    for name, m in named:
        table.add_row(name, *(fmt.format(getattr(m, k)) for k, _, fmt in _COLUMNS))
    return table


def confusion_table(report: EvalReport) -> Any:
    from rich.table import Table

    cols = sorted({c for row in report.confusion.values() for c in row})
    table = Table()
    table.add_column("expected", no_wrap=True)
    for c in cols:
        table.add_column(c, justify="right")
    for exp, row in report.confusion.items():
        table.add_row(exp, *(str(row.get(c, "")) for c in cols))
    return table


def print_report(reports: Sequence[EvalReport], console: Any = None) -> None:
    from rich.console import Console

    console = console or Console(width=max(Console().width, WIDTH))
    console.print(metrics_table("eval", [(r.label, r.metrics) for r in reports]))
    for r in reports:
        if len(r.per_set) > 1:
            console.print(metrics_table(f"{r.label}: per scenario file", list(r.per_set.items())))
        if len(r.per_run) > 1:
            console.print(metrics_table(f"{r.label}: per run",
                                        [(f"run {i}", m) for i, m in enumerate(r.per_run)]))
        console.print(f"{r.label}: expected (rows) vs chosen (columns)", highlight=False)
        console.print(confusion_table(r))


CHART_METRICS = [("schema_valid_pct", "schema-valid"), ("right_tool_pct", "right tool"),
                 ("right_args_pct", "right args"), ("fallback_pct", "fallback"),
                 ("timeout_pct", "timeout")]


def plot_comparison(reports: Sequence[EvalReport], path: str | Path) -> Path:
    """One group of bars per metric, one bar per report (model/profile)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(CHART_METRICS) * max(1, len(reports))
                                        / 2), 4))
    width = 0.8 / max(1, len(reports))
    for i, r in enumerate(reports):
        xs = [j + (i - (len(reports) - 1) / 2) * width for j in range(len(CHART_METRICS))]
        values = [getattr(r.metrics, k) for k, _ in CHART_METRICS]
        bars = ax.bar(xs, values, width, label=f"{r.label} (n={r.metrics.decisions})")
        ax.bar_label(bars, fmt="%.0f", fontsize=7)
    ax.set_xticks(range(len(CHART_METRICS)), [name for _, name in CHART_METRICS])
    ax.set_ylabel("% of decisions")
    ax.set_ylim(0, 110)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title("agent-arena eval")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def load_report(path: str | Path) -> EvalReport:
    return EvalReport.from_json(json.loads(Path(path).read_text()))


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


def warm_up(backend: Any) -> None:
    load = getattr(backend, "load", None)
    if callable(load):
        load()


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
            await asyncio.to_thread(warm_up, backend)
            return await evaluate(backend, paths, tools=settings.tool_specs(cfg),
                                  profiles=settings.profiles(cfg),
                                  calling=settings.calling_config(cfg), config=config,
                                  on_row=show)
        finally:
            await backend.aclose()

    earlier = [load_report(p) for p in config.compare]
    report = asyncio.run(go())
    print_report([*earlier, report], console)
    if config.out:
        console.print(f"wrote {Path(config.out) / 'report.json'} and "
                      f"{Path(config.out) / 'chart.png'}")
    return 0
