"""Eval: the scenario format and predicates (pure), and a real run on the embedded model whose
report must agree with a count made here, by hand, from the same run's decisions."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from agent_arena.evaluation import (
    DecisionRow,
    EvalConfig,
    Metrics,
    ScenarioError,
    confusion,
    evaluate,
    load_report,
    load_scenarios,
    parse_expectation,
    scenario_paths,
)

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "tests/data/eval_small.yaml"

# ---- format and predicates -------------------------------------------------------------------


def judge(expect, call, obs=None):
    return parse_expectation(expect, "test").judge(call, True, obs or {})


def test_near_within_and_farther_from():
    e = {"tool": "move_to", "arguments": {"target": {"near": [8, 0, 2], "within": 1.0}}}
    assert judge(e, {"tool": "move_to", "arguments": {"target": [8.6, 0, 2.7]}}).right_args
    j = judge(e, {"tool": "move_to", "arguments": {"target": [9.5, 0, 2]}})
    assert j.right_tool and not j.right_args and j.failed == ("target near [8, 0, 2] within 1",)
    away = {"tool": "move_to", "arguments": {"target": {"farther_from": [0, 0, 0], "than": 3}}}
    assert judge(away, {"tool": "move_to", "arguments": {"target": [3, 0, 1]}}).right_args
    assert not judge(away, {"tool": "move_to", "arguments": {"target": [1, 0, 1]}}).right_args
    assert not judge(away, {"tool": "move_to", "arguments": {"target": "north"}}).right_args


def test_equals_shorthand_one_of_non_empty_contains_from_observation():
    assert judge({"tool": "pick_up", "arguments": {"item_id": "a-1"}},
                 {"tool": "pick_up", "arguments": {"item_id": "a-1"}}).right_args
    assert not judge({"tool": "pick_up", "arguments": {"item_id": "a-1"}},
                     {"tool": "pick_up", "arguments": {"item_id": "a_1"}}).right_args
    one = {"tool": "flee", "arguments": {"threat_id": {"one_of": ["w1", "w2"]}}}
    assert judge(one, {"tool": "flee", "arguments": {"threat_id": "w2"}}).right_args
    say = {"tool": "say", "arguments": {"text": {"non_empty": True, "contains": ["bob", "Ann"]}}}
    assert judge(say, {"tool": "say", "arguments": {"text": "hi ann"}}).right_args
    assert not judge(say, {"tool": "say", "arguments": {"text": "  "}}).right_args
    seen = {"tool": "pick_up", "arguments": {"item_id": {"from_observation": True}}}
    obs = {"in_reach": ["apple-3"], "visible": [{"id": "wood-1"}]}
    assert judge(seen, {"tool": "pick_up", "arguments": {"item_id": "wood-1"}}, obs).right_args
    assert not judge(seen, {"tool": "pick_up", "arguments": {"item_id": "apple"}}, obs).right_args


def test_alternatives_and_any_of_several_tools():
    flee_or_walk_away = [
        {"tool": "flee", "arguments": {"threat_id": "wolf-1"}},
        {"tool": "move_to", "arguments": {"target": {"farther_from": [1, 0, 1], "than": 4}}},
    ]
    assert judge(flee_or_walk_away, {"tool": "move_to", "arguments": {"target": [9, 0, 9]}}
                 ).right_args
    j = judge(flee_or_walk_away, {"tool": "say", "arguments": {"text": "help"}})
    assert j.valid and not j.right_tool
    e = parse_expectation({"tool": ["idle", "say"]}, "t")
    assert e.label == "idle|say"
    assert not e.judge({"tool": "idle", "arguments": {}}, False, {}).valid  # invalid: nothing


def test_bad_scenarios_are_refused_with_what_to_write(tmp_path):
    with pytest.raises(ScenarioError, match="unknown predicate.*close_to.*known: equals"):
        parse_expectation({"tool": "move_to", "arguments": {"target": {"close_to": [1]}}}, "x")
    with pytest.raises(ScenarioError, match="needs 'than"):
        parse_expectation({"tool": "move_to", "arguments": {"target": {"farther_from": [1, 2]}}},
                          "x")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {id: a, observation: {x: 1}}\n")
    with pytest.raises(ScenarioError, match="missing expect"):
        load_scenarios(bad)
    bad.write_text("- {id: a, observation: {x: 1}, expect: idle}\n"
                   "- {id: a, observation: {x: 2}, expect: idle}\n")
    with pytest.raises(ScenarioError, match="duplicate"):
        load_scenarios(bad)


def test_jsonl_and_yaml_files_and_file_level_tools(tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_text(json.dumps({"id": "w", "observation": {"a": 1}, "expect": "idle"}) + "\n\n"
                 + json.dumps({"id": "x", "observation": {"b": 2}, "tools": ["say"],
                               "expect": {"tool": "say"}}) + "\n")
    s = load_scenarios(p)
    assert [x.id for x in s.scenarios] == ["w", "x"] and s.scenarios[1].tools == ("say",)
    farm = load_scenarios(ROOT / "bench/scenarios/farm_tools.yaml")
    assert [t["name"] for t in farm.tool_specs] == ["walk", "grab", "run_from", "reply", "rest"]
    assert all(sc.tools == ("walk", "grab", "run_from", "reply", "rest") for sc in farm.scenarios)


def test_the_shipped_scenario_set():
    sets = [load_scenarios(p) for p in scenario_paths([ROOT / "bench/scenarios"])]
    scenarios = [sc for s in sets for sc in s.scenarios]
    assert len(scenarios) >= 40 and len(sets) >= 4
    shapes = {frozenset(sc.observation) for sc in scenarios}
    assert len(shapes) >= 8  # several observation shapes, not only the default profile's keys
    kinds = {t for sc in scenarios for t in sc.tags}
    assert {"far_item", "in_reach", "threat", "spoke", "wait"} <= kinds


def test_metrics_and_confusion_on_known_rows():
    def row(tool, status="ok", valid=True, tool_ok=True, args_ok=True, lat=10.0, exp="move_to"):
        return DecisionRow(0, "s", "x", exp, tool, {}, status, valid, tool_ok, args_ok, lat,
                           100, 10, 1)

    rows = [row("move_to"), row("move_to", args_ok=False, lat=30.0),
            row("say", tool_ok=False, args_ok=False, lat=20.0),
            row("idle", "fallback", False, False, False, lat=40.0),
            row("idle", "timeout", False, False, False, lat=50.0, exp="idle")]
    m = Metrics.of(rows)
    assert (m.decisions, m.schema_valid_pct, m.right_tool_pct, m.right_args_pct) == (5, 60, 40, 20)
    assert (m.fallback_pct, m.timeout_pct, m.p50_ms, m.tokens_per_decision) == (20, 20, 30, 110)
    assert confusion(rows) == {"idle": {"timeout": 1},
                               "move_to": {"fallback": 1, "move_to": 2, "say": 1}}


# ---- a real run ------------------------------------------------------------------------------


def hand_judge(scenario: str, tool: str | None, args: dict) -> tuple[bool, bool]:
    """What tests/data/eval_small.yaml expects, written out again independently of the
    predicate code: (right tool, right arguments)."""
    if scenario == "walk-far":
        ok = tool == "move_to"
        t = args.get("target")
        return ok, ok and isinstance(t, list) and len(t) == 3 and math.dist(t, [8, 0, 2]) <= 1.0
    want = {"pick-up": ("pick_up", {"item_id": "wood-4"}), "flee": ("flee", {"threat_id": "wolf-2"}),
            "wait": ("idle", {})}
    if scenario in want:
        name, wanted = want[scenario]
        return tool == name, tool == name and all(args.get(k) == v for k, v in wanted.items())
    if scenario == "answer":
        ok = tool == "say"
        return ok, ok and isinstance(args.get("text"), str) and args["text"].strip() != ""
    raise AssertionError(scenario)


@pytest.mark.llama
async def test_eval_on_the_embedded_model_matches_a_hand_count(llama_backend, tools, tmp_path):
    from agent_arena.calling import CallingConfig
    from support.fixtures import default_profiles

    seen = []
    report = await evaluate(llama_backend, [SMALL], tools=tools, profiles=default_profiles(),
                            calling=CallingConfig(strategy="constrained"),
                            config=EvalConfig(runs=2, out=str(tmp_path / "out")),
                            on_row=seen.append)
    rows = report.rows
    assert len(rows) == 10 and len(seen) == 10 and report.scenarios == 5
    assert report.metrics.schema_valid_pct == 100.0  # constrained decoding on llama.cpp
    assert all(r.status == "ok" and r.latency_ms > 0 and r.prompt_tokens > 0 for r in rows)
    right_tool = right_args = 0
    for r in rows:
        t, a = hand_judge(r.scenario, r.tool, r.arguments or {})
        assert (r.right_tool, r.right_args) == (t, a), r
        right_tool += t
        right_args += a
    assert report.metrics.right_tool_pct == pytest.approx(100 * right_tool / 10)
    assert report.metrics.right_args_pct == pytest.approx(100 * right_args / 10)
    tokens = sum(r.prompt_tokens + r.completion_tokens for r in rows) / 10
    assert report.metrics.tokens_per_decision == pytest.approx(tokens, abs=0.05)
    assert [m.decisions for m in report.per_run] == [5, 5]
    chosen = {}
    for r in rows:
        chosen.setdefault(r.expected, {}).setdefault(r.tool, 0)
        chosen[r.expected][r.tool] += 1
    assert report.confusion == {k: dict(sorted(v.items())) for k, v in sorted(chosen.items())}
    # the files: JSON that loads back to the same numbers, and a PNG chart
    again = load_report(tmp_path / "out/report.json")
    assert again.metrics == report.metrics and len(again.rows) == 10
    assert (tmp_path / "out/chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.llama
def test_eval_command_line(tmp_path, capsys):
    from agent_arena.cli import main

    rc = main(["eval", str(SMALL), f"eval.out={tmp_path}",
               "calling.strategy=constrained", "eval.label=cli"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "right tool %" in out and "expected (rows) vs chosen (columns)" in out
    report = load_report(tmp_path / "report.json")
    assert report.label == "cli" and report.metrics.decisions == 5
    assert report.metrics.schema_valid_pct == 100.0


@pytest.mark.llama
def test_a_set_declares_its_fallback_and_eval_sends_it_in_hello(tmp_path, capsys):
    """A game whose waiting tool needs an argument has no valid default fallback (idle {}):
    its file names one (`fallback:`), eval sends it in hello, and the run goes through."""
    from agent_arena.cli import main

    path = tmp_path / "guard.yaml"
    path.write_text("""
name: guard
fallback: {tool: stay_put, arguments: {why: quiet}}
tools:
  stay_put:
    description: Stay where you are.
    parameters:
      type: object
      properties: {why: {type: string, enum: [quiet, ordered]}}
      required: [why]
  walk_over:
    description: Walk to a room.
    parameters:
      type: object
      properties: {room: {type: string}}
      required: [room]
scenarios:
- id: quiet
  observation: {rooms_near: [B2], task: none}
  expect: {tool: stay_put}
""")
    assert load_scenarios(path).fallback == {"tool": "stay_put", "arguments": {"why": "quiet"}}
    rc = main(["eval", str(path), f"eval.out={tmp_path / 'out'}", "calling.strategy=constrained"])
    assert rc == 0
    assert load_report(tmp_path / "out" / "report.json").metrics.decisions == 1
