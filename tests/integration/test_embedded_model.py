"""The embedded model's Q4_0 re-quantization (backends/embedded_model.py), on the real GGUF."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gguf
import numpy as np
import pytest

from agent_arena.backends.embedded_model import embedded_gguf, embedded_model_path
from agent_arena.backends.llama_engine import XLlamaCppConfig
from agent_arena.errors import ConfigError

Q = gguf.GGMLQuantizationType


@pytest.fixture(scope="module")
def q4_0(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    mp = pytest.MonkeyPatch()
    mp.setenv("AGENT_ARENA_CACHE", str(tmp_path_factory.mktemp("cache")))
    try:
        yield embedded_gguf("q4_0")
    finally:
        mp.undo()


def test_q4_1_blocks_become_q4_0_and_everything_else_is_copied(q4_0: Path) -> None:
    src, out = gguf.GGUFReader(str(embedded_model_path())), gguf.GGUFReader(str(q4_0))
    before = {t.name: t for t in src.tensors}
    after = {t.name: t for t in out.tensors}
    assert before.keys() == after.keys()
    changed = 0
    for name, t in before.items():
        if t.tensor_type == Q.Q4_1:
            changed += 1
            assert after[name].tensor_type == Q.Q4_0
            a = gguf.quants.dequantize(t.data, Q.Q4_1)
            b = gguf.quants.dequantize(after[name].data, Q.Q4_0)
            assert a.shape == b.shape
            # a 4-bit grid again: close to the source, not equal to it
            assert float(np.abs(a - b).mean()) < 0.25 * float(np.abs(a).mean())
        else:
            assert after[name].tensor_type == t.tensor_type
            assert np.array_equal(after[name].data, t.data)
    assert changed > 100  # every block's matrices
    keys = {f.name for f in src.fields.values()} - {"GGUF.tensor_count", "GGUF.kv_count"}
    assert keys <= {f.name for f in out.fields.values()}
    assert out.fields["general.file_type"].contents() == int(gguf.LlamaFileType.MOSTLY_Q4_0)
    assert out.fields["tokenizer.chat_template"].contents() == \
        src.fields["tokenizer.chat_template"].contents()


def test_it_is_made_once_and_reused(q4_0: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_ARENA_CACHE", str(q4_0.parent.parent))
    stamp = q4_0.stat().st_mtime_ns
    assert embedded_gguf("q4_0") == q4_0
    assert q4_0.stat().st_mtime_ns == stamp
    assert not list(q4_0.parent.glob("*.part"))  # no half-written file left behind


def test_q4_1_is_the_packaged_file_and_a_wrong_name_is_a_config_error() -> None:
    assert embedded_gguf("q4_1") == embedded_model_path()
    with pytest.raises(ConfigError, match="embedded_quant"):
        embedded_gguf("q2_k")
    with pytest.raises(ConfigError, match="embedded_quant"):
        XLlamaCppConfig(embedded_quant="fp8")
