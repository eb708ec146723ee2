"""One conformance suite for every OpenAI-compatible backend family, against a real server.

Each family (vllm, sglang, openai, llama_server attached, llama_server managed) runs the same
mixin against llama.cpp's ``llama-server`` on a free loopback port with the embedded SmolLM2
model: plain chat, native tools (tool_choice required and named), json_schema output, the
prompt fallback, a validated call through ``calling.decide_once`` for every strategy, the
server down (the clear error) and the server stopped mid-run (retries, then the error).

tests/integration/test_vllm_real.py runs the same mixin against a real vLLM server (vLLM's CPU build serving
the same SmolLM2, started by tests/support/vllm_fixture.py; native calls expected: vLLM enforces
tool_choice) and against SGLang when SGLANG_BASE_URL answers. The tools, situations and what
each server does with native tools are data: tests/data/conformance.yaml.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import ClassVar

import pytest
import yaml
from jsonschema import Draft202012Validator

from agent_arena.backends import ChatRequest, Sampling, list_backends
from agent_arena.backends.base import Backend
from agent_arena.backends.llama_server import LlamaServerBackend, LlamaServerConfig, free_port
from agent_arena.backends.openai import OpenAIBackend, OpenAIBackendConfig
from agent_arena.backends.openai_compat import OpenAICompatBackend
from agent_arena.backends.sglang import SGLangBackend, SGLangBackendConfig
from agent_arena.backends.vllm import VLLMBackend, VLLMBackendConfig
from agent_arena.calling import STRATEGIES, CallingConfig, decide_once
from agent_arena.errors import BackendUnavailable
from agent_arena.tools import ToolRegistry, ToolSpec, call_schema
from support.llama_server_fixture import RunningLlamaServer

DATA = yaml.safe_load((Path(__file__).parents[1] / "data" / "conformance.yaml").read_text())
TOOLS = [ToolSpec.from_any(t) for t in DATA["tools"]]
CASES = DATA["cases"]
SHORT = Sampling(temperature=0.0, max_tokens=32, seed=1)
CALL = Sampling(temperature=0.0, max_tokens=80, seed=1)  # room for {"thought", "tool", "arguments"}


def messages(prompt: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": DATA["system"]}, {"role": "user", "content": prompt}]


class BackendConformance:
    """The suite. A subclass provides a ``backend`` fixture and says what its server does."""

    native_calls_expected: ClassVar[bool] = DATA["native_calls"]["smollm2_llama_server"]
    cases: ClassVar[list[dict]] = CASES[:1]  # model time is the cost: one family runs them all

    async def test_plain_chat(self, backend: Backend):
        resp = await backend.chat(ChatRequest(
            messages=[{"role": "user", "content": "Say hello in three words."}], sampling=SHORT))
        assert resp.text.strip()
        assert resp.prompt_tokens > 0 and resp.completion_tokens > 0
        assert resp.finish_reason in ("stop", "length")
        assert not resp.tool_calls

    @pytest.mark.parametrize("choice", ["required", "move_to"])
    async def test_native_tools_request_is_accepted(self, backend: Backend, choice: str):
        resp = await backend.chat(ChatRequest(messages=messages(CASES[0]["prompt"]),
                                              tools=tuple(TOOLS), tool_choice=choice,
                                              sampling=SHORT if not self.native_calls_expected
                                              else CALL))
        if self.native_calls_expected:
            assert resp.tool_calls, "this server should enforce tool_choice"
        registry = ToolRegistry(TOOLS)
        for tc in resp.tool_calls:  # whatever comes back is well-formed and checkable
            if choice != "required":
                assert tc.name == choice
            args = json.loads(tc.arguments) if isinstance(tc.arguments, str) else tc.arguments
            assert isinstance(args, dict)
            if self.native_calls_expected:
                from agent_arena.tools import ToolCall

                assert registry.validate(ToolCall(tc.name, args)) == []
        if not resp.tool_calls:
            assert not self.native_calls_expected  # ignored tools: auto must notice (below)

    async def test_json_schema_output_always_matches(self, backend: Backend):
        schema = call_schema(TOOLS, thought=True)
        validator = Draft202012Validator(schema)
        for case in self.cases:
            resp = await backend.chat(ChatRequest(messages=messages(case["prompt"]),
                                                  response_schema=schema, sampling=CALL))
            obj = json.loads(resp.text, strict=False)
            assert list(validator.iter_errors(obj)) == [], (case, resp.text)

    async def test_prompt_fallback_never_lets_an_invalid_call_through(self, backend: Backend):
        registry = ToolRegistry(TOOLS)
        out = await decide_once(backend, messages(CASES[1]["prompt"]), registry, None,
                                CallingConfig(strategy="prompt", max_attempts=2,
                                              choice="generate"), CALL)
        assert out.strategy == "prompt" and out.attempts >= 1
        if out.status == "fallback":  # the caller (server) owns the fallback call
            assert out.call is None and out.reason
        else:
            assert out.status == "ok" and registry.validate(out.call) == []

    @pytest.mark.parametrize("strategy", ["auto", *STRATEGIES])
    async def test_validated_call_for_each_strategy(self, backend: Backend, strategy: str):
        registry = ToolRegistry(TOOLS)
        # choice=generate: the strategies themselves (how the tool is chosen: test_choice.py)
        cfg = CallingConfig(strategy=strategy, max_attempts=2, choice="generate")
        out = await decide_once(backend, messages(CASES[0]["prompt"]), registry, None, cfg, CALL)
        assert (out.call is None) if out.status == "fallback" else \
            (registry.validate(out.call) == [])
        if strategy in ("auto", "constrained"):
            assert out.status == "ok", out.reason  # decoding guarantees a valid call
            if strategy == "auto" and not self.native_calls_expected:
                assert out.strategy == "constrained"  # noticed ignored tools, downgraded
        if strategy == "native" and not self.native_calls_expected:
            assert out.status == "fallback" and "no tool call" in (out.reason or "")
        if strategy == "native" and self.native_calls_expected:
            assert out.status == "ok", out.reason

    async def test_token_usage_and_availability(self, backend: Backend):
        assert await backend.check() is True
        before = dict(getattr(backend, "stats", {}))
        resp = await backend.chat(ChatRequest(messages=messages("Hi"), sampling=SHORT))
        if isinstance(backend, OpenAICompatBackend):
            assert backend.stats["prompt_tokens"] - before["prompt_tokens"] == resp.prompt_tokens


class LlamaServerFixtureFamilies(BackendConformance):
    """Families that talk to the shared session llama-server."""

    def make(self, base_url: str) -> Backend:
        raise NotImplementedError

    @pytest.fixture
    async def backend(self, llama_server: RunningLlamaServer):
        b = self.make(llama_server.base_url)
        yield b
        await b.close()

    def down_backend(self, port: int) -> OpenAICompatBackend:
        b = self.make(f"http://127.0.0.1:{port}/v1")
        assert isinstance(b, OpenAICompatBackend)
        b.config.max_retries = 2
        b.config.retry_initial_s = 0.05
        b.config.retry_jitter_s = 0.0
        return b

    async def test_server_down_gives_the_clear_error(self):
        port = free_port()
        b = self.down_backend(port)
        assert await b.check() is False
        with pytest.raises(BackendUnavailable) as err:
            await b.chat(ChatRequest(messages=messages("hi"), sampling=SHORT))
        assert err.value.message.startswith(
            f"Cannot connect to {b.label} server at http://127.0.0.1:{port}/v1 — ")
        assert "run_vllm_server.py" in err.value.message or "api_base" in err.value.message
        assert b.stats["retries"] == 2
        assert await asyncio.to_thread(b.is_available) is False  # the sync seed API too
        await b.close()

    async def test_server_stopped_mid_run_retries_then_errors(self, llama_server_factory):
        server = llama_server_factory(n_parallel=1)
        b = self.down_backend(server.port)
        await b.chat(ChatRequest(messages=messages("hi"), sampling=SHORT))  # it works first
        long = ChatRequest(messages=[{"role": "user", "content": "Count from 1 to 500."}],
                           sampling=Sampling(temperature=0.0, max_tokens=1000))
        task = asyncio.create_task(b.chat(long))
        await asyncio.sleep(0.5)
        await asyncio.to_thread(server.stop)
        with pytest.raises(BackendUnavailable, match="^Cannot connect to"):
            await task
        assert b.stats["retries"] == 2  # the dropped request was retried, then refused twice
        await b.close()


@pytest.mark.llama_server
class TestVLLMFamily(LlamaServerFixtureFamilies):
    def make(self, base_url: str) -> Backend:
        return VLLMBackend(VLLMBackendConfig(api_base=base_url, model="smollm2"))


@pytest.mark.llama_server
class TestSGLangFamily(LlamaServerFixtureFamilies):
    def make(self, base_url: str) -> Backend:
        return SGLangBackend(SGLangBackendConfig(api_base=base_url, model="smollm2"))


@pytest.mark.llama_server
class TestOpenAIFamily(LlamaServerFixtureFamilies):
    cases = CASES
    def make(self, base_url: str) -> Backend:
        return OpenAIBackend(OpenAIBackendConfig(api_base=base_url))  # model from GET /models


@pytest.mark.llama_server
class TestLlamaServerAttached(LlamaServerFixtureFamilies):
    def make(self, base_url: str) -> Backend:
        return LlamaServerBackend(LlamaServerConfig(managed=False, api_base=base_url,
                                                    function_calling={"enabled": True}))


@pytest.fixture(scope="class")
def managed_backend():
    from support.llama_server_fixture import llama_server_binary

    llama_server_binary()  # skips with the reason when there is none
    b = LlamaServerBackend(LlamaServerConfig(n_parallel=2, n_ctx=4096, max_retries=2,
                                             retry_initial_s=0.05, retry_jitter_s=0.0,
                                             function_calling={"enabled": True}))
    assert b.is_available()  # starts the child and waits for /health
    yield b
    b.sync().close()  # the seed API (outside a loop): stops the child
    assert b.process is not None and not b.process.running


@pytest.mark.llama_server
class TestLlamaServerManaged(BackendConformance):
    cases = CASES
    @pytest.fixture
    async def backend(self, managed_backend: LlamaServerBackend):
        yield managed_backend
        await managed_backend.aclose_client()

    async def test_slots_are_pinned(self, backend: LlamaServerBackend):
        req = ChatRequest(messages=messages("hi"), sampling=SHORT, affinity="s/a")
        first = backend.payload(req, "m")["id_slot"]
        assert backend.payload(req, "m")["id_slot"] == first  # one agent stays on its slot
        resp = await backend.chat(req)
        assert resp.completion_tokens > 0

    async def test_stopped_server_errors_then_restarts(self, backend: LlamaServerBackend):
        first_pid = backend.process.pid
        long = ChatRequest(messages=[{"role": "user", "content": "Count from 1 to 500."}],
                           sampling=Sampling(temperature=0.0, max_tokens=1000))
        task = asyncio.create_task(backend.chat(long))
        await asyncio.sleep(0.5)
        await asyncio.to_thread(backend.stop)
        with pytest.raises(BackendUnavailable, match="^Cannot connect to llama-server"):
            await task
        # the next request starts a new server by itself
        resp = await backend.chat(ChatRequest(messages=messages("hi"), sampling=SHORT))
        assert resp.text and backend.process.pid != first_pid


def test_every_http_backend_family_runs_the_suite():
    covered = {"vllm", "sglang", "openai", "llama_server"}
    # in-process, tested elsewhere (xllamacpp: tests/integration/test_llama_engine.py; external:
    # tests/unit/test_env_external.py)
    not_http = {"llama_cpp", "scripted", "vllm_engine", "engine", "xllamacpp", "external"}
    assert set(list_backends()) - not_http <= covered, "a new backend needs a conformance class"
