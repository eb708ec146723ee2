"""Which tool-call and reasoning parsers a model family needs on vLLM and SGLang.

``agent-arena launch`` picks them from the model's name when ``--tool-call-parser`` is not
given (hermes for Qwen2.5/Hermes, llama3_json for Llama 3.x, mistral, ...) and adds
``--enable-auto-tool-choice`` with one.
"""

from __future__ import annotations

import re

# model family (regex on the lowercased model name) -> (vLLM parser, SGLang parser, reasoning)
# first match wins, so specific families come before general ones.
FAMILIES: list[tuple[str, str | None, str | None, str | None]] = [
    (r"qwen3.*coder", "qwen3_coder", "qwen3_coder", None),
    (r"qwen3", "hermes", "qwen25", "qwen3"),
    (r"qwq", "hermes", "qwen25", "deepseek_r1"),
    (r"qwen2\.5|qwen2|qwen-2|hermes", "hermes", "qwen25", None),
    (r"llama-?4", "llama4_pythonic", "pythonic", None),
    (r"llama-?3\.[123]|llama-?3-", "llama3_json", "llama3", None),
    (r"mistral|mixtral|ministral|codestral|devstral", "mistral", "mistral", None),
    (r"deepseek-?r1", None, None, "deepseek_r1"),
    (r"deepseek-?v3", "deepseek_v3", "deepseekv3", None),
    (r"gpt-oss", "openai", "gpt-oss", None),
    (r"glm-?4", "glm45", "glm", None),
    (r"kimi-?k2", "kimi_k2", "kimi_k2", None),
    (r"granite", "granite", None, None),
    (r"phi-?4-?mini", "phi4_mini_json", None, None),
    (r"internlm", "internlm", None, None),
]


def family_parsers(model: str, engine: str) -> tuple[str | None, str | None]:
    """(tool-call parser, reasoning parser) for ``model`` on ``engine``; None when unknown."""
    name = model.lower()
    for pattern, vllm_p, sglang_p, reasoning in FAMILIES:
        if re.search(pattern, name):
            tool = vllm_p if engine == "vllm" else sglang_p if engine == "sglang" else None
            if reasoning and engine == "sglang":
                reasoning = reasoning.replace("_", "-")  # SGLang spells it deepseek-r1
            return tool, (reasoning if engine in ("vllm", "sglang") else None)
    return None, None
