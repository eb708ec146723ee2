"""Teach the embedded model NPC decisions: LoRA on SmolLM2-135M-Instruct (docs/training.md).

Pure parts (rows, answer spans, the GGUF LoRA writer's name mapping) import nothing heavy;
the trainer needs the ``train`` extra (torch, transformers, peft, gguf), imported only when
it runs, so ``agent-arena`` itself never depends on torch.
"""
