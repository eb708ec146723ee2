"""Check that a GGUF LoRA written by agent_arena.training.gguf_lora moves llama.cpp's logits
the way PEFT moves transformers' (q/k permutation, A/B orientation, alpha / rank scale).

    # 1. in an env with the train extra: a random adapter, its GGUF, and transformers' logits
    python scripts/check_gguf_lora.py hf OUT_DIR
    # 2. in an env with llama-cpp-python: llama.cpp's logits with and without it, compared
    python scripts/check_gguf_lora.py llama OUT_DIR

Prints the correlation of the two logit shifts (base -> adapter) on the last position; a
wrong q/k permutation gives ~0.72, a right export above 0.8 (the base differs
only by llama.cpp's quantized activations: measured 0.84 here, 0.72 without the q/k permutation).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

PROMPT = ("<|im_start|>system\nYou control a character.<|im_end|>\n<|im_start|>user\n"
          "A wolf is near and your health is low. What do you do?<|im_end|>\n"
          "<|im_start|>assistant\n{\"tool\": \"")


def hf(out: Path) -> None:
    import numpy as np
    import torch
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict

    from agent_arena.training.base import base_gguf, load_base
    from agent_arena.training.gguf_lora import write_gguf_lora

    torch.manual_seed(0)
    model, tok = load_base(base_gguf(None))
    ids = tok(PROMPT, return_tensors="pt", add_special_tokens=False).input_ids
    with torch.no_grad():
        base = model(ids).logits[0, -1].numpy()
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules="all-linear"))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.02)
        adapted = model(ids).logits[0, -1].numpy()
    state = {k: v.float().numpy() for k, v in get_peft_model_state_dict(model).items()}
    write_gguf_lora(state, out / "random.gguf", alpha=16, n_head=model.config.num_attention_heads,
                    n_head_kv=model.config.num_key_value_heads, dtype="f32")
    np.save(out / "hf_delta.npy", adapted - base)
    np.save(out / "hf_base.npy", base)
    (out / "ids.json").write_text(json.dumps(ids[0].tolist()))
    print("hf: wrote", out / "random.gguf", "shift norm", float(np.linalg.norm(adapted - base)))


def llama(out: Path) -> None:
    import numpy as np
    from llama_cpp import Llama

    from agent_arena.backends.embedded_model import embedded_model_path

    ids = json.loads((out / "ids.json").read_text())

    def last_logits(lora: str | None) -> np.ndarray:
        llm = Llama(model_path=str(embedded_model_path()), lora_path=lora, n_ctx=512,
                    logits_all=True, verbose=False, n_threads=2)
        llm.eval(ids)
        return np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)

    delta = last_logits(str(out / "random.gguf")) - last_logits(None)
    ref = np.load(out / "hf_delta.npy")
    corr = float(np.corrcoef(delta, ref)[0, 1])
    print(f"llama: shift norm {np.linalg.norm(delta):.2f} vs transformers {np.linalg.norm(ref):.2f};"
          f" correlation {corr:.3f}")
    sys.exit(0 if corr > 0.8 else 1)


if __name__ == "__main__":
    mode, folder = sys.argv[1], Path(sys.argv[2])
    folder.mkdir(parents=True, exist_ok=True)
    {"hf": hf, "llama": llama}[mode](folder)
