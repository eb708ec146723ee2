"""The bridge for environment clients: an ArenaServer whose backend is ExternalBackend.

Everything a decision does is the plain server's (server/decisions.py); this subclass only
tells the backend what the game sent beside the prompt (the raw observation, rewards, done),
marks why a parked turn ended (timeout, superseded, stopping, abandoned), and sends the
server -> game ``reset`` request (docs/protocol.md, "Resets").
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from agent_arena import protocol
from agent_arena.backends.external import ExternalBackend
from agent_arena.errors import ArenaError
from agent_arena.server.app import ArenaServer
from agent_arena.server.events import DecisionEvent
from agent_arena.server.sessions import Session
from agent_arena.server.transport import Envelope


def turn_key(session_id: str, agent_id: str) -> str:
    """The backend's key of one agent's turns (what server.decisions sends as affinity)."""
    return f"{session_id}/{agent_id}"


class EnvServer(ArenaServer):
    backend: ExternalBackend

    def __init__(self, backend: ExternalBackend, *args: Any, **kwargs: Any) -> None:
        super().__init__(backend, *args, **kwargs)
        self.game: Session | None = None  # the session of the latest hello (the game)
        self.hello_seen = asyncio.Event()
        self._reset_ids = itertools.count(1)
        # episode id -> the game is ready (with every agent's turn seq at that moment)
        self._episodes: dict[str, asyncio.Future[dict[str, int]]] = {}
        self.add_listener(self._ended)

    # ---- the game's messages -----------------------------------------------------------

    def _hello(self, s: Session, env: Envelope, msg: protocol.Hello) -> None:
        super()._hello(s, env, msg)
        self.game = s
        self.hello_seen.set()

    def _observe(self, s: Session, env: Envelope, msg: protocol.Observe) -> None:
        super()._observe(s, env, msg)  # raises before anything starts for a bad observe
        # the decision's task has not run yet: the backend has this before chat() is called
        self.backend.note_observe(turn_key(s.id, msg.agent_id), msg.tick, msg.observation,
                                  msg.reward, msg.done)
        if msg.reward is not None or msg.done:
            self._journal("reward", s, {"id": msg.id, "agent_id": msg.agent_id,
                                        "tick": msg.tick, "reward": msg.reward,
                                        "done": msg.done})

    def _tool_result(self, s: Session, env: Envelope, msg: protocol.ToolResult) -> None:
        super()._tool_result(s, env, msg)
        self.backend.note_reward(turn_key(s.id, msg.agent_id), msg.reward)

    def _dispatch(self, s: Session, env: Envelope, msg: protocol.Message) -> None:
        if isinstance(msg, protocol.Reset) and msg.agent_id is None:
            self.backend.forget(turn_key(s.id, ""))  # the rewards of the old episode
        super()._dispatch(s, env, msg)
        if isinstance(msg, protocol.Reset) and msg.episode_id is not None:
            ready = self._episodes.get(msg.episode_id)
            if ready is not None and not ready.done():
                ready.set_result({k: t.seq for k, t in self.backend.latest.items()})

    def _ended(self, event: DecisionEvent) -> None:
        if event.strategy == "forced" and event.call is not None:
            self.backend.note_forced(turn_key(event.session, event.agent_id), event.call)
        elif event.status not in ("ok", "fallback"):
            self.backend.cancel_ended(turn_key(event.session, event.agent_id), event.status)

    # ---- the server's requests ---------------------------------------------------------

    async def request_reset(self, seed: int | None, episode_id: str,
                            timeout_s: float = 60.0) -> tuple[Session, dict[str, int]]:
        """Ask the game for a new episode; returns once it answered with its own ``reset``
        carrying ``episode_id`` (its agents' old decisions are then superseded): the game's
        session and each agent's turn seq then (the new episode's turns come after)."""
        await asyncio.wait_for(self.hello_seen.wait(), timeout_s)
        s = self.game
        assert s is not None
        ready = self._episodes[episode_id] = asyncio.get_running_loop().create_future()
        user, identity = s.key
        self._reply(Envelope(identity, user), protocol.reset_request(
            f"reset-{next(self._reset_ids)}", seed=seed, episode_id=episode_id))
        try:
            before = await asyncio.wait_for(ready, timeout_s)
        except asyncio.TimeoutError:
            raise ArenaError(f"the game did not answer reset episode_id={episode_id!r} within "
                             f"{timeout_s:g} s: does it handle the server's reset request "
                             "(docs/protocol.md, Resets)?", code="reset_timeout") from None
        finally:
            self._episodes.pop(episode_id, None)
        return s, before
