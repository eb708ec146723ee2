"""Settings of one training run: resuming a paused run across machine calls."""

from __future__ import annotations

import pytest

from agent_arena.errors import ConfigError
from agent_arena.training.cli import parser
from agent_arena.training.config import TrainConfig


def test_resume_without_a_checkpoint_says_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match="--pause-minutes"):
        TrainConfig(generate=10, out=str(tmp_path), resume=True)
    (tmp_path / "checkpoint.pt").write_bytes(b"x")
    assert TrainConfig(generate=10, out=str(tmp_path), resume=True).resume


def test_negative_minutes_are_refused(tmp_path):
    for field in ("pause_minutes", "max_minutes"):
        with pytest.raises(ConfigError, match="minutes"):
            TrainConfig(generate=10, out=str(tmp_path), **{field: -1.0})


def test_resume_is_a_switch_on_the_command_line():
    p = parser()
    assert p.parse_args(["--generate", "5"]).resume is False
    assert p.parse_args(["--generate", "5", "--resume"]).resume is True
    assert p.parse_args(["--resume", "--no-resume"]).resume is False
    assert p.parse_args(["--pause-minutes", "7.3"]).pause_minutes == 7.3
