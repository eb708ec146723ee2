"""Design scenarios as training rows (`agent-arena train --scenarios`): every labelled answer is
one the scenario judges right, the prompt is the server's, and evaluation sets are refused."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agent_arena.errors import ConfigError
from agent_arena.prompt import decision_messages
from agent_arena.scenarios import load_scenarios, scenario_paths
from agent_arena.tools import ToolSpec, apply_mask
from agent_arena.training.config import TrainConfig
from agent_arena.training.scenario_rows import GUARD, scenario_rows, training_rows
from support.fixtures import ROOT

DESIGN = [ROOT / "bench/dev_games", ROOT / "bench/scenarios", ROOT / "bench/train_games"]
EVALUATION = ["bench/eval_games", "bench/eval_games2", "bench/eval_games3", "bench/eval_games4",
              "bench/heldout"]
WALK_OR_REST = """
name: g
tools:
  walk:
    description: Walk.
    parameters: {type: object, properties: {to: {type: array}}, required: [to]}
  rest: {description: Rest., parameters: {type: object, properties: {}}}
scenarios:
"""


def test_every_design_scenario_becomes_rows_the_scenario_judges_right():
    scenarios = {(ss.name, sc.id): (ss, sc) for p in scenario_paths(DESIGN)
                 for ss in [load_scenarios(p)] for sc in ss.scenarios}
    rows = list(scenario_rows(DESIGN, copies=4, seed=1))
    assert {(r["meta"]["set"], r["meta"]["scenario"]) for r in rows} == set(scenarios)
    assert len(rows) == 4 * len(scenarios)
    for r in rows:
        ss, sc = scenarios[r["meta"]["set"], r["meta"]["scenario"]]
        call = json.loads(r["messages"][-1]["content"])
        assert sc.expect.judge(call, True, sc.observation).right_args, (sc.id, call)
        masked = r["meta"]["masked"]
        assert masked == ("Possible now: " in r["messages"][1]["content"])
        assert masked == ("mask" in sc.observe and r["meta"]["copy"] % 2 == 0)


def test_first_copies_are_the_server_prompt_with_the_mask_and_without():
    p = ROOT / "bench/dev_games/stable_hand.yaml"
    ss = load_scenarios(p)
    sc = ss.scenarios[0]
    tools = [ToolSpec.from_any(s) for s in ss.tool_specs]
    with_mask, without = [r for r in scenario_rows([p], copies=2) if r["meta"]["scenario"] == sc.id]
    assert with_mask["messages"][:2] == decision_messages(
        tools, sc.observation, apply_mask(tools, sc.observe["mask"]))
    assert without["messages"][:2] == decision_messages(tools, sc.observation)


@pytest.mark.parametrize("folder", EVALUATION)
def test_an_evaluation_set_is_never_training_data(folder):
    assert (ROOT / folder / GUARD).is_file()
    with pytest.raises(ConfigError, match="never training data"):
        training_rows([ROOT / folder], copies=1, seed=0)


def test_a_scenario_with_no_single_right_answer_is_left_out(tmp_path: Path):
    (tmp_path / "g.yaml").write_text(WALK_OR_REST + """- id: away
  observation: {threat: [1, 2]}
  expect: {tool: walk, arguments: {to: {farther_from: [1, 2], than: 5}}}
- id: still
  observation: {threat: null}
  expect: {tool: rest}
""")
    rows = list(scenario_rows([tmp_path], copies=2))
    assert [r["meta"]["scenario"] for r in rows] == ["still", "still"]
    assert TrainConfig(scenarios=str(tmp_path)).scenarios == str(tmp_path)  # enough on its own
    with pytest.raises(ConfigError, match="scenario_copies"):
        TrainConfig(scenarios=str(tmp_path), scenario_copies=0)


def test_when_one_acceptable_action_cannot_be_labelled_the_next_one_is(tmp_path: Path):
    (tmp_path / "g.yaml").write_text(WALK_OR_REST + """- id: away-or-still
  observation: {threat: [1, 2]}
  expect:
  - {tool: walk, arguments: {to: {farther_from: [1, 2], than: 5}}}
  - {tool: rest}
""")
    rows = list(scenario_rows([tmp_path], copies=1))
    assert [json.loads(r["messages"][-1]["content"])["tool"] for r in rows] == ["rest"]


def _listed(system: str) -> dict[str, str]:
    """Tool name -> description, as the prompt's tool lines show them."""
    return {m[1]: m[2] for m in re.finditer(r"^- ([^(\s]+)\(.*?\): (.*)$", system, re.M)}


def test_renamed_copies_give_each_tool_a_fresh_name_in_tools_mask_goal_and_answer():
    p = ROOT / "bench/dev_games/pirate_deckhand.yaml"
    ss = load_scenarios(p)
    declared = {t.name: t.description for t in map(ToolSpec.from_any, ss.tool_specs)}
    by_id = {sc.id: sc for sc in ss.scenarios}
    rows = list(scenario_rows([p], copies=6, seed=3, rename=True))
    assert len(rows) == 6 * len(ss.scenarios)
    for r in rows:
        system, user = r["messages"][0]["content"], r["messages"][1]["content"]
        call = json.loads(r["messages"][-1]["content"])
        listed = _listed(system)
        expected = by_id[r["meta"]["scenario"]].expect.alternatives[0].tool
        # the answer is the expected tool, under whatever name this copy gives it
        assert listed[call["tool"]] == declared[expected]
        if r["meta"]["copy"] < 2:
            assert listed == declared
            continue
        assert sorted(listed.values()) == sorted(declared.values())
        assert not set(listed) & set(declared), listed
        for old in declared:  # not in the goal (`do: stow`) nor in "Possible now"
            assert not re.search(rf"\b{old}\b", user), (old, user)
        if r["meta"]["masked"]:
            possible = re.search(r"Possible now: (.*)", user)[1].split(", ")
            assert call["tool"] in possible and set(possible) <= set(listed)


def test_without_tags_that_tell_roles_no_tool_is_renamed(tmp_path: Path):
    (tmp_path / "g.yaml").write_text(WALK_OR_REST + """- id: still
  observation: {threat: null}
  expect: {tool: rest}
""")
    rows = list(scenario_rows([tmp_path], copies=4, rename=True))
    assert [set(_listed(r["messages"][0]["content"])) for r in rows] == [{"walk", "rest"}] * 4
