"""Tiny meta-environments for the agent tests (defined here: the agent never depends on meta_envs)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class BanditMetaEnv(gym.Env):
    """Two-armed bandit meta-env: the task is the good arm (paying 1; the other pays 0), drawn at
    ``reset``; a meta-episode is ``num_sub_episodes`` sub-episodes of ``sub_episode_length`` pulls.
    The observation is a constant (no meta features), so remembering across steps is required.
    Sub-episode ends are not terminal; the meta-episode ends with truncated=True."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self, num_sub_episodes: int = 4, sub_episode_length: int = 2, continuous: bool = False
    ) -> None:
        self.n, self.h, self.continuous = num_sub_episodes, sub_episode_length, continuous
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.action_space = (
            gym.spaces.Box(-1.0, 1.0, (1,), np.float32) if continuous else gym.spaces.Discrete(2)
        )
        self.task, self.t = 0, 0

    @property
    def length(self) -> int:
        return self.n * self.h

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.task = int(self.np_random.integers(2)) if not options else int(options["task"])
        self.t = 0
        return np.zeros(1, np.float32), {"task": self.task}

    def step(self, action: Any):
        arm = int(np.asarray(action).reshape(-1)[0] > 0) if self.continuous else int(action)
        reward = float(arm == self.task)
        self.t += 1
        info = {
            "task": self.task,
            "sub_episode": min(self.t // self.h, self.n - 1),
            "step_in_sub_episode": self.t % self.h,
            "sub_episode_end": self.t % self.h == 0,
        }
        return np.zeros(1, np.float32), reward, False, self.t >= self.length, info

    # reference returns, computed from the env's own structure
    def random_return(self) -> float:
        return 0.5 * self.length

    def bayes_optimal_return(self) -> float:
        """First pull is a coin flip; afterwards the good arm is known."""
        return 0.5 + (self.length - 1)


class DriftMetaEnv(gym.Env):
    """Continuous 1-D toy: position x in [-1, 1], x += 0.2 a; reward -|x - goal|, goal = task."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, length: int = 12) -> None:
        self.length = length
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.x, self.goal, self.t = 0.0, 0.0, 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.goal = float(self.np_random.uniform(-1, 1))
        self.x, self.t = 0.0, 0
        return np.array([self.x], np.float32), {"task": self.goal}

    def step(self, action: Any):
        self.x = float(np.clip(self.x + 0.2 * float(np.asarray(action).reshape(-1)[0]), -1, 1))
        self.t += 1
        reward = -abs(self.x - self.goal)
        return (
            np.array([self.x], np.float32),
            reward,
            False,
            self.t >= self.length,
            {"task": self.goal},
        )
