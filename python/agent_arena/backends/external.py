"""A backend whose answers come from outside: an environment client (a trainer) acts for each
agent (docs/env.md).

``chat`` parks the request as a ``Turn`` (the prompt messages the server built, the tools as
JSON Schemas narrowed by the game's mask, and the raw observation, reward and done the game
sent) until the client calls ``act`` for that agent. So everything the server does around a
model applies unchanged: the deadline answers the game with the fallback call, a newer
observe or a reset supersedes the turn, a stop or a vanished game ends it (each cancels the
parked ``chat``). ``act`` validates the call against the turn's tools exactly as calling.py
validates a model's (ToolRegistry.validate): an invalid call is refused with the schema
error, the turn stays parked and the game gets nothing until a valid call or the deadline.

Turns are keyed by ``ChatRequest.affinity`` (``"<session>/<agent_id>"``, set by
server.decisions). The observation, reward and done come from ``note_observe`` and
``note_reward``, called by the server that owns this backend (agent_arena.env.server).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent_arena.backends.base import (
    Backend,
    Capabilities,
    ChatRequest,
    ChatResponse,
    RawToolCall,
)
from agent_arena.config.fields import setting
from agent_arena.errors import ActionRefused, BackendRequestError
from agent_arena.tools import ToolCall, ToolRegistry, ToolSpec

EPISODE_OVER = "the episode is over (observe.done): the game gets the fallback call"


@dataclass
class ExternalConfig:
    """Nothing to configure: the client that acts is given the backend object itself."""

    model_name: str = setting("external", "what actions and journals report as the model")


@dataclass
class Noted:
    """What the game sent with an agent's latest observe (the server notes it)."""

    tick: int
    observation: Mapping[str, Any]
    done: bool = False


@dataclass(eq=False)
class Turn:
    """One decision waiting for the environment client (or, with ``done``, an episode's end).

    ``tools``: OpenAI-style function schemas of the calls possible now; ``reward``: what the
    game reported for this agent since its previous turn (tool_result.reward + observe.reward).
    """

    seq: int
    key: str
    agent_id: str
    tick: int
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    observation: Mapping[str, Any] | None
    reward: float
    done: bool
    specs: tuple[ToolSpec, ...] = ()
    errors: list[str] = field(default_factory=list)  # refused actions of this turn, in order
    answer: asyncio.Future[ToolCall] | None = None  # None: terminal turn, nothing to answer
    ended: str | None = None  # why it ended without the client's call (cancelled: timeout...)

    @property
    def open(self) -> bool:
        return self.answer is not None and not self.answer.done()

    def as_dict(self) -> dict[str, Any]:
        """What an environment client receives (JSON-friendly)."""
        return {"agent_id": self.agent_id, "tick": self.tick, "messages": self.messages,
                "tools": self.tools, "observation": dict(self.observation or {}),
                "reward": self.reward, "done": self.done,
                "error": self.errors[-1] if self.errors else None}


class ExternalBackend(Backend):
    name = "external"

    def __init__(self, config: ExternalConfig | None = None) -> None:
        self.config = config or ExternalConfig()
        self._model_name = self.config.model_name
        self._seq = itertools.count(1)
        self._noted: dict[str, Noted] = {}
        self._rewards: dict[str, float] = {}
        self.latest: dict[str, Turn] = {}  # key -> the agent's newest turn (open or not)
        self._changed = asyncio.Event()  # set (and replaced) at every change

    @property
    def capabilities(self) -> Capabilities:
        # native: calling.py then hands over the tools (masked) and the bare prompt messages
        return Capabilities(native_tools=True)

    # ---- what the server tells us --------------------------------------------------------

    def note_observe(self, key: str, tick: int, observation: Mapping[str, Any],
                     reward: float | None, done: bool) -> None:
        self._noted[key] = Noted(tick, observation, done)
        if reward:
            self.note_reward(key, reward)

    def note_reward(self, key: str, reward: float | None) -> None:
        if reward:
            self._rewards[key] = self._rewards.get(key, 0.0) + float(reward)

    def note_forced(self, key: str, call: Mapping[str, Any]) -> None:
        """The server answered this agent without asking anyone (the game's mask left one
        call): publish that as a turn already taken, so a client waiting for the agent's next
        turn moves on instead of waiting for a decision that never reaches it."""
        noted = self._noted.get(key)
        answer: asyncio.Future[ToolCall] = asyncio.get_running_loop().create_future()
        answer.set_result(ToolCall(str(call.get("tool")), dict(call.get("arguments") or {})))
        self._publish(Turn(next(self._seq), key, key.split("/", 1)[-1],
                           noted.tick if noted else -1, [], [],
                           noted.observation if noted else None, self._rewards.pop(key, 0.0),
                           bool(noted and noted.done), answer=answer,
                           ended="forced: the game's mask left one possible call"))

    def forget(self, key_prefix: str) -> None:
        """Drop rewards and notes of a session's agents (a reset starts from zero)."""
        for d in (self._noted, self._rewards):
            for k in [k for k in d if k.startswith(key_prefix)]:
                del d[k]

    # ---- the backend ---------------------------------------------------------------------

    async def chat(self, request: ChatRequest) -> ChatResponse:
        if not request.tools:
            raise BackendRequestError(
                "the external backend answers tool requests only: set calling.strategy=native "
                "or auto (it was given a prompt without tools)", kind="bad_request")
        key = request.affinity or ""
        noted = self._noted.get(key)
        turn = Turn(next(self._seq), key, key.split("/", 1)[-1],
                    noted.tick if noted else -1, [dict(m) for m in request.messages],
                    [spec.to_openai() for spec in request.tools],
                    noted.observation if noted else None, self._rewards.pop(key, 0.0),
                    bool(noted and noted.done), tuple(request.tools))
        if turn.done:
            self._publish(turn)
            raise BackendRequestError(EPISODE_OVER, kind="bad_request")
        turn.answer = asyncio.get_running_loop().create_future()
        self._publish(turn)
        try:
            call = await turn.answer
        except asyncio.CancelledError:
            turn.ended = turn.ended or "cancelled"
            raise
        finally:
            if not turn.answer.done():
                turn.answer.cancel()
            self._notify()
        text = json.dumps(call.as_wire())
        return ChatResponse(text=text, tool_calls=[RawToolCall(call.tool, call.arguments)],
                            finish_reason="tool_calls", model=self._model_name)

    # ---- what the environment client does ------------------------------------------------

    def act(self, key: str, tool: str, arguments: Mapping[str, Any] | None) -> Turn:
        """Answer the agent's open turn with one call; raises ActionRefused (code
        ``invalid_action`` with the schema errors, or ``no_turn``) and delivers nothing then."""
        turn = self.latest.get(key)
        if turn is None or not turn.open:
            why = f" (its last turn ended: {turn.ended})" if turn is not None and turn.ended \
                else ""
            raise ActionRefused(f"no decision is waiting for {key!r}{why}: wait for the next "
                                "observation", code="no_turn")
        registry = ToolRegistry(turn.specs)
        if arguments is not None and not isinstance(arguments, Mapping):
            problems = [f"arguments must be an object, got {type(arguments).__name__}"]
        else:
            call = ToolCall(str(tool), dict(arguments or {}))
            problems = registry.validate(call, registry.names())
        if problems:
            turn.errors.append("; ".join(problems))
            raise ActionRefused(f"invalid action: {turn.errors[-1]}", code="invalid_action")
        assert turn.answer is not None
        turn.answer.set_result(call)
        return turn

    async def wait_turn(self, key: str, after_seq: int = 0,
                        timeout_s: float | None = None) -> Turn:
        """The agent's first turn newer than ``after_seq`` (a decision or an episode's end)."""
        await self.wait_all([key], {key: after_seq}, timeout_s)
        return self.latest[key]

    async def wait_all(self, keys: Sequence[str], after: Mapping[str, int],
                       timeout_s: float | None = None) -> None:
        """Until every key in ``keys`` has a turn newer than ``after[key]``."""

        def ready() -> bool:
            return all((t := self.latest.get(k)) is not None and t.seq > after.get(k, 0)
                       for k in keys)

        async def waiting() -> None:
            while not ready():
                await self._changed.wait()

        await asyncio.wait_for(waiting(), timeout_s)

    def cancel_ended(self, key: str, why: str) -> None:
        """Say why the agent's open turn ended without its call (the server's decision
        listener: timeout, superseded, stopping, abandoned)."""
        turn = self.latest.get(key)
        if turn is not None and turn.ended is None and turn.open:
            turn.ended = why

    # ---- internals -----------------------------------------------------------------------

    def _publish(self, turn: Turn) -> None:
        self.latest[turn.key] = turn
        self._notify()

    def _notify(self) -> None:
        """Wake every waiter (they re-check); a fresh event for the next change."""
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
