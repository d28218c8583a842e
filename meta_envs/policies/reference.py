"""Reference returns (random / explorer / oracle) and the normalised score.

For default arguments the returns come from the table shipped with the package
(``reference_returns.json``, written by ``python -m meta_envs.policies --write``); for
other arguments they are computed on first use and cached in memory. Each is the mean
meta-episode return over ``reset(seed=m)``, ``m = 0..M-1`` (``M = 200``), or exactly over every task
where the env's task set is small and finite (``env.unwrapped.finite_tasks()``).
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any

import gymnasium as gym

from meta_envs.policies import POLICY_KINDS
from meta_envs.policies.evaluation import evaluate_policy

#: Meta-episodes per reference return (at least; finite task sets are enumerated instead).
NUM_META_EPISODES = 200
SEED = 0
_TABLE_FILE = "reference_returns.json"


def _canonical_kwargs(env_id: str, env_kwargs: dict[str, Any]) -> tuple[gym.Env, dict[str, Any]]:
    env = gym.make(env_id, **env_kwargs)
    return env, dict(env.unwrapped.reference_kwargs())


@functools.cache
def _shipped_table() -> dict[str, Any]:
    text = resources.files("meta_envs.policies").joinpath(_TABLE_FILE).read_text()
    return json.loads(text)


def compute_reference_returns(env_id: str, **env_kwargs: Any) -> dict[str, float]:
    """Evaluate the three reference policies (no table, no cache)."""
    env, _ = _canonical_kwargs(env_id, env_kwargs)
    try:
        tasks = env.unwrapped.finite_tasks()
        out: dict[str, float] = {}
        for kind in POLICY_KINDS:
            if tasks is not None and kind != "random":
                count = len(tasks)  # deterministic policy: every task once is exact
            else:
                count = NUM_META_EPISODES if tasks is None else max(NUM_META_EPISODES, len(tasks))
            result = evaluate_policy(env, kind, count, seed=SEED, tasks=tasks)
            out[kind] = result.mean_return
        return out
    finally:
        env.close()


@functools.cache
def _cached(
    env_id: str, frozen_kwargs: tuple[tuple[str, Any], ...]
) -> tuple[tuple[str, float], ...]:
    return tuple(compute_reference_returns(env_id, **dict(frozen_kwargs)).items())


def reference_returns(env_id: str, **env_kwargs: Any) -> dict[str, float]:
    """Mean meta-episode return of the ``random``, ``explorer`` and ``oracle`` policies.

    Args:
        env_id: a meta_envs id, e.g. ``"meta_envs/RoomsN-v0"``.
        env_kwargs: constructor arguments (those that change returns: N, H and the env's own).

    Returns:
        ``{"random": ..., "explorer": ..., "oracle": ...}``.
    """
    env, canonical = _canonical_kwargs(env_id, env_kwargs)
    env.close()
    row = _shipped_table().get(env_id)
    if row is not None and row["kwargs"] == canonical:
        return {kind: float(row[kind]) for kind in POLICY_KINDS}
    return dict(_cached(env_id, tuple(sorted(canonical.items()))))


def normalized_score(env_id: str, meta_episode_return: float, **env_kwargs: Any) -> float:
    """``(R - R_random) / (R_explorer - R_random)``: 0 is random, 1 is the hand-written explorer."""
    ref = reference_returns(env_id, **env_kwargs)
    return (meta_episode_return - ref["random"]) / (ref["explorer"] - ref["random"])


def write_table(env_ids: list[str]) -> None:
    """Compute the reference returns of ``env_ids`` for default arguments and store them in the
    table shipped with the package."""
    path = Path(__file__).with_name(_TABLE_FILE)
    table = json.loads(path.read_text()) if path.exists() else {}
    for env_id in env_ids:
        env, canonical = _canonical_kwargs(env_id, {})
        tasks = env.unwrapped.finite_tasks()
        env.close()
        returns = compute_reference_returns(env_id)
        table[env_id] = {
            "kwargs": canonical,
            **returns,
            "seed": SEED,
            "num_meta_episodes": NUM_META_EPISODES
            if tasks is None
            else max(NUM_META_EPISODES, len(tasks)),
            "exact_over_tasks": None if tasks is None else len(tasks),
        }
        print(env_id, {k: round(v, 3) for k, v in returns.items()}, flush=True)
    path.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n")
