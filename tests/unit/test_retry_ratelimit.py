"""Retry policy, rate limit and concurrency cap of the OpenAI-compatible core, on a virtual clock.

The HTTP server is an ``httpx.MockTransport``; time is the event loop's own clock, advanced
instantly whenever the loop would wait (so tenacity's backoff sleeps and aiolimiter's waits take
no real time and are exact). Payload and response details of each family are pinned here too.
"""

from __future__ import annotations

import asyncio
import json
import selectors
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from agent_arena.backends import ChatRequest, Sampling, create_backend
from agent_arena.backends.llama_server import LlamaServerBackend, LlamaServerConfig
from agent_arena.backends.openai import OpenAIBackend, OpenAIBackendConfig
from agent_arena.backends.openai_compat import make_limiter, split_reasoning
from agent_arena.backends.sglang import SGLangBackend
from agent_arena.backends.vllm import VLLMBackend, VLLMBackendConfig
from agent_arena.calling import CallingConfig, decide_once
from agent_arena.errors import BackendError, BackendRequestError, BackendUnavailable, ConfigError
from agent_arena.tools import ToolRegistry, ToolSpec

MOVE = {"name": "move_to", "description": "Walk to a point.",
        "parameters": {"type": "object", "properties": {
            "target": {"type": "array", "items": {"type": "number"}, "minItems": 3,
                       "maxItems": 3}}, "required": ["target"]}}
IDLE = {"name": "idle", "description": "Do nothing.",
        "parameters": {"type": "object", "properties": {}}}


# ---- a deterministic clock -----------------------------------------------------------------


class _InstantSelector(selectors.DefaultSelector):
    def __init__(self, loop: VirtualClockLoop) -> None:
        super().__init__()
        self._vloop = loop

    def select(self, timeout: float | None = None):  # type: ignore[override]
        ready = super().select(0)
        if timeout is None:  # nothing scheduled: only real I/O can wake the loop
            return ready or super().select(5)
        # jump to the next timer; always move a nanosecond so a timer re-armed "now" (as
        # aiolimiter does after float rounding) cannot spin forever at a frozen time
        self._vloop.now += max(timeout, 1e-9)
        return ready


class VirtualClockLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(_InstantSelector(self))
        self._clock_resolution = 0.0

    def time(self) -> float:
        return self.now


def run_virtual(factory: Callable[[], Any]) -> Any:
    loop = VirtualClockLoop()
    try:
        return loop.run_until_complete(factory())
    finally:
        loop.close()


def ok_body(content: str = "hi", **message: Any) -> dict[str, Any]:
    return {"id": "x", "model": "m", "choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": content, **message}}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}}


def vllm(handler: Callable[[httpx.Request], Any], sleeps: list[float] | None = None,
         **cfg: Any) -> VLLMBackend:
    cfg.setdefault("model", "m")
    cfg.setdefault("retry_jitter_s", 0.0)

    async def record(delay: float) -> None:
        if sleeps is not None:
            sleeps.append(delay)
        await asyncio.sleep(delay)

    return VLLMBackend(VLLMBackendConfig(**cfg), transport=httpx.MockTransport(handler),
                       sleep=record)


def hello() -> ChatRequest:
    return ChatRequest(messages=[{"role": "user", "content": "hello"}])


# ---- retry policy --------------------------------------------------------------------------


def test_5xx_is_retried_with_exponential_backoff_then_succeeds():
    calls, sleeps = [], []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(req)
        if len(calls) < 3:
            return httpx.Response(503, json={"error": {"message": "busy"}})
        return httpx.Response(200, json=ok_body("fine"))

    b = vllm(handler, sleeps, retry_initial_s=0.5, retry_max_s=8)
    resp = run_virtual(lambda: b.chat(hello()))
    assert resp.text == "fine"
    assert len(calls) == 3
    assert sleeps == [0.5, 1.0]
    assert b.stats["retries"] == 2


def test_backoff_is_capped():
    sleeps: list[float] = []
    b = vllm(lambda r: httpx.Response(502, text="bad gateway"), sleeps, max_retries=5,
             retry_initial_s=1.0, retry_max_s=3.0)
    with pytest.raises(BackendError) as err:
        run_virtual(lambda: b.chat(hello()))
    assert sleeps == [1.0, 2.0, 3.0, 3.0, 3.0]
    assert "HTTP 502 after 6 attempt(s)" in err.value.message
    assert not isinstance(err.value, BackendUnavailable)


def test_429_waits_for_retry_after_when_longer_than_backoff():
    sleeps: list[float] = []
    n = {"calls": 0}

    def handler(req: httpx.Request) -> httpx.Response:
        n["calls"] += 1
        if n["calls"] == 1:
            return httpx.Response(429, headers={"Retry-After": "7"}, json={"error": "slow down"})
        return httpx.Response(200, json=ok_body())

    b = vllm(handler, sleeps, retry_initial_s=0.5)
    run_virtual(lambda: b.chat(hello()))
    assert sleeps == [7.0]


@pytest.mark.parametrize("status", [400, 404, 413, 422])
def test_4xx_is_never_retried(status: int):
    calls: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(req)
        return httpx.Response(status, json={"error": {"message": "no such thing"}})

    b = vllm(handler, max_retries=5)
    with pytest.raises(BackendRequestError) as err:
        run_virtual(lambda: b.chat(hello()))
    assert len(calls) == 1
    assert f"HTTP {status}" in err.value.message and "no such thing" in err.value.message


def test_401_says_which_key_to_check():
    b = vllm(lambda r: httpx.Response(401, json={"error": "Unauthorized"}))
    with pytest.raises(BackendRequestError, match="VLLM_API_KEY"):
        run_virtual(lambda: b.chat(hello()))


def test_connection_refused_is_retried_then_the_clear_error():
    calls: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(req)
        raise httpx.ConnectError("Connection refused", request=req)

    b = vllm(handler, max_retries=2, api_base="http://127.0.0.1:8011/v1")
    with pytest.raises(BackendUnavailable) as err:
        run_virtual(lambda: b.chat(hello()))
    assert len(calls) == 3
    assert err.value.message.startswith(
        "Cannot connect to vLLM server at http://127.0.0.1:8011/v1 — start it with "
        "run_vllm_server.py or check the port")
    assert err.value.code == "backend_unavailable"


def test_dropped_connection_mid_request_is_retried():
    n = {"calls": 0}

    def handler(req: httpx.Request) -> httpx.Response:
        n["calls"] += 1
        if n["calls"] == 1:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.",
                                            request=req)
        return httpx.Response(200, json=ok_body("again"))

    assert run_virtual(lambda: vllm(handler).chat(hello())).text == "again"
    assert n["calls"] == 2


def test_read_timeout_is_not_retried():
    calls: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(req)
        raise httpx.ReadTimeout("timed out", request=req)

    b = vllm(handler, timeout_s=30)
    with pytest.raises(BackendError, match="did not answer within 30s"):
        run_virtual(lambda: b.chat(hello()))
    assert len(calls) == 1


def test_sglang_and_generic_errors_name_their_server():
    def refuse(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=req)

    sg = SGLangBackend(transport=httpx.MockTransport(refuse), model="m", max_retries=0)
    with pytest.raises(BackendUnavailable, match=r"^Cannot connect to SGLang server at "
                       r"http://localhost:30000/v1 — start it with run_vllm_server.py --engine "
                       "sglang"):
        run_virtual(lambda: sg.chat(hello()))
    gen = OpenAIBackend(OpenAIBackendConfig(api_base="http://127.0.0.1:9/v1", model="m",
                                            max_retries=0), transport=httpx.MockTransport(refuse))
    with pytest.raises(BackendUnavailable, match="OpenAI-compatible server at http://127.0.0.1:9"):
        run_virtual(lambda: gen.chat(hello()))


# ---- rate limit and concurrency --------------------------------------------------------------


def _timed_backend(starts: list[float], **cfg: Any) -> VLLMBackend:
    async def handler(req: httpx.Request) -> httpx.Response:
        starts.append(asyncio.get_running_loop().time())
        return httpx.Response(200, json=ok_body())

    return vllm(handler, **cfg)


def test_rate_limit_spaces_requests_at_one_per_second_for_60_per_minute():
    starts: list[float] = []
    b = _timed_backend(starts, max_requests_per_minute=60)

    async def go() -> None:
        await asyncio.gather(*(b.chat(hello()) for _ in range(5)))

    run_virtual(go)
    rel = [t - starts[0] for t in sorted(starts)]
    assert rel == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0], abs=1e-4)


def test_rate_limit_allows_a_one_second_burst_and_never_exceeds_the_rate():
    starts: list[float] = []
    b = _timed_backend(starts, max_requests_per_minute=600)

    async def go() -> None:
        await asyncio.gather(*(b.chat(hello()) for _ in range(30)))

    run_virtual(go)
    rel = sorted(t - min(starts) for t in starts)
    assert rel[:10] == pytest.approx([0.0] * 10, abs=1e-4)  # the burst: one second's worth
    assert rel[-1] == pytest.approx(2.0, abs=1e-3)  # 20 more at 10/s
    for t in rel:  # in any window of 1 s: at most the burst plus one second at the rate
        assert sum(1 for u in rel if t <= u < t + 1.0 - 1e-3) <= 20


def test_limiter_parameters():
    lim = make_limiter(90)  # 1.5/s: burst of 2 per 1.333 s
    assert lim.max_rate == 2 and lim.time_period == pytest.approx(2 * 60 / 90)


def test_max_concurrency_caps_requests_in_flight():
    live = {"now": 0, "max": 0}

    async def handler(req: httpx.Request) -> httpx.Response:
        live["now"] += 1
        live["max"] = max(live["max"], live["now"])
        await asyncio.sleep(1.0)
        live["now"] -= 1
        return httpx.Response(200, json=ok_body())

    b = vllm(handler, max_concurrency=2)

    async def go() -> float:
        t0 = asyncio.get_running_loop().time()
        await asyncio.gather(*(b.chat(hello()) for _ in range(6)))
        return asyncio.get_running_loop().time() - t0

    elapsed = run_virtual(go)
    assert live["max"] == 2
    assert elapsed == pytest.approx(3.0, abs=1e-4)


def test_invalid_limits_are_config_errors():
    with pytest.raises(ConfigError):
        VLLMBackendConfig(max_concurrency=0)
    with pytest.raises(ConfigError):
        VLLMBackendConfig(max_requests_per_minute=0)
    with pytest.raises(ConfigError, match="constrained_via"):
        VLLMBackendConfig(constrained_via="regex")


# ---- payloads per family -----------------------------------------------------------------------


def _capture(backend_cls: type, **cfg: Any) -> tuple[Any, list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(json.loads(req.content))
        return httpx.Response(200, json=ok_body())

    cfg.setdefault("model", "base-model")
    return backend_cls(transport=httpx.MockTransport(handler), **cfg), seen


def test_payload_sampling_extra_body_and_lora_model():
    b, seen = _capture(VLLMBackend, temperature=0.7, max_tokens=512, top_k=20,
                       extra_body={"chat_template_kwargs": {"enable_thinking": False},
                                   "repetition_penalty": 1.1})
    req = ChatRequest(messages=[{"role": "user", "content": "x"}], model="npc-lora",
                      sampling=Sampling(temperature=0.1, seed=7),
                      extra_body={"chat_template_kwargs": {"foo": 1}})
    run_virtual(lambda: b.chat(req))
    body = seen[0]
    assert body["model"] == "npc-lora"
    assert body["temperature"] == 0.1 and body["max_tokens"] == 512 and body["seed"] == 7
    assert body["top_k"] == 20 and body["repetition_penalty"] == 1.1
    assert body["chat_template_kwargs"] == {"enable_thinking": False, "foo": 1}
    assert "tools" not in body and "response_format" not in body


def test_generic_backend_sends_top_k_only_when_set():
    b, seen = _capture(OpenAIBackend)
    run_virtual(lambda: b.chat(hello()))
    assert "top_k" not in seen[0] and "repetition_penalty" not in seen[0]


def test_tool_choice_forms():
    move, idle = ToolSpec.from_any(MOVE), ToolSpec.from_any(IDLE)
    req = ChatRequest(messages=[{"role": "user", "content": "go"}], tools=(move, idle),
                      tool_choice="move_to")
    b, seen = _capture(VLLMBackend)
    run_virtual(lambda: b.chat(req))
    assert seen[0]["tool_choice"] == {"type": "function", "function": {"name": "move_to"}}
    assert [t["function"]["name"] for t in seen[0]["tools"]] == ["move_to", "idle"]
    # llama-server takes strings only: a named tool becomes "required" with that one tool
    ls = LlamaServerBackend(LlamaServerConfig(managed=False, api_base="http://127.0.0.1:1/v1",
                                              model="m"))
    body = ls.payload(req, "m")
    assert body["tool_choice"] == "required"
    assert [t["function"]["name"] for t in body["tools"]] == ["move_to"]


def test_llama_server_slot_cache_and_penalty_names():
    ls = LlamaServerBackend(LlamaServerConfig(managed=False, api_base="http://127.0.0.1:1/v1",
                                              model="m", n_parallel=4, repetition_penalty=1.2))
    def ask(who: str) -> dict:
        return ls.payload(ChatRequest(messages=[{"role": "user", "content": "x"}],
                                      affinity=who), "m")

    slots = [ask(f"s/agent{i}")["id_slot"] for i in range(6)]
    assert slots == [0, 1, 2, 3, 0, 1]  # spread over the 4 slots in order of first request
    assert ask("s/agent2")["id_slot"] == 2  # and an agent keeps its slot
    body = ask("s/agent5")
    assert body["id_slot"] == 1 and body["cache_prompt"] is True
    assert body["repeat_penalty"] == 1.2 and "repetition_penalty" not in body
    assert "id_slot" not in ls.payload(hello(), "m")


@pytest.mark.parametrize("via,key", [("response_format", "response_format"),
                                     ("structured_outputs", "structured_outputs"),
                                     ("guided_json", "guided_json")])
def test_constrained_output_request_forms(via: str, key: str):
    schema = {"type": "object", "properties": {"tool": {"const": "idle"}}}
    b = VLLMBackend(VLLMBackendConfig(model="m", constrained_via=via))
    body = b.payload(ChatRequest(messages=[], response_schema=schema), "m")
    assert key in body
    if via == "response_format":
        assert body[key] == {"type": "json_schema",
                             "json_schema": {"name": "tool_call", "schema": schema}}
    elif via == "structured_outputs":
        assert body[key] == {"json": schema}
    body["messages"].append("mutated")  # the caller's schema/messages are never shared
    assert schema == {"type": "object", "properties": {"tool": {"const": "idle"}}}


def test_model_is_resolved_from_the_server_when_not_configured():
    seen: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req.url.path)
        if req.url.path.endswith("/models"):
            return httpx.Response(200, json={"data": [{"id": "served-one"}, {"id": "lora-a"}]})
        assert json.loads(req.content)["model"] == "served-one"
        return httpx.Response(200, json=ok_body())

    b = SGLangBackend(transport=httpx.MockTransport(handler))
    run_virtual(lambda: b.chat(hello()))
    run_virtual(lambda: b.chat(hello()))
    assert seen == ["/v1/models", "/v1/chat/completions", "/v1/chat/completions"]
    assert b.model_name == "served-one"


def test_api_key_from_family_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SGLANG_API_KEY", "sekrit")
    auth: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        auth.append(req.headers.get("authorization", ""))
        return httpx.Response(200, json=ok_body())

    run_virtual(lambda: SGLangBackend(transport=httpx.MockTransport(handler), model="m")
                .chat(hello()))
    monkeypatch.delenv("VLLM_API_KEY", raising=False)
    run_virtual(lambda: VLLMBackend(transport=httpx.MockTransport(handler), model="m")
                .chat(hello()))
    assert auth == ["Bearer sekrit", "Bearer EMPTY"]


# ---- responses -----------------------------------------------------------------------------------


def test_reasoning_is_kept_apart_from_the_answer():
    b = VLLMBackend(VLLMBackendConfig(model="m"))
    r = b.parse_response(ok_body('{"tool": "idle"}', reasoning_content="I should rest."))
    assert r.text == '{"tool": "idle"}' and r.reasoning == "I should rest."
    r = b.parse_response(ok_body('<think>tired</think>\n{"tool": "idle"}'))
    assert r.text == '{"tool": "idle"}' and r.reasoning == "tired"
    assert r.prompt_tokens == 11 and r.completion_tokens == 3
    assert split_reasoning("<think>never finished") == ("", "never finished")
    assert split_reasoning("plain") == ("plain", None)


def test_native_tool_calls_are_parsed():
    b = VLLMBackend(VLLMBackendConfig(model="m"))
    r = b.parse_response(ok_body(None, tool_calls=[{"id": "c1", "type": "function", "function": {
        "name": "move_to", "arguments": '{"target": [10, 20, 5]}'}}]))
    assert r.text == "" and r.tool_calls[0].name == "move_to"
    assert json.loads(r.tool_calls[0].arguments) == {"target": [10, 20, 5]}


def test_auto_strategy_downgrades_when_vllm_rejects_tools():
    """vLLM started without a tool parser answers 400; auto falls back to json_schema."""
    seen: list[dict[str, Any]] = []

    def handler(req: httpx.Request) -> httpx.Response:
        body = json.loads(req.content)
        seen.append(body)
        if "tools" in body:
            return httpx.Response(400, json={"object": "error", "message":
                                             '"auto" tool choice requires --enable-auto-tool-'
                                             "choice and --tool-call-parser to be set"})
        return httpx.Response(200, json=ok_body(json.dumps(
            {"thought": "go", "tool": "move_to", "arguments": {"target": [10, 20, 5]}})))

    b = vllm(handler)
    reg = ToolRegistry([MOVE, IDLE])
    out = run_virtual(lambda: decide_once(b, [{"role": "user", "content": "go to 10 20 5"}],
                                          reg, None, CallingConfig(), Sampling()))
    assert out.status == "ok" and out.strategy == "constrained"
    assert out.call.arguments == {"target": [10, 20, 5]}
    assert "tools" in seen[0] and "response_format" in seen[1]
    # remembered: the next decision goes straight to constrained output
    run_virtual(lambda: decide_once(b, [{"role": "user", "content": "x"}], reg, None,
                                    CallingConfig(), Sampling()))
    assert "tools" not in seen[2]


def test_seed_api_generate_with_tools_flat_and_openai_forms():
    def handler(req: httpx.Request) -> httpx.Response:
        body = json.loads(req.content)
        assert body["tool_choice"] in ("required", {"type": "function",
                                                    "function": {"name": "move_to"}})
        return httpx.Response(200, json=ok_body(None, tool_calls=[{"type": "function",
                              "function": {"name": "move_to",
                                           "arguments": '{"target": [10, 20, 5]}'}}]))

    b = VLLMBackend(VLLMBackendConfig(model_path="meta-llama/Llama-2-7b-chat-hf",
                                      api_base="http://localhost:8000/v1", temperature=0.7,
                                      max_tokens=512), transport=httpx.MockTransport(handler))
    try:
        for tools in ([MOVE, IDLE], [{"type": "function", "function": MOVE}]):
            result = b.generate_with_tools("I need to move to coordinates (10, 20, 5)", tools)
            assert result.metadata["tool_call"] == {"name": "move_to",
                                                    "arguments": {"target": [10, 20, 5]}}
    finally:
        b.sync().close()


def test_function_calling_block_and_unknown_keys():
    b = create_backend({"type": "vllm", "model": "m",
                        "function_calling": {"enabled": False, "format": "hermes"}})
    assert b.capabilities.native_tools is False and b.capabilities.json_schema is True
    with pytest.raises(ConfigError, match="function_calling has no setting"):
        create_backend({"type": "vllm", "function_calling": {"enabeld": True}})
    with pytest.raises(ConfigError, match="no setting"):
        create_backend({"type": "sglang", "gpu_layers": 3})
