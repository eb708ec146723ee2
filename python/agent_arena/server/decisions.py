"""One decision, from an accepted ``observe`` to its one ``action``.

The reply contract lives here: every accepted observe ends in exactly one call of
``Decisions.finish`` (the ``done`` flag makes a second one a no-op), whichever comes first:

    the model answers            -> ok (validated call) | fallback (after re-asks / backend error)
    the deadline passes          -> timeout   (the session's fallback call; generation stopped)
    a newer observe, reset, hello-> superseded (call nil; generation stopped)
    the server stops             -> stopping  (the session's fallback call)
    the peer is gone             -> no reply (nobody to send it to); generation stopped

Stopping a decision cancels its task, which cancels the backend request (llama.cpp stops at its
next token, HTTP requests are closed), so the model is free for the agents still waiting.
Fallback calls come from the session, where they were validated when its tools were
registered; the model's calls were validated by calling.decide_once. Only the model's own ok
choices enter an agent's memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent_arena import protocol
from agent_arena.agents import AgentState, Profile
from agent_arena.backends.base import Backend
from agent_arena.backends.types import Sampling
from agent_arena.calling import CallingConfig, Outcome, decide_once
from agent_arena.errors import STATUSES, Status
from agent_arena.prompt import Prompt, decision_prompt
from agent_arena.server.deadlines import Deadlines
from agent_arena.server.events import DecisionEvent, Listener
from agent_arena.tools import ToolCall, ToolSpec

if TYPE_CHECKING:
    from agent_arena.server.sessions import Session

log = logging.getLogger("agent_arena.server")

Envelope = Any  # the transport's reply address; opaque here
Sink = Callable[[Envelope, Mapping[str, Any]], None]


class JournalLike:
    """What decisions need of a journal (agent_arena.journal.Journal): a call that never
    blocks and never raises."""

    def record(self, kind: str, fields: Mapping[str, Any]) -> None: ...




@dataclass(eq=False)
class Decision:
    session: Session
    envelope: Envelope
    msg: protocol.Observe
    agent: AgentState
    profile: Profile
    allowed: list[str] | None
    t0: float
    model_t0: float = 0.0  # when the backend call started (model time vs bridge time)
    possible: list[ToolSpec] | None = None  # the allowed tools narrowed by the game's mask
    task: asyncio.Task[None] | None = None
    deadline_ms: float = 0.0
    expires: float = 0.0  # loop time when the deadline passes (server.deadlines)
    done: bool = False
    prompt: Prompt | None = None  # its parts, for the journal (built when the decision runs)


class Decisions:
    def __init__(self, backend: Backend, calling: CallingConfig, sink: Sink,
                 journal: JournalLike | None = None) -> None:
        self.backend = backend
        self.calling = calling
        self.sink = sink
        self.journal = journal
        self._open: set[Decision] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle: asyncio.Event | None = None
        self._deadlines = Deadlines(self._expire)
        self._sampling: dict[str, Sampling] = {}
        # called synchronously in finish(), after the reply: keep them cheap, they never raise
        self.listeners: list[Listener] = []
        self.stats: dict[str, int] = {"decisions": 0, **dict.fromkeys(STATUSES, 0)}

    @property
    def in_flight(self) -> int:
        return len(self._open)

    def sampling(self, profile: Profile) -> Sampling:
        """Backend defaults merged with the profile's, once per profile."""
        s = self._sampling.get(profile.name)
        if s is None:
            s = self._sampling[profile.name] = self.backend.default_sampling.merged(
                profile.sampling)
        return s

    # ---- starting and ending -----------------------------------------------------------

    def start(self, s: Session, env: Envelope, msg: protocol.Observe, agent: AgentState,
              profile: Profile, allowed: list[str] | None, deadline_ms: float,
              possible: list[ToolSpec] | None = None) -> Decision:
        d = Decision(s, env, msg, agent, profile, allowed, time.monotonic(), possible=possible,
                     deadline_ms=deadline_ms)
        s.pending[msg.agent_id] = d
        self._open.add(d)
        loop = asyncio.get_running_loop()
        self._deadlines.add(d, deadline_ms, loop)
        d.task = loop.create_task(self._run(d))
        self._tasks.add(d.task)
        d.task.add_done_callback(self._tasks.discard)
        return d

    def supersede(self, s: Session, agent_id: str, why: str) -> None:
        old = s.pending.get(agent_id)
        if old is not None:
            self._stop(old, "superseded", why)

    def abandon(self, s: Session) -> None:
        """The session's peer is gone: stop its decisions; there is nobody to answer."""
        for d in list(s.pending.values()):
            self._stop(d, "abandoned", "the client disconnected", reply=False)

    async def drain(self, grace_s: float) -> None:
        """Let decisions finish for up to ``grace_s``; answer the rest ``stopping``."""
        if self._open and grace_s > 0:
            self._idle = asyncio.Event()
            try:
                await asyncio.wait_for(self._idle.wait(), grace_s)
            except asyncio.TimeoutError:
                pass
        for d in list(self._open):
            self._stop(d, "stopping", "the server is stopping")
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._deadlines.close()

    def _expire(self, d: Decision, deadline_ms: float) -> None:
        self._stop(d, "timeout", f"no decision within deadline_ms={deadline_ms:g}")

    def _stop(self, d: Decision, status: Status, reason: str, *, reply: bool = True) -> None:
        if d.done:
            return
        self.finish(d, status, reason=reason, reply=reply)
        if d.task is not None and d.task is not asyncio.current_task():
            d.task.cancel()

    async def _run(self, d: Decision) -> None:
        try:
            # inside the try: an observation the prompt cannot render must still get its reply
            d.prompt = decision_prompt(d.profile, d.agent, d.msg.observation, d.possible)
            messages = d.prompt.messages()
            d.model_t0 = time.monotonic()
            outcome = await decide_once(
                self.backend, messages, d.session.tools, d.allowed, self.calling,
                self.sampling(d.profile), possible=d.possible, observation=d.msg.observation,
                model=d.profile.model,
                extra_body=d.profile.extra_body or None,
                affinity=f"{d.session.id}/{d.msg.agent_id}")
        except asyncio.CancelledError:
            raise  # ended elsewhere (timeout, supersede, stop, gone): that path answered
        except Exception as exc:  # a bug in a strategy/backend must not leave the game waiting
            log.exception("server: decision for agent %s failed", d.msg.agent_id)
            self.finish(d, "fallback", reason=f"internal error while deciding "
                                              f"({type(exc).__name__}); see server logs")
            return
        self.finish(d, outcome.status, call=outcome.call, reason=outcome.reason,
                    outcome=outcome)

    def finish(self, d: Decision, status: Status, *, call: ToolCall | None = None,
               reason: str | None = None, outcome: Outcome | None = None,
               reply: bool = True) -> None:
        """The one place a decision ends; later calls for the same decision do nothing."""
        if d.done:
            return
        d.done = True
        self._deadlines.settle(d.deadline_ms)
        s, msg = d.session, d.msg
        if s.pending.get(msg.agent_id) is d:
            del s.pending[msg.agent_id]
        self._open.discard(d)
        if status == "ok" and call is not None:
            wire: dict[str, Any] | None = call.as_wire()
            d.agent.record_action(msg.tick, wire)  # type: ignore[arg-type]
        elif status == "superseded" or status == "abandoned":
            wire = None
        else:
            status = "fallback" if status == "ok" else status  # ok without a call: impossible
            wire = s.fallback.as_wire()
        self.stats[status] += 1
        if status not in ("superseded", "abandoned"):
            self.stats["decisions"] += 1
        now = time.monotonic()
        latency = (now - d.t0) * 1000.0
        usage = protocol.NO_USAGE if outcome is None else {
            "prompt_tokens": outcome.prompt_tokens,
            "completion_tokens": outcome.completion_tokens, "attempts": outcome.attempts}
        thought = outcome.thought if outcome is not None else None
        reply_msg = protocol.action(msg.id, msg.agent_id, msg.tick, wire, status, reason=reason,
                                    thought=thought, latency_ms=latency, usage=usage,
                                    backend=self.backend.name)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("decision: session=%s agent=%s tick=%s tool=%s status=%s latency_ms=%.0f",
                      s.id, msg.agent_id, msg.tick, wire and wire["tool"], status, latency)
        if reply:
            self.sink(d.envelope, reply_msg)
        if self.journal is not None:
            self._journal_action(d, reply_msg, outcome)
        if self.listeners:
            model_ms = (now - d.model_t0) * 1000.0 if outcome is not None and d.model_t0 \
                else None
            self._notify(DecisionEvent(
                s.id, msg.agent_id, msg.tick, d.profile.name, status, wire, reason,
                outcome.error_kind if outcome is not None else None, thought, latency, model_ms,
                usage["prompt_tokens"], usage["completion_tokens"], usage["attempts"],
                outcome.strategy if outcome is not None else None, self.backend.name,
                msg.observation, reply))
        if not self._open and self._idle is not None:
            self._idle.set()

    def _notify(self, event: DecisionEvent) -> None:
        for fn in self.listeners:
            try:
                fn(event)
            except Exception:  # an observer's bug must not break the decision path
                log.exception("server: decision listener %r failed", fn)

    def _journal_action(self, d: Decision, reply: Mapping[str, Any],
                        outcome: Outcome | None) -> None:
        req = outcome.request if outcome is not None else None
        assert self.journal is not None
        self.journal.record("action", {
            **reply, "session": d.session.id, "profile": d.profile.name, "tools": d.allowed,
            "model": self.backend.model_name,
            "strategy": outcome.strategy if outcome is not None else None,
            "messages": list(req.messages) if req is not None else None,
            "prompt": d.prompt.record(req.messages, self.calling.thought)
            if req is not None and d.prompt is not None else None,
            "sampling": req.sampling.as_dict() if req is not None else None,
            "raw_text": outcome.raw_text if outcome is not None else None,
        })
