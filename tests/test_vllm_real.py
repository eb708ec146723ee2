"""Real vLLM / SGLang servers and the in-process vLLM engine: what these machines cannot run.

- ``VLLM_BASE_URL`` (e.g. http://gpu-host:8000/v1) / ``SGLANG_BASE_URL``: the conformance suite
  runs against that server; skipped with the reason when the variable is unset or nothing
  answers there. Start one with ``python run_vllm_server.py --model Qwen/Qwen2.5-1.5B-Instruct``
  (a tool-capable model: native calls are then expected to come back, enforced by the server).
  ``VLLM_MODEL`` / ``SGLANG_MODEL`` pick the served model (default: the first of GET /models).
- ``vllm_engine``: skipped with the reason when ``vllm`` is not importable; its pure parts
  (engine arguments, sampling parameters, LoRA table) are tested everywhere.
"""

from __future__ import annotations

import importlib.util
import os
from typing import ClassVar

import httpx
import pytest

from agent_arena.backends import ChatRequest, Sampling, create_backend
from agent_arena.backends.sglang import SGLangBackend, SGLangBackendConfig
from agent_arena.backends.vllm import VLLMBackend, VLLMBackendConfig
from agent_arena.backends.vllm_engine import (
    VLLMEngineBackend,
    VLLMEngineConfig,
    sampling_kwargs,
)
from agent_arena.errors import BackendRequestError, BackendUnavailable, ConfigError
from agent_arena.tools import call_schema
from test_backend_conformance import TOOLS, BackendConformance


def _answering(env: str) -> str:
    url = os.environ.get(env)
    if not url:
        pytest.skip(f"{env} is not set: no real server to test against (start one with "
                    "run_vllm_server.py and export its base_url)")
    try:
        httpx.get(url.rstrip("/") + "/models", timeout=5.0)
    except httpx.HTTPError as exc:
        pytest.skip(f"nothing answers at {env}={url}: {type(exc).__name__}")
    return url


class RealServerConformance(BackendConformance):
    native_calls_expected: ClassVar[bool] = True  # a tool-capable model with guided decoding


@pytest.mark.vllm
class TestRealVLLM(RealServerConformance):
    @pytest.fixture
    async def backend(self):
        url = _answering("VLLM_BASE_URL")
        b = VLLMBackend(VLLMBackendConfig(api_base=url, model=os.environ.get("VLLM_MODEL")))
        yield b
        await b.aclose()

    async def test_structured_outputs_extra_field(self, backend: VLLMBackend):
        backend.config.constrained_via = "structured_outputs"
        import json

        schema = call_schema(TOOLS)
        resp = await backend.chat(ChatRequest(
            messages=[{"role": "user", "content": "Walk to (1, 2, 3)."}], response_schema=schema,
            sampling=Sampling(temperature=0.0, max_tokens=96)))
        assert json.loads(resp.text)["tool"] in {t.name for t in TOOLS}


@pytest.mark.sglang
class TestRealSGLang(RealServerConformance):
    @pytest.fixture
    async def backend(self):
        url = _answering("SGLANG_BASE_URL")
        b = SGLangBackend(SGLangBackendConfig(api_base=url,
                                              model=os.environ.get("SGLANG_MODEL")))
        yield b
        await b.aclose()


# ---- in-process engine ---------------------------------------------------------------------

HAVE_VLLM = importlib.util.find_spec("vllm") is not None


def test_engine_args_carry_the_parallel_and_lora_settings():
    cfg = VLLMEngineConfig(model="Qwen/Qwen2.5-1.5B-Instruct", tensor_parallel_size=2,
                           pipeline_parallel_size=2, data_parallel_size=1,
                           gpu_memory_utilization=0.8, max_model_len=4096,
                           lora_modules={"npc": "/loras/npc"},
                           engine_kwargs={"max_num_batched_tokens": 4096})
    args = cfg.engine_args()
    assert args["tensor_parallel_size"] == 2 and args["pipeline_parallel_size"] == 2
    assert args["gpu_memory_utilization"] == 0.8 and args["max_model_len"] == 4096
    assert args["enable_lora"] is True and args["max_num_batched_tokens"] == 4096
    assert args["enable_prefix_caching"] is True
    with pytest.raises(ConfigError):
        VLLMEngineConfig(tensor_parallel_size=0)


def test_sampling_kwargs_for_a_constrained_call():
    schema = call_schema(TOOLS)
    kw = sampling_kwargs(Sampling(temperature=0.1, max_tokens=64, top_k=20), schema)
    assert kw == {"temperature": 0.1, "max_tokens": 64, "top_k": 20, "structured_json": schema}


def test_engine_backend_is_registered_and_needs_vllm():
    b = create_backend({"type": "vllm_engine", "model": "Qwen/Qwen2.5-0.5B-Instruct"})
    assert isinstance(b, VLLMEngineBackend)
    assert b.capabilities.json_schema and not b.capabilities.native_tools
    if not HAVE_VLLM:
        with pytest.raises(BackendUnavailable, match="agent-arena\\[vllm\\]"):
            b._run(b.start())
        assert b.is_available() is False


async def test_unknown_lora_adapter_is_a_request_error():
    b = VLLMEngineBackend(VLLMEngineConfig(lora_modules={"npc": "/l/npc"}))
    with pytest.raises(BackendRequestError, match="unknown LoRA adapter 'guard'"):
        b._lora_request("guard")
    assert b._lora_request(None) is None


@pytest.mark.vllm
@pytest.mark.skipif(not HAVE_VLLM, reason="vllm is not importable here (no CUDA wheel on these "
                                          "machines); install agent-arena[vllm] on a GPU host")
async def test_engine_generates_a_valid_call():  # pragma: no cover - GPU hosts only
    from agent_arena.calling import CallingConfig, decide_once
    from agent_arena.tools import ToolRegistry

    model = os.environ.get("VLLM_ENGINE_MODEL", "Qwen/Qwen2.5-0.5B-Instruct")
    b = VLLMEngineBackend(VLLMEngineConfig(model=model, max_model_len=2048,
                                           gpu_memory_utilization=0.5))
    try:
        out = await decide_once(b, [{"role": "user", "content": "Walk to (10, 20, 5)."}],
                                ToolRegistry(TOOLS), None, CallingConfig(), Sampling())
        assert out.status == "ok" and out.strategy == "constrained"
    finally:
        await b.aclose()
