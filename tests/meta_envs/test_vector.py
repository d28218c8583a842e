"""Native vectorised envs against Gymnasium's SyncVectorEnv of single envs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from tests.meta_envs.conftest import DETERMINISTIC_VECTOR_IDS, ENV_IDS, SMALL


def make_pair(env_id: str, num_envs: int, **kwargs):
    kwargs = {**SMALL, **kwargs}
    native = gym.make_vec(
        env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs
    )
    sync = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync", **kwargs)
    return native, sync


def assert_infos_equal(native: dict, sync: dict) -> None:
    assert set(native) == set(sync)
    for key in sync:
        if isinstance(sync[key], dict):
            assert_infos_equal(native[key], sync[key])
        else:
            np.testing.assert_array_equal(
                np.asarray(native[key]), np.asarray(sync[key]), err_msg=key
            )


@pytest.mark.parametrize("env_id", DETERMINISTIC_VECTOR_IDS)
@pytest.mark.parametrize("meta_features", [True, False])
def test_native_equals_sync_step_for_step(env_id: str, meta_features: bool) -> None:
    """Sub-env i after reset(seed=s) replays the single env reset with seed=s+i, over 2.5 meta-episodes
    (so the NEXT_STEP autoreset is covered)."""
    num_envs = 5
    native, sync = make_pair(env_id, num_envs, meta_features=meta_features)
    obs_n, info_n = native.reset(seed=7)
    obs_s, info_s = sync.reset(seed=7)
    np.testing.assert_array_equal(obs_n, obs_s)
    assert_infos_equal(info_n, info_s)
    space = native.action_space
    space.seed(3)
    length = SMALL["num_sub_episodes"] * SMALL["sub_episode_length"]
    for _ in range(int(2.5 * (length + 1))):
        actions = space.sample()
        out_n, out_s = native.step(actions), sync.step(actions)
        for a, b in zip(out_n[:4], out_s[:4]):
            np.testing.assert_array_equal(a, b)
        assert_infos_equal(out_n[4], out_s[4])


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_autoreset_mode_is_declared_next_step(env_id: str) -> None:
    native, _ = make_pair(env_id, 2)
    assert native.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_autoreset_starts_new_tasks(env_id: str) -> None:
    native, _ = make_pair(env_id, 3)
    _, info = native.reset(seed=0)
    first_tasks = info["task"]
    length = SMALL["num_sub_episodes"] * SMALL["sub_episode_length"]
    for _ in range(length):
        _, _, terminated, truncated, _ = native.step(native.action_space.sample())
        assert not terminated.any()
    assert truncated.all()
    obs, rewards, terminated, truncated, info = native.step(native.action_space.sample())
    assert not truncated.any() and not terminated.any() and not rewards.any()
    assert not np.array_equal(info["task"], first_tasks)
    assert (info["step_in_sub_episode"] == 0).all()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_vector_options_fix_tasks(env_id: str) -> None:
    native, _ = make_pair(env_id, 3)
    native.reset(seed=0)
    task = native.prototype.sample_task(np.random.default_rng(0))
    _, info = native.reset(seed=1, options={"task": task})
    for row in info["task"]:
        np.testing.assert_array_equal(row, np.asarray(task))


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_vector_bad_inputs(env_id: str) -> None:
    with pytest.raises(ValueError, match="num_envs"):
        gym.make_vec(env_id, num_envs=0, vectorization_mode="vector_entry_point")
    with pytest.raises(ValueError, match="render"):
        gym.make_vec(
            env_id, num_envs=2, vectorization_mode="vector_entry_point", render_mode="rgb_array"
        )
    with pytest.raises(ValueError, match="num_sub_episodes"):
        gym.make_vec(
            env_id, num_envs=2, vectorization_mode="vector_entry_point", num_sub_episodes=0
        )
    native, _ = make_pair(env_id, 2)
    with pytest.raises(RuntimeError, match="reset"):
        native.step(native.action_space.sample())
    native.reset(seed=0)
    with pytest.raises(ValueError):
        native.step(native.action_space.sample()[:1])  # one action short
    if isinstance(native.single_action_space, gym.spaces.Box):
        with pytest.raises(ValueError, match="NaN"):
            native.step(np.full(native.action_space.shape, np.nan))
    else:
        with pytest.raises(ValueError):
            native.step(np.full(native.action_space.shape, native.single_action_space.n))
    with pytest.raises(ValueError, match="seed"):
        native.reset(seed=[1])


def test_wind_vector_has_the_single_env_noise_distribution() -> None:
    """Wind noise is drawn in one batch, so only the distribution matches: compare the first
    displacement under a zero action (clipped N(0, 0.3^2) times 0.1) for 4,000 draws each."""
    num_envs = 4000
    kwargs = {"num_sub_episodes": 1, "sub_episode_length": 2, "meta_features": False}
    native = gym.make_vec(
        "meta_envs/PointRobotWind-v0",
        num_envs=num_envs,
        vectorization_mode="vector_entry_point",
        **kwargs,
    )
    native.reset(seed=0)
    moved_native = native.step(np.zeros((num_envs, 2), np.float32))[0]
    single = gym.make("meta_envs/PointRobotWind-v0", **kwargs)
    moved_single = []
    for seed in range(num_envs):
        single.reset(seed=seed)
        moved_single.append(single.step(np.zeros(2, np.float32))[0])
    moved_single = np.array(moved_single)
    for a, b in ((moved_native, moved_single),):
        np.testing.assert_allclose(a.mean(0), 0.0, atol=0.002)
        np.testing.assert_allclose(b.mean(0), 0.0, atol=0.002)
        np.testing.assert_allclose(a.std(0), b.std(0), rtol=0.06)
    assert abs(moved_native.std() - 0.03) < 0.002
    # Two-sample Kolmogorov-Smirnov statistic on x: below the 0.1% critical value.
    grid = np.sort(np.concatenate([moved_native[:, 0], moved_single[:, 0]]))
    cdf_a = np.searchsorted(np.sort(moved_native[:, 0]), grid, side="right") / num_envs
    cdf_b = np.searchsorted(np.sort(moved_single[:, 0]), grid, side="right") / num_envs
    assert np.abs(cdf_a - cdf_b).max() < 1.95 * np.sqrt(2 / num_envs)
