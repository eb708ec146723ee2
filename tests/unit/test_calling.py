import pytest

from agent_arena.backends.base import ChatResponse, RawToolCall, Sampling
from agent_arena.backends.scripted import ScriptedBackend
from agent_arena.calling import (
    CallingConfig,
    call_from_object,
    decide_once,
    first_json_object,
    pick_strategy,
)
from agent_arena.errors import (
    BackendRequestError,
    BackendUnavailable,
    ConfigError,
    classify_refusal,
)
from agent_arena.tools import ToolRegistry
from support.fixtures import game_tools

MSGS = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]


@pytest.mark.parametrize("text,expected", [
    ('{"tool": "idle", "arguments": {}}', {"tool": "idle", "arguments": {}}),
    ('Sure! ```json\n{"tool": "say", "arguments": {"text": "hi"}}\n``` done',
     {"tool": "say", "arguments": {"text": "hi"}}),
    ('I think {"tool": "idle", "arguments": {}} is best. {"other": 1}',
     {"tool": "idle", "arguments": {}}),
    ('<think>maybe {"tool": "flee"}</think>{"tool": "idle", "arguments": {}}',
     {"tool": "idle", "arguments": {}}),
    ('{"tool": "say", "arguments": {"text": "a\tb"}}', {"tool": "say", "arguments": {"text": "a\tb"}}),
    ("no json here", None),
    ('{"tool": "idle", "arguments": {', None),
])
def test_first_json_object(text, expected):
    assert first_json_object(text) == expected


@pytest.mark.parametrize("obj,tool,args", [
    ({"name": "say", "parameters": {"text": "x"}}, "say", {"text": "x"}),
    ({"function": {"name": "say", "arguments": '{"text": "x"}'}}, "say", {"text": "x"}),
    ({"tool": "idle"}, "idle", {}),
])
def test_call_shapes(obj, tool, args):
    ex = call_from_object(obj)
    assert ex.call is not None and (ex.call.tool, ex.call.arguments) == (tool, args)


def test_missing_tool_is_a_problem_not_an_exception():
    assert call_from_object({"arguments": {}}).problems
    assert call_from_object(None).problems


async def test_reask_with_validation_error_then_ok():
    backend = ScriptedBackend(responses=[
        '{"tool": "move_to", "arguments": {"target": [1, 2]}}',
        '{"tool": "move_to", "arguments": {"target": [1, 2, 3]}}',
    ])
    reg = ToolRegistry(game_tools())
    out = await decide_once(backend, MSGS, reg, None, CallingConfig(strategy="prompt"),
                            Sampling())
    assert out.status == "ok" and out.attempts == 2
    assert out.call.arguments == {"target": [1, 2, 3]}
    reask = backend.requests[1].messages
    assert reask[-2]["role"] == "assistant" and "[1, 2]" in reask[-2]["content"]
    assert "target" in reask[-1]["content"] and "too short" in reask[-1]["content"]
    assert len(MSGS) == 2  # caller's messages untouched


async def test_bounded_retries_then_fallback():
    backend = ScriptedBackend(responses=['{"tool": "fly", "arguments": {}}'])
    out = await decide_once(backend, MSGS, ToolRegistry(game_tools()), None,
                            CallingConfig(strategy="prompt", max_attempts=3), Sampling())
    assert out.status == "fallback" and out.attempts == 3 and len(backend.requests) == 3
    assert out.call is None and "unknown tool 'fly'" in out.reason  # the caller falls back


async def test_allowed_tools_are_enforced():
    backend = ScriptedBackend(responses=['{"tool": "say", "arguments": {"text": "x"}}'])
    out = await decide_once(backend, MSGS, ToolRegistry(game_tools()), ["idle", "move_to"],
                            CallingConfig(strategy="prompt", max_attempts=1), Sampling())
    assert out.status == "fallback" and "not allowed" in out.reason
    system = backend.requests[0].messages[0]["content"]
    assert "- idle" in system and "- say" not in system


async def test_constrained_request_carries_union_schema():
    backend = ScriptedBackend(responses=['{"thought": "x", "tool": "idle", "arguments": {}}'])
    out = await decide_once(backend, MSGS, ToolRegistry(game_tools()), ["idle", "say"],
                            CallingConfig(strategy="constrained"), Sampling())
    assert out.status == "ok" and out.thought == "x"
    schema = backend.requests[0].response_schema
    assert [v["properties"]["tool"]["const"] for v in schema["anyOf"]] == ["say", "idle"]


class NoToolsBackend(ScriptedBackend):
    """Claims native tools but answers in plain text (llama-server with SmolLM2 does this)."""

    @property
    def capabilities(self):
        from agent_arena.backends.base import Capabilities

        return Capabilities(native_tools=True, json_schema=True)


async def test_auto_downgrades_from_native_when_no_tool_call_comes_back(caplog):
    def respond(req):
        if req.tools:
            return ChatResponse(text="Hello! How can I help?")
        return '{"thought": "t", "tool": "idle", "arguments": {}}'

    backend = NoToolsBackend(responses=respond)
    reg = ToolRegistry(game_tools())
    out = await decide_once(backend, MSGS, reg, None, CallingConfig(), Sampling())
    assert out.status == "ok" and out.strategy == "constrained"
    assert "auto strategy now uses 'constrained'" in caplog.text
    # remembered: the next decision goes straight to constrained
    n = len(backend.requests)
    await decide_once(backend, MSGS, reg, None, CallingConfig(), Sampling())
    assert len(backend.requests) == n + 1 and backend.requests[-1].response_schema is not None


async def test_native_tool_calls_are_validated():
    backend = NoToolsBackend(responses=[
        ChatResponse(tool_calls=[RawToolCall("pick_up", '{"item_id": 5}')]),
        ChatResponse(tool_calls=[RawToolCall("pick_up", '{"item_id": "apple-1"}')]),
    ])
    out = await decide_once(backend, MSGS, ToolRegistry(game_tools()), None,
                            CallingConfig(strategy="native"), Sampling())
    assert out.status == "ok" and out.attempts == 2 and out.call.arguments == {"item_id": "apple-1"}
    assert backend.requests[0].tool_choice == "required"


async def test_rejected_request_downgrades_in_auto():
    class Rejecting(NoToolsBackend):
        async def chat(self, request):
            if request.tools:
                text = '"auto" tool choice requires --enable-auto-tool-choice'
                raise BackendRequestError(text, kind=classify_refusal(400, text))
            return await super().chat(request)

    backend = Rejecting(responses=['{"tool": "idle", "arguments": {}}'])
    out = await decide_once(backend, MSGS, ToolRegistry(game_tools()), None, CallingConfig(),
                            Sampling())
    assert out.status == "ok" and out.strategy == "constrained"


@pytest.mark.parametrize("status,text,kind", [
    (400, "This model's maximum context length is 2048 tokens. However, you requested 3000",
     "context_length"),
    (404, "The model `npc-lora-typo` does not exist.", "unknown_model"),
    (401, "Unauthorized", "auth"),
    (400, "temperature must be non-negative", "bad_request"),
])
async def test_one_bad_request_does_not_downgrade_anyone(status, text, kind):
    """Before: any 4xx in auto switched every agent of the process to the next strategy."""
    class OneBad(ScriptedBackend):
        async def chat(self, request):
            if "oversized" in str(request.messages[-1]["content"]):
                raise BackendRequestError(text, kind=classify_refusal(status, text))
            return await super().chat(request)

    backend = OneBad(responses=['{"tool": "idle", "arguments": {}}'])
    reg = ToolRegistry(game_tools())
    bad = await decide_once(backend, [{"role": "user", "content": "oversized"}], reg, None,
                            CallingConfig(), Sampling())
    assert bad.status == "fallback" and bad.error_kind == kind and f"({kind})" in bad.reason
    assert bad.attempts == 0 and len(backend.requests) == 0  # not re-asked, not downgraded
    good = await decide_once(backend, MSGS, reg, None, CallingConfig(), Sampling())
    assert good.status == "ok" and good.strategy == "constrained"
    assert backend.requests[-1].response_schema is not None


@pytest.mark.parametrize("status,text,kind", [
    (400, '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set',
     "tools_unsupported"),
    (400, "response_format json_schema is not supported", "schema_unsupported"),
    (400, "the request exceeds the available context size, try increasing it",
     "context_length"),
])
def test_refusals_are_classified(status, text, kind):
    assert classify_refusal(status, text) == kind


async def test_backend_failure_becomes_fallback_not_exception():
    class Down(ScriptedBackend):
        async def chat(self, request):
            raise BackendUnavailable("Cannot connect to vLLM server at http://x")

    out = await decide_once(Down(), MSGS, ToolRegistry(game_tools()), None, CallingConfig(),
                            Sampling())
    assert out.status == "fallback" and out.call is None and out.error_kind == "unavailable"
    assert "Cannot connect" in out.reason


def test_unknown_strategy_names_the_choices():
    with pytest.raises(ConfigError, match="auto, constrained, prompt, native"):
        pick_strategy("magic", ScriptedBackend())


@pytest.mark.parametrize("field,value,words", [
    ("strategy", "constraind", ["constraind", "auto, constrained, prompt, native"]),
    ("max_attempts", 0, ["max_attempts=0", ">= 1"]),
    ("fallback_tool", "", ["fallback_tool"]),
])
def test_mistyped_calling_config_is_refused(field, value, words):
    with pytest.raises(ConfigError) as err:
        CallingConfig(**{field: value})
    for w in words:
        assert w in err.value.message


def test_every_registered_strategy_and_chooser_loads_under_its_name():
    """The names are public API (calling.strategy, calling.choice): each must resolve."""
    from agent_arena.decide import CHOICES, CHOOSERS, STRATEGIES, list_strategies
    from agent_arena.decide.registry import Registry

    assert list_strategies() == ["auto", "constrained", "prompt", "native"]
    for name in STRATEGIES:
        assert STRATEGIES[name].name == name
    assert set(CHOICES) == {"auto", "generate", *CHOOSERS}
    for name in CHOOSERS:
        assert callable(CHOOSERS[name])
    reg: Registry[object] = Registry("thing")
    reg.register("a", "json", "dumps")
    reg.register("a", "json", "dumps")  # the same again is fine
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a", "json", "loads")
    with pytest.raises(ConfigError, match="unknown thing 'b'; choose one of: a"):
        reg.require("b")
