"""A real vLLM OpenAI server for tests: vLLM's CPU build (.venv-vllm, `make vllm-venv`) serving
the embedded SmolLM2-135M, converted once to a Hugging Face folder (scripts/gguf_to_hf.py,
cached under ~/.cache/agent-arena by the GGUF's hash), started through run_vllm_server.py on a
free loopback port, with a locally made LoRA adapter (``npc``) and a chat template that honours
``enable_thinking`` (tests/data/smollm2_thinking_switch.jinja).

Import the fixtures into a test module::

    from vllm_fixture import vllm_server  # noqa: F401

``VLLM_BASE_URL`` set: that server is used instead (nothing is started; LoRA and template tests
then need the same adapter and template there). Without a vLLM venv the fixtures skip, saying
how to make one; `make test` makes it first, so there they always run.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
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
    from agent_arena.backends.llama_cpp import embedded_model_path

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
    proc: subprocess.Popen | None = None
    server_pid: int | None = None

    def log_tail(self, n: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def stop(self) -> None:
        """Ctrl-C to run_vllm_server.py (it forwards it and waits), then make sure nothing of
        the server's process group is left."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self.server_pid is not None:  # vLLM runs in its own session (its pid is the group)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.server_pid, signal.SIGKILL)
        self.proc = None


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """A killed test run must not leave vLLM holding 3 GB and both cores: the script gets
    SIGTERM when pytest dies and forwards it to vLLM (which has the same guard)."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def start_vllm(work: Path, *, lora: bool = True, extra: list[str] | None = None) -> RunningVLLM:
    from agent_arena.backends.llama_server import free_port

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
    log_path = work / "vllm-server.log"
    log_file = open(log_path, "wb")  # noqa: SIM115 - the child writes to it
    proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=_die_with_parent,
                            env={**os.environ, "PYTHONPATH": str(ROOT / "python")})
    log_file.close()
    server = RunningVLLM(f"http://127.0.0.1:{port}/v1", model, LORA_NAME if lora else None,
                         log_path, proc)
    deadline = time.monotonic() + START_TIMEOUT_S + 60
    try:
        while True:
            text = log_path.read_text(errors="replace")
            if server.server_pid is None and "server pid " in text:
                server.server_pid = int(text.split("server pid ", 1)[1].split()[0])
            if "ready: base_url" in text:
                return server
            if proc.poll() is not None:
                raise RuntimeError(f"run_vllm_server.py exited with {proc.returncode}:\n"
                                   f"{server.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"vLLM did not become ready:\n{server.log_tail()}")
            time.sleep(0.5)
    except BaseException:
        server.stop()
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
