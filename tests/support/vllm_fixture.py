"""A real vLLM OpenAI server for tests: vLLM's CPU build (.venv-vllm, `make vllm-venv`) serving
the embedded SmolLM2-135M, converted once to a Hugging Face folder (scripts/gguf_to_hf.py,
cached under ~/.cache/agent-arena by the GGUF's hash), started through run_vllm_server.py on a
free loopback port, with a locally made LoRA adapter (``npc``) and a chat template that honours
``enable_thinking`` (tests/data/smollm2_thinking_switch.jinja).

tests/conftest.py loads this module as a plugin: a test asks for ``vllm_server`` by name.

``VLLM_BASE_URL`` set: that server is used instead (nothing is started; LoRA and template tests
then need the same adapter and template there). Without a vLLM venv the fixtures skip, saying
how to make one; `make test` makes it first, so there they always run.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from agent_arena.errors import BackendUnavailable
from agent_arena.launch.process import ChildProcess, free_port, kill_group

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "run_vllm_server.py"
TEMPLATE = ROOT / "tests" / "data" / "smollm2_thinking_switch.jinja"
LORA_NAME = "npc"
START_TIMEOUT_S = 900  # measured 35-120 s eager on 2 busy cores; generous for a loaded CI box


def vllm_python() -> str:
    """The interpreter of the vLLM venv; skips (saying how to make it) when there is none."""
    py = os.environ.get("VLLM_PYTHON") or str(ROOT / ".venv-vllm" / "bin" / "python")
    if not Path(py).exists():
        pytest.skip(f"no vLLM virtualenv at {py}: run `make vllm-venv` (vLLM's CPU build, "
                    "~2 min) or set VLLM_PYTHON; `make test` does it first")
    return py


def _run(cmd: list[str], what: str, timeout: float = 900) -> str:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "python")})
    if out.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
    return out.stdout.strip().splitlines()[-1]


@functools.lru_cache(maxsize=1)
def hf_model_dir() -> str:
    """The embedded GGUF as a Hugging Face folder (converted once, ~1 min; cached)."""
    from agent_arena.backends.embedded_model import embedded_model_path

    return _run([vllm_python(), str(ROOT / "scripts" / "gguf_to_hf.py"),
                 "--gguf", str(embedded_model_path())], "GGUF -> HF conversion")


def make_lora(model_dir: str, out: Path) -> str:
    return _run([vllm_python(), str(ROOT / "scripts" / "make_lora_adapter.py"), model_dir,
                 str(out)], "making the LoRA adapter", timeout=300)


@dataclass
class RunningVLLM:
    base_url: str
    model: str  # the served name (the folder path, as the seed's model_path)
    lora: str | None
    log_path: Path | None
    script: ChildProcess | None = None  # run_vllm_server.py, in a session of its own
    server_pid: int | None = None

    def log_tail(self, n: int = 40) -> str:
        return self.script.tail(n) if self.script is not None else ""

    def stop(self) -> None:
        """Ctrl-C to run_vllm_server.py (it forwards it and waits; after 60 s its group is
        killed), then make sure nothing of the server's own process group is left."""
        if self.script is None:
            return
        self.script.stop(timeout=60, sig=signal.SIGINT)
        kill_group(self.server_pid)  # vLLM runs in its own session (its pid is the group)
        self.script = None


def start_vllm(work: Path, *, lora: bool = True, extra: list[str] | None = None) -> RunningVLLM:
    py = vllm_python()
    model = hf_model_dir()
    port = free_port()
    cmd = [sys.executable, str(SCRIPT), "--engine", "vllm", "--device", "cpu",
           "--vllm-python", py, "--model", model, "--port", str(port),
           "--tool-call-parser", "hermes", "--chat-template", str(TEMPLATE),
           "--work-dir", str(work / "cache"), "--health-timeout", str(START_TIMEOUT_S)]
    lora_dir = None
    if lora:
        lora_dir = make_lora(model, work / "lora-npc")
        cmd += ["--lora-modules", f"{LORA_NAME}={lora_dir}", "--", "--max-lora-rank", "8"]
    if extra:
        cmd += ([] if "--" in cmd else ["--"]) + extra
    # the script dies with pytest (and forwards the SIGTERM to vLLM, which has the same guard)
    script = ChildProcess(cmd, name="run_vllm_server.py", log_path=work / "vllm-server.log",
                          new_session=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "python")})
    script.start()
    server = RunningVLLM(f"http://127.0.0.1:{port}/v1", model, LORA_NAME if lora else None,
                         script.log_path, script)
    try:
        pid_line = script.wait_for_line("server pid ", START_TIMEOUT_S)
        server.server_pid = int(pid_line.split("server pid ", 1)[1].split()[0])
        script.wait_for_line("ready: base_url", START_TIMEOUT_S + 60, poll_s=0.5)
        return server
    except BaseException as exc:
        server.stop()
        if isinstance(exc, BackendUnavailable):
            raise RuntimeError(f"vLLM did not become ready: {exc.message}") from None
        raise


@pytest.fixture(scope="module")
def vllm_server(tmp_path_factory) -> Iterator[RunningVLLM]:
    url = os.environ.get("VLLM_BASE_URL")
    if url:  # a server someone started: use it as is
        try:
            models = httpx.get(url.rstrip("/") + "/models", timeout=10).json()["data"]
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            pytest.fail(f"VLLM_BASE_URL={url} does not answer GET /models: {exc}")
        ids = [m["id"] for m in models]
        yield RunningVLLM(url.rstrip("/"), os.environ.get("VLLM_MODEL") or ids[0],
                          LORA_NAME if LORA_NAME in ids else None, None)
        return
    server = start_vllm(tmp_path_factory.mktemp("vllm"))
    try:
        yield server
    finally:
        server.stop()
    try:  # torn down for real: nothing answers there any more (a teardown error otherwise)
        httpx.get(server.base_url[: -len("/v1")] + "/health", timeout=2)
    except httpx.HTTPError:
        return
    raise RuntimeError(f"vLLM still answers at {server.base_url} after stop")
