"""What the decision code shares: its settings, results, and the two kinds of plug-in.

- ``CallingConfig`` (``calling.*`` in configs), ``Outcome`` (what one decision came to),
  ``Extracted`` (what a strategy made of one answer).
- ``Strategy``: how to ask a backend for one call and read the answer; registered by name in
  ``STRATEGIES`` (constrained.py, prompt.py, native.py; ``auto`` is select.py).
- ``Chooser``: how to choose the tool by scoring instead of generating (``calling.choice``),
  given one decision's ``Ask``; registered by name in ``CHOOSERS`` (likelihood.py,
  description.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from agent_arena.backends.types import ChatRequest, ChatResponse, Sampling
from agent_arena.config.fields import check_bounds, setting
from agent_arena.decide.calls import call_problems
from agent_arena.decide.registry import Registry
from agent_arena.errors import BackendErrorKind, ConfigError, OutcomeStatus
from agent_arena.tools import ToolCall, ToolRegistry, ToolSpec

if TYPE_CHECKING:
    from agent_arena.backends.base import Backend


@dataclass(frozen=True)
class CallingConfig:
    strategy: str = setting("auto", "how to ask for the call: auto | constrained | native | "
                                    "prompt (auto picks what the backend supports)")
    max_attempts: int = setting(2, "model calls per decision (first try + re-asks)", ge=1)
    thought: bool = setting(False, "ask for a short thought before the call (constrained, "
                                   "prompt)")
    fallback_tool: str = setting("idle", "the call a game gets on a timeout or a failed "
                                         "decision (a session's own fallback wins)")
    fallback_arguments: Mapping[str, Any] = setting(factory=dict,
                                                    help="the fallback tool's arguments")
    # "likelihood": the model's log-likelihood of each possible call or tool name after the
    # game's prompt decides, open arguments are then generated; "description": the likelihood
    # of what each tool does, in a short prompt of its own, arguments grounded in the
    # observation; both need Capabilities.scores, else generate. "auto": likelihood when the
    # game sent a mask, description otherwise (each measured best that way, docs/benchmarks.md)
    choice: str = setting("auto", "how the tool is chosen: generate (the model writes the "
                                  "call), likelihood or description (by scores, where the "
                                  "backend scores), auto")
    calibrate: bool = setting(True, "likelihood/description: subtract scores on a "
                                    "content-free turn")
    candidates: int = setting(1, "samples of the first attempt, majority vote on tool, then "
                                 "arguments (1: no vote)", ge=1, le=16)

    def __post_init__(self) -> None:
        if self.choice not in CHOICES:
            raise ConfigError(f"calling.choice={self.choice!r}; choose one of: "
                              f"{', '.join(CHOICES)}")
        check_bounds(self, "calling")
        if self.strategy not in list_strategies():
            raise ConfigError(f"calling.strategy={self.strategy!r} is not a strategy; choose one "
                              f"of: {', '.join(list_strategies())}")
        if not isinstance(self.fallback_tool, str) or not self.fallback_tool:
            raise ConfigError(f"calling.fallback_tool={self.fallback_tool!r}: name a tool")
        if not isinstance(self.fallback_arguments, Mapping):
            raise ConfigError("calling.fallback_arguments must be a map of the fallback tool's "
                              f"arguments, got {self.fallback_arguments!r}")


@dataclass
class Extracted:
    call: ToolCall | None = None
    thought: str | None = None
    problems: list[str] = field(default_factory=list)
    no_call: bool = False  # the backend answered without any call (native tools ignored)


@dataclass
class Outcome:
    """What one decision came to; ``call`` is None unless ``status`` is ok (the caller owns the
    fallback call, since only it knows the session's tools)."""

    call: ToolCall | None
    status: OutcomeStatus
    strategy: str
    attempts: int = 0
    reason: str | None = None
    thought: str | None = None
    raw_text: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    request: ChatRequest | None = None  # the first request sent (journal, replay)
    error_kind: BackendErrorKind | None = None  # when a backend error ended it
    candidates: int = 1  # samples drawn for the vote (calling.candidates)
    votes: dict[str, int] | None = None  # tool -> valid samples that chose it


class Strategy(Protocol):
    name: str

    def build_request(
        self, messages: Sequence[Mapping[str, Any]], tools: Sequence[ToolSpec], cfg: CallingConfig,
        sampling: Sampling, *, listed: Sequence[ToolSpec] | None = None, **extra: Any,
    ) -> ChatRequest:
        """``tools``: the calls possible now (constrain and validate with these); ``listed``: the
        tools the system text describes (default ``tools``), kept unmasked so the cached prompt
        prefix stays the same from tick to tick. ``extra``: more ChatRequest fields (model,
        extra_body, affinity), set at once."""
        ...

    def extract(self, response: ChatResponse) -> Extracted: ...


@dataclass(frozen=True)
class Ask:
    """One decision's question, as decide_once hands it to a chooser (read it, never change
    it)."""

    backend: Backend
    convo: list[Mapping[str, Any]]  # the messages so far
    tools: list[ToolSpec]  # possible now: constrain to and validate against these
    listed: list[ToolSpec]  # what the system text lists (unmasked: a stable prompt prefix)
    check: ToolRegistry  # validates against ``tools``
    registry: ToolRegistry  # the session's tools ("not possible now" vs "no such tool")
    cfg: CallingConfig
    sampling: Sampling
    extra: dict[str, Any]  # more ChatRequest fields (model, extra_body, affinity)
    observation: Mapping[str, Any] | None = None  # what the game sent (grounding, no mask)

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tools]

    def problems(self, call: ToolCall | None) -> list[str]:
        """What is wrong with ``call`` now (none: it may be sent)."""
        return call_problems(call, self.check, self.registry, self.names)

    def request(self) -> ChatRequest:
        """The constrained strategy's request for this question (the choosers' base)."""
        return STRATEGIES["constrained"].build_request(self.convo, self.tools, self.cfg,
                                                       self.sampling, listed=self.listed,
                                                       **self.extra)


class Chooser(Protocol):
    """Choose the call by the model's scores (Capabilities.scores). True when ``out`` holds
    the call; False leaves the decision to the generate path (``out.reason`` says why)."""

    async def __call__(self, ask: Ask, out: Outcome) -> bool: ...


STRATEGIES: Registry[Strategy] = Registry("calling strategy")
STRATEGIES.register("constrained", "agent_arena.decide.constrained", "STRATEGY")
STRATEGIES.register("prompt", "agent_arena.decide.prompt", "STRATEGY")
STRATEGIES.register("native", "agent_arena.decide.native", "STRATEGY")

CHOOSERS: Registry[Chooser] = Registry("calling.choice")
CHOOSERS.register("likelihood", "agent_arena.decide.likelihood", "by_likelihood")
CHOOSERS.register("description", "agent_arena.decide.description", "by_description")

CHOICES = ("auto", "generate", *CHOOSERS)


def list_strategies() -> list[str]:
    return ["auto", *STRATEGIES]


def fallback_call(cfg: CallingConfig) -> ToolCall:
    return ToolCall(cfg.fallback_tool, dict(cfg.fallback_arguments))
