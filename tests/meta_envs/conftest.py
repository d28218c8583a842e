"""Fixtures shared by the meta_envs tests: the registry, small arguments per env."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import pytest

import meta_envs

ENV_IDS = meta_envs.env_ids()

#: Small meta-episodes for fast contract tests.
SMALL: dict[str, Any] = {"num_sub_episodes": 2, "sub_episode_length": 5}

#: Envs whose every sub-env replays the single env exactly in the native vector form.
DETERMINISTIC_VECTOR_IDS = [i for i in ENV_IDS if i != "meta_envs/PointRobotWind-v0"]


def make(env_id: str, **kwargs: Any) -> gym.Env:
    """``gym.make`` with the small meta-episode unless overridden."""
    return gym.make(env_id, **{**SMALL, **kwargs})


@pytest.fixture(params=ENV_IDS)
def env_id(request: pytest.FixtureRequest) -> str:
    return request.param
