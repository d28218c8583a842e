"""MAMBA on a meta-env of your own: any Gymnasium env whose episode is a meta-episode.

Usage::

    python examples/custom_meta_env.py [--steps 20000]

The env below is a two-armed bandit whose good arm (the task) is drawn at ``reset`` and kept for
the whole meta-episode of 4 sub-episodes of 5 pulls. What MAMBA needs from an env is only the
Gymnasium API: ``reset`` starts a meta-episode (and draws the task), the meta-episode ends with
``truncated`` (sub-episode ends are not terminal), and optionally ``info["sub_episode_end"]`` on
the step that ends a sub-episode, for per-sub-episode returns. The agent appends the previous
reward and t/T to the observation itself (``augment_obs="auto"``), so the memory of the good arm
comes from the previous rewards.
"""

from __future__ import annotations

import argparse
from typing import Any

import gymnasium as gym
import numpy as np

from mamba_agent import MAMBA
from mamba_agent.evaluation import evaluate_meta_episodes


class TwoArmedBanditMeta(gym.Env):
    """Pull arm 0 or 1; the good arm pays 1, the other 0. The task is the good arm."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, num_sub_episodes: int = 4, sub_episode_length: int = 5) -> None:
        self.n, self.h = num_sub_episodes, sub_episode_length
        self.observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.good_arm, self.t = 0, 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.good_arm = int(self.np_random.integers(2))  # the task: one per meta-episode
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        reward = float(int(action) == self.good_arm)
        info = {"sub_episode_end": self.t % self.h == 0}
        truncated = self.t == self.n * self.h  # the meta-episode ends; never terminated
        return np.zeros(1, np.float32), reward, False, truncated, info


gym.register("examples/TwoArmedBanditMeta-v0", entry_point=TwoArmedBanditMeta)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    args = parser.parse_args()

    model = MAMBA("examples/TwoArmedBanditMeta-v0", preset="cpu", seed=0, num_envs=4,
                  prefill_episodes=8, imag_horizon=5)  # fmt: skip
    model.learn(args.steps, progress_bar=True)
    result = evaluate_meta_episodes(model, "examples/TwoArmedBanditMeta-v0", 100, seed=0)
    print(
        f"return {result.mean:.2f} ± {result.std:.2f} of 20 pulls; per sub-episode "
        + ", ".join(f"{r:.2f}" for r in result.sub_episode_means)
        + " (best possible: 20; 10 for a policy that does not remember)"
    )


if __name__ == "__main__":
    main()
