"""TRL GRPO for a few steps with the game as ``environment_factory`` (docs/training.md, "RL").

Offline: a tiny randomly initialised Qwen2 model and a byte-level BPE tokenizer trained here
on the game's own text, with TRL's Qwen3 chat template (so TRL can render and parse tool
calls). The policy is untrained, so this checks the plumbing (TRL probes the class, resets one
episode per rollout, offers the game's tools, scores rollouts with get_reward), not learning.

    PYTHONPATH=python python bench/grpo_env.py --steps 2
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import yaml


def tokenizer(corpus: list[str]):  # noqa: ANN201 - transformers' type
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast
    from trl.chat_template_utils import qwen3_chat_template

    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>",
               "<tool_response>", "</tool_response>", "<think>", "</think>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=1024, special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", padding_side="left")
    fast.chat_template = qwen3_chat_template
    return fast


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--out", default="/tmp/grpo-env")
    args = ap.parse_args()

    import torch
    from datasets import Dataset
    from transformers import Qwen2Config, Qwen2ForCausalLM
    from trl import GRPOConfig, GRPOTrainer

    from agent_arena.env.arena import ArenaConfig
    from agent_arena.env.trl import environment_class

    root = Path(__file__).resolve().parents[1]
    specs = yaml.safe_load((root / "configs/tools/game.yaml").read_text())
    tools = [{"name": name, **spec} for name, spec in specs.items()]
    Game = environment_class(tools, ArenaConfig(agents=1, max_ticks=5, tools=tools))

    probe = Game()
    corpus = [probe.reset(seed=s) for s in range(20)] + [str(t) for t in tools]
    probe._close()
    tok = tokenizer(corpus * 5)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(Qwen2Config(
        vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
        pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id))
    prompt = [{"role": "system", "content": "You control one character in a game. Use the "
                                            "tools; collect your goal items."},
              {"role": "user", "content": "The game:\n"}]
    dataset = Dataset.from_list([{"prompt": prompt, "seed": s} for s in range(16)])
    made: list[object] = []

    def factory():  # noqa: ANN202
        env = Game()
        made.append(env)
        return env

    trainer = GRPOTrainer(
        model=model, processing_class=tok, train_dataset=dataset, environment_factory=factory,
        args=GRPOConfig(output_dir=args.out, max_steps=args.steps,
                        per_device_train_batch_size=4, num_generations=4,
                        max_completion_length=64, logging_steps=1, report_to=[],
                        save_strategy="no", use_cpu=not torch.cuda.is_available()))
    t0 = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - t0
    resets = sum(1 for e in made if getattr(e, "_arena", None) is not None)
    calls = sum(getattr(e, "steps", 0) for e in made)
    for log in trainer.state.log_history:
        print("log", {k: v for k, v in log.items() if isinstance(v, (int, float))})
    print(f"GRPO steps={trainer.state.global_step} wall_s={wall:.1f} "
          f"device={'cuda' if torch.cuda.is_available() else 'cpu'} env_instances={len(made)} "
          f"with_episode={resets} tool_calls_executed={calls}")
    for e in made:
        e._close()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
