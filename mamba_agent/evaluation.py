"""Evaluation on fixed tasks: whole meta-episodes with the deterministic actor, their total and
per-sub-episode returns, and the normalised score when the env exposes reference returns.

Meta-episode ``i`` of an evaluation with seed ``s`` is the env reset with ``seed=s + i``; for a
meta-env whose reset seed fixes the task (as every ``meta_envs`` env does), the same seed gives
the same tasks to every run, so evaluation returns are comparable across runs and seeds. The
evaluation uses its own envs and no random generator of the model, so it never changes training.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from mamba_agent.config import ENV_PRESETS
from mamba_agent.data.spaces import make_vector_env

if TYPE_CHECKING:
    from mamba_agent.algorithm import MAMBA

__all__ = ["MetaEvalResult", "evaluate_meta_episodes", "reference_returns_of", "resolve_env_id"]


@dataclass
class MetaEvalResult:
    """Returns of ``M`` evaluation meta-episodes."""

    returns: np.ndarray
    """Total return of each meta-episode, shape (M,)."""
    sub_episode_returns: np.ndarray | None
    """Return of each sub-episode, shape (M, N), when the env reports ``info["sub_episode_end"]``
    and every meta-episode has the same number of sub-episodes; else None."""
    reference: dict[str, float] | None = None
    """``{"random", "explorer", "oracle"}`` mean returns of the env's reference policies, if any."""

    @property
    def mean(self) -> float:
        """Mean total return."""
        return float(np.mean(self.returns))

    @property
    def std(self) -> float:
        """Standard deviation of the total return over meta-episodes."""
        return float(np.std(self.returns))

    @property
    def sub_episode_means(self) -> list[float]:
        """Mean return of each sub-episode (empty if unknown)."""
        if self.sub_episode_returns is None:
            return []
        return [float(v) for v in self.sub_episode_returns.mean(0)]

    def normalize(self, value: float) -> float | None:
        """``(value - random) / (explorer - random)``, or None without reference returns."""
        ref = self.reference
        if not ref or "random" not in ref or "explorer" not in ref:
            return None
        span = ref["explorer"] - ref["random"]
        return None if span == 0 else float((value - ref["random"]) / span)

    @property
    def normalized_score(self) -> float | None:
        """Normalised score of the mean return: 0 = random policy, 1 = the env's explorer."""
        return self.normalize(self.mean)


def resolve_env_id(env_id: str) -> str:
    """Make ``env_id`` usable with ``gym.make``: the ``"module:Name-v0"`` form imports ``module``
    and returns the id; a namespaced id ``"ns/Name-v0"`` that is not registered yet imports the
    package ``ns`` (packages such as ``meta_envs`` register their ids when imported). Raises
    ``ValueError`` with Gymnasium's message for an id that stays unknown, naming the known
    ``"ns/<env_id>"`` ids where the id was given without its namespace."""
    if ":" in env_id:
        module, env_id = env_id.split(":", 1)
        importlib.import_module(module)
    if env_id not in gym.registry and "/" in env_id:
        namespace = env_id.split("/", 1)[0]
        try:
            importlib.import_module(namespace)
        except ImportError:
            pass
    try:
        gym.spec(env_id)
    except gym.error.Error as err:
        hint = _namespaced_ids(env_id)
        did_you_mean = f" (did you mean {' or '.join(map(repr, hint))}?)" if hint else ""
        raise ValueError(f"unknown env id {env_id!r}{did_you_mean}: {err}") from None
    return env_id


def _namespaced_ids(env_id: str) -> list[str]:
    """Registered or preset env ids ``"ns/<env_id>"`` for an id given without its namespace."""
    if "/" in env_id:
        return []
    return sorted({i for i in (*gym.registry, *ENV_PRESETS) if i.endswith(f"/{env_id}")})


def reference_returns_of(env_id: str, env_kwargs: dict[str, Any] | None = None) -> dict | None:
    """Reference returns the env exposes as ``env.unwrapped.reference_returns`` (a property or a
    method returning ``{"random": ..., "explorer": ..., "oracle": ...}``, as the ``meta_envs``
    envs do), else None."""
    env = gym.make(env_id, **(env_kwargs or {}))
    try:
        ref = getattr(env.unwrapped, "reference_returns", None)
        if callable(ref):
            ref = ref()
        if not isinstance(ref, dict):
            return None
        return {str(k): float(v) for k, v in ref.items()}
    except Exception:  # an env without a reference table for these kwargs
        return None
    finally:
        env.close()


def evaluate_meta_episodes(
    model: MAMBA | Any,
    env_id: str,
    n_episodes: int,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    reference: dict[str, float] | None = None,
    deterministic: bool = True,
) -> MetaEvalResult:
    """Run ``n_episodes`` meta-episodes of ``model`` on ``env_id`` in parallel (one env each,
    env ``i`` reset with ``seed + i``) and return their total and per-sub-episode returns.

    Args:
        model: a trained :class:`mamba_agent.MAMBA` (its observation augmentation is applied), or
            any recurrent policy with SB3's ``predict(obs, state, episode_start, deterministic)``
            for a batch (e.g. sb3-contrib's ``RecurrentPPO``).
        env_id: a registered id (see :func:`resolve_env_id`).
        n_episodes: number of meta-episodes M >= 1.
        seed: seed of the first meta-episode.
        env_kwargs: keyword arguments of the env.
        reference: reference returns to attach to the result (for the normalised score).
        deterministic: the actor's mode (True) or samples from it.
    """
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes}")
    augment = bool(getattr(model, "augment", False))
    time_scale = model.config.train.time_scale if augment else 0
    venv = make_vector_env(env_id, n_episodes, augment, time_scale, env_kwargs)
    try:
        obs, _ = venv.reset(seed=seed)
        n = venv.num_envs
        state: Any = None
        first = np.ones(n, dtype=bool)
        done = np.zeros(n, dtype=bool)
        totals = np.zeros(n)
        subs: list[list[float]] = [[0.0] for _ in range(n)]
        reports_subs = False
        while not done.all():
            actions, state = model.predict(obs, state, first, deterministic=deterministic)
            obs, rewards, terms, truncs, infos = venv.step(actions)
            first = np.zeros(n, dtype=bool)
            ends = infos.get("sub_episode_end") if isinstance(infos, dict) else None
            reports_subs = reports_subs or ends is not None
            finished = np.logical_or(terms, truncs)
            for i in np.flatnonzero(~done):
                totals[i] += float(rewards[i])
                subs[i][-1] += float(rewards[i])
                if ends is not None and bool(ends[i]) and not finished[i]:
                    subs[i].append(0.0)
            done |= finished
    finally:
        venv.close()
    sub = None
    if reports_subs and len({len(s) for s in subs}) == 1 and len(subs[0]) > 1:
        sub = np.asarray(subs, dtype=np.float64)
    return MetaEvalResult(totals, sub, reference)
