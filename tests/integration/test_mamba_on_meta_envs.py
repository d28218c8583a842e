"""Both packages together, each through Gymnasium only: MAMBA trains on meta_envs ids (through
their native vector forms), acts under SB3's evaluate_policy, and reports normalised scores."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.evaluation import evaluate_policy

import meta_envs
from mamba_agent import MAMBA
from meta_envs.vector.meta_vector_env import MetaVectorEnv


@pytest.mark.parametrize(
    ("env_id", "kwargs"),
    [
        ("meta_envs/PointRobot-v0", {"num_sub_episodes": 2, "sub_episode_length": 10}),
        ("meta_envs/RoomsN-v0", {"n": 2, "num_sub_episodes": 2, "sub_episode_length": 12}),
    ],
)
def test_learn_on_a_meta_envs_id_then_evaluate(tmp_path, env_id, kwargs):
    venv = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point", **kwargs)
    assert isinstance(venv.unwrapped, MetaVectorEnv)  # the native batched form
    model = MAMBA(venv, preset="tiny", seed=0, prefill_episodes=2)
    model.learn(3 * 2 * kwargs["num_sub_episodes"] * kwargs["sub_episode_length"])
    assert model.num_timesteps > 0 and model._n_updates > 0

    env = gym.make(env_id, **kwargs)
    mean, _ = evaluate_policy(model, env, n_eval_episodes=2, deterministic=True, warn=False)
    score = meta_envs.normalized_score(env_id, mean, **kwargs)
    refs = env.unwrapped.reference_returns
    assert np.isfinite(score) and refs["random"] < refs["oracle"]

    model.save(tmp_path / "model")
    loaded = MAMBA.load(tmp_path / "model", device="cpu")
    obs, _ = env.reset(seed=3)
    a1, _ = model.predict(obs, deterministic=True)
    a2, _ = loaded.predict(obs, deterministic=True)
    assert np.array_equal(a1, a2)


def test_an_id_string_uses_the_native_vector_form():
    model = MAMBA("meta_envs/EscapeRoom-v0", preset="tiny", seed=0, num_envs=3)
    assert isinstance(model.env.unwrapped, MetaVectorEnv) and model.env.num_envs == 3
