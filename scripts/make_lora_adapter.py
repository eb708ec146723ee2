#!/usr/bin/env python3
"""Write a small PEFT-format LoRA adapter for a Llama-architecture Hugging Face folder, without
peft or training: random low-rank updates on q_proj and v_proj of every layer, seeded, so the
adapter changes the model's answers measurably. It exists to test LoRA-by-model-name end to end
(vLLM's ``--lora-modules NAME=PATH``; an agent profile's ``model: NAME`` picks it), not to be
useful. Runs in the vLLM virtualenv (torch + safetensors).

    .venv-vllm/bin/python scripts/make_lora_adapter.py MODEL_DIR OUT_DIR [--rank 8] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def make_adapter(model_dir: Path, out: Path, rank: int = 8, seed: int = 0,
                 scale: float = 0.05) -> Path:
    import torch
    from safetensors.torch import save_file

    cfg = json.loads((model_dir / "config.json").read_text())
    hidden = int(cfg["hidden_size"])
    head_dim = int(cfg.get("head_dim") or hidden // int(cfg["num_attention_heads"]))
    outs = {"q_proj": int(cfg["num_attention_heads"]) * head_dim,
            "v_proj": int(cfg.get("num_key_value_heads") or cfg["num_attention_heads"]) * head_dim}
    gen = torch.Generator().manual_seed(seed)
    tensors = {}
    for layer in range(int(cfg["num_hidden_layers"])):
        for mod, out_dim in outs.items():
            prefix = f"base_model.model.model.layers.{layer}.self_attn.{mod}"
            tensors[f"{prefix}.lora_A.weight"] = (
                torch.randn(rank, hidden, generator=gen) * scale).contiguous()
            tensors[f"{prefix}.lora_B.weight"] = (
                torch.randn(out_dim, rank, generator=gen) * scale).contiguous()
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out / "adapter_model.safetensors"))
    (out / "adapter_config.json").write_text(json.dumps({
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": rank, "lora_alpha": 2 * rank,
        "lora_dropout": 0.0, "bias": "none", "target_modules": sorted(outs),
        "base_model_name_or_path": str(model_dir), "fan_in_fan_out": False,
        "inference_mode": True, "modules_to_save": None, "use_rslora": False,
        "use_dora": False,
    }, indent=2))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model_dir", type=Path)
    p.add_argument("out_dir", type=Path)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    print(make_adapter(args.model_dir, args.out_dir, args.rank, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
