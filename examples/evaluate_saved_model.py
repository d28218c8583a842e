"""Evaluate a saved MAMBA model: per-sub-episode returns and the normalised score.

Usage::

    python examples/evaluate_saved_model.py MODEL_OR_RUN_DIR [--episodes 100]

``MODEL_OR_RUN_DIR`` is a file written by ``MAMBA.save`` or a run directory of ``mamba-agent
train`` (its model.zip, else its checkpoint). Models remember the env id and kwargs they were
trained with. The same table is one command: ``mamba-agent eval MODEL_OR_RUN_DIR``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym
from stable_baselines3.common.evaluation import evaluate_policy

import meta_envs
from mamba_agent import MAMBA
from mamba_agent.evaluation import evaluate_meta_episodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--episodes", type=int, default=100)
    args = parser.parse_args()

    path = args.model
    if path.is_dir():
        path = path / "model.zip" if (path / "model.zip").exists() else path / "checkpoint.pt"
    model = MAMBA.load(path, device="cpu")
    env_id, kwargs = model.env_id, model.env_kwargs
    reference = meta_envs.reference_returns(env_id, **kwargs)

    # fixed tasks: meta-episode i is reset with seed 1000000 + i (the CLI's default eval seed)
    result = evaluate_meta_episodes(model, env_id, args.episodes, 1_000_000, kwargs, reference)
    print(
        f"{env_id} {kwargs}: return {result.mean:.2f} ± {result.std:.2f} over "
        f"{args.episodes} meta-episodes, normalised score {result.normalized_score:.3f}"
    )
    print("per sub-episode:", ", ".join(f"{r:.2f}" for r in result.sub_episode_means))
    print("reference:", {k: round(v, 2) for k, v in reference.items()})

    # SB3's evaluate_policy works too (a meta-episode is one SB3 episode; predict threads the
    # recurrent state through episode_start)
    mean, std = evaluate_policy(model, gym.make(env_id, **kwargs), n_eval_episodes=10,
                                deterministic=True, warn=False)  # fmt: skip
    print(f"SB3 evaluate_policy on 10 meta-episodes: {mean:.2f} ± {std:.2f}")


if __name__ == "__main__":
    main()
