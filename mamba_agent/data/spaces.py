"""Gymnasium side of the agent: checking spaces, encoding actions as vectors, building the vector
env that collection steps (native vector form when the env id provides one), and deciding whether
observations need the meta-RL features appended."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import VectorEnv

from mamba_agent.data.wrappers import MetaFeatures, MetaFeaturesVector

__all__ = [
    "ActionCodec",
    "check_observation_space",
    "make_vector_env",
    "needs_augmentation",
    "env_id_of",
]


def check_observation_space(space: gym.Space) -> int:
    """Size of a supported observation space (a 1-D ``Box``); a clear ``TypeError`` otherwise."""
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise TypeError(f"MAMBA supports 1-D Box observation spaces only, got {space}")
    return int(space.shape[0])


class ActionCodec:
    """Maps between env actions and the action vectors the model uses: one-hot (``Discrete``) or
    values in [-1, 1] rescaled to the bounds of a 1-D ``Box``."""

    def __init__(self, space: gym.Space) -> None:
        self.space = space
        if isinstance(space, gym.spaces.Discrete):
            self.discrete, self.dim = True, int(space.n)
        elif isinstance(space, gym.spaces.Box) and len(space.shape) == 1:
            self.discrete, self.dim = False, int(space.shape[0])
            self.low, self.high = space.low.astype(np.float64), space.high.astype(np.float64)
            self.bounded = bool(np.all(np.isfinite(self.low)) and np.all(np.isfinite(self.high)))
        else:
            raise TypeError(f"MAMBA supports Discrete or 1-D Box action spaces only, got {space}")

    def to_env(self, vectors: np.ndarray) -> np.ndarray:
        """Action vectors (n, A) -> env actions (n,) ints or (n, A) floats."""
        if self.discrete:
            return vectors.argmax(-1).astype(np.int64) + int(self.space.start)
        x = np.clip(vectors, -1.0, 1.0)
        if self.bounded:
            x = self.low + (x + 1.0) * 0.5 * (self.high - self.low)
        return x.astype(self.space.dtype)

    def random(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Uniformly random (env actions, action vectors) for ``n`` envs."""
        if self.discrete:
            vec = np.eye(self.dim, dtype=np.float32)[rng.integers(0, self.dim, size=n)]
        else:
            vec = rng.uniform(-1.0, 1.0, size=(n, self.dim)).astype(np.float32)
        return self.to_env(vec), vec


def env_id_of(env: Any) -> str | None:
    """The registered id of ``env`` (an id string, Env or VectorEnv), or None."""
    if isinstance(env, str):
        return env
    spec = getattr(env, "spec", None)
    return getattr(spec, "id", None)


def needs_augmentation(
    env: Any, setting: str | bool, env_kwargs: dict[str, Any] | None = None
) -> bool:
    """Whether to append [previous reward, t / T]: ``setting`` True / False, or "auto": yes unless
    the env declares it already does (a ``meta_envs/`` id whose ``meta_features`` kwarg, in
    ``env_kwargs`` for an id string, is not False, or an unwrapped env attribute ``meta_features``
    that is True)."""
    if setting in (True, False):
        return bool(setting)
    env_id = env_id_of(env)
    if isinstance(env, str):
        kwargs: dict[str, Any] = dict(env_kwargs or {})
    else:
        kwargs = dict(getattr(getattr(env, "spec", None), "kwargs", None) or {})
        unwrapped = getattr(env, "unwrapped", None)
        flag = getattr(unwrapped, "meta_features", None)
        if isinstance(flag, bool):
            return not flag
    if env_id is not None and env_id.startswith("meta_envs/"):
        return kwargs.get("meta_features", True) is False
    return True


def _time_scale(env: Any, default: int) -> int:
    if default > 0:
        return default
    spec = gym.spec(env) if isinstance(env, str) else getattr(env, "spec", None)
    steps = getattr(spec, "max_episode_steps", None)
    return int(steps) if steps else 1000


def make_vector_env(
    env: str | gym.Env | VectorEnv,
    num_envs: int,
    augment: bool,
    time_scale: int,
    env_kwargs: dict[str, Any] | None = None,
) -> VectorEnv:
    """A ``VectorEnv`` for collection. An id string gives ``num_envs`` copies made with
    ``env_kwargs``, through the env's native vector form (``vectorization_mode=
    "vector_entry_point"``) when its spec has one; an ``Env`` is wrapped in a one-env
    ``SyncVectorEnv``; a ``VectorEnv`` is used as is."""
    scale = _time_scale(env, time_scale) if augment else 0
    if isinstance(env, str):
        kwargs = dict(env_kwargs or {})
        spec = gym.spec(env)
        if spec.vector_entry_point is not None:
            venv = gym.make_vec(
                env, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs
            )
            return MetaFeaturesVector(venv, scale) if augment else venv
        wrappers = [lambda e: MetaFeatures(e, scale)] if augment else None
        return gym.make_vec(
            env, num_envs=num_envs, vectorization_mode="sync", wrappers=wrappers, **kwargs
        )
    if isinstance(env, VectorEnv):
        return MetaFeaturesVector(env, scale) if augment else env
    if isinstance(env, gym.Env):
        single = MetaFeatures(env, scale) if augment else env
        return gym.vector.SyncVectorEnv([lambda: single])
    raise TypeError(
        f"env must be an id string, a gymnasium.Env or a gymnasium VectorEnv, got {env!r}"
    )
