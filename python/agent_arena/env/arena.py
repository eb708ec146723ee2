"""One game and its bridge for environment clients, on an event loop of their own.

``Arena`` starts an ``EnvServer`` (the bridge with the external backend) on a loopback port
and, with ``world="demo"``, the demo game connected to it over a real ZeroMQ socket, in a
background thread. Trainers' APIs are synchronous and run on threads of their own (OpenEnv
runs ``step`` in a thread pool, PettingZoo and TRL call from the training loop), so every
method here is a plain blocking call that runs its part on the arena's loop.

Who waits for whom: the game waits for the bridge's reply to each observe; the bridge waits
(up to the observe's deadline) for ``act``; ``act`` answers at once when the call is invalid
and otherwise waits for the agent's next turn (the game's next observe, with the reward the
game reported since), which is what ``step`` returns.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import uuid
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import yaml

from agent_arena.backends.external import ActionRefused, ExternalBackend
from agent_arena.calling import CallingConfig
from agent_arena.env.game import DemoGame, GameConfig, agent_names
from agent_arena.env.server import EnvServer, turn_key
from agent_arena.errors import ConfigError
from agent_arena.journal import JournalConfig
from agent_arena.server.config import ServerConfig

T = TypeVar("T")


def default_tools() -> list[dict[str, Any]]:
    """The tools of the shipped tools/game.yaml (what the demo world understands)."""
    from agent_arena.config.files import yaml_root

    specs = yaml.safe_load((yaml_root() / "tools" / "game.yaml").read_text())
    return [{"name": name, **spec} for name, spec in specs.items()]


@dataclass(frozen=True)
class ArenaConfig:
    world: str = "demo"  # demo: the in-process demo world; external: a game connects itself
    bind: str = "tcp://127.0.0.1:0"
    agents: int = 2
    max_ticks: int = 20
    deadline_ms: int = 300_000
    masks: bool = True
    step_timeout_s: float = 600.0  # how long act/reset wait for the game
    journal: str | None = None  # journal path (agent-arena export reads it)
    tools: Sequence[Mapping[str, Any]] = field(default_factory=default_tools)
    agent_ids: Sequence[str] = ()  # world=external: the agents the game observes

    def __post_init__(self) -> None:
        if self.world not in ("demo", "external"):
            raise ConfigError(f"env.world={self.world!r}; choose demo (the in-process demo "
                              "world) or external (a game connects to env.bind)")
        if self.world == "external" and not self.agent_ids:
            raise ConfigError("env.world=external needs env.agent_ids: the agents your game "
                              "observes each tick")


@dataclass
class StepOutcome:
    """What ``act`` came to: the agent's turn now (the next one once the call was taken, the
    same one with ``error`` when it was refused)."""

    turn: dict[str, Any]
    accepted: bool
    error: str | None = None


class Arena:
    def __init__(self, config: ArenaConfig | None = None) -> None:
        self.config = cfg = config or ArenaConfig()
        self.backend = ExternalBackend()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="agent-arena-env",
                                        daemon=True)
        self._thread.start()
        self._episodes = itertools.count(1)
        self.possible_agents: list[str] = agent_names(cfg.agents) if cfg.world == "demo" \
            else list(cfg.agent_ids)
        self.session: str | None = None
        self.game: DemoGame | None = None
        self._game_task: asyncio.Future[None] | None = None
        self.server = self._run(self._start())
        self.endpoint = self.server.endpoint
        self._closed = False

    async def _start(self) -> EnvServer:
        cfg = self.config
        server = EnvServer(
            self.backend,
            ServerConfig(bind=cfg.bind, default_deadline_ms=cfg.deadline_ms,
                         journal=JournalConfig(path=cfg.journal)),
            tools=cfg.tools,
            # native: the client gets the bare prompt and the tools; one attempt, since act
            # itself refuses an invalid call (the turn stays open until a valid one)
            calling=CallingConfig(strategy="native", max_attempts=1))
        await server.start()
        if cfg.world == "demo":
            self.game = DemoGame(server.endpoint or "", cfg.tools, GameConfig(
                agents=cfg.agents, max_ticks=cfg.max_ticks, deadline_ms=cfg.deadline_ms,
                masks=cfg.masks))
            self._game_task = asyncio.ensure_future(self.game.run())
        return server

    def _run(self, coro: Coroutine[Any, Any, T], timeout_s: float | None = None) -> T:
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout_s)

    async def run_async(self, coro: Coroutine[Any, Any, T]) -> T:
        """``coro`` on the arena's loop, awaited from another loop (OpenEnv's server)."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    # ---- the API the wrappers use ------------------------------------------------------

    def key(self, agent_id: str) -> str:
        if self.session is None:
            raise ConfigError("call reset() first: no episode has started")
        return turn_key(self.session, agent_id)

    def reset(self, seed: int | None = None, episode_id: str | None = None
              ) -> tuple[str, dict[str, dict[str, Any]]]:
        """Ask the game for a new episode; returns its id and every agent's first turn."""
        episode_id = episode_id or f"ep-{next(self._episodes)}-{uuid.uuid4().hex[:6]}"
        return episode_id, self._run(self._reset(seed, episode_id))

    async def _reset(self, seed: int | None, episode_id: str) -> dict[str, dict[str, Any]]:
        timeout = self.config.step_timeout_s
        s, before = await self.server.request_reset(seed, episode_id, timeout)
        self.session = s.id
        agents = self.possible_agents
        keys = [turn_key(s.id, a) for a in agents]
        await self.backend.wait_all(keys, before, timeout)
        return {a: self.backend.latest[k].as_dict() for a, k in zip(agents, keys, strict=True)}

    def turn(self, agent_id: str) -> dict[str, Any]:
        t = self.backend.latest.get(self.key(agent_id))
        if t is None:
            raise ConfigError(f"agent {agent_id!r} has no turn; agents: {self.possible_agents}")
        return t.as_dict()

    def act(self, agent_id: str, tool: str, arguments: Mapping[str, Any] | None,
            wait: bool = True) -> StepOutcome:
        """One call for the agent. Refused (invalid, or no decision open): the same turn with
        the error, and the game got nothing. Taken: with ``wait``, the agent's next turn."""
        return self._run(self._act(agent_id, tool, arguments, wait))

    async def _act(self, agent_id: str, tool: str, arguments: Any, wait: bool) -> StepOutcome:
        key = self.key(agent_id)
        try:
            turn = self.backend.act(key, tool, arguments)
        except ActionRefused as exc:
            now = self.backend.latest.get(key)
            if exc.code == "no_turn" and (now is None or not now.done):
                # the decision ended without the client (deadline, reset): the next turn
                nxt = await self.backend.wait_turn(key, now.seq if now else 0,
                                                   self.config.step_timeout_s)
                return StepOutcome({**nxt.as_dict(), "error": exc.message}, False, exc.message)
            assert now is not None
            return StepOutcome({**now.as_dict(), "error": exc.message}, False, exc.message)
        if not wait:
            return StepOutcome(turn.as_dict(), True)
        nxt = await self.backend.wait_turn(key, turn.seq, self.config.step_timeout_s)
        return StepOutcome(nxt.as_dict(), True)

    def act_all(self, actions: Mapping[str, Mapping[str, Any]]) -> dict[str, StepOutcome]:
        """One call per agent, taken together (a tick): the outcomes once every agent whose
        call was taken has its next turn. An agent whose call was refused keeps its turn (and
        the game's tick waits for it up to the deadline): the others are returned as they
        are then, with ``pending`` set."""
        return self._run(self._act_all(actions))

    async def _act_all(self, actions: Mapping[str, Mapping[str, Any]]
                       ) -> dict[str, StepOutcome]:
        out: dict[str, StepOutcome] = {}
        after: dict[str, int] = {}  # key -> the turn whose successor is awaited
        agents: dict[str, str] = {}
        for aid, call in actions.items():
            key = agents[aid] = self.key(aid)
            now = self.backend.latest[key]
            if not now.open:  # answered last step (or ended): its next turn is due
                if not now.done:
                    after[key] = now.seq
                continue
            try:
                self.backend.act(key, str(call.get("tool", "")), call.get("arguments"))
                after[key] = now.seq
            except ActionRefused as exc:
                out[aid] = StepOutcome({**now.as_dict(), "error": exc.message}, False,
                                       exc.message)
        if not out:  # every call was taken: the tick goes on
            await self.backend.wait_all(list(after), after, self.config.step_timeout_s)
        for aid, key in agents.items():
            if aid in out:
                continue
            now = self.backend.latest[key]
            pending = key in after and now.seq == after[key]
            out[aid] = StepOutcome({**now.as_dict(), "pending": pending}, True)
        return out

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True

        async def stop() -> None:
            if self._game_task is not None:
                self._game_task.cancel()
                await asyncio.gather(self._game_task, return_exceptions=True)
            await self.server.stop(grace_ms=0)

        try:
            self._run(stop(), 30.0)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10.0)
            self.loop.close()

    def __enter__(self) -> Arena:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
