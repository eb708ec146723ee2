"""Check that ``--init-adapter`` reads a GGUF LoRA back into PEFT right: held-out tool accuracy
on generated rows, a fresh LoRA against the same LoRA loaded from the adapter.

    # in an env with the train extra (torch, transformers, peft, gguf), on a CPU
    PYTHONPATH=python python scripts/check_init_adapter.py [ADAPTER] [BASE_GGUF] [ROWS]

ADAPTER defaults to the packaged ``npc``, BASE_GGUF to the embedded model, ROWS to 40. A wrong
q/k row order or A/B orientation leaves the loaded adapter near the fresh one's accuracy.
"""

from __future__ import annotations

import contextlib
import sys


def main(adapter: str = "npc", base: str | None = None, rows: int = 40) -> None:
    import torch
    from peft import LoraConfig, get_peft_model

    from agent_arena.training.base import base_gguf, load_base
    from agent_arena.training.config import TrainConfig
    from agent_arena.training.encode import encode_many
    from agent_arena.training.games import held_out_rows
    from agent_arena.training.loop import evaluate, init_from_adapter

    cfg = TrainConfig(generate=1, init_adapter=adapter, dropout=0.0)
    model, tok = load_base(base_gguf(base))
    items = encode_many(tok, held_out_rows(rows, 5), tool_weight=cfg.tool_weight,
                        max_len=cfg.max_len)
    model = get_peft_model(model, LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha, lora_dropout=0.0,
                                             target_modules=cfg.targets, task_type="CAUSAL_LM"))
    cpu, plain = torch.device("cpu"), contextlib.nullcontext
    print("fresh LoRA:", evaluate(model, items, tok.pad_token_id, cpu, 8, plain), flush=True)
    path = init_from_adapter(model, cfg)
    print(f"from {path}:", evaluate(model, items, tok.pad_token_id, cpu, 8, plain), flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0] if args else "npc", args[1] if len(args) > 1 else None,
         int(args[2]) if len(args) > 2 else 40)
