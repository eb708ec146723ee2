"""In-process llama.cpp (llama-cpp-python): the embedded default backend.

One ``Llama`` model is shared by every agent. llama.cpp is not re-entrant, so requests run one
at a time on a single worker thread; the event loop never blocks. A request cancelled (deadline,
supersede, a vanished game) while it waits never reaches the model; one cancelled while it
generates stops before its next token: the model's ``eval`` (called once for the prompt, then
once per generated token) checks the request's cancel event and raises, which unwinds
llama-cpp-python's generate loop with its state consistent (the token was not evaluated). The
worker is free for the next agent at once, and the thread itself ends the generation (releasing
a lock from the event loop while the thread still decoded crashed llama.cpp, GGML_ASSERT;
llama-cpp-python's logits processors run as ctypes callbacks, where an exception stops nothing).
The prompt cache of the ``Llama`` object reuses the longest common prefix with
the previous prompt, which is why prompts put the stable system text and tool list first.

Long because: one class with one job, driving the one ``Llama`` object on its one worker
thread (load, grammar, chat, cancellation, scoring); the paths share that thread, its lock and
the cancel event, which would have to be passed between modules if split.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_arena.adapters import resolve_lora
from agent_arena.backends.base import (
    Capabilities,
    ChatRequest,
    ChatResponse,
    Sampling,
    Scores,
)
from agent_arena.backends.embedded_model import embedded_gguf
from agent_arena.backends.in_process import InProcessBackend
from agent_arena.config.fields import check_bounds, setting
from agent_arena.errors import (
    BackendRequestError,
    BackendUnavailable,
    ConfigError,
    classify_engine_refusal,
)
from agent_arena.tools import schema_key

log = logging.getLogger("agent_arena.backends.llama_cpp")

class _Cancelled(Exception):
    """Raised inside the model's eval to end a generation nobody wants any more."""



def model_file(model_path: str | None, embedded_quant: str = "q4_1") -> Path:
    """``backend.model_path`` as a GGUF that exists (None: the embedded model in
    ``embedded_quant``; q4_1 is the package's file as it is)."""
    path = Path(model_path) if model_path else embedded_gguf(embedded_quant)
    if not path.is_file():
        raise ConfigError(f"model file {path} does not exist; set backend.model_path to a GGUF")
    return path


def default_threads() -> int:
    return max(1, (os.cpu_count() or 1) - 1)


@dataclass
class LlamaCppConfig:
    """``backend=llama_cpp``: in-process llama.cpp (llama-cpp-python), one request at a time.

    ``n_threads`` null leaves one core free: llama.cpp's threads spin-wait on each other, and
    when anything else wants a core (the game, a browser) using every core made decisions 2-3x
    slower (measured on 2 cores: docs/benchmarks.md)."""

    model_path: str | None = setting(None, "a GGUF file; null: the embedded "
                                           "SmolLM2-135M-Instruct (with a lora: its Q4_0, the "
                                           "weights the packaged adapters were trained on)")
    lora: str | None = setting(None, "a GGUF LoRA applied on load: a packaged adapter's name, "
                                     "a path, or null")
    n_ctx: int = setting(4096, "context tokens", ge=1)
    n_threads: int | None = setting(None, "null: all cores but one", ge=1)
    n_batch: int = setting(512, "prompt tokens per llama.cpp batch", ge=1)
    seed: int = setting(0, "sampling seed")
    chat_format: str | None = setting(None, "null: the GGUF's own chat template")
    temperature: float = setting(0.2, "sampling temperature", ge=0)
    top_p: float = setting(0.95, "nucleus sampling", ge=0, le=1)
    top_k: int = setting(40, "sample among the k likeliest tokens (0 or less: all)")
    max_tokens: int = setting(96, "tokens an answer may take", ge=1)
    repetition_penalty: float = setting(1.0, "1.0: none", gt=0)
    verbose: bool = setting(False, "llama.cpp's own log lines on stderr")

    def __post_init__(self) -> None:
        check_bounds(self, "backend")


class LlamaCppBackend(InProcessBackend):
    name = "llama_cpp"

    def __init__(self, config: LlamaCppConfig | None = None, **overrides: Any) -> None:
        self.config = config or LlamaCppConfig(**overrides)
        self.lora_path = resolve_lora(self.config.lora)
        # an adapter fits the weights it was trained on: the packaged ones were trained on the
        # Q4_0 that xllamacpp serves (on the package's Q4_1 the npc adapter chose the right tool
        # 47.8% of the time on bench/dev_games, on Q4_0 54.4%)
        self.model_path = path = model_file(self.config.model_path,
                                            "q4_0" if self.lora_path else "q4_1")
        self._model_name = path.name if self.lora_path is None else \
            f"{path.name}+{self.lora_path.stem}"
        self._llm: Any = None
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="llama")
        self._load_lock = threading.Lock()
        self._grammars: dict[str, Any] = {}
        self._grammar_by_id: dict[int, tuple[Any, Any]] = {}
        # same keys as the HTTP backends' stats; prompt_tokens_evaluated counts what llama.cpp
        # really decoded (the rest of the prompt came from its prompt cache: prefix reuse)
        self.stats: dict[str, int] = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0,
                                      "prompt_tokens_evaluated": 0, "cancelled": 0,
                                      "stopped_early": 0}
        self._evaluated = 0
        self._cancel: threading.Event | None = None  # the running request's (worker thread)
        self._formatter: Any = None  # the GGUF's chat template (prefill and scoring)
        self._turn: tuple[Any, asyncio.Lock] | None = None  # (its loop, the lock)

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(native_tools=False, json_schema=True, grammar=True, scores=True,
                            adapter=self.lora_path is not None)

    @property
    def default_sampling(self) -> Sampling:
        return Sampling.of(self.config)

    def load(self) -> Any:
        """Load the model now (otherwise on first use); blocking, a second or two for SmolLM2."""
        with self._load_lock:
            return self._load()

    def _load(self) -> Any:
        if self._llm is None:
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise BackendUnavailable(
                    "llama-cpp-python is not installed: run `make install` (it builds it with "
                    "the right CPU flags)"
                ) from exc
            threads = self.config.n_threads or default_threads()
            llm = Llama(
                model_path=str(self.model_path), n_ctx=self.config.n_ctx, n_threads=threads,
                n_threads_batch=threads, n_batch=self.config.n_batch, seed=self.config.seed,
                chat_format=self.config.chat_format, verbose=self.config.verbose,
                lora_path=str(self.lora_path) if self.lora_path else None,
            )
            inner_eval = llm.eval

            def counting_eval(tokens: Any) -> None:  # prompt remainder, then one per new token
                if self._cancel is not None and self._cancel.is_set():
                    raise _Cancelled
                self._evaluated += len(tokens)
                inner_eval(tokens)

            llm.eval = counting_eval
            self._llm = llm
            log.info("llama_cpp: loaded %s (n_ctx=%d, threads=%d)", self._model_name,
                     self.config.n_ctx, threads)
        return self._llm

    def _grammar(self, schema: Any) -> Any:
        """The compiled grammar of ``schema`` (worker thread only). Call schemas are cached
        objects (tools.cached_call_schema), so the same object means the same grammar."""
        hit = self._grammar_by_id.get(id(schema))
        if hit is not None and hit[0] is schema:
            return hit[1]
        key = schema_key(schema)
        grammar = self._grammars.get(key)
        if grammar is None:
            import json

            from llama_cpp import LlamaGrammar
            try:
                grammar = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
            except Exception as exc:  # llama.cpp raises plain ValueError/RuntimeError here
                raise BackendRequestError(f"cannot turn the call schema into a grammar: {exc}") from exc
            if len(self._grammars) > 256:
                self._grammars.clear()
                self._grammar_by_id.clear()
            self._grammars[key] = grammar
        self._grammar_by_id[id(schema)] = (schema, grammar)
        return grammar

    async def check(self) -> bool:
        try:
            await asyncio.to_thread(self.load)
        except (BackendUnavailable, ConfigError, ValueError):
            return False
        return True

    async def chat(self, request: ChatRequest) -> ChatResponse:
        s = self.default_sampling.merged(request.sampling)
        kwargs: dict[str, Any] = {
            "messages": list(request.messages),
            "temperature": s.temperature, "top_p": s.top_p, "top_k": s.top_k,
            "max_tokens": s.max_tokens, "repeat_penalty": s.repetition_penalty,
            "stop": s.stop,
        }
        if s.seed is not None:
            kwargs["seed"] = s.seed
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        if request.prefill is not None:
            kwargs["prefill"] = request.prefill
        cancel = threading.Event()
        # the grammar is compiled (first use of a schema) in the worker, not on the event loop
        fut = asyncio.get_running_loop().run_in_executor(self._executor, self._complete, kwargs,
                                                         request.response_schema, cancel)
        try:
            # cancelled while queued: never runs; while running: stops at the next token
            out, evaluated = await fut
        except asyncio.CancelledError:
            cancel.set()
            self.stats["cancelled"] += 1
            raise
        except (BackendUnavailable, ConfigError):
            raise
        except ValueError as exc:  # e.g. prompt longer than n_ctx
            raise BackendRequestError(f"llama.cpp refused the request: {exc}",
                                      kind=classify_engine_refusal(str(exc))) from exc
        if out is None:  # stopped by a cancel whose awaiting task still finished: no answer
            raise BackendRequestError("the generation was cancelled", kind="transient")
        choice = out["choices"][0]
        if "message" not in choice:  # a prefilled completion: text is the continuation
            choice = {**choice, "message": {"content": choice.get("text", "")}}
        usage = out.get("usage") or {}
        self.stats["requests"] += 1
        self.stats["prompt_tokens"] += usage.get("prompt_tokens", 0)
        self.stats["completion_tokens"] += usage.get("completion_tokens", 0)
        # every generated token but the last is fed back through eval
        self.stats["prompt_tokens_evaluated"] += min(usage.get("prompt_tokens", 0), max(
            0, evaluated - max(usage.get("completion_tokens", 0) - 1, 0)))
        return ChatResponse(
            text=choice["message"].get("content") or "",
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
            finish_reason=choice.get("finish_reason"),
            model=self._model_name,
        )

    def _complete(self, kwargs: dict[str, Any], schema: Any,
                  cancel: threading.Event) -> tuple[dict[str, Any] | None, int]:
        if cancel.is_set():  # cancelled while queued, after the executor picked it up
            return None, 0
        llm = self.load()
        if schema is not None:
            kwargs["grammar"] = self._grammar(schema)
        before = self._evaluated
        self._cancel = cancel
        try:
            prefill = kwargs.pop("prefill", None)
            if prefill is None:
                out = llm.create_chat_completion(**kwargs)
            else:  # the same template as a chat completion, then the answer's given start
                prompt = self._prompt_tokens(llm, kwargs.pop("messages"), prefill)
                out = llm.create_completion(prompt, **kwargs)
        except _Cancelled:
            self.stats["stopped_early"] += 1  # nobody awaits the result any more
            return None, self._evaluated - before
        finally:
            self._cancel = None
        return out, self._evaluated - before

    # ---- likelihood of continuations (calling.choice=likelihood) -----------------------------

    def _prompt_tokens(self, llm: Any, messages: Any, prefill: str) -> list[int]:
        """The prompt create_chat_completion would build (the GGUF's chat template, generation
        prompt included), followed by ``prefill``: so its prompt cache is shared with chats."""
        if self._formatter is None:
            from llama_cpp import llama_chat_format

            template = llm.metadata.get("tokenizer.chat_template")
            if not template:
                raise BackendRequestError("this GGUF has no chat template: likelihood choice "
                                          "needs one (set calling.choice=generate)")
            text = llm._model.token_get_text  # as Llama.__init__ does for its own formatter
            self._formatter = llama_chat_format.Jinja2ChatFormatter(
                template=template, eos_token=text(llm.token_eos()),
                bos_token=text(llm.token_bos()))
        res = self._formatter(messages=list(messages))
        return llm.tokenize((res.prompt + prefill).encode("utf-8"),
                            add_bos=not res.added_special, special=True)

    def turn(self) -> asyncio.Lock:
        """One prompt cache: a decision's score, prior and arguments run back to back (4 demo
        agents interleaving them re-evaluated each other's prompts)."""
        loop = asyncio.get_running_loop()
        if self._turn is None or self._turn[0] is not loop:
            self._turn = (loop, asyncio.Lock())
        return self._turn[1]

    async def score(self, request: ChatRequest, options: Any) -> Scores:
        cancel = threading.Event()
        fut = asyncio.get_running_loop().run_in_executor(
            self._executor, self._score, request.messages, request.prefill or "", list(options),
            cancel)
        try:
            out = await fut
        except asyncio.CancelledError:
            cancel.set()
            self.stats["cancelled"] += 1
            raise
        except ValueError as exc:
            raise BackendRequestError(f"llama.cpp refused the request: {exc}") from exc
        if out is None:
            raise BackendRequestError("the scoring was cancelled", kind="transient")
        return out

    def _score(self, messages: Any, prefill: str, options: list[str],
               cancel: threading.Event) -> Scores | None:
        """Sum of token log-probabilities of each option after the prompt: the shared prompt is
        evaluated once (reusing the prompt cache), each option in one batch of its own tokens
        whose logits are all read, then dropped from the KV cache again."""
        import numpy as np

        if cancel.is_set():
            return None
        llm = self.load()
        base = self._prompt_tokens(llm, messages, prefill)
        full = [self._prompt_tokens(llm, messages, prefill + o) for o in options]
        k = min(_common(base, f) for f in full)  # tokens shared by the prompt and every option
        k = max(k, 1)
        cached = _common(llm.input_ids[: llm.n_tokens].tolist(), base[:k])
        llm.n_tokens = min(cached, k - 1)  # re-evaluate at least one token: its logits
        self._cancel = cancel
        try:
            llm.eval(base[llm.n_tokens:k])
        except _Cancelled:
            return None
        finally:
            self._cancel = None
        n_vocab = llm.n_vocab()
        first = _log_softmax(np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(n_vocab,)))
        # options in token order, each decoded after the longest prefix it shares with the one
        # before (a trie walk): enumerated calls share '<tool>", "arguments": {"<arg>": ' and
        # every row of logits costs a pass through the output layer (~11 ms a token on 1 core)
        scores = [0.0] * len(full)
        cur: list[int] = []  # the option whose tokens (but its last) are in the cache after k
        rows: list[Any] = []  # rows[j]: log-probabilities of the token after cur[j]
        for i in sorted(range(len(full)), key=lambda i: full[i][k:]):
            rest = full[i][k:]
            keep = max(0, min(_common(cur, rest), len(rest) - 1, len(rows)))
            rows = rows[:keep]  # rows past the shared prefix belong to the option before
            if len(rest) - 1 > keep:
                llm._ctx.kv_cache_seq_rm(-1, k + keep, -1)
                llm._batch.set_batch(batch=rest[keep:-1], n_past=k + keep, logits_all=True)
                llm._ctx.decode(llm._batch)
                new = np.ctypeslib.as_array(llm._ctx.get_logits(),
                                            shape=(len(rest) - 1 - keep, n_vocab))
                rows += [_log_softmax(r) for r in new]
                self._evaluated += len(rest) - 1 - keep
            cur = rest
            scores[i] = (float(first[rest[0]]) if rest else 0.0) + sum(
                float(rows[j][rest[j + 1]]) for j in range(len(rest) - 1))
        llm._ctx.kv_cache_seq_rm(-1, k, -1)  # the cache holds the shared prompt only again
        llm.n_tokens = k
        self.stats["scored"] = self.stats.get("scored", 0) + 1
        return Scores(scores, prompt_tokens=k + sum(len(f) - k for f in full))

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close)

    def unload(self) -> None:
        """Blocking close, after any running generation has stopped."""
        self._executor.submit(self._close).result()

    def _close(self) -> None:
        if self._llm is not None:
            self._llm.close()
            self._llm = None



def _common(a: Any, b: Any) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _log_softmax(logits: Any) -> Any:
    import numpy as np

    m = float(np.max(logits))
    return logits - (m + float(np.log(np.sum(np.exp(logits - m)))))
