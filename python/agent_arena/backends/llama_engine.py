"""llama.cpp's own server engine in-process (PyPI ``xllamacpp``): the embedded default.

Why this engine: it is llama.cpp's C++ server loop (continuous batching over slots, a prompt
cache per slot, JSON-Schema constrained decoding) shipped as prebuilt wheels, so nothing is
compiled on install, and requests from different agents decode together instead of one at a
time (llama-cpp-python's ``Llama`` is one sequence). No HTTP is involved on our side: requests
are dicts handed to ``Server.handle_chat_completions`` from worker threads (the engine is
thread-safe; each call blocks its thread until the answer is complete).

How a decision maps onto it:

- Slots: ``n_parallel`` KV slots. Each asker (session + agent, ``ChatRequest.affinity``) is
  pinned to one slot (``id_slot``), spread round-robin in the order agents first ask, so its
  stable prompt prefix stays cached between ticks. With more agents than slots a slot serves a
  group of agents, one request at a time (an asyncio lock per slot, so a request waiting for its
  slot is cancelled for free and never reaches the engine).
- Cancellation: requests stream; the stream callback returns True once the decision is no
  longer wanted (superseded, timed out, the game vanished, server stopping), and the engine
  stops that slot at the next token.
- LoRA: ``lora`` (an adapter GGUF) is loaded with the model and applied per request, so a
  profile may turn it off (``model: base``) without a second model in memory.
- The engine also opens an HTTP listener on a random loopback port (it cannot be switched
  off); it is given a random API key that nobody knows, so nothing can use it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import logging
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from agent_arena.adapters import resolve_lora
from agent_arena.backends.base import Capabilities, ChatRequest, ChatResponse, Sampling
from agent_arena.backends.embedded_model import QUANTS
from agent_arena.backends.in_process import InProcessBackend
from agent_arena.backends.llama_cpp import default_threads, model_file
from agent_arena.config.fields import check_bounds, setting
from agent_arena.errors import (
    BackendRequestError,
    BackendUnavailable,
    ConfigError,
    classify_engine_refusal,
)

log = logging.getLogger("agent_arena.backends.llama_engine")

BASE_MODEL = "base"  # a profile's ``model: base`` turns the adapter off for its agents


# llguidance's JSON options: no free whitespace, json.dumps' separators. The engine honours
# them in a grammar, not through response_format (measured: it ignores them there).
_COMPACT = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}


# A free-text string the schema leaves unbounded is capped while decoding, so the call closes
# within max_tokens (measured: SmolLM2 ran radio messages on to max_tokens, 6 of 90 decisions
# on bench/eval_games ended as fallbacks). A game that wants longer text sets maxLength itself.
STRING_CAP = 64


def compact_grammar(schema: dict[str, Any]) -> str:
    """The llguidance grammar of a call schema with JSON in one fixed layout."""
    # key order kept: llguidance writes properties in schema order (tool before arguments)
    return _compact_grammar(json.dumps(_capped(schema)))


def _capped(node: Any) -> Any:
    """``node`` with a maxLength on every free string (no bound, enum, const or pattern)."""
    if isinstance(node, list):
        return [_capped(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: (v if k in ("enum", "const", "default", "examples") else _capped(v))
           for k, v in node.items()}
    if out.get("type") == "string" and not any(
            k in out for k in ("maxLength", "enum", "const", "pattern", "format")):
        out["maxLength"] = max(STRING_CAP, int(out.get("minLength", 0) or 0))
    return out


@functools.lru_cache(maxsize=256)  # a session's (masked) schemas repeat tick after tick
def _compact_grammar(schema_json: str) -> str:
    import xllamacpp

    schema = {**json.loads(schema_json), "x-guidance": _COMPACT}
    try:
        return str(xllamacpp.json_schema_to_grammar(json.dumps(schema)))
    except Exception as exc:  # the converter refused the schema
        raise BackendRequestError(f"llama.cpp cannot constrain to this schema: {exc}",
                                  kind="bad_request") from exc


@dataclass
class XLlamaCppConfig:
    """``backend=xllamacpp`` (every field is a config key)."""

    model_path: str | None = setting(None, "a GGUF file; null: the embedded "
                                           "SmolLM2-135M-Instruct (embedded_quant)")
    embedded_quant: str = setting("q4_0", "the embedded model's quantization: q4_0 (made once "
                                          "from the package's Q4_1 and cached: prompts ~2x "
                                          "faster on CPU) or q4_1 (the package's file as is)",
                                  choices=QUANTS)
    lora: str | None = setting("npc", "LoRA adapter GGUF: a packaged adapter's name (npc: "
                                      "trained for NPC decisions), a path, or null (the base "
                                      "model)")
    lora_scale: float = setting(1.0, "how strongly the adapter applies")
    n_parallel: int = setting(8, "slots: agents decoded together (continuous batching); more "
                                 "agents share slots", ge=1)
    n_ctx_per_slot: int = setting(2048, "each slot's own context (prompt + answer)", ge=256)
    n_threads: int | None = setting(None, "null: all cores but one (llama.cpp's threads "
                                          "spin-wait: leave a core to the game)", ge=1)
    n_batch: int = setting(512, "prompt tokens per llama.cpp batch", ge=1)
    pin_slots: bool = setting(True, "one agent -> one slot (its prompt prefix stays cached)")
    seed: int = setting(0, "sampling seed")
    temperature: float = setting(0.2, "sampling temperature", ge=0)
    top_p: float = setting(0.95, "nucleus sampling", ge=0, le=1)
    top_k: int = setting(40, "sample among the k likeliest tokens (0 or less: all)")
    max_tokens: int = setting(128, "tokens an answer may take (a capped string, see STRING_CAP, "
                                   "always fits)", ge=1)
    repetition_penalty: float = setting(1.0, "1.0: none", gt=0)
    compact_json: bool = setting(True, "the call's JSON without free whitespace, in json.dumps' "
                                       "layout (what the trained adapter writes): left free, "
                                       "SmolLM2 indents and decodes ~45 tokens instead of ~25")
    verbose: bool = setting(False, "llama.cpp's own log lines on stderr")

    def __post_init__(self) -> None:
        check_bounds(self, "backend")


class XLlamaCppBackend(InProcessBackend):
    name = "xllamacpp"

    def __init__(self, config: XLlamaCppConfig | None = None, **overrides: Any) -> None:
        self.config = config or XLlamaCppConfig(**overrides)
        self.model_path = path = model_file(self.config.model_path, self.config.embedded_quant)
        self.lora_path = resolve_lora(self.config.lora)
        self._model_name = path.name
        self._server: Any = None
        self._load_lock = threading.Lock()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            self.config.n_parallel, thread_name_prefix="xllamacpp")
        self._slots: dict[str, int] = {}  # affinity -> slot
        self._slot_locks: list[tuple[Any, asyncio.Lock]] = []  # per slot: (its loop, lock)
        self._free: tuple[Any, asyncio.Semaphore] | None = None  # unpinned requests
        self.stats: dict[str, int] = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0,
                                      "prompt_tokens_evaluated": 0, "cancelled": 0,
                                      "stopped_early": 0, "streamed_tokens": 0}

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(native_tools=False, json_schema=True, grammar=True, scores=False)

    @property
    def default_sampling(self) -> Sampling:
        return Sampling.of(self.config)

    # ---- lifecycle -----------------------------------------------------------------------

    def load(self) -> Any:
        """Start the engine now (otherwise on first use); blocking, under a second for SmolLM2."""
        with self._load_lock:
            if self._server is None:
                self._server = self._start()
            return self._server

    def _start(self) -> Any:
        try:
            import xllamacpp
        except ImportError as exc:
            raise BackendUnavailable(
                "xllamacpp is not installed: `pip install xllamacpp` (prebuilt llama.cpp "
                "wheels; `make install` does it)") from exc
        c = self.config
        p = xllamacpp.CommonParams()
        p.model.path = str(self.model_path)
        p.n_parallel = c.n_parallel
        p.n_ctx = c.n_ctx_per_slot * c.n_parallel  # split evenly among the slots
        p.n_batch = c.n_batch
        threads = c.n_threads or default_threads()
        p.cpuparams.n_threads = threads
        p.cpuparams_batch.n_threads = threads
        p.cache_prompt = True
        p.warmup = False
        p.sampling.seed = c.seed
        p.verbosity = 3 if c.verbose else -1
        p.api_keys = [secrets.token_hex(24)]  # its HTTP listener answers nobody
        if self.lora_path is not None:
            info = xllamacpp.CommonAdapterLoraInfo()
            info.path = str(self.lora_path)
            info.scale = 0.0  # off unless a request turns it on (per-request scale below)
            p.lora_adapters = [info]
            p.lora_init_without_apply = True
        try:
            server = xllamacpp.Server(p)
        except Exception as exc:  # the engine raises RuntimeError/ValueError on a bad model
            raise BackendUnavailable(f"llama.cpp could not load {self.model_path}"
                                     f"{' with ' + str(self.lora_path) if self.lora_path else ''}"
                                     f": {exc}") from exc
        log.info("xllamacpp: loaded %s%s (slots=%d, ctx/slot=%d, threads=%d)",
                 self.model_path.name, f" + {self.lora_path.name}" if self.lora_path else "",
                 c.n_parallel, c.n_ctx_per_slot, threads)
        return server

    async def check(self) -> bool:
        try:
            await asyncio.to_thread(self.load)
        except (BackendUnavailable, ConfigError):
            return False
        return True

    async def close(self) -> None:
        await asyncio.to_thread(self.unload)

    def unload(self) -> None:
        """Stop the engine after running requests end (the next request starts it again)."""
        with self._load_lock:
            server, self._server = self._server, None
        del server  # ~Server joins the engine's loop

    # ---- requests ------------------------------------------------------------------------

    def body(self, request: ChatRequest) -> dict[str, Any]:
        """The engine request for ``request`` (an OpenAI chat body plus llama.cpp's fields)."""
        if request.prefill is not None:
            raise BackendRequestError(
                "backend xllamacpp cannot continue a given answer start (no scoring); use "
                "calling.choice=generate or auto", kind="bad_request")
        s = self.default_sampling.merged(request.sampling)
        body: dict[str, Any] = {
            "messages": [dict(m) for m in request.messages],
            "temperature": s.temperature, "top_p": s.top_p, "top_k": s.top_k,
            "max_tokens": s.max_tokens, "repeat_penalty": s.repetition_penalty,
            "seed": s.seed, "stop": s.stop,
            "stream": True, "stream_options": {"include_usage": True}, "cache_prompt": True,
        }
        body = {k: v for k, v in body.items() if v is not None}
        if request.response_schema is not None and self.config.compact_json:
            body["grammar"] = compact_grammar(request.response_schema)
        elif request.response_schema is not None:
            body["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "call", "schema": request.response_schema}}
        if self.lora_path is not None:
            on = request.model != BASE_MODEL
            body["lora"] = [{"id": 0, "scale": self.config.lora_scale if on else 0.0}]
        if request.extra_body:
            body.update(request.extra_body)
        return body

    def slot_for(self, affinity: str) -> int:
        """The KV slot of one asker: agents are spread over the slots in the order they first
        ask, and keep theirs."""
        slot = self._slots.get(affinity)
        if slot is None:
            if len(self._slots) >= 65536:  # a long-running server forgets the oldest askers
                self._slots.pop(next(iter(self._slots)))
            slot = self._slots[affinity] = len(self._slots) % self.config.n_parallel
        return slot

    def _gate(self, request: ChatRequest) -> tuple[asyncio.Lock | asyncio.Semaphore, int | None]:
        """What a request waits on before it reaches the engine: its slot's lock (pinned) or a
        share of the slots (unpinned). Waiting here is cancellable and costs the engine nothing."""
        loop = asyncio.get_running_loop()
        if self.config.pin_slots and request.affinity is not None:
            slot = self.slot_for(request.affinity)
            if len(self._slot_locks) != self.config.n_parallel or self._slot_locks[0][0] is not loop:
                self._slot_locks = [(loop, asyncio.Lock()) for _ in range(self.config.n_parallel)]
            return self._slot_locks[slot][1], slot
        if self._free is None or self._free[0] is not loop:
            self._free = (loop, asyncio.Semaphore(self.config.n_parallel))
        return self._free[1], None

    async def chat(self, request: ChatRequest) -> ChatResponse:
        body = self.body(request)
        gate, slot = self._gate(request)
        if slot is not None:
            body["id_slot"] = slot
        cancel = threading.Event()
        try:
            async with gate:
                fut = asyncio.get_running_loop().run_in_executor(
                    self._executor, self._stream, body, cancel)
                try:
                    out = await asyncio.shield(fut)
                except asyncio.CancelledError:
                    cancel.set()  # the engine stops this slot at its next token
                    self.stats["cancelled"] += 1
                    # keep the slot until the engine has let go of it
                    await asyncio.wait([fut])
                    raise
        except ValueError as exc:  # the engine refused the request
            raise BackendRequestError(f"llama.cpp refused the request: {exc}",
                                      kind=classify_engine_refusal(str(exc))) from exc
        text, usage, finish, error = out
        if error is not None:
            msg = error.get("message", error) if isinstance(error, dict) else error
            raise BackendRequestError(f"llama.cpp refused the request: {msg}",
                                      kind=classify_engine_refusal(str(msg)))
        timings = usage.pop("timings", {}) if usage else {}
        prompt = int(usage.get("prompt_tokens", 0))
        completion = int(usage.get("completion_tokens", 0))
        self.stats["requests"] += 1
        self.stats["prompt_tokens"] += prompt
        self.stats["completion_tokens"] += completion
        self.stats["prompt_tokens_evaluated"] += int(timings.get("prompt_n", prompt))
        return ChatResponse(text=text, prompt_tokens=prompt, completion_tokens=completion,
                            finish_reason=finish, model=self._model_name)

    def _stream(self, body: dict[str, Any], cancel: threading.Event
                ) -> tuple[str, dict[str, Any], str | None, Any]:
        """One streamed request on a worker thread: the text, usage (+ timings), the finish
        reason, and the engine's error if it sent one."""
        server = self.load()
        parts: list[str] = []
        usage: dict[str, Any] = {}
        state: dict[str, Any] = {"finish": None, "error": None}

        def on_chunk(chunk: Any) -> bool:
            if isinstance(chunk, str):
                chunk = json.loads(chunk)
            if "error" in chunk:
                state["error"] = chunk["error"]
                return True
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") or {}
                if delta.get("content"):
                    parts.append(delta["content"])
                    self.stats["streamed_tokens"] += 1
                if choice.get("finish_reason"):
                    state["finish"] = choice["finish_reason"]
            if chunk.get("usage"):
                usage.update(chunk["usage"], timings=chunk.get("timings") or {})
            return cancel.is_set()  # True: stop generating now

        if cancel.is_set():
            return "", {}, None, None
        result = server.handle_chat_completions(body, on_chunk)
        if isinstance(result, dict) and "error" in result:
            state["error"] = result["error"]
        if cancel.is_set():
            self.stats["stopped_early"] += 1
        return "".join(parts), usage, state["finish"], state["error"]
