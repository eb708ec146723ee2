"""What calling.py and the backends share: requests, responses, sampling, capabilities.

Pure data, no behaviour beyond merging: calling.py imports this module, not backends/base.py,
so strategies and backends never import each other in a circle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent_arena.tools import ToolSpec

_SAMPLING_FIELDS = ("temperature", "top_p", "top_k", "max_tokens", "repetition_penalty", "seed",
                    "stop")


@dataclass(frozen=True)
class Capabilities:
    """What a backend can enforce; the ``auto`` strategy selector reads this."""

    native_tools: bool = False  # honours tools + tool_choice (required / named)
    json_schema: bool = False  # can constrain output to a JSON Schema
    grammar: bool = False  # llama.cpp GBNF grammars
    # log-likelihood of given continuations (Backend.score) and answers that continue a given
    # start (ChatRequest.prefill): what calling.choice=likelihood needs
    scores: bool = False
    # serves a LoRA adapter (backend.lora), taken to be trained on decisions (agent-arena
    # train): calling.choice=auto then generates (one constrained pass) instead of scoring
    adapter: bool = False


@dataclass(frozen=True)
class Sampling:
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    repetition_penalty: float | None = None
    seed: int | None = None
    stop: list[str] | None = None

    @classmethod
    def of(cls, config: Any, fields: Sequence[str] = ("temperature", "top_p", "top_k",
                                                      "max_tokens", "repetition_penalty")
           ) -> Sampling:
        """A backend's default sampling: the named fields of its config."""
        values = {k: getattr(config, k) for k in fields}
        if values.get("stop") is not None:
            values["stop"] = list(values["stop"]) or None
        return cls(**values)

    def merged(self, other: Sampling | Mapping[str, Any] | None) -> Sampling:
        """``other``'s set fields win (agent profile over backend defaults)."""
        if other is None:
            return self
        if isinstance(other, Mapping):
            changes = {k: v for k, v in other.items() if k in _SAMPLING_FIELDS and v is not None}
        else:
            changes = {k: v for k in _SAMPLING_FIELDS if (v := getattr(other, k)) is not None}
        if not changes:
            return self
        values = {k: getattr(self, k) for k in _SAMPLING_FIELDS}
        values.update(changes)
        return Sampling(**values)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k in _SAMPLING_FIELDS if (v := getattr(self, k)) is not None}


@dataclass(frozen=True)
class ChatRequest:
    messages: Sequence[Mapping[str, Any]]
    tools: Sequence[ToolSpec] = ()
    tool_choice: str | None = None  # "auto" | "required" | "none" | a tool name
    response_schema: Mapping[str, Any] | None = None
    sampling: Sampling = field(default_factory=Sampling)
    model: str | None = None  # e.g. a vLLM LoRA adapter name
    extra_body: Mapping[str, Any] | None = None
    # Who asks (session + agent): backends with per-sequence caches (llama-server KV slots)
    # keep one asker on one cache; everyone else ignores it.
    affinity: str | None = None
    # The answer's start, written for the model: it continues from there and ``text`` is only
    # the continuation (``response_schema`` then constrains the continuation). Needs
    # Capabilities.scores.
    prefill: str | None = None


@dataclass(frozen=True)
class RawToolCall:
    name: str
    arguments: str | Mapping[str, Any]  # servers send a JSON string; keep it raw until parsed


@dataclass
class ChatResponse:
    text: str = ""
    tool_calls: list[RawToolCall] = field(default_factory=list)
    reasoning: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    model: str | None = None


@dataclass
class Scores:
    """Backend.score's answer: a log-likelihood per option, and the prompt tokens it read."""

    values: list[float]
    prompt_tokens: int = 0


@dataclass
class GenerationResult:
    """Seed-API result: ``.text`` and ``.metadata`` (``tool_call`` when one was made)."""

    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
