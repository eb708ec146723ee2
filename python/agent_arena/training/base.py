"""The base model for training: the very GGUF llama.cpp serves, dequantized by transformers
(needs the ``gguf`` package), so the adapter learns on the weights it will run on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent_arena.errors import ConfigError


def base_gguf(path: str | None) -> Path:
    if path:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"base model {p} does not exist; give a GGUF file")
        return p
    from agent_arena.backends.embedded_model import embedded_gguf

    return embedded_gguf("q4_0")  # what backend=xllamacpp serves by default


def load_base(gguf_path: Path, *, dtype: Any = None) -> tuple[Any, Any]:
    """(model, tokenizer) from a GGUF file, in float32 unless ``dtype`` says otherwise."""
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise ConfigError("training needs the train extra: pip install 'agent-arena[train]' "
                          f"(torch, transformers, peft, gguf): {exc}") from exc
    folder, name = str(gguf_path.parent), gguf_path.name
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name,
                                                 dtype=dtype or torch.float32)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return model, tok
