"""Running a policy on seeded meta-episodes and summarising its returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from meta_envs.policies.base import Policy, ReferencePolicy


@dataclass(frozen=True)
class EvaluationResult:
    """Returns of a policy over ``len(returns)`` meta-episodes.

    Attributes:
        mean_return: mean meta-episode return.
        std_return: standard deviation of the meta-episode return.
        returns: every meta-episode return, shape ``(M,)``.
        sub_episode_returns: mean return of each sub-episode, shape ``(N,)``.
    """

    mean_return: float
    std_return: float
    returns: np.ndarray
    sub_episode_returns: np.ndarray


def evaluate_policy(
    env_or_id: gym.Env | str,
    policy: Policy | str,
    num_meta_episodes: int,
    seed: int = 0,
    tasks: Sequence[Any] | None = None,
    **env_kwargs: Any,
) -> EvaluationResult:
    """Run ``policy`` for ``num_meta_episodes`` meta-episodes and report its returns.

    Meta-episode ``m`` starts with ``env.reset(seed=seed + m)`` (so the tasks are the same for every
    policy evaluated with the same seed), and ``policy.reset()`` is called before it.

    Args:
        env_or_id: a meta_envs env (wrappers allowed) or an env id, made with ``env_kwargs``.
        policy: an object with ``reset()`` and ``act(obs, info)``, or a reference policy kind
            (``"random"``, ``"explorer"``, ``"oracle"``; the random one is seeded with ``seed``).
        num_meta_episodes: how many meta-episodes (>= 1).
        seed: seed of the first meta-episode.
        tasks: if given, meta-episode ``m`` runs on ``tasks[m % len(tasks)]`` (fixed evaluation tasks).
        env_kwargs: constructor arguments, only with an env id.

    Returns:
        An :class:`EvaluationResult`.

    Raises:
        ValueError: ``num_meta_episodes < 1``, or a reference policy made for another id or other
            arguments, or bound to another env instance (see
            :meth:`~meta_envs.policies.ReferencePolicy.check_env`). A reference policy made from
            another instance with the same id and arguments is fine: it acts on ``obs`` and
            ``info`` only.
    """
    from meta_envs.policies import make_policy

    if num_meta_episodes < 1:
        raise ValueError(f"num_meta_episodes must be >= 1, got {num_meta_episodes}")
    if isinstance(env_or_id, str):
        env = gym.make(env_or_id, **env_kwargs)
        owns_env = True
    else:
        if env_kwargs:
            raise TypeError(f"env_kwargs {sorted(env_kwargs)} can only be given with an env id")
        env, owns_env = env_or_id, False
    if isinstance(policy, str):
        policy = make_policy(policy, env, seed=seed)
    elif isinstance(policy, ReferencePolicy):
        try:
            policy.check_env(env)  # made for other arguments, or bound to another instance
        except ValueError:
            if owns_env:
                env.close()
            raise
    unwrapped: Any = env.unwrapped
    num_sub, length = unwrapped.num_sub_episodes, unwrapped.sub_episode_length
    returns = np.zeros(num_meta_episodes)
    sub_returns = np.zeros((num_meta_episodes, num_sub))
    try:
        for m in range(num_meta_episodes):
            options = None if tasks is None else {"task": tasks[m % len(tasks)]}
            obs, info = env.reset(seed=seed + m, options=options)
            policy.reset()
            for t in range(num_sub * length):
                obs, reward, terminated, truncated, info = env.step(policy.act(obs, info))
                sub_returns[m, t // length] += reward
                if terminated or truncated:
                    break
            returns[m] = sub_returns[m].sum()
    finally:
        if owns_env:
            env.close()
    return EvaluationResult(
        mean_return=float(returns.mean()),
        std_return=float(returns.std()),
        returns=returns,
        sub_episode_returns=sub_returns.mean(axis=0),
    )
