"""A PEFT LoRA of a Llama-architecture model as a GGUF LoRA adapter for llama.cpp.

llama.cpp loads ``blk.N.<tensor>.weight.lora_a`` (PEFT's A, [rank, in]) and ``.lora_b`` (B,
[out, rank]) beside ``general.type=adapter``, ``adapter.type=lora`` and
``adapter.lora.alpha`` (it scales by alpha / rank). One catch: llama.cpp's Llama GGUFs hold
q and k with their rows permuted for its rope layout (convert_hf_to_gguf.py's ``permute``),
and transformers un-permutes them when it loads a GGUF, so B of q and k is permuted back here
(llama.cpp's own convert_lora_to_gguf.py does the same). ``read_gguf_lora`` undoes all of it,
so a run can start from an adapter it (or another run) wrote.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent_arena.errors import ConfigError

_GGUF_NAME = re.compile(r"^blk\.(\d+)\.(\w+)\.weight\.lora_([ab])$")
_NAME = re.compile(r"layers\.(\d+)\.(?:self_attn|mlp)\.(\w+_proj)\.lora_([AB])(?:\.\w+)?\.weight$")
GGUF_TENSOR = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v",
               "o_proj": "attn_output", "gate_proj": "ffn_gate", "up_proj": "ffn_up",
               "down_proj": "ffn_down"}


def gguf_name(peft_name: str) -> str:
    """``...layers.3.self_attn.q_proj.lora_A.weight`` -> ``blk.3.attn_q.weight.lora_a``."""
    m = _NAME.search(peft_name)
    if m is None or m.group(2) not in GGUF_TENSOR:
        raise ConfigError(f"LoRA tensor {peft_name!r} is not on a Llama linear layer that "
                          f"llama.cpp adapts ({', '.join(GGUF_TENSOR)})")
    return f"blk.{m.group(1)}.{GGUF_TENSOR[m.group(2)]}.weight.lora_{m.group(3).lower()}"


def permute_rows(w: Any, n_head: int) -> Any:
    """convert_hf_to_gguf.py's Llama q/k permutation, applied to the output rows of ``w``."""
    out = w.shape[0]
    return (w.reshape(n_head, 2, out // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def _rope_heads(gguf_tensor: str, n_head: int, n_head_kv: int) -> int | None:
    """How many heads the rows of ``gguf_tensor`` are permuted over: B of q (n_head) and of k
    (n_head_kv); None for every other tensor, which is stored as PEFT has it."""
    if not gguf_tensor.endswith("lora_b"):
        return None
    if ".attn_q." in gguf_tensor:
        return n_head
    return n_head_kv if ".attn_k." in gguf_tensor else None


def unpermute_rows(w: Any, n_head: int) -> Any:
    """The inverse of ``permute_rows``: llama.cpp's rope row order back to transformers'."""
    out = w.shape[0]
    return (w.reshape(n_head, out // n_head // 2, 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def write_gguf_lora(tensors: Mapping[str, Any], path: str | Path, *, alpha: float,
                    n_head: int, n_head_kv: int, name: str = "npc",
                    dtype: str = "f16") -> Path:
    """Write PEFT LoRA ``tensors`` (name -> numpy array) as a GGUF adapter at ``path``."""
    import gguf
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(path), arch="llama")
    w.add_type(gguf.GGUFType.ADAPTER)
    w.add_name(name)
    w.add_string(gguf.Keys.Adapter.TYPE, "lora")
    w.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    np_dtype = np.float16 if dtype == "f16" else np.float32
    for peft_name in sorted(tensors):
        arr = np.asarray(tensors[peft_name], dtype=np.float32)
        out_name = gguf_name(peft_name)
        heads = _rope_heads(out_name, n_head, n_head_kv)
        if heads:
            arr = permute_rows(arr, heads)
        w.add_tensor(out_name, np.ascontiguousarray(arr.astype(np_dtype)))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def read_gguf_lora(path: str | Path, *, n_head: int,
                   n_head_kv: int) -> tuple[dict[str, Any], float, int]:
    """(PEFT LoRA tensors as float32 numpy arrays, alpha, rank) of a GGUF LoRA adapter of a
    Llama model: ``write_gguf_lora`` read backwards, names, q/k row order and all."""
    import gguf
    import numpy as np

    peft_layer = {v: k for k, v in GGUF_TENSOR.items()}
    reader = gguf.GGUFReader(str(path))
    fields = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    if fields.get("general.type") != "adapter" or fields.get("adapter.type") != "lora":
        raise ConfigError(f"{path} is not a GGUF LoRA adapter (general.type="
                          f"{fields.get('general.type')!r}); give one agent-arena train wrote")
    tensors: dict[str, Any] = {}
    for t in reader.tensors:
        m = _GGUF_NAME.match(t.name)
        if m is None or m.group(2) not in peft_layer:
            raise ConfigError(f"{path}: tensor {t.name!r} is not a LoRA of a Llama linear layer")
        kind = m.group(2)
        block = "self_attn" if kind.startswith("attn") else "mlp"
        arr = np.array(t.data, dtype=np.float32)
        heads = _rope_heads(t.name, n_head, n_head_kv)
        if heads:
            arr = unpermute_rows(arr, heads)
        tensors[f"base_model.model.model.layers.{m.group(1)}.{block}.{peft_layer[kind]}"
                f".lora_{m.group(3).upper()}.weight"] = arr
    ranks = {a.shape[0] for n, a in tensors.items() if n.endswith("lora_A.weight")}
    if len(ranks) != 1:
        raise ConfigError(f"{path}: LoRA A tensors of ranks {sorted(ranks)}; expected one rank")
    return tensors, float(fields["adapter.lora.alpha"]), ranks.pop()
