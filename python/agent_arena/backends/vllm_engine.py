"""vLLM in-process (``AsyncLLM`` built from ``AsyncEngineArgs``): an optional extra.

For a GPU box where one Python process should own the model (no HTTP hop): the agents' requests
go straight into vLLM's continuous batching. Install with ``pip install 'agent-arena[vllm]'`` on
a CUDA machine. vLLM is imported only when the engine starts, so this module imports anywhere.

The call is made with constrained decoding: the union-of-tools JSON Schema goes into
``SamplingParams(structured_outputs=StructuredOutputsParams(json=...))`` (vLLM >= 0.10.2;
``guided_decoding=GuidedDecodingParams(json=...)`` before). There is no tool parser in-process,
so ``native`` is not offered and ``auto`` uses ``constrained``. A request's ``model`` naming one
of ``lora_modules`` runs with that adapter (``LoRARequest``).

Written against vLLM's documented API (``vllm.v1.engine.async_llm.AsyncLLM``,
``vllm.engine.arg_utils.AsyncEngineArgs``, ``vllm.sampling_params``); these machines cannot
install vLLM, so its tests skip with a reason when ``vllm`` is not importable.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from agent_arena.backends.base import Backend, Capabilities, ChatRequest, ChatResponse, Sampling
from agent_arena.backends.openai_compat import split_reasoning
from agent_arena.errors import BackendError, BackendRequestError, BackendUnavailable, ConfigError

log = logging.getLogger("agent_arena.backends.vllm_engine")

INSTALL_HINT = ("vLLM is not installed: `pip install 'agent-arena[vllm]'` on a machine with a "
                "CUDA GPU, or use backend=vllm with a vLLM server (run_vllm_server.py)")


@dataclass
class VLLMEngineConfig:
    """``backend=vllm_engine``: AsyncEngineArgs fields plus sampling defaults."""

    model: str = "Qwen/Qwen2.5-1.5B-Instruct"  # HF id or local path
    tokenizer: str | None = None
    dtype: str = "auto"
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    data_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    max_model_len: int | None = None
    max_num_seqs: int | None = None
    enforce_eager: bool = False
    trust_remote_code: bool = False
    seed: int | None = 0
    enable_prefix_caching: bool = True  # the stable system prompt + tool list is reused
    enable_lora: bool = False
    max_lora_rank: int = 16
    max_loras: int = 4
    lora_modules: dict[str, str] = field(default_factory=dict)  # adapter name -> local path
    engine_kwargs: dict[str, Any] = field(default_factory=dict)  # any other AsyncEngineArgs
    chat_template_kwargs: dict[str, Any] = field(default_factory=dict)  # e.g. enable_thinking
    temperature: float = 0.2
    top_p: float = 0.95
    top_k: int | None = None
    max_tokens: int = 160
    repetition_penalty: float | None = None

    def __post_init__(self) -> None:
        if self.lora_modules and not self.enable_lora:
            self.enable_lora = True
        for key in ("tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key} must be at least 1")
        if not 0.0 < self.gpu_memory_utilization <= 1.0:
            raise ConfigError("gpu_memory_utilization must be in (0, 1]")

    def engine_args(self) -> dict[str, Any]:
        """Keyword arguments for ``AsyncEngineArgs`` (pure: testable without vLLM)."""
        args: dict[str, Any] = {
            "model": self.model,
            "dtype": self.dtype,
            "tensor_parallel_size": self.tensor_parallel_size,
            "pipeline_parallel_size": self.pipeline_parallel_size,
            "data_parallel_size": self.data_parallel_size,
            "gpu_memory_utilization": self.gpu_memory_utilization,
            "enforce_eager": self.enforce_eager,
            "trust_remote_code": self.trust_remote_code,
            "enable_prefix_caching": self.enable_prefix_caching,
        }
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


def _make_sampling_params(kwargs: dict[str, Any]) -> Any:
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
    return SamplingParams(output_kind=RequestOutputKind.FINAL_ONLY, **kwargs)


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

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(native_tools=False, json_schema=True, grammar=False)

    @property
    def default_sampling(self) -> Sampling:
        c = self.config
        return Sampling(temperature=c.temperature, top_p=c.top_p, top_k=c.top_k,
                        max_tokens=c.max_tokens, repetition_penalty=c.repetition_penalty)

    async def start(self) -> Any:
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
                args = AsyncEngineArgs(**self.config.engine_args())
                try:
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
            await self.start()
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

    async def chat(self, request: ChatRequest) -> ChatResponse:
        engine = await self.start()
        sampling = self.default_sampling.merged(request.sampling)
        try:
            params = _make_sampling_params(sampling_kwargs(sampling, request.response_schema))
            prompt = self.render_prompt(request.messages, request.extra_body)
            lora = self._lora_request(request.model)
        except BackendError:
            raise
        except Exception as exc:  # template / parameter validation errors from vLLM
            raise BackendRequestError(f"vLLM refused the request: {exc}") from exc
        request_id = f"arena-{next(self._ids)}-{uuid.uuid4().hex[:8]}"
        final = None
        try:
            async for out in engine.generate(prompt, params, request_id, lora_request=lora):
                final = out
        except asyncio.CancelledError:
            raise  # AsyncLLM aborts the request itself
        except Exception as exc:
            raise BackendError(f"vLLM engine failed on a request: {exc}") from exc
        if final is None or not final.outputs:
            raise BackendError("vLLM engine returned no output")
        completion = final.outputs[0]
        text, reasoning = split_reasoning(completion.text or "")
        return ChatResponse(
            text=text, reasoning=reasoning,
            prompt_tokens=len(final.prompt_token_ids or []),
            completion_tokens=len(completion.token_ids or []),
            finish_reason=completion.finish_reason, model=request.model or self.config.model,
        )

    async def aclose(self) -> None:
        if self._engine is not None:
            self._engine.shutdown()
            self._engine = None
