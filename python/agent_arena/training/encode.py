"""A row as token ids, with the loss only on the answer (and more of it on the tool's name).

The prompt is rendered by the model's own chat template with the generation prompt, exactly
as llama.cpp renders it when the server asks; the answer follows, closed by the end-of-turn
token. Answer tokens that overlap the tool's name weigh ``tool_weight``: the name is the
decision, the rest is mostly format that constrained decoding gives for free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent_arena.training.data import Row, tool_span

IGNORE = -100


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    labels: list[int]  # IGNORE on the prompt
    weights: list[float]  # 0 on the prompt, 1 on the answer, tool_weight on the tool's name
    tool_positions: tuple[int, ...]  # label positions of the tool's name (for accuracy)


def encode(tokenizer: Any, row: Row, *, tool_weight: float = 1.0,
           max_len: int = 2048) -> Encoded | None:
    """None when the prompt alone leaves no room for the answer in ``max_len`` tokens."""
    prompt_text = tokenizer.apply_chat_template(list(row.prompt), tokenize=False,
                                                add_generation_prompt=True)
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    # the template ends a turn with eos then a newline; the answer ends at eos
    enc = tokenizer(row.answer + (tokenizer.eos_token or ""), add_special_tokens=False,
                    return_offsets_mapping=True)
    return _assemble(row, list(prompt_ids), list(enc["input_ids"]), enc["offset_mapping"],
                     tool_weight, max_len)


def encode_many(tokenizer: Any, rows: list[Row], *, tool_weight: float = 1.0,
                max_len: int = 2048) -> list[Encoded]:
    """``encode`` for many rows with batched tokenizer calls (a fast tokenizer runs them in
    parallel); rows that do not fit ``max_len`` are left out."""
    prompts = [tokenizer.apply_chat_template(list(r.prompt), tokenize=False,
                                             add_generation_prompt=True) for r in rows]
    eos = tokenizer.eos_token or ""
    out: list[Encoded] = []
    step = 4096
    for i in range(0, len(rows), step):
        chunk = rows[i:i + step]
        p_ids = tokenizer(prompts[i:i + step], add_special_tokens=False)["input_ids"]
        a_enc = tokenizer([r.answer + eos for r in chunk], add_special_tokens=False,
                          return_offsets_mapping=True)
        for row, pids, aids, offs in zip(chunk, p_ids, a_enc["input_ids"],
                                         a_enc["offset_mapping"], strict=True):
            enc = _assemble(row, list(pids), list(aids), offs, tool_weight, max_len)
            if enc is not None:
                out.append(enc)
    return out


def _assemble(row: Row, prompt_ids: list[int], answer_ids: list[int], offsets: Any,
              tool_weight: float, max_len: int) -> Encoded | None:
    if len(prompt_ids) + len(answer_ids) > max_len:
        return None
    span = tool_span(row.answer)
    weights: list[float] = []
    tool_pos: list[int] = []
    for k, (a, b) in enumerate(offsets):
        on_tool = span is not None and a < span[1] and b > span[0]
        weights.append(tool_weight if on_tool else 1.0)
        if on_tool:
            tool_pos.append(len(prompt_ids) + k)
    return Encoded(prompt_ids + answer_ids, [IGNORE] * len(prompt_ids) + answer_ids,
                   [0.0] * len(prompt_ids) + weights, tuple(tool_pos))
