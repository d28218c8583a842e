"""Observation augmentation (MAMBA change 3) for envs whose observations do not already carry the
previous reward and the normalised meta-episode time: o -> [o, r_prev, t / T]."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper

__all__ = ["MetaFeatures", "MetaFeaturesVector", "augmented_space"]


def augmented_space(space: gym.spaces.Box) -> gym.spaces.Box:
    """``space`` (1-D Box) with two unbounded entries appended (previous reward, t / T)."""
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise TypeError(f"observation augmentation needs a 1-D Box observation space, got {space}")
    low = np.concatenate([space.low.astype(np.float32), [-np.inf, -np.inf]]).astype(np.float32)
    high = np.concatenate([space.high.astype(np.float32), [np.inf, np.inf]]).astype(np.float32)
    return gym.spaces.Box(low, high, dtype=np.float32)


class MetaFeatures(gym.Wrapper):
    """Single-env wrapper appending [previous reward, t / time_scale] (0 and 0 after ``reset``)."""

    def __init__(self, env: gym.Env, time_scale: int) -> None:
        super().__init__(env)
        self.observation_space = augmented_space(env.observation_space)
        self.time_scale = float(time_scale)
        self._t = 0

    def _aug(self, obs: np.ndarray, reward: float) -> np.ndarray:
        extra = np.array([reward, self._t / self.time_scale], dtype=np.float32)
        return np.concatenate([np.asarray(obs, dtype=np.float32), extra])

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._t = 0
        return self._aug(obs, 0.0), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._t += 1
        return self._aug(obs, float(reward)), reward, terminated, truncated, info


class MetaFeaturesVector(VectorWrapper):
    """Vector-env version of :class:`MetaFeatures` (next-step autoreset only)."""

    def __init__(self, env: VectorEnv, time_scale: int) -> None:
        super().__init__(env)
        mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        if mode != AutoresetMode.NEXT_STEP:
            raise ValueError(f"MetaFeaturesVector supports next-step autoreset only, got {mode}")
        self.single_observation_space = augmented_space(env.single_observation_space)
        self.observation_space = gym.vector.utils.batch_space(
            self.single_observation_space, env.num_envs
        )
        self.time_scale = float(time_scale)
        self._t = np.zeros(env.num_envs)
        self._done = np.zeros(env.num_envs, dtype=bool)

    def _aug(self, obs: np.ndarray, reward: np.ndarray) -> np.ndarray:
        extra = np.stack([reward, self._t / self.time_scale], 1).astype(np.float32)
        return np.concatenate([np.asarray(obs, dtype=np.float32), extra], 1)

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._t[:] = 0
        self._done[:] = False
        return self._aug(obs, np.zeros(self.num_envs)), info

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        obs, reward, terminated, truncated, info = self.env.step(actions)
        self._t = np.where(self._done, 0, self._t + 1)
        prev = np.where(self._done, 0.0, np.asarray(reward, dtype=np.float64))
        self._done = np.logical_or(terminated, truncated)
        return self._aug(obs, prev), reward, terminated, truncated, info
