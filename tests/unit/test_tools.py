import pytest
from jsonschema import Draft202012Validator

from agent_arena.errors import ToolError
from agent_arena.tools import ToolCall, ToolRegistry, ToolSpec, call_schema

MOVE = {"name": "move_to", "description": "walk",
        "parameters": {"type": "object", "properties": {
            "target": {"type": "array", "items": {"type": "number"}, "minItems": 3,
                       "maxItems": 3}}, "required": ["target"], "additionalProperties": False}}


def test_flat_and_openai_forms_are_equal():
    a = ToolSpec.from_any(MOVE)
    b = ToolSpec.from_any({"type": "function", "function": MOVE})
    assert a == b


def test_spec_is_copied_not_mutated():
    spec = {"name": "x", "parameters": {"type": "object", "properties": {}}}
    reg = ToolRegistry([spec])
    reg.get("x").parameters["properties"]["y"] = 1  # type: ignore[index]
    assert spec["parameters"]["properties"] == {}


@pytest.mark.parametrize("bad,needle", [
    ({"name": "1abc", "parameters": {"type": "object"}}, "name"),
    ({"name": "x", "parameters": {"type": "array"}}, "object"),
    ({"name": "x", "parameters": {"type": "object", "properties": {"a": {"type": "frog"}}}},
     "not a valid JSON Schema"),
    ({"name": "x", "parameters": {"type": "object", "required": "a"}}, "required"),
    ({"name": "x", "parameters": "nope"}, "parameters"),
    ("not a map", "map"),
])
def test_invalid_specs_are_rejected_with_reason(bad, needle):
    with pytest.raises(ToolError, match=needle) as err:
        ToolRegistry([bad])
    assert err.value.code == "invalid_schema"


def test_registration_is_all_or_nothing():
    reg = ToolRegistry([MOVE])
    with pytest.raises(ToolError):
        reg.register([{"name": "ok", "parameters": {"type": "object"}},
                      {"name": "bad", "parameters": {"type": "object", "minProperties": -1}}])
    assert reg.names() == ["move_to"]


def test_duplicate_names_rejected():
    with pytest.raises(ToolError, match="unique"):
        ToolRegistry([MOVE, MOVE])


def test_validate_calls():
    reg = ToolRegistry([MOVE, {"name": "idle", "parameters": {"type": "object"}}])
    assert reg.validate(ToolCall("move_to", {"target": [1, 2, 3]})) == []
    assert "target" in reg.validate(ToolCall("move_to", {"target": [1, 2]}))[0]
    assert "unknown tool" in reg.validate(ToolCall("fly", {}))[0]
    assert "not allowed" in reg.validate(ToolCall("idle", {}), allowed=["move_to"])[0]
    assert reg.validate(ToolCall("move_to", {"target": [1, 2, 3], "x": 1}))


def test_unknown_tool_error_code():
    with pytest.raises(ToolError) as err:
        ToolRegistry([MOVE]).get("fly")
    assert err.value.code == "unknown_tool"


@pytest.mark.parametrize("thought", [False, True])
def test_call_schema_accepts_exactly_valid_calls(thought):
    specs = ToolRegistry([MOVE, {"name": "idle", "parameters": {"type": "object",
                                                               "additionalProperties": False}}])
    schema = call_schema(specs.select(None), thought=thought)
    Draft202012Validator.check_schema(schema)
    v = Draft202012Validator(schema)
    extra = {"thought": "go"} if thought else {}
    assert v.is_valid({**extra, "tool": "move_to", "arguments": {"target": [1, 2, 3]}})
    assert v.is_valid({**extra, "tool": "idle", "arguments": {}})
    assert not v.is_valid({**extra, "tool": "idle", "arguments": {"target": [1, 2, 3]}})
    assert not v.is_valid({**extra, "tool": "fly", "arguments": {}})
