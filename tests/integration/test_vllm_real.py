"""Real vLLM: vLLM's CPU build serving the embedded SmolLM2-135M (tests/support/vllm_fixture.py starts
it through run_vllm_server.py, once per test module), and the in-process engine (vllm_engine) run
in the vLLM virtualenv (tests/support/vllm_engine_probe.py). `make test` builds that venv and the
model folder first, so on these machines nothing here skips.

- The seed snippet as written, against the real server.
- The backend conformance suite for the vllm family: native tools (tool_choice required and
  named, enforced by vLLM's structured outputs), json_schema output, the prompt fallback, a
  validated call per strategy, ``auto``'s choice, re-ask, classified errors.
- What the server does with our flags: no free whitespace in constrained output, truncated
  constrained output as its own failure, extra_body passthrough (top_k, repetition_penalty,
  chat_template_kwargs reaching the chat template), LoRA by model name (an adapter made
  locally), the bridge end to end (demo world -> ArenaServer -> vLLM).
- ``SGLANG_BASE_URL``: the conformance suite against a real SGLang server; SGLang needs CUDA
  torch and did not install on these CPU machines, so it skips saying so unless one answers.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import subprocess
from typing import ClassVar

import httpx
import pytest
from test_backend_conformance import (
    CALL,
    CASES,
    DATA,
    SHORT,
    TOOLS,
    BackendConformance,
    messages,
)

from agent_arena.backends import ChatRequest, Sampling, create_backend
from agent_arena.backends.recording import RecordingBackend
from agent_arena.backends.sglang import SGLangBackend, SGLangBackendConfig
from agent_arena.backends.vllm import (
    TruncatedOutput,
    VLLMBackend,
    VLLMBackendConfig,
    truncation_problem,
)
from agent_arena.backends.vllm_engine import (
    VLLMEngineBackend,
    VLLMEngineConfig,
    sampling_kwargs,
)
from agent_arena.calling import CallingConfig, decide_once
from agent_arena.errors import BackendRequestError, BackendUnavailable, ConfigError
from agent_arena.tools import ToolRegistry, ToolSpec, call_schema
from support.vllm_fixture import ROOT, RunningVLLM, hf_model_dir, vllm_python

STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')


class RealServerConformance(BackendConformance):
    native_calls_expected: ClassVar[bool] = True  # tool_choice required/named: guided decoding


@pytest.mark.vllm
class TestRealVLLM(RealServerConformance):
    native_calls_expected = DATA["native_calls"]["smollm2_vllm"]
    cases = CASES  # all three situations: the server is ours for the session

    @pytest.fixture
    async def backend(self, vllm_server: RunningVLLM):
        b = VLLMBackend(VLLMBackendConfig(api_base=vllm_server.base_url,
                                          model=vllm_server.model))
        yield b
        await b.close()

    async def test_structured_outputs_extra_field(self, backend: VLLMBackend):
        backend.config.constrained_via = "structured_outputs"
        schema = call_schema(TOOLS)
        resp = await backend.chat(ChatRequest(
            messages=[{"role": "user", "content": "Walk to (1, 2, 3)."}], response_schema=schema,
            sampling=Sampling(temperature=0.0, max_tokens=96)))
        assert json.loads(resp.text)["tool"] in {t.name for t in TOOLS}

    async def test_auto_picks_native_tools_and_gets_a_valid_call(self, backend: VLLMBackend):
        registry = ToolRegistry(TOOLS)
        out = await decide_once(backend, messages(CASES[0]["prompt"]), registry, None,
                                CallingConfig(strategy="auto"), CALL)
        assert out.strategy == "native" and out.status == "ok", out.reason
        assert registry.validate(out.call) == []

    async def test_constrained_output_has_no_free_whitespace(self, backend: VLLMBackend):
        """The server runs with disable_any_whitespace: JSON comes back compact, so a small
        model cannot run into whitespace until max_tokens."""
        for case in CASES:
            resp = await backend.chat(ChatRequest(messages=messages(case["prompt"]),
                                                  response_schema=call_schema(TOOLS),
                                                  sampling=CALL))
            json.loads(resp.text)
            assert resp.finish_reason == "stop", resp.text
            assert not re.search(r"\s", STRINGS.sub('""', resp.text)), resp.text

    async def test_truncated_constrained_output_is_its_own_failure(self, backend: VLLMBackend):
        tiny = Sampling(temperature=0.0, max_tokens=3)
        with pytest.raises(TruncatedOutput, match="cut off at max_tokens=3") as err:
            await backend.chat(ChatRequest(messages=messages(CASES[0]["prompt"]),
                                           response_schema=call_schema(TOOLS), sampling=tiny))
        assert err.value.kind == "truncated" and backend.stats["truncated"] == 1
        with pytest.raises(TruncatedOutput, match="tool call 'move_to' was cut off"):
            await backend.chat(ChatRequest(messages=messages(CASES[0]["prompt"]),
                                           tools=tuple(TOOLS), tool_choice="move_to",
                                           sampling=tiny))
        out = await decide_once(backend, messages(CASES[0]["prompt"]), ToolRegistry(TOOLS),
                                None, CallingConfig(strategy="constrained", max_attempts=3),
                                tiny)
        assert out.status == "fallback" and out.attempts <= 1  # no pointless re-asks
        assert "cut off at max_tokens=3" in (out.reason or "")

    async def test_invalid_call_is_asked_again_with_the_validation_error(
            self, backend: VLLMBackend):
        """xgrammar ignores ``not``: the model writes the code it was told (12), which the
        tool's schema forbids; validation catches it and the re-ask carries the message."""
        tool = ToolSpec.from_any({
            "name": "set_code", "description": "Enter the door code.",
            "parameters": {"type": "object", "additionalProperties": False,
                           "required": ["code"],
                           "properties": {"code": {"type": "integer", "not": {"const": 12}}}}})
        rec = RecordingBackend(backend)
        out = await decide_once(rec, messages("Enter the door code 12."), ToolRegistry([tool]),
                                None, CallingConfig(strategy="native", max_attempts=2), CALL)
        assert out.attempts == len(rec.requests) == 2, (out.status, out.reason)
        first = rec.requests[0]
        said = rec.requests[1].messages[len(first.messages):]
        assert said[0]["role"] == "assistant" and "set_code" in said[0]["content"]
        assert said[1]["role"] == "user" and "should not be valid" in said[1]["content"]
        if out.status == "ok":
            assert ToolRegistry([tool]).validate(out.call) == []
        else:
            assert "should not be valid" in (out.reason or "")

    async def test_errors_are_classified(self, backend: VLLMBackend,
                                         vllm_server: RunningVLLM):
        with pytest.raises(BackendRequestError, match="does not exist") as err:
            await backend.chat(ChatRequest(messages=messages("hi"), sampling=SHORT,
                                           model="guard"))
        assert err.value.kind == "unknown_model"
        long = " ".join(["word"] * 3000)  # > max_model_len 2048
        with pytest.raises(BackendRequestError) as err:
            await backend.chat(ChatRequest(messages=messages(long), sampling=SHORT))
        assert err.value.kind == "context_length", err.value.message
        with pytest.raises(BackendRequestError, match="repetition_penalty") as err:
            await backend.chat(ChatRequest(messages=messages("hi"), sampling=SHORT,
                                           extra_body={"repetition_penalty": 0}))
        assert err.value.kind == "bad_request"
        # vLLM refuses JSON Schema features its grammar engine lacks (xgrammar: multipleOf)
        odd = ToolSpec.from_any({"name": "n", "description": "a number", "parameters": {
            "type": "object", "properties": {"v": {"type": "integer", "multipleOf": 7}}}})
        with pytest.raises(BackendRequestError) as err:
            await backend.chat(ChatRequest(messages=messages("hi"), tools=(odd,),
                                           tool_choice="n", sampling=SHORT))
        assert err.value.kind == "schema_unsupported", err.value.message

    async def test_extra_body_reaches_vllm(self, backend: VLLMBackend):
        """top_k and repetition_penalty are vLLM sampling fields (an invalid value is refused
        by vLLM itself, naming the field); chat_template_kwargs reach the chat template (the
        fixture's template adds an empty think block when enable_thinking is false)."""
        base = ChatRequest(messages=messages("Say hello."), sampling=SHORT)
        plain = await backend.chat(base)
        with pytest.raises(BackendRequestError, match="top_k"):
            await backend.chat(ChatRequest(messages=base.messages, sampling=SHORT,
                                           extra_body={"top_k": -7}))
        ok = await backend.chat(ChatRequest(messages=base.messages, sampling=SHORT,
                                            extra_body={"top_k": 20, "repetition_penalty": 1.1}))
        assert ok.completion_tokens > 0
        backend.config.extra_body = {"chat_template_kwargs": {"enable_thinking": False}}
        nothink = await backend.chat(base)
        assert nothink.prompt_tokens > plain.prompt_tokens  # the <think></think> block

    async def test_lora_adapter_by_model_name(self, backend: VLLMBackend,
                                              vllm_server: RunningVLLM):
        if vllm_server.lora is None:
            pytest.skip("the server at VLLM_BASE_URL serves no 'npc' adapter")
        assert vllm_server.lora in await backend.list_models()
        req = ChatRequest(messages=messages(CASES[1]["prompt"]),
                          sampling=Sampling(temperature=0.0, max_tokens=24, seed=1))
        base = await backend.chat(req)
        lora = await backend.chat(ChatRequest(messages=req.messages, sampling=req.sampling,
                                              model=vllm_server.lora))
        assert lora.model == vllm_server.lora and base.model != vllm_server.lora
        assert lora.text != base.text  # the adapter changes the answer
        # an agent profile's `model` picks it through the calling layer
        out = await decide_once(backend, messages(CASES[0]["prompt"]), ToolRegistry(TOOLS),
                                None, CallingConfig(strategy="constrained"), CALL,
                                model=vllm_server.lora)
        assert out.status == "ok", out.reason

    async def test_concurrent_decisions_are_all_valid(self, backend: VLLMBackend):
        registry = ToolRegistry(TOOLS)
        outs = await asyncio.gather(*[
            decide_once(backend, messages(c["prompt"]), registry, None,
                        CallingConfig(strategy="constrained"), CALL) for c in CASES * 2])
        assert [o.status for o in outs] == ["ok"] * len(outs)
        assert all(registry.validate(o.call) == [] for o in outs)


@pytest.mark.vllm
def test_seed_snippet_as_written(vllm_server: RunningVLLM, capsys):
    """The seed's example, unchanged but for the model and URL: sync API, a real server."""
    from agent_arena.backends import VLLMBackend, VLLMBackendConfig

    tools = [{"name": "move_to", "description": "Move the agent to a target position",
              "parameters": {"type": "object", "properties": {
                  "target": {"type": "array", "items": {"type": "number"},
                             "minItems": 3, "maxItems": 3, "description": "[x, y, z]"}},
                  "required": ["target"]}}]
    config = VLLMBackendConfig(model_path=vllm_server.model, api_base=vllm_server.base_url,
                               temperature=0.7, max_tokens=512)
    backend = VLLMBackend(config)
    if backend.is_available():
        result = backend.generate("Hello, my name is")
        print(result.text)
    result = backend.generate_with_tools("I need to move to coordinates (10, 20, 5)", tools)
    if "tool_call" in result.metadata:
        print(result.metadata["tool_call"]["name"], result.metadata["tool_call"]["arguments"])
    out = capsys.readouterr().out
    with capsys.disabled():
        print("\n--- seed snippet against real vLLM ---\n" + out + "---")
    assert backend.is_available() is True
    assert result.metadata["tool_call"]["name"] == "move_to"
    target = result.metadata["tool_call"]["arguments"]["target"]
    assert len(target) == 3 and all(isinstance(v, (int, float)) for v in target)
    assert out.strip().splitlines()[-1].startswith("move_to {'target': [")


@pytest.mark.vllm
async def test_bridge_end_to_end(vllm_server: RunningVLLM, make_server, tools):
    """The demo world's agents think through a real ArenaServer over ZeroMQ with real vLLM."""
    from agent_arena.world import run_demo

    backend = create_backend({"type": "vllm", "api_base": vllm_server.base_url,
                              "model": vllm_server.model, "temperature": 0.2,
                              "max_tokens": 96})
    try:
        server = await make_server(backend)
        summary = await run_demo(server.endpoint, tools, agents=3, ticks=2, deadline_ms=600000,
                                 seed=1, client_kwargs={"timeout_s": 900})
    finally:
        await backend.close()
    assert summary.n == 6
    assert summary.count("ok") == 6, [(d.status, d.tool) for d in summary.decisions]
    assert summary.valid_pct == 100.0
    assert backend.stats["requests"] >= 6 and backend.stats["errors"] == 0  # vLLM decided


@pytest.mark.vllm
@pytest.mark.parametrize("strategy", ["native", "constrained"])
async def test_a_mask_holds_on_vllm(vllm_server: RunningVLLM, strategy):
    """Masked tools and enum-narrowed arguments reach vLLM's structured outputs (tools for
    native, the response schema for constrained): the call is inside the mask."""
    from agent_arena.tools import apply_mask

    backend = create_backend({"type": "vllm", "api_base": vllm_server.base_url,
                              "model": vllm_server.model, "max_tokens": 80})
    registry = ToolRegistry(TOOLS)
    mask = {t.name: False for t in TOOLS}
    mask["say"] = {"text": ["alpha-1", "beta-2"]}
    mask["move_to"] = {"target": [[1, 0, 2]]}
    possible = apply_mask(registry.select(None), mask)
    try:
        out = await decide_once(backend, messages("Use the tool you have."), registry, None,
                                CallingConfig(strategy=strategy), CALL, possible=possible)
    finally:
        await backend.close()
    assert out.status == "ok", out.reason
    assert out.call.as_wire() in ({"tool": "say", "arguments": {"text": "alpha-1"}},
                                  {"tool": "say", "arguments": {"text": "beta-2"}},
                                  {"tool": "move_to", "arguments": {"target": [1, 0, 2]}})


@pytest.mark.vllm
def test_server_was_started_through_run_vllm_server(vllm_server: RunningVLLM):
    if vllm_server.log_path is None:
        pytest.skip("VLLM_BASE_URL: a server started elsewhere")
    log = vllm_server.log_path.read_text(errors="replace")
    start = next(line for line in log.splitlines() if line.startswith("starting: "))
    for part in ("VLLM_CPU_KVCACHE_SPACE=1", "VLLM_CPU_NUM_OF_RESERVED_CPU=0",
                 "VLLM_ENFORCE_STRICT_TOOL_CALLING=0", "-m vllm.entrypoints.openai.api_server",
                 "--enforce-eager", "--dtype bfloat16", "disable_any_whitespace",
                 "--enable-auto-tool-choice --tool-call-parser hermes", "--lora-modules npc="):
        assert part in start, part
    assert f"ready: base_url = {vllm_server.base_url}" in log
    assert httpx.get(vllm_server.base_url[:-3] + "/health", timeout=5).status_code == 200


# ---- SGLang (GPU hosts) ----------------------------------------------------------------------


def _answering(env: str) -> str:
    url = os.environ.get(env)
    if not url:
        pytest.skip(f"{env} is not set: SGLang needs CUDA torch and a CUDA-only kernel package "
                    "(it did not install on these CPU machines); start one on a GPU host with "
                    "run_vllm_server.py --engine sglang and export its base_url")
    try:
        httpx.get(url.rstrip("/") + "/models", timeout=5.0)
    except httpx.HTTPError as exc:
        pytest.skip(f"nothing answers at {env}={url}: {type(exc).__name__}")
    return url


@pytest.mark.sglang
class TestRealSGLang(RealServerConformance):
    @pytest.fixture
    async def backend(self):
        url = _answering("SGLANG_BASE_URL")
        b = SGLangBackend(SGLangBackendConfig(api_base=url,
                                              model=os.environ.get("SGLANG_MODEL")))
        yield b
        await b.close()


# ---- in-process engine -----------------------------------------------------------------------


def test_engine_args_carry_the_parallel_and_lora_settings():
    cfg = VLLMEngineConfig(model="Qwen/Qwen2.5-1.5B-Instruct", tensor_parallel_size=2,
                           pipeline_parallel_size=2, data_parallel_size=1, device="gpu",
                           gpu_memory_utilization=0.8, max_model_len=4096,
                           lora_modules={"npc": "/loras/npc"},
                           engine_kwargs={"max_num_batched_tokens": 4096})
    args = cfg.engine_args()
    assert args["tensor_parallel_size"] == 2 and args["pipeline_parallel_size"] == 2
    assert args["gpu_memory_utilization"] == 0.8 and args["max_model_len"] == 4096
    assert args["enable_lora"] is True and args["max_num_batched_tokens"] == 4096
    assert args["enable_prefix_caching"] is True and args["enforce_eager"] is False
    assert args["structured_outputs_config"] == {"backend": "xgrammar",
                                                 "disable_any_whitespace": True}
    cpu = VLLMEngineConfig(model="m", device="cpu").engine_args()
    assert cpu["enforce_eager"] is True and cpu["dtype"] == "bfloat16"
    assert cpu["max_model_len"] == 2048 and "gpu_memory_utilization" not in cpu
    with pytest.raises(ConfigError):
        VLLMEngineConfig(tensor_parallel_size=0)
    with pytest.raises(ConfigError, match="device"):
        VLLMEngineConfig(device="tpu")


def test_sampling_kwargs_for_a_constrained_call():
    schema = call_schema(TOOLS)
    kw = sampling_kwargs(Sampling(temperature=0.1, max_tokens=64, top_k=20), schema)
    assert kw == {"temperature": 0.1, "max_tokens": 64, "top_k": 20, "structured_json": schema}


def test_truncation_is_told_apart_from_complete_json():
    from agent_arena.backends.base import ChatResponse, RawToolCall

    req = ChatRequest(messages=[], response_schema={"type": "object"})
    cut = ChatResponse(text='{"tool":"mo', finish_reason="length")
    assert "cut off at max_tokens=8" in truncation_problem(req, cut, "vLLM", 8)
    spaces = ChatResponse(text='{"tool":"move_to",' + "\n" * 40, finish_reason="length")
    assert "disable_any_whitespace" in truncation_problem(req, spaces, "vLLM", 64)
    assert truncation_problem(req, ChatResponse(text='{"a":1}', finish_reason="length"),
                              "vLLM", 8) is None  # complete JSON that ended at the limit
    assert truncation_problem(req, ChatResponse(text='{"a', finish_reason="stop"), "v", 8) is None
    free = ChatRequest(messages=[])
    assert truncation_problem(free, cut, "vLLM", 8) is None  # free text may end anywhere
    tools = ChatRequest(messages=[], tools=tuple(TOOLS), tool_choice="required")
    tc = ChatResponse(tool_calls=[RawToolCall("move_to", '{"target":[1,')],
                      finish_reason="length")
    assert "tool call 'move_to'" in truncation_problem(tools, tc, "vLLM", 8)


def test_engine_backend_is_registered_and_says_how_to_install():
    b = create_backend({"type": "vllm_engine", "model": "Qwen/Qwen2.5-0.5B-Instruct"})
    assert isinstance(b, VLLMEngineBackend)
    assert b.capabilities.json_schema and not b.capabilities.native_tools
    assert importlib.util.find_spec("vllm") is None  # the project venv never has vLLM
    before = dict(os.environ)
    with pytest.raises(BackendUnavailable, match="make vllm-venv"):
        b.sync().run(b.start())  # the seed API's loop (agent_arena.seed.SyncBackend)
    assert b.is_available() is False
    assert dict(os.environ) == before  # no VLLM_CPU_* left behind by a failed start


async def test_unknown_lora_adapter_is_a_request_error():
    b = VLLMEngineBackend(VLLMEngineConfig(lora_modules={"npc": "/l/npc"}))
    with pytest.raises(BackendRequestError, match="unknown LoRA adapter 'guard'"):
        b._lora_request("guard")
    assert b._lora_request(None) is None


@pytest.mark.vllm
def test_engine_runs_for_real_in_the_vllm_venv():
    """Engine start, a constrained decision through the server, supersede (the engine request
    is aborted), streaming, truncation, clean shutdown: tests/support/vllm_engine_probe.py in the
    vLLM venv, one JSON line per step."""
    py = vllm_python()
    model = hf_model_dir()
    out = subprocess.run([py, str(ROOT / "tests" / "support" / "vllm_engine_probe.py"), model],
                         capture_output=True, text=True, timeout=1200,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "python")})
    steps = {}
    for line in out.stdout.splitlines():
        if line.startswith('{"step"'):
            data = json.loads(line)
            steps[data.pop("step")] = data
    assert out.returncode == 0, out.stderr[-4000:]
    assert steps["start"]["engine"] == "vllm.v1.engine.async_llm.AsyncLLM"
    assert steps["start"]["children"] >= 1  # the engine core process
    d = steps["decision"]
    assert d["status"] == "ok" and d["backend"] == "vllm_engine", d
    names = set(_game_tool_names())
    assert d["call"]["tool"] in names
    s = steps["supersede"]
    assert (s["first"], s["second"]) == ("superseded", "ok"), s
    assert s["in_engine_before"] == 1 and s["aborted"] == 1 and s["unfinished_after"] == 0, s
    st = steps["stream"]
    assert st["chunks"] > 1 and st["parsed"] is not None and st["parsed"]["tool"] in names, st
    assert "cut off at max_tokens=3" in (steps["truncated"]["error"] or ""), steps["truncated"]
    sd = steps["shutdown"]
    assert sd["children_left"] == [] and sd["stats"]["aborted"] == 1, sd


def _game_tool_names() -> list[str]:
    from support.fixtures import game_tools

    return [t["name"] for t in game_tools()]


def test_vllm_cpu_config_loads_and_starts_the_right_server():
    """configs/backend/vllm_cpu.yaml: the client side is a vllm backend answering to the served
    name; agent-arena launch (run_vllm_server.py) reads the same file for the CPU command."""
    import yaml

    from agent_arena.launch.cli import parse_args
    from agent_arena.launch.commands import build_command
    from agent_arena.launch.settings import resolve

    path = ROOT / "configs" / "backend" / "vllm_cpu.yaml"
    b = create_backend(yaml.safe_load(path.read_text()))
    assert isinstance(b, VLLMBackend) and b.model_name == "smollm2"
    assert b.capabilities.native_tools and b.base_url == "http://127.0.0.1:8000/v1"
    s = resolve(parse_args(["vllm", "--config", str(path), "--dry-run"]))
    assert (s["device"], s["dtype"], s["max_model_len"], s["enforce_eager"]) == \
        ("cpu", "bfloat16", 2048, True)
    assert s["model"] == "embedded" and s["tool_call_parser"] == "hermes"
    cmd = build_command({**s, "model": "/m"}, dry_run=True)
    assert "--served-model-name" in cmd and cmd[cmd.index("--served-model-name") + 1] == "smollm2"
