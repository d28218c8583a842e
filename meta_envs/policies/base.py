"""The reference-policy interface and the random policy."""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np


@runtime_checkable
class Policy(Protocol):
    """What :func:`meta_envs.evaluate_policy` runs: ``reset()`` at each meta-episode start, then
    ``act(obs, info)`` at every step with the latest observation and info."""

    def reset(self) -> None: ...

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> Any: ...


class ReferencePolicy(ABC):
    """Base class of the reference policies; bound to one env instance.

    Subclasses read static arguments (N, H, n, radii) from ``self.env`` and never the task, except
    the oracle, which is told the task through ``self.env.task``. The previous reward, which the
    agent has already observed, is ``self.env.previous_reward``.
    """

    def __init__(self, env: gym.Env) -> None:
        self.env: Any = env.unwrapped

    def reset(self) -> None:
        """Forget everything learned about the task (call at each meta-episode start)."""

    @abstractmethod
    def act(self, obs: np.ndarray, info: dict[str, Any]) -> Any:
        """The action for ``obs`` and the ``info`` returned with it."""

    def __call__(self, obs: np.ndarray, info: dict[str, Any]) -> Any:
        return self.act(obs, info)


class RandomPolicy(ReferencePolicy):
    """Uniformly random actions from a private, seeded copy of the env's action space."""

    def __init__(self, env: gym.Env, seed: int | None = None) -> None:
        super().__init__(env)
        self._space = copy.deepcopy(env.action_space)
        self._space.seed(seed)

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> Any:
        return self._space.sample()
