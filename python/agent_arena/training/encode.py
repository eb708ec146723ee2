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
    eos = tokenizer.eos_token or ""
    enc = tokenizer(row.answer + eos, add_special_tokens=False, return_offsets_mapping=True)
    answer_ids: list[int] = list(enc["input_ids"])
    # the template ends a turn with eos then a newline; the answer ends at eos
    if len(prompt_ids) + len(answer_ids) > max_len:
        return None
    span = tool_span(row.answer)
    weights: list[float] = []
    tool_pos: list[int] = []
    for k, (a, b) in enumerate(enc["offset_mapping"]):
        on_tool = span is not None and a < span[1] and b > span[0]
        weights.append(tool_weight if on_tool else 1.0)
        if on_tool:
            tool_pos.append(len(prompt_ids) + k)
    ids = list(prompt_ids) + answer_ids
    labels = [IGNORE] * len(prompt_ids) + answer_ids
    return Encoded(ids, labels, [0.0] * len(prompt_ids) + weights, tuple(tool_pos))
