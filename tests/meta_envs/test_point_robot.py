"""Point Robot and Wind: reward rule, dynamics and noise on hand-built trajectories."""

from __future__ import annotations

import copy
import math

import gymnasium as gym
import numpy as np
import pytest

UP = np.array([0.0, 1.0], dtype=np.float32)


def test_reward_is_one_minus_distance_inside_the_goal_region() -> None:
    env = gym.make("meta_envs/PointRobot-v0", num_sub_episodes=1, sub_episode_length=20)
    env.reset(seed=0, options={"task": [0.0, 1.0]})
    y = 0.0
    for k in range(1, 13):
        reward = env.step(UP)[1]
        y = min(y + 0.1, 2.0)  # the same float arithmetic as the env
        distance = abs(1.0 - y)
        assert reward == (1.0 - distance if distance <= 0.2 else 0.0), k
        assert (reward > 0) is (k >= 8 + (distance > 0.2)), k


def test_goal_region_is_inclusive() -> None:
    env = gym.make("meta_envs/PointRobot-v0", goal_radius=0.25).unwrapped
    env.reset(seed=0, options={"task": [0.0, 0.75]})
    env._x, env._y = 0.0, 0.5  # hand-built state: exactly 0.25 (a binary fraction) from the goal
    assert env.step(np.zeros(2, np.float32))[1] == 0.75
    env._x, env._y = 0.0, 0.5 - 2**-20
    assert env.step(np.zeros(2, np.float32))[1] == 0.0


def test_move_is_a_tenth_of_the_clipped_action_and_position_is_clipped() -> None:
    env = gym.make(
        "meta_envs/PointRobot-v0", num_sub_episodes=1, sub_episode_length=40, meta_features=False
    )
    env.reset(seed=0)
    obs, *_ = env.step(np.array([0.5, -0.25], dtype=np.float32))
    np.testing.assert_allclose(obs, [0.05, -0.025], rtol=1e-6)
    for _ in range(30):
        obs, *_ = env.step(np.array([1.0, -1.0], dtype=np.float32))
    np.testing.assert_array_equal(obs, [2.0, -2.0])


def test_sub_episode_restarts_at_origin_and_goal_is_kept() -> None:
    env = gym.make("meta_envs/PointRobot-v0", num_sub_episodes=2, sub_episode_length=3)
    env.reset(seed=0)
    goal = env.unwrapped.task.copy()
    for _ in range(3):
        obs, *_, info = env.step(UP)
    np.testing.assert_array_equal(obs[:2], [0.0, 0.0])
    np.testing.assert_allclose(info["final_state"], [0.0, 0.3], rtol=1e-6)
    np.testing.assert_array_equal(env.unwrapped.task, goal)


def test_goals_lie_on_the_upper_half_circle() -> None:
    env = gym.make("meta_envs/PointRobot-v0").unwrapped
    rng = np.random.default_rng(0)
    goals = np.array([env.sample_task(rng) for _ in range(2000)])
    np.testing.assert_allclose(np.linalg.norm(goals, axis=1), 1.0)
    angles = np.arctan2(goals[:, 1], goals[:, 0])
    assert angles.min() >= 0.0 and angles.max() <= math.pi
    assert abs(angles.mean() - math.pi / 2) < 0.05  # uniform on [0, pi]


def test_wind_clips_the_action_adds_noise_and_clips_again() -> None:
    env = gym.make("meta_envs/PointRobotWind-v0", meta_features=False).unwrapped
    env.reset(seed=3)
    for action in ([3.0, -0.2], [0.95, 0.9], [-1.0, 0.0]):
        rng = copy.deepcopy(env.np_random)
        noise = rng.normal(0.0, 0.3, size=2)
        before = env._physical_state()
        expected = before + 0.1 * np.clip(np.clip(action, -1, 1) + noise, -1, 1)
        obs, *_ = env.step(np.array(action, dtype=np.float32))
        np.testing.assert_allclose(obs, expected, rtol=1e-6, atol=1e-7)


def test_wind_without_noise_is_point_robot() -> None:
    calm = gym.make("meta_envs/PointRobotWind-v0", wind_std=0.0)
    plain = gym.make("meta_envs/PointRobot-v0")
    calm.reset(seed=1)
    plain.reset(seed=1)
    space = copy.deepcopy(plain.action_space)
    space.seed(0)
    for _ in range(50):
        action = space.sample()
        a, b = calm.step(action), plain.step(action)
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1] == b[1]


@pytest.mark.parametrize("kwargs", [{"goal_radius": -0.1}, {"goal_radius": float("nan")}])
def test_bad_radius(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="goal_radius"):
        gym.make("meta_envs/PointRobot-v0", **kwargs)


def test_bad_wind() -> None:
    with pytest.raises(ValueError, match="wind_std"):
        gym.make("meta_envs/PointRobotWind-v0", wind_std=-1.0)
    with pytest.raises(TypeError, match="wind_std"):
        gym.make("meta_envs/PointRobotWind-v0", wind_std="strong")
