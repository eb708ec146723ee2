"""Training rows, answer-only labels with the tool's name weighted, and the GGUF LoRA layout:
the pure parts of `agent-arena train`, no torch needed."""

from __future__ import annotations

import gzip
import json
import re

import numpy as np
import pytest

from agent_arena.errors import ConfigError
from agent_arena.training.data import Row, load_rows, row_problem, split, tool_span
from agent_arena.training.encode import IGNORE, encode
from agent_arena.training.gguf_lora import gguf_name, permute_rows


def chat(answer: str, user: str = "Observation: {}") -> dict:
    return {"messages": [{"role": "system", "content": "You control a character."},
                         {"role": "user", "content": user},
                         {"role": "assistant", "content": answer}]}


CALL = json.dumps({"tool": "grab", "arguments": {"thing": "berry_2"}})


class CharTokenizer:
    """One token per character, ChatML template: enough to check which tokens learn."""

    eos_token = "\x03"

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=False):
        text = "".join(f"<{m['role']}>{m['content']}{self.eos_token}\n" for m in messages)
        return text + ("<assistant>" if add_generation_prompt else "")

    def __call__(self, text, add_special_tokens=False, return_offsets_mapping=False):
        out = {"input_ids": [ord(c) for c in text]}
        if return_offsets_mapping:
            out["offset_mapping"] = [(i, i + 1) for i in range(len(text))]
        return out


def test_rows_from_jsonl_gz_and_exported_journals(tmp_path):
    (tmp_path / "games.jsonl").write_text(json.dumps(chat(CALL)) + "\n\n")
    with gzip.open(tmp_path / "more.jsonl.gz", "wt") as f:
        f.write(json.dumps(chat(CALL)) + "\n")
    # exported journal rows carry a status: a fallback teaches the fallback, so it is left out
    exported = [dict(chat(CALL), status="ok"), dict(chat(CALL), status="fallback"),
                {"messages": [{"role": "user", "content": "hi"},
                              {"role": "assistant", "content": "hello there"}]}]
    (tmp_path / "run.jsonl").write_text("".join(json.dumps(r) + "\n" for r in exported))
    rows = load_rows([tmp_path])
    assert len(rows) == 3
    assert rows[0].tool == "grab" and rows[0].prompt[-1]["role"] == "user"
    assert rows[0].answer == CALL


def test_bad_rows_are_named():
    assert row_problem(chat(CALL)) is None
    assert "JSON" in row_problem(chat("I will grab it"))
    assert "tool" in row_problem(chat(json.dumps({"name": "grab"})))
    assert "last turn" in row_problem({"messages": chat(CALL)["messages"][:2]})


def test_no_rows_is_an_error_a_person_can_act_on(tmp_path):
    (tmp_path / "empty.jsonl").write_text(json.dumps(chat("prose")) + "\n")
    with pytest.raises(ConfigError, match="no trainable rows"):
        load_rows([tmp_path / "empty.jsonl"])
    with pytest.raises(ConfigError, match="does not exist"):
        load_rows([tmp_path / "missing.jsonl"])


def test_split_is_seeded_and_keeps_every_row():
    rows = [Row(prompt=(), answer=CALL, tool=f"t{i}") for i in range(50)]
    a, b = split(rows, 0.1, seed=3)
    assert (a, b) == split(rows, 0.1, seed=3) and len(b) == 5
    assert sorted(r.tool for r in a + b) == sorted(r.tool for r in rows)
    assert split(rows, 0.1, seed=4) != (a, b)


def test_tool_span_is_the_name_only():
    answer = json.dumps({"tool": "walk_to", "arguments": {"tool": "x"}})
    a, b = tool_span(answer)
    assert answer[a:b] == "walk_to"
    assert tool_span('{"arguments": {}}') is None


def test_loss_only_on_the_answer_and_more_on_the_tool_name():
    row = Row(prompt=({"role": "system", "content": "S"}, {"role": "user", "content": "U"}),
              answer=CALL, tool="grab")
    tok = CharTokenizer()
    enc = encode(tok, row, tool_weight=3.0)
    prompt_len = len(tok.apply_chat_template(list(row.prompt), add_generation_prompt=True))
    assert enc.labels[:prompt_len] == [IGNORE] * prompt_len
    assert set(enc.weights[:prompt_len]) == {0.0}
    learned = "".join(chr(t) for t in enc.labels[prompt_len:])
    assert learned == CALL + tok.eos_token  # the answer, closed by the end of turn
    heavy = "".join(chr(enc.input_ids[i]) for i, w in enumerate(enc.weights) if w == 3.0)
    assert heavy == "grab"
    assert "".join(chr(enc.input_ids[p]) for p in enc.tool_positions) == "grab"
    assert encode(tok, row, max_len=prompt_len) is None  # no room for the answer


def test_gguf_names_are_llama_cpp_adapter_tensors():
    assert gguf_name("base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight") == \
        "blk.3.attn_q.weight.lora_a"
    assert gguf_name("base_model.model.model.layers.29.mlp.down_proj.lora_B.weight") == \
        "blk.29.ffn_down.weight.lora_b"
    with pytest.raises(ConfigError, match="llama.cpp adapts"):
        gguf_name("base_model.model.lm_head.lora_A.weight")


def test_q_k_rows_are_permuted_to_llama_cpp_rope_pairs():
    # transformers rotates row i with row i + d/2 of each head; llama.cpp rotates adjacent rows,
    # so after the permutation row 2i holds HF row i and row 2i+1 holds HF row i + d/2
    n_head, d = 3, 8
    w = np.arange(n_head * d, dtype=np.float32)[:, None] * np.ones((1, 2), np.float32)
    p = permute_rows(w, n_head)
    for h in range(n_head):
        for i in range(d // 2):
            assert p[h * d + 2 * i, 0] == h * d + i
            assert p[h * d + 2 * i + 1, 0] == h * d + i + d // 2


def test_written_adapter_is_a_gguf_lora(tmp_path):
    gguf = pytest.importorskip("gguf")
    from agent_arena.training.gguf_lora import write_gguf_lora

    r, d_in, d_out = 4, 16, 8
    tensors = {
        "base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight": np.ones((r, d_in)),
        "base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight": np.ones((d_out, r)),
    }
    path = write_gguf_lora(tensors, tmp_path / "a.gguf", alpha=8, n_head=4, n_head_kv=2)
    reader = gguf.GGUFReader(str(path))
    fields = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    assert fields["general.type"] == "adapter" and fields["adapter.type"] == "lora"
    assert fields["adapter.lora.alpha"] == 8 and fields["general.architecture"] == "llama"
    shapes = {t.name: [int(x) for x in t.shape] for t in reader.tensors}
    # llama.cpp checks a.ne[0] == the model tensor's input size and b.ne[1] == its output size
    assert shapes == {"blk.0.attn_k.weight.lora_a": [d_in, r], "blk.0.attn_k.weight.lora_b": [r, d_out]}
    assert all(re.fullmatch(r"blk\.\d+\.\w+\.weight\.lora_[ab]", n) for n in shapes)


def test_an_adapter_reads_back_as_the_peft_tensors_it_was_written_from(tmp_path):
    """--init-adapter starts a run from a GGUF LoRA: names, q/k row order, alpha and rank must
    come back exactly as PEFT had them."""
    pytest.importorskip("gguf")
    from agent_arena.training.gguf_lora import read_gguf_lora, unpermute_rows, write_gguf_lora

    rng = np.random.default_rng(0)
    r, d, kv = 4, 16, 8
    shapes = {"self_attn.q_proj": d, "self_attn.k_proj": kv, "self_attn.v_proj": kv,
              "mlp.down_proj": d}
    tensors = {}
    for layer in (0, 7):
        for name, out in shapes.items():
            stem = f"base_model.model.model.layers.{layer}.{name}"
            tensors[f"{stem}.lora_A.weight"] = rng.standard_normal((r, d)).astype(np.float32)
            tensors[f"{stem}.lora_B.weight"] = rng.standard_normal((out, r)).astype(np.float32)
    path = write_gguf_lora(tensors, tmp_path / "a.gguf", alpha=8, n_head=4, n_head_kv=2,
                           dtype="f32")
    back, alpha, rank = read_gguf_lora(path, n_head=4, n_head_kv=2)
    assert (alpha, rank) == (8.0, r) and set(back) == set(tensors)
    for name, arr in tensors.items():
        np.testing.assert_array_equal(back[name], arr, err_msg=name)
    w = np.arange(4 * 8 * 3, dtype=np.float32).reshape(32, 3)
    np.testing.assert_array_equal(unpermute_rows(permute_rows(w, 4), 4), w)
    with pytest.raises(ConfigError, match="not a GGUF LoRA adapter"):
        read_gguf_lora(write_plain_gguf(tmp_path / "model.gguf"), n_head=4, n_head_kv=2)


def write_plain_gguf(path):
    import gguf

    w = gguf.GGUFWriter(str(path), arch="llama")
    w.add_tensor("token_embd.weight", np.zeros((4, 4), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
