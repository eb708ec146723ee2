"""One async core for every OpenAI-compatible chat server, with thin per-family subclasses.

    OpenAICompatBackend            httpx core: payload, retries, rate limit, parsing
    ├── VLLMBackend      (vllm)     http://localhost:8000/v1,  VLLM_API_KEY   (vllm.py)
    ├── SGLangBackend    (sglang)   http://localhost:30000/v1, SGLANG_API_KEY (sglang.py)
    ├── OpenAIBackend    (openai)   any base_url,              OPENAI_API_KEY (openai.py)
    └── LlamaServerBackend (llama_server)  a managed llama-server child     (llama_server.py)

A family only changes defaults and a few payload details (``_payload_hook``); everything that
touches the network lives here, and httpx errors are translated to the library's exception tree
at this one boundary:

    connection refused / reset, 429, 5xx  -> retried with exponential backoff (tenacity), then
                                             BackendUnavailable (connection) or BackendError
    4xx                                   -> BackendRequestError at once (never retried), its
                                             ``kind`` classified (errors.classify_refusal): only
                                             tools/schema "unsupported" downgrade ``auto``
    read timeout                          -> BackendError at once (a slow model is not helped
                                             by sending the same work again)

Requests pass a semaphore (``max_concurrency`` in flight) and, when ``max_requests_per_minute``
is set, an aiolimiter leaky bucket. Both are created per event loop, because the sync seed API
runs on its own loop while the bridge runs on another.

Long because: OpenAICompatBackend is one class, the whole HTTP core that every server family
inherits and overrides in places (payload, send with retries, error translation, response
parsing), and its config dataclass sits beside it; the plumbing that needs no backend is in
http.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
)

from agent_arena.backends.base import (
    Backend,
    Capabilities,
    ChatRequest,
    ChatResponse,
    RawToolCall,
    Sampling,
)
from agent_arena.backends.http import (  # also imported from here (tests, vllm_engine)
    _RETRIED_TRANSPORT,
    _BackoffOrRetryAfter,
    _describe,
    _LoopState,
    _server_message,
    _TransientStatus,
    deep_merge,
    is_transient,
    make_limiter,
    parse_retry_after,
    split_reasoning,
)
from agent_arena.config.build import build
from agent_arena.config.fields import check_bounds, setting
from agent_arena.errors import (
    BackendError,
    BackendRequestError,
    BackendUnavailable,
    ConfigError,
    classify_refusal,
)

log = logging.getLogger("agent_arena.backends.openai_compat")

CONSTRAINED_VIA = ("response_format", "structured_outputs", "guided_json", "none")


@dataclass
class FunctionCalling:
    """The seed's ``function_calling`` block (``function_calling: true`` is ``enabled: true``)."""

    enabled: bool = setting(True, "send native tools + tool_choice (vLLM/SGLang enforce "
                                  "required and a named tool); false: auto starts at "
                                  "constrained output")
    format: str = setting("auto", "the server's tool-call parser, used by run_vllm_server.py "
                                  "(auto/openai: from the model family; e.g. hermes, "
                                  "llama3_json, mistral)")


@dataclass
class OpenAICompatConfig:
    """Settings shared by every OpenAI-compatible family (each field is a config key)."""

    model: str | None = setting(None, "the served model name (or a LoRA adapter's); null: "
                                      "the first of GET /models")
    model_path: str | None = setting(None, "the seed's alias of model (a HF id or a path the "
                                           "server loaded)")
    api_base: str | None = setting(None, "e.g. http://localhost:8000/v1; null: the family's "
                                         "default, or built from host/port")
    host: str | None = setting(None, "with port, when api_base is null")
    port: int | None = setting(None, "with host, when api_base is null", ge=0, le=65535)
    api_key: str | None = setting(None, "null: the family's environment variable")
    api_key_env: str | None = setting(None, "null: the family's (VLLM_API_KEY, SGLANG_API_KEY, "
                                            "...)")
    timeout_s: float = setting(120.0, "a whole request; LLM calls are slow, keep it long", gt=0)
    connect_timeout_s: float = setting(5.0, "opening the connection", gt=0)
    max_retries: int = setting(3, "extra attempts on connection errors / 429 / 5xx (never on "
                                  "4xx)", ge=0)
    retry_initial_s: float = setting(0.5, "first backoff; doubles each retry", ge=0)
    retry_max_s: float = setting(8.0, "backoff cap (a Retry-After header may ask for longer)",
                                 ge=0)
    retry_jitter_s: float = setting(0.25, "random extra backoff, up to this", ge=0)
    max_requests_per_minute: float | None = setting(None, "client-side rate limit (set it for "
                                                          "hosted APIs with quotas); null: none",
                                                    gt=0)
    max_concurrency: int = setting(64, "requests in flight from this backend", ge=1)
    temperature: float | None = setting(0.2, "sampling temperature", ge=0)
    top_p: float | None = setting(0.95, "nucleus sampling", ge=0, le=1)
    top_k: int | None = setting(None, "sent only when set (non-standard for hosted OpenAI; "
                                      "-1 on vLLM: all)")
    max_tokens: int | None = setting(160, "tokens an answer may take", ge=1)
    repetition_penalty: float | None = setting(None, "sent only when set", gt=0)
    seed: int | None = setting(None, "sampling seed")
    stop: list[str] | None = setting(None, "stop strings")
    extra_body: dict[str, Any] | None = setting(factory=dict, help="merged into every request "
                                                "body, e.g. {chat_template_kwargs: "
                                                "{enable_thinking: false}}")
    function_calling: FunctionCalling = setting(factory=FunctionCalling, also=(bool,),
                                                help="native tool calling (see FunctionCalling)")
    constrained_via: str = setting("response_format", "how a constrained call is asked for: "
                                   "response_format | structured_outputs | guided_json (vLLM "
                                   "< 0.12) | none (the server cannot constrain output)",
                                   choices=CONSTRAINED_VIA)
    json_schema_strict: bool | None = setting(None, "null: omit strict in response_format")

    def __post_init__(self) -> None:
        if isinstance(self.function_calling, Mapping):
            self.function_calling = build(FunctionCalling, dict(self.function_calling),
                                          "backend.function_calling")
        elif isinstance(self.function_calling, bool):
            self.function_calling = FunctionCalling(enabled=self.function_calling)
        check_bounds(self, "backend")
        if self.extra_body is not None:
            self.extra_body = dict(self.extra_body)


# ---- the backend ---------------------------------------------------------------------------


class OpenAICompatBackend(Backend):
    """Chat completions over HTTP against any OpenAI-compatible server."""

    name: ClassVar[str] = "openai_compat"
    label: ClassVar[str] = "OpenAI-compatible"  # used in error messages
    default_host: ClassVar[str] = "localhost"
    default_port: ClassVar[int | None] = None
    default_api_base: ClassVar[str | None] = None
    default_api_key_env: ClassVar[str] = "OPENAI_API_KEY"
    default_api_key: ClassVar[str | None] = None
    start_hint: ClassVar[str] = "check that the server is running and that api_base is right"
    config_cls: ClassVar[type[OpenAICompatConfig]] = OpenAICompatConfig

    def __init__(
        self,
        config: OpenAICompatConfig | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        **overrides: Any,
    ) -> None:
        self.config = config or self.config_cls(**overrides)
        self._transport = transport  # tests: httpx.MockTransport
        self._sleep = sleep or asyncio.sleep  # tests: a recording sleep
        self._states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )
        c = self.config
        # the name the server answers to: model, else --served-model-name, else the seed's path
        self._resolved_model: str | None = c.model or self._served_name() or c.model_path
        self.stats: dict[str, int] = {
            "requests": 0, "retries": 0, "errors": 0,
            "prompt_tokens": 0, "completion_tokens": 0, "prompt_tokens_evaluated": 0,
        }

    # ---- settings ----------------------------------------------------------------------

    def _served_name(self) -> str | None:
        """The name the server was started to answer to (vLLM/SGLang: launch.served_model_name);
        used when ``model`` is null."""
        return None

    @property
    def base_url(self) -> str:
        c = self.config
        if c.api_base:
            return c.api_base.rstrip("/")
        if c.host is None and c.port is None and self.default_api_base:
            return self.default_api_base.rstrip("/")
        host = c.host or self.default_host
        port = c.port or self.default_port
        if port is None:
            raise ConfigError(f"backend {self.name}: set api_base (e.g. http://host:port/v1)")
        return f"http://{host}:{port}/v1"

    @property
    def api_key(self) -> str | None:
        if self.config.api_key:
            return self.config.api_key
        env = self.config.api_key_env or self.default_api_key_env
        return os.environ.get(env) or self.default_api_key

    @property
    def model_name(self) -> str:
        return self._resolved_model or self.name

    @property
    def capabilities(self) -> Capabilities:
        c = self.config
        return Capabilities(
            native_tools=bool(c.function_calling.enabled),
            json_schema=c.constrained_via != "none",
            grammar=False,
        )

    @property
    def default_sampling(self) -> Sampling:
        return Sampling.of(self.config, ("temperature", "top_p", "top_k", "max_tokens",
                                         "repetition_penalty", "seed", "stop"))

    def unavailable_message(self, detail: str = "") -> str:
        msg = f"Cannot connect to {self.label} server at {self.base_url} — {self.start_hint}"
        return f"{msg} ({detail})" if detail else msg

    # ---- per-loop client ----------------------------------------------------------------

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        st = self._states.get(loop)
        if st is None:
            c = self.config
            headers = {"Content-Type": "application/json"}
            if self.api_key:
                headers["Authorization"] = f"Bearer {self.api_key}"
            limits = httpx.Limits(max_connections=c.max_concurrency,
                                  max_keepalive_connections=c.max_concurrency)
            client = httpx.AsyncClient(
                headers=headers, transport=self._transport, limits=limits,
                timeout=httpx.Timeout(c.timeout_s, connect=c.connect_timeout_s),
            )
            limiter = make_limiter(c.max_requests_per_minute) if c.max_requests_per_minute \
                else None
            st = _LoopState(client, asyncio.Semaphore(c.max_concurrency), limiter)
            self._states[loop] = st
        return st

    async def close(self) -> None:
        await self.aclose_client()

    async def aclose_client(self) -> None:
        """Close this event loop's HTTP client (a later request opens a new one)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - always called from a loop
            return
        st = self._states.pop(loop, None)
        if st is not None:
            await st.client.aclose()

    # ---- HTTP with retries --------------------------------------------------------------

    async def _send(self, method: str, path: str, body: Mapping[str, Any] | None = None,
                    *, retries: int | None = None, timeout: float | None = None) -> Any:
        """One call with the retry policy; returns the decoded JSON body."""
        st = self._state()
        c = self.config
        url = f"{self.base_url}{path}"
        attempts = (c.max_retries if retries is None else retries) + 1

        async def once() -> httpx.Response:
            kwargs: dict[str, Any] = {}
            if body is not None:
                kwargs["content"] = json.dumps(body, ensure_ascii=False).encode()
            if timeout is not None:
                kwargs["timeout"] = httpx.Timeout(timeout, connect=min(timeout, c.connect_timeout_s))
            resp = await st.client.request(method, url, **kwargs)
            if resp.status_code == 429 or resp.status_code >= 500:
                raise _TransientStatus(resp.status_code, resp.text,
                                       parse_retry_after(resp.headers.get("retry-after")))
            return resp

        def before_sleep(state: RetryCallState) -> None:
            self.stats["retries"] += 1
            exc = state.outcome.exception() if state.outcome else None
            log.info("%s: attempt %d/%d failed (%s); retrying in %.2fs", self.name,
                     state.attempt_number, attempts, _describe(exc),
                     state.next_action.sleep if state.next_action else 0.0)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts),
            wait=_BackoffOrRetryAfter(c.retry_initial_s, c.retry_max_s, c.retry_jitter_s),
            retry=retry_if_exception(is_transient),
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            resp = await retrying(once)
        except _RETRIED_TRANSPORT as exc:
            self.stats["errors"] += 1
            raise BackendUnavailable(
                self.unavailable_message(f"{_describe(exc)} after {attempts} attempt(s)")
            ) from exc
        except _TransientStatus as exc:
            self.stats["errors"] += 1
            if exc.status == 503:
                raise BackendUnavailable(
                    f"{self.label} server at {self.base_url} is not ready (HTTP 503 after "
                    f"{attempts} attempt(s)): {_server_message(exc.body)} — it may still be "
                    "loading the model"
                ) from exc
            raise BackendError(
                f"{self.label} server at {self.base_url} failed with HTTP {exc.status} after "
                f"{attempts} attempt(s): {_server_message(exc.body)}"
            ) from exc
        except httpx.TimeoutException as exc:
            self.stats["errors"] += 1
            raise BackendError(
                f"{self.label} server at {self.base_url} did not answer within "
                f"{timeout or c.timeout_s:g}s ({type(exc).__name__}); raise backend.timeout_s "
                "or lower max_tokens"
            ) from exc
        except httpx.HTTPError as exc:  # anything else httpx raises (e.g. an invalid URL)
            self.stats["errors"] += 1
            raise BackendUnavailable(self.unavailable_message(_describe(exc))) from exc
        if resp.status_code >= 400:
            self.stats["errors"] += 1
            raise BackendRequestError(self._client_error_message(resp),
                                      kind=classify_refusal(resp.status_code, resp.text))
        try:
            return resp.json()
        except ValueError as exc:
            raise BackendError(
                f"{self.label} server at {self.base_url} answered {path} with non-JSON: "
                f"{resp.text[:200]!r}"
            ) from exc

    def _client_error_message(self, resp: httpx.Response) -> str:
        msg = f"{self.label} server refused the request (HTTP {resp.status_code}): " \
              f"{_server_message(resp.text)}"
        if resp.status_code in (401, 403):
            env = self.config.api_key_env or self.default_api_key_env
            msg += f" — check backend.api_key or the {env} environment variable"
        elif resp.status_code == 404:
            msg += (f" — check backend.model={self.model_name!r} (GET {self.base_url}/models lists"
                    " the served models and LoRA adapters)")
        return msg

    # ---- the Backend interface ----------------------------------------------------------

    async def check(self) -> bool:
        try:
            await self._send("GET", "/models", retries=0, timeout=self.config.connect_timeout_s)
        except BackendError:
            return False
        return True

    async def list_models(self) -> list[str]:
        data = await self._send("GET", "/models")
        return [m.get("id") for m in (data or {}).get("data", []) if isinstance(m, Mapping)]

    async def resolve_model(self) -> str:
        if self._resolved_model is None:
            models = await self.list_models()
            if not models:
                raise ConfigError(f"{self.label} server at {self.base_url} serves no model; "
                                  "set backend.model")
            self._resolved_model = models[0]
            log.info("%s: using model %r (first of GET /models)", self.name, models[0])
        return self._resolved_model

    async def chat(self, request: ChatRequest) -> ChatResponse:
        payload = await self.build_payload(request)
        st = self._state()
        async with st.semaphore:
            if st.limiter is not None:
                await st.limiter.acquire()
            self.stats["requests"] += 1
            started = time.perf_counter()
            data = await self._send("POST", "/chat/completions", payload)
        resp = self.parse_response(data)
        log.debug("%s: %d+%d tokens in %.2fs", self.name, resp.prompt_tokens,
                  resp.completion_tokens, time.perf_counter() - started)
        return resp

    # ---- payload and response (pure; families hook in) -------------------------------------

    async def build_payload(self, request: ChatRequest) -> dict[str, Any]:
        model = request.model or await self.resolve_model()
        return self.payload(request, model)

    def payload(self, request: ChatRequest, model: str) -> dict[str, Any]:
        s = self.default_sampling.merged(request.sampling)
        body: dict[str, Any] = {"model": model, "messages": list(request.messages)}
        for key in ("temperature", "top_p", "max_tokens", "seed", "stop", "top_k",
                    "repetition_penalty"):
            value = getattr(s, key)
            if value is not None:
                body[key] = value
        if request.tools:
            body["tools"] = [t.openai_shared for t in request.tools]
            choice = request.tool_choice or "auto"
            if choice in ("auto", "none", "required"):
                body["tool_choice"] = choice
            else:
                body["tool_choice"] = {"type": "function", "function": {"name": choice}}
        if request.response_schema is not None:
            body.update(self.constrain(request.response_schema))
        body = deep_merge(body, self.config.extra_body)
        body = deep_merge(body, request.extra_body)
        return self._payload_hook(body, request)

    def constrain(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        """The body fields that constrain the answer to ``schema`` (shared, read-only)."""
        via = self.config.constrained_via
        if via == "structured_outputs":
            return {"structured_outputs": {"json": schema}}
        if via == "guided_json":
            return {"guided_json": schema}
        if via == "none":
            return {}
        fmt: dict[str, Any] = {"name": "tool_call", "schema": schema}
        if self.config.json_schema_strict is not None:
            fmt["strict"] = self.config.json_schema_strict
        return {"response_format": {"type": "json_schema", "json_schema": fmt}}

    def _payload_hook(self, body: dict[str, Any], request: ChatRequest) -> dict[str, Any]:
        """Per-family adjustments (key names, slots); the default sends the body as is."""
        return body

    def parse_response(self, data: Any) -> ChatResponse:
        try:
            choice = data["choices"][0]
        except (KeyError, IndexError, TypeError) as exc:
            raise BackendError(
                f"{self.label} server answered without choices: {json.dumps(data)[:200]}"
            ) from exc
        msg = choice.get("message") or {}
        content = msg.get("content") or ""
        if not isinstance(content, str):  # content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
        text, think = split_reasoning(content)
        reasoning = msg.get("reasoning_content") or msg.get("reasoning") or think
        calls = []
        for tc in msg.get("tool_calls") or []:
            fn = (tc or {}).get("function") or {}
            if isinstance(fn.get("name"), str):
                calls.append(RawToolCall(name=fn["name"], arguments=fn.get("arguments") or "{}"))
        usage = data.get("usage") or {}
        resp = ChatResponse(
            text=text, tool_calls=calls, reasoning=reasoning,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            finish_reason=choice.get("finish_reason"), model=data.get("model"),
        )
        self.stats["prompt_tokens"] += resp.prompt_tokens
        self.stats["completion_tokens"] += resp.completion_tokens
        timings = data.get("timings") or {}  # llama-server: prompt tokens really evaluated
        evaluated = timings.get("prompt_n", resp.prompt_tokens - int(
            (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0))
        self.stats["prompt_tokens_evaluated"] += int(evaluated or 0)
        return resp
