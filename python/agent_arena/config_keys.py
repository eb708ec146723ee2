"""Kept importable for older imports: the builder lives in agent_arena.config.build."""

from __future__ import annotations

from agent_arena.config.build import build, reject_unknown

__all__ = ["build", "reject_unknown"]
