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
    """Base class of the reference policies.

    A reference policy reads the static arguments it needs (N, H, n, radii, the MuJoCo model) from
    ``env.unwrapped`` once, when it is made, and then acts on the ``obs`` and ``info`` it is given
    only: it can be used with any env of the same id and arguments (another instance, a vector
    env's copy). The oracle is told the task through ``info["task"]``; explorers never read it.

    Where a policy needs the previous reward and the observation does not carry it
    (``meta_features=False``) or carries it only in float32 (Reacher-N's explorer), the policy is
    *bound* to the env it was made from (:attr:`bound_env`) and reads
    ``bound_env.previous_reward``; it then raises if it is handed the steps of another env.
    :meth:`check_env` (called by :func:`meta_envs.evaluate_policy`) raises a clear error for a
    policy made for another id, other arguments or, when bound, another env instance.
    """

    def __init__(self, env: gym.Env) -> None:
        unwrapped: Any = env.unwrapped
        #: The id, arguments and observation layout the policy was made for.
        self.env_id: str = unwrapped.env_id
        self.env_kwargs: dict[str, Any] = dict(unwrapped.reference_kwargs())
        self.meta_features: bool = bool(unwrapped.meta_features)
        self.num_sub_episodes: int = unwrapped.num_sub_episodes
        self.sub_episode_length: int = unwrapped.sub_episode_length
        #: The env instance the policy reads the previous reward from, or None (unbound).
        self.bound_env: Any = None

    def _bind(self, env: gym.Env) -> None:
        self.bound_env = env.unwrapped

    def check_env(self, env: gym.Env) -> None:
        """Raise ``ValueError`` if this policy cannot act on ``env``: another id, other arguments,
        another observation layout, or (for a bound policy) another env instance."""
        unwrapped: Any = env.unwrapped
        made_for = (self.env_id, self.env_kwargs, self.meta_features)
        given = (
            getattr(unwrapped, "env_id", None),
            dict(unwrapped.reference_kwargs()) if hasattr(unwrapped, "reference_kwargs") else None,
            getattr(unwrapped, "meta_features", None),
        )
        if given != made_for:
            raise ValueError(
                f"{type(self).__name__} was made for {self.env_id} with {self.env_kwargs} "
                f"(meta_features={self.meta_features}), not for {given[0]} with {given[1]} "
                f"(meta_features={given[2]}); make the policy from an env with the same arguments"
            )
        if self.bound_env is not None and self.bound_env is not unwrapped:
            raise ValueError(
                f"{type(self).__name__} is bound to the env instance it was made from (it reads "
                "that env's previous reward) and cannot act on another one; make the policy "
                "from the env it will act on"
            )

    def previous_reward(self, obs: np.ndarray, info: dict[str, Any]) -> float:
        """The reward returned with ``obs``: from the bound env, else the observation's meta
        features."""
        env = self.bound_env
        if env is None:
            return float(obs[-2])
        if (
            info.get("step_in_sub_episode", env.step_in_sub_episode) != env.step_in_sub_episode
            or info.get("sub_episode", env.sub_episode) != env.sub_episode
        ):
            raise RuntimeError(
                f"{type(self).__name__} is bound to another env instance than the one whose "
                "steps it is given; make the policy from the env it acts on"
            )
        return float(env.previous_reward)

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
