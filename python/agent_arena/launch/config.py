"""How a server is started: the ``launch`` section of ``backend=vllm`` / ``backend=sglang``.

``agent-arena launch`` and run_vllm_server.py read it; the HTTP client never does, so these keys
are apart from the client's (backends/openai_compat.py): ``backend.launch.tensor_parallel_size``,
not ``backend.tensor_parallel_size``. What both sides need (model, host, port, api_key) is a
client key, read from there by the launch (launch/settings.py): one source for each fact.

The managed ``llama_server`` backend and the in-process engines (vllm_engine, llama_cpp) start
their engine themselves, so their engine keys stay theirs.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent_arena.config.fields import check_bounds, setting


@dataclass
class LaunchConfig:
    """What vLLM and SGLang both take on their command line."""

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
    served_model_name: str | None = setting(None, "the name the server answers to (the client "
                                                  "asks for it when backend.model is null)")
    server_args: list[str] = setting(factory=list, help="appended to the server command")
    chat_template: str | None = setting(None, "a Jinja file; null: the model's own")

    def __post_init__(self) -> None:
        check_bounds(self, "backend.launch")


@dataclass
class VLLMLaunchConfig(LaunchConfig):
    """``vllm serve``: the above, and what vLLM's CPU build and its Python need."""

    device: str = setting("auto", "auto = cpu unless an NVIDIA GPU is visible; cpu adds what "
                                  "vLLM's CPU build needs (bf16, max_model_len 2048, eager, "
                                  "VLLM_CPU_* environment)", choices=("auto", "cpu", "gpu"))
    enforce_eager: bool | None = setting(None, "no torch.compile / CUDA graphs; null: on for "
                                               "cpu (a compiled CPU start takes minutes)")
    cpu_kvcache_space_gb: float = setting(1.0, "on cpu: GiB of KV cache", gt=0)
    disable_any_whitespace: bool = setting(True, "server-level; without it small models' JSON "
                                                 "runs away into whitespace")
    vllm_python: str | None = setting(None, "the interpreter with vLLM; null: this one or "
                                            ".venv-vllm")
    work_dir: str | None = setting(None, "vLLM's caches (VLLM_CACHE_ROOT, "
                                         "TORCHINDUCTOR_CACHE_DIR, HF_HOME)")


@dataclass
class SGLangLaunchConfig(LaunchConfig):
    """``python -m sglang.launch_server``; ``gpu_memory_utilization`` is its
    ``--mem-fraction-static`` and ``max_model_len`` its ``--context-length``."""

    gpu_memory_utilization: float = setting(0.85, "--mem-fraction-static: share of GPU memory "
                                                  "the server may take", gt=0, le=1)


__all__ = ["LaunchConfig", "SGLangLaunchConfig", "VLLMLaunchConfig"]
