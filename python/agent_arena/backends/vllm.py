"""vLLM's OpenAI-compatible server (``vllm serve``): the GPU path for many agents.

Native tool calling: ``tool_choice`` "required" or a named tool is enforced by vLLM's structured
outputs and needs no tool parser; ``auto`` needs the server started with
``--enable-auto-tool-choice --tool-call-parser NAME`` (run_vllm_server.py adds both). Constrained
output uses ``response_format`` json_schema, or vLLM's own ``structured_outputs`` extra field
(``constrained_via: structured_outputs``; ``guided_json`` before vLLM 0.12). A per-agent
``model`` selects a LoRA adapter served with ``--lora-modules name=path``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from agent_arena.backends.openai_compat import OpenAICompatBackend, OpenAICompatConfig


@dataclass
class ServerLaunchConfig(OpenAICompatConfig):
    """Keys that describe how the server is (to be) started: run_vllm_server.py reads them;
    the client ignores them. Kept on the backend config so one YAML file says everything."""

    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    data_parallel_size: int = 1
    dtype: str = "auto"
    max_model_len: int | None = None
    gpu_memory_utilization: float = 0.9
    enable_lora: bool = False
    lora_modules: dict[str, str] = field(default_factory=dict)  # adapter name -> path or HF id
    served_model_name: str | None = None
    server_args: list[str] = field(default_factory=list)  # appended to the server command


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
