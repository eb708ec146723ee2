"""The evaluation report: judged decisions (``DecisionRow``), their metrics per run, set and
expected tool, the confusion matrix, the tables `agent-arena eval` prints and its chart.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_arena.errors import WireStatus


@dataclass
class DecisionRow:
    """One decision as the game saw it, and how it was judged."""

    run: int
    set: str
    scenario: str
    expected: str
    tool: str | None
    arguments: dict[str, Any] | None
    status: WireStatus
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
