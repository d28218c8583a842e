"""Escape Room: the wall, the door and the reward on hand-built moves."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

from meta_envs.envs.escape_room import DOOR_WIDTH, move_in_room, move_one


def door(angle: float) -> np.ndarray:
    return np.array([[math.cos(angle), math.sin(angle)]])


def move(p, q, door_angle: float) -> np.ndarray:
    return move_in_room(np.array([p], float), np.array([q], float), door(door_angle))[0]


def test_inside_moves_are_free() -> None:
    np.testing.assert_array_equal(move([0.1, 0.2], [0.15, 0.3], 0.0), [0.15, 0.3])


def test_leaving_through_the_door() -> None:
    np.testing.assert_array_equal(move([0.0, 0.95], [0.0, 1.05], math.pi / 2), [0.0, 1.05])


def test_blocked_from_inside_is_radially_projected_to_099() -> None:
    q = np.array([0.3, 1.02])
    np.testing.assert_allclose(move([0.28, 0.93], q, 0.0), 0.99 * q / np.linalg.norm(q))


def test_door_edges() -> None:
    half = DOOR_WIDTH / 2
    inside_edge = 0.999 * half
    outside_edge = 1.001 * half
    for angle, free in (
        (inside_edge, True),
        (outside_edge, False),
        (-inside_edge, True),
        (-outside_edge, False),
    ):
        p = 0.95 * np.array([math.cos(angle), math.sin(angle)])
        q = 1.05 * np.array([math.cos(angle), math.sin(angle)])
        result = move(p, q, 0.0)
        assert bool(np.linalg.norm(result) > 1.0) is free, angle


def test_blocked_from_outside_is_projected_to_101() -> None:
    q = np.array([0.0, -0.95])
    np.testing.assert_allclose(move([0.0, -1.05], q, math.pi / 2), 1.01 * q / np.linalg.norm(q))


def test_entering_through_the_door_is_free() -> None:
    np.testing.assert_array_equal(move([0.0, 1.05], [0.0, 0.95], math.pi / 2), [0.0, 0.95])


def test_segment_dipping_in_and_out() -> None:
    # A horizontal chord at y = 0.999 from outside to outside: inside for |x| < 0.0447.
    p, q = [-0.08, 0.999], [0.08, 0.999]
    assert np.linalg.norm(p) > 1 and np.linalg.norm(q) > 1
    # Both crossings near angle pi/2: in the door -> free; door elsewhere -> blocked at 1.01 q/|q|.
    np.testing.assert_array_equal(move(p, q, math.pi / 2), q)
    qa = np.array(q)
    np.testing.assert_allclose(move(p, q, 0.0), 1.01 * qa / np.linalg.norm(qa))


def test_outside_moves_away_are_free() -> None:
    np.testing.assert_array_equal(move([1.5, 0.0], [1.6, 0.1], math.pi / 2), [1.6, 0.1])


def test_reward_is_one_outside_only_and_the_agent_can_slide_along_the_wall() -> None:
    env = gym.make("meta_envs/EscapeRoom-v0", num_sub_episodes=1, sub_episode_length=60).unwrapped
    env.reset(seed=0, options={"task": math.pi / 2})
    env._x, env._y = 0.99, 0.0  # hand-built state: on the wall at angle 0
    rewards, radii, angles = [], [], []
    for _ in range(40):  # push outward and counter-clockwise: slides along the wall to the door
        x, y = env._x, env._y
        a = np.array([-y, x]) + 0.3 * np.array([x, y])
        obs, reward, *_ = env.step((a / np.abs(a).max()).astype(np.float32))
        rewards.append(reward)
        radii.append(float(np.hypot(obs[0], obs[1])))
        angles.append(math.atan2(obs[1], obs[0]))
    first_out = next(i for i, r in enumerate(rewards) if r == 1.0)
    assert all(r == pytest.approx(0.99) for r in radii[:first_out])
    assert abs(angles[first_out] - math.pi / 2) < DOOR_WIDTH
    assert all(r == 1.0 for r in rewards[first_out:])  # stays outside: the wall blocks re-entry


def test_start_distribution_radius_uniform() -> None:
    env = gym.make(
        "meta_envs/EscapeRoom-v0", meta_features=False, num_sub_episodes=1, sub_episode_length=1
    )
    radii = []
    for seed in range(1500):
        obs, _ = env.reset(seed=seed)
        radii.append(np.hypot(*obs))
    radii = np.array(radii)
    assert radii.max() <= 1.0
    assert abs(radii.mean() - 0.5) < 0.03  # U[0, 1] radius, not area-uniform (mean 2/3)


def test_door_angles_in_upper_half_and_scalar_tasks() -> None:
    env = gym.make("meta_envs/EscapeRoom-v0").unwrapped
    rng = np.random.default_rng(0)
    angles = [env.sample_task(rng) for _ in range(500)]
    assert all(isinstance(a, float) and 0 <= a <= math.pi for a in angles)
    env.reset(options={"task": np.float32(1.0)})
    assert env.task == 1.0
    with pytest.raises(ValueError):
        env.reset(options={"task": [1.0]})
    with pytest.raises(ValueError):
        env.reset(options={"task": math.inf})


def test_scalar_and_batched_moves_are_bit_identical() -> None:
    """The single env's scalar path and the vector env's batched path, on moves near the wall."""
    rng = np.random.default_rng(0)
    k = 20000
    radius = rng.uniform(0.85, 1.15, k)
    angle = rng.uniform(-math.pi, math.pi, k)
    p = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)
    q = p + 0.1 * rng.uniform(-1, 1, (k, 2))
    door_angle = rng.uniform(0, math.pi, k)
    doors = np.stack([np.cos(door_angle), np.sin(door_angle)], 1)
    batched = move_in_room(p, q, doors)
    scalar = np.array([move_one(*p[i], *q[i], *doors[i]) for i in range(k)])
    np.testing.assert_array_equal(scalar, batched)
    assert (
        0.1 < np.mean(np.linalg.norm(batched, axis=1) != np.linalg.norm(q, axis=1)) < 0.9
    )  # walls hit
