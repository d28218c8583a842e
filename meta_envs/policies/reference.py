"""Reference returns (random / explorer / oracle) and the normalised score.

For default arguments, and for the few other argument sets of :data:`SHIPPED_VARIANTS` (Reacher-N
with one goal), the returns come from the table shipped with the package
(``reference_returns.json``, written by ``python -m meta_envs.policies --write``): each is the mean
meta-episode return over ``reset(seed=m)``, ``m = 0..M-1``, with ``M = 10,000`` for the 2D envs and
``M = 1,000`` for Reacher-N (:data:`SHIPPED_META_EPISODES`), or exactly over every task for the
deterministic policies where the env's task set is small and finite
(``env.unwrapped.finite_tasks()``, as for Rooms-N). The table also stores each mean's standard
error, the mean return of every sub-episode over the same meta-episodes, and the means over the
first :data:`CHECK_META_EPISODES` meta-episodes (which the test suite recomputes quickly). Its keys
are the ids for default arguments and ``"<id> k=v ..."`` (the arguments that differ from the
defaults, :func:`table_key`) for the variants. For other arguments the returns are computed on
first use over ``M = 200`` meta-episodes (:data:`NUM_META_EPISODES`) and cached in memory.
"""

from __future__ import annotations

import functools
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import gymnasium as gym

from meta_envs.policies import POLICY_KINDS
from meta_envs.policies.evaluation import EvaluationResult, evaluate_policy

#: Meta-episodes per reference return computed on demand (non-default arguments).
NUM_META_EPISODES = 200
#: Meta-episodes per reference return of the shipped table (default arguments).
SHIPPED_META_EPISODES = 10_000
#: Fewer for the ids whose steps are slow (MuJoCo).
SHIPPED_META_EPISODES_BY_ID = {"meta_envs/ReacherN-v0": 1_000}
#: Argument sets beyond the defaults that the shipped table covers too: Reacher-N with one goal,
#: the paper's headline setting (and the learning results' Reacher run).
SHIPPED_VARIANTS: dict[str, tuple[dict[str, Any], ...]] = {"meta_envs/ReacherN-v0": ({"n": 1},)}
#: The shipped table also stores the means over this many first meta-episodes (a quick check).
CHECK_META_EPISODES = 100
SEED = 0
_TABLE_FILE = "reference_returns.json"


def _canonical_kwargs(env_id: str, env_kwargs: dict[str, Any]) -> tuple[gym.Env, dict[str, Any]]:
    env = gym.make(env_id, **env_kwargs)
    return env, dict(env.unwrapped.reference_kwargs())


@functools.cache
def _default_kwargs(env_id: str) -> dict[str, Any]:
    env, canonical = _canonical_kwargs(env_id, {})
    env.close()
    return canonical


def _key(env_id: str, canonical: dict[str, Any]) -> str:
    defaults = _default_kwargs(env_id)
    changed = [f"{k}={v!r}" for k, v in sorted(canonical.items()) if defaults.get(k) != v]
    return " ".join([env_id, *changed])


def table_key(env_id: str, **env_kwargs: Any) -> str:
    """The shipped table's key for ``env_id`` made with ``env_kwargs``: the id for default
    arguments, else the id and the arguments that differ from the defaults, e.g.
    ``"meta_envs/ReacherN-v0 n=1"``."""
    if not env_kwargs:
        return env_id
    env, canonical = _canonical_kwargs(env_id, env_kwargs)
    env.close()
    return _key(env_id, canonical)


def shipped_arguments(env_id: str) -> list[dict[str, Any]]:
    """The argument sets of ``env_id`` that the shipped table covers: the defaults (``{}``) and
    those of :data:`SHIPPED_VARIANTS`."""
    return [{}, *SHIPPED_VARIANTS.get(env_id, ())]


@functools.cache
def _shipped_table() -> dict[str, Any]:
    text = resources.files("meta_envs.policies").joinpath(_TABLE_FILE).read_text()
    return json.loads(text)


def evaluate_reference_policies(
    env_id: str, num_meta_episodes: int = NUM_META_EPISODES, **env_kwargs: Any
) -> dict[str, EvaluationResult]:
    """Evaluate the three reference policies over ``num_meta_episodes`` meta-episodes (seeds
    ``SEED + m``); the deterministic policies run once on every task instead where the task set
    is finite (the random one on at least as many meta-episodes as there are tasks)."""
    env, _ = _canonical_kwargs(env_id, env_kwargs)
    try:
        tasks = env.unwrapped.finite_tasks()
        out: dict[str, EvaluationResult] = {}
        for kind in POLICY_KINDS:
            if tasks is not None and kind != "random":
                count = len(tasks)  # deterministic policy: every task once is exact
            else:
                count = num_meta_episodes if tasks is None else max(num_meta_episodes, len(tasks))
            out[kind] = evaluate_policy(env, kind, count, seed=SEED, tasks=tasks)
        return out
    finally:
        env.close()


def compute_reference_returns(
    env_id: str, num_meta_episodes: int = NUM_META_EPISODES, **env_kwargs: Any
) -> dict[str, float]:
    """The mean returns of :func:`evaluate_reference_policies` (no table, no cache)."""
    results = evaluate_reference_policies(env_id, num_meta_episodes, **env_kwargs)
    return {kind: result.mean_return for kind, result in results.items()}


def standard_error(result: EvaluationResult) -> float:
    """The standard error of ``result.mean_return`` (0 for an exact enumeration of one value)."""
    count = len(result.returns)
    return float(result.returns.std(ddof=1) / math.sqrt(count)) if count > 1 else 0.0


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
    row = _shipped_table().get(_key(env_id, canonical))
    if row is not None and row["kwargs"] == canonical:
        return {kind: float(row[kind]) for kind in POLICY_KINDS}
    return dict(_cached(env_id, tuple(sorted(canonical.items()))))


def normalized_score(env_id: str, meta_episode_return: float, **env_kwargs: Any) -> float:
    """``(R - R_random) / (R_explorer - R_random)``: 0 is random, 1 is the hand-written explorer."""
    ref = reference_returns(env_id, **env_kwargs)
    return (meta_episode_return - ref["random"]) / (ref["explorer"] - ref["random"])


def shipped_meta_episodes(env_id: str) -> int:
    """Meta-episodes per reference return of the shipped table for ``env_id``."""
    return SHIPPED_META_EPISODES_BY_ID.get(env_id, SHIPPED_META_EPISODES)


def shipped_row(env_id: str, **env_kwargs: Any) -> dict[str, Any]:
    """The row of ``env_id`` made with ``env_kwargs`` (default: none) in the table shipped with
    the package, as :func:`table_row` computes it; ``KeyError`` if the table has no such row."""
    table = _shipped_table()
    key = table_key(env_id, **env_kwargs)
    if key not in table:
        raise KeyError(f"the shipped table has no row for {key!r}; it holds {sorted(table)}")
    return table[key]


def table_row(
    env_id: str, num_meta_episodes: int | None = None, **env_kwargs: Any
) -> dict[str, Any]:
    """The shipped-table row of ``env_id`` made with ``env_kwargs`` (default: none), computed
    now."""
    count = shipped_meta_episodes(env_id) if num_meta_episodes is None else num_meta_episodes
    env, canonical = _canonical_kwargs(env_id, env_kwargs)
    tasks = env.unwrapped.finite_tasks()
    env.close()
    results = evaluate_reference_policies(env_id, count, **env_kwargs)
    check = compute_reference_returns(env_id, CHECK_META_EPISODES, **env_kwargs)
    return {
        "kwargs": canonical,
        **{kind: result.mean_return for kind, result in results.items()},
        # An exact enumeration over the tasks has no sampling error.
        "standard_error": {
            kind: 0.0 if tasks is not None and kind != "random" else standard_error(result)
            for kind, result in results.items()
        },
        "sub_episode_returns": {
            kind: [float(x) for x in result.sub_episode_returns] for kind, result in results.items()
        },
        "seed": SEED,
        "num_meta_episodes": count if tasks is None else max(count, len(tasks)),
        "exact_over_tasks": None if tasks is None else len(tasks),
        "check": {"num_meta_episodes": CHECK_META_EPISODES, **check},
    }


def format_row(key: str, row: dict[str, Any]) -> str:
    """A readable summary of a table row (under its :func:`table_key`): mean +- standard error
    and the sub-episode means."""
    lines = [f"{key} ({row['num_meta_episodes']} meta-episodes, seed {row['seed']})"]
    for kind in POLICY_KINDS:
        sub = " / ".join(f"{x:.2f}" for x in row["sub_episode_returns"][kind])
        exact = row["exact_over_tasks"] is not None and kind != "random"
        spread = (
            f"exact over {row['exact_over_tasks']} tasks"
            if exact
            else f"+- {row['standard_error'][kind]:.3f}"
        )
        lines.append(f"  {kind:8s} {row[kind]:9.3f} {spread:>22s}   sub-episodes: {sub}")
    return "\n".join(lines)


def write_table(env_ids: list[str], num_meta_episodes: int | None = None) -> None:
    """Compute the reference returns of ``env_ids`` for every argument set the table covers
    (:func:`shipped_arguments`) and store them in the table shipped with the package, one row at
    a time (``num_meta_episodes`` overrides the shipped counts)."""
    path = Path(__file__).with_name(_TABLE_FILE)
    for env_id in env_ids:
        for env_kwargs in shipped_arguments(env_id):
            key, row = (
                table_key(env_id, **env_kwargs),
                table_row(env_id, num_meta_episodes, **env_kwargs),
            )
            table = json.loads(path.read_text()) if path.exists() else {}
            table[key] = row
            path.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n")
            print(format_row(key, row), flush=True)
