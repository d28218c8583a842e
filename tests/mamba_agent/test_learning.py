"""Learning test: a two-armed bandit meta-env that only an agent with memory across sub-episodes
can solve (the observation is constant; the agent appends previous reward and t / T itself)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from stable_baselines3.common.evaluation import evaluate_policy
from tiny_envs import BanditMetaEnv

from mamba_agent import MAMBA
from mamba_agent.data.wrappers import MetaFeatures


def best_memoryless_return(env: BanditMetaEnv) -> float:
    """Best expected return of a deterministic policy that sees only the current observation
    (constant obs, previous reward, t / T) and no memory: enumerated over all such policies.
    (The previous reward itself carries one bit, so this is 6.0 for 4 x 2 pulls, not 4.5: a
    memoryless policy can keep the task in the reward sequence by losing every other pull.)"""
    T = env.length
    table = np.array(list(itertools.product([0, 1], repeat=2 * T)))  # (policies, T x prev_r)
    best = np.zeros(len(table))
    for task in (0, 1):
        prev_r = np.zeros(len(table), dtype=int)
        ret = np.zeros(len(table))
        for t in range(T):
            arm = table[np.arange(len(table)), 2 * t + prev_r]
            prev_r = (arm == task).astype(int)
            ret += prev_r
        best += 0.5 * ret
    return float(best.max())


def run_bandit(seed: int, steps: int) -> tuple[float, float, float, float]:
    env = BanditMetaEnv(num_sub_episodes=4, sub_episode_length=2)
    model = MAMBA(BanditMetaEnv(4, 2), preset="tiny", seed=seed)
    model.learn(steps)
    eval_env = MetaFeatures(BanditMetaEnv(4, 2), time_scale=env.length)
    mean, _ = evaluate_policy(model, eval_env, n_eval_episodes=60, deterministic=True, warn=False)
    return mean, env.random_return(), env.bayes_optimal_return(), best_memoryless_return(env)


def test_bandit_memory_learning():
    learned, random, bayes, memoryless = run_bandit(seed=0, steps=2000)
    assert (random, bayes, memoryless) == (4.0, 7.5, 6.0)
    # above what any deterministic memoryless policy gets, close to Bayes-optimal
    assert learned > memoryless + 0.75
    assert learned > random + 0.8 * (bayes - random)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bandit_memory_learning_more_seeds(seed):
    learned, random, bayes, memoryless = run_bandit(seed=seed, steps=4000)
    assert learned > random + 0.8 * (bayes - random)
