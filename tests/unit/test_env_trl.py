"""The contract TRL's GRPOTrainer(environment_factory=...) relies on, checked the way TRL reads
it (inspect.getmembers on the class; transformers' get_json_schema per tool method when
transformers is installed), on the demo world through the real bridge. GRPO itself is not run
here: TRL needs torch (docs/training.md, "RL")."""

from __future__ import annotations

import inspect

import pytest

from agent_arena.env.arena import default_tools
from agent_arena.env.trl import ArenaToolEnv, environment_class


def tool_methods(env: ArenaToolEnv) -> dict[str, object]:
    """What TRL exposes: public functions on the class, less reset and get_reward."""
    return {name: getattr(env, name)
            for name, _ in inspect.getmembers(type(env), predicate=inspect.isfunction)
            if name not in ("reset", "get_reward") and not name.startswith("_")}


@pytest.fixture
def env():
    e = environment_class()()
    yield e
    e._close()


def test_one_method_per_registered_tool_with_its_description(env) -> None:
    methods = tool_methods(env)
    names = {t["name"] for t in default_tools()}
    assert set(methods) == names  # nothing else is offered to the model as a tool
    for spec in default_tools():
        m = methods[spec["name"]]
        assert m.__name__ == spec["name"]
        assert m.__doc__.startswith(spec["description"].strip())
        params = set(inspect.signature(m).parameters)
        assert params == set(spec["parameters"].get("properties", {}))


def test_transformers_reads_the_same_schemas(env) -> None:
    utils = pytest.importorskip("transformers.utils")
    for spec in default_tools():
        schema = utils.get_json_schema(getattr(env, spec["name"]))["function"]
        assert schema["name"] == spec["name"]
        assert schema["description"] == spec["description"].strip()
        assert set(schema["parameters"]["properties"]) == set(
            spec["parameters"].get("properties", {}))
        assert set(schema["parameters"].get("required", [])) == set(
            spec["parameters"].get("required", []))


def test_reset_tools_exceptions_and_reward(env) -> None:
    prompt = env.reset(seed=1)
    assert prompt.startswith("Now:") and "Possible now:" in prompt
    with pytest.raises(ValueError, match="invalid action: .*pick_up"):
        env.pick_up(item_id="nothing-here")  # not in reach (or pick_up masked out)
    answer = env.idle()
    assert "tick 0: idle() -> ok: waited" in answer and env.steps == 1
    while not env.done:
        answer = env.idle()
    assert answer.endswith("The episode is over.") and env.steps == 10
    assert isinstance(env.get_reward(), float)
    with pytest.raises(RuntimeError, match="episode is over"):
        env.idle()
    env.reset(seed=2)
    assert not env.done and env.steps == 0 and env.get_reward() == 0.0


def test_a_tool_named_like_an_environment_method_is_refused() -> None:
    with pytest.raises(ValueError, match="rename the tool"):
        environment_class([{"name": "reset", "description": "x", "parameters": {}}])
