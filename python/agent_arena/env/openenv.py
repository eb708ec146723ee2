"""The game through OpenEnv (openenv-core): ``Environment`` + ``create_app``, one OpenEnv
session per agent (docs/env.md).

``reset()`` starts a new episode of the game (the server's ``reset`` request) and takes its
first agent; ``reset(episode_id=E)`` joins the running episode E and takes an agent nobody
drives yet (or ``agent_id``). Over the WebSocket client each session keeps its agent until it
closes. Over plain HTTP (stateless: a fresh Environment per request) ``step`` names its agent:
``{"action": {...}, "agent_id": "ana"}``.

``step`` sends one tool call. Invalid: the observation comes back with ``error`` (the schema
error), reward 0, and the game got nothing; its decision stays open until a valid call or
the deadline (then the game gets its fallback call and ``step`` returns the next turn with
the reason in ``error``). Valid: the agent's next turn, with the reward the game reported.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

from openenv.core.env_server.http_server import create_app
from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.types import Action, EnvironmentMetadata, Observation, State
from pydantic import Field

from agent_arena.env.arena import Arena, ArenaConfig
from agent_arena.errors import ArenaError


class ArenaAction(Action):
    """One tool call: the name of a tool the observation lists, and its arguments."""

    tool: str = Field(description="name of one tool in observation.tools")
    arguments: dict[str, Any] = Field(default_factory=dict,
                                      description="the tool's arguments (its JSON Schema)")


class ArenaObservation(Observation):
    agent_id: str = Field(default="", description="the agent this session drives")
    episode_id: str = Field(default="", description="pass to reset() to join this episode")
    tick: int = Field(default=0, description="the game's tick of this observation")
    messages: list[dict[str, Any]] = Field(
        default_factory=list, description="the chat prompt the bridge built for a model")
    tools: list[dict[str, Any]] = Field(
        default_factory=list, description="tools possible now, OpenAI function schemas "
                                          "narrowed by the game's action mask")
    observation: dict[str, Any] = Field(default_factory=dict,
                                        description="what the game sent, as it sent it")
    error: str | None = Field(default=None, description="why the last action was refused")


class ArenaState(State):
    agent_id: str | None = None


class Hub:
    """The arena shared by every session of one OpenEnv server, and who drives which agent."""

    def __init__(self, arena: Arena) -> None:
        self.arena = arena
        self.episode_id: str | None = None
        self.claimed: set[str] = set()
        self.lock = threading.Lock()

    def claim(self, agent_id: str | None) -> str:
        with self.lock:
            free = [a for a in self.arena.possible_agents if a not in self.claimed]
            if agent_id is not None:
                if agent_id not in self.arena.possible_agents:
                    raise ArenaError(f"no agent {agent_id!r}; agents: "
                                     f"{', '.join(self.arena.possible_agents)}",
                                     code="unknown_agent")
                if agent_id in self.claimed:
                    raise ArenaError(f"agent {agent_id!r} is driven by another session",
                                     code="agent_taken")
                pick = agent_id
            elif free:
                pick = free[0]
            else:
                raise ArenaError(f"every agent of episode {self.episode_id} has a session; "
                                 "reset() without episode_id starts a new one",
                                 code="no_free_agent")
            self.claimed.add(pick)
            return pick

    def release(self, agent_id: str | None) -> None:
        with self.lock:
            self.claimed.discard(agent_id or "")


def to_observation(turn: dict[str, Any], episode_id: str, error: str | None = None,
                   reward: float | None = None) -> ArenaObservation:
    return ArenaObservation(
        agent_id=turn["agent_id"], episode_id=episode_id, tick=max(int(turn["tick"]), 0),
        messages=turn["messages"], tools=turn["tools"], observation=turn["observation"],
        error=error if error is not None else turn.get("error"),
        reward=turn["reward"] if reward is None else reward, done=bool(turn["done"]))


class ArenaEnvironment(Environment[ArenaAction, ArenaObservation, ArenaState]):
    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self, hub: Hub) -> None:
        super().__init__()
        self.hub = hub
        self.agent_id: str | None = None
        self._state = ArenaState()

    # ---- OpenEnv ---------------------------------------------------------------------------

    def reset(self, seed: int | None = None, episode_id: str | None = None,
              **kwargs: Any) -> ArenaObservation:
        raise NotImplementedError("the server calls reset_async")

    def step(self, action: ArenaAction, timeout_s: float | None = None,
             **kwargs: Any) -> ArenaObservation:
        raise NotImplementedError("the server calls step_async")

    async def reset_async(self, seed: int | None = None, episode_id: str | None = None,
                          **kwargs: Any) -> ArenaObservation:
        hub, arena = self.hub, self.hub.arena
        self.hub.release(self.agent_id)
        self.agent_id = None
        agent = kwargs.get("agent_id")
        if episode_id is None or episode_id != hub.episode_id:  # a new episode of the game
            eid = episode_id or _new_id()
            await arena.run_async(arena._reset(seed, eid))
            with hub.lock:
                hub.episode_id, hub.claimed = eid, set()
        self.agent_id = hub.claim(agent)
        self._state = ArenaState(episode_id=hub.episode_id, step_count=0,
                                 agent_id=self.agent_id)
        return to_observation(arena.turn(self.agent_id), hub.episode_id or "", reward=0.0)

    async def step_async(self, action: ArenaAction, timeout_s: float | None = None,
                         **kwargs: Any) -> ArenaObservation:
        arena = self.hub.arena
        agent = self.agent_id or kwargs.get("agent_id")
        if agent is None:
            agent = arena.possible_agents[0] if len(arena.possible_agents) == 1 else None
        if agent is None:
            raise ArenaError("step without an agent: call reset() first on this session, or "
                             "name agent_id in the step request", code="no_agent")
        out = await arena.run_async(arena._act(agent, action.tool, action.arguments, True))
        self._state.step_count += 1
        return to_observation(out.turn, self.hub.episode_id or "", out.error,
                              None if out.accepted else 0.0)

    @property
    def state(self) -> ArenaState:
        return self._state

    def get_metadata(self) -> EnvironmentMetadata:
        return EnvironmentMetadata(
            name="agent_arena", version="0.1.0",
            description="A game's characters driven through Agent Arena's bridge: each step "
                        "is one tool call for one agent; rewards and episodes come from the "
                        "game.")

    def close(self) -> None:
        if self.agent_id is not None:
            self.hub.release(self.agent_id)


def _new_id() -> str:
    return f"ep-{uuid.uuid4().hex[:10]}"


def make_app(config: ArenaConfig | None = None, *, max_sessions: int | None = None
             ) -> tuple[Any, Arena]:
    """The FastAPI app (openenv-core's create_app) and the arena behind it (close it when the
    app stops)."""
    arena = Arena(config)
    hub = Hub(arena)
    factory: Callable[[], ArenaEnvironment] = lambda: ArenaEnvironment(hub)  # noqa: E731
    app = create_app(factory, ArenaAction, ArenaObservation, env_name="agent_arena",
                     max_concurrent_envs=max_sessions or max(len(arena.possible_agents), 1))
    return app, arena
