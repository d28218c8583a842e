"""Rooms-N: grid rules, rewards, observation, tasks and the vector env (the reference policies are
in test_rooms_policies.py).

The registry-wide contract (determinism, boundary semantics, bad arguments, rendering) is tested in
test_contract.py, test_vector.py and test_rendering.py; this module tests what is Rooms-N's own.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from meta_envs.envs.rooms import RoomsNEnv, corner_cell, grid_width
from meta_envs.policies.rooms import RoomsNOracle

ENV_ID = "meta_envs/RoomsN-v0"
NOOP, UP, RIGHT, DOWN, LEFT = range(5)
TL, TR, BL, BR = range(4)


def walk(env: gym.Env, actions: list[int]) -> list[tuple[tuple[int, int], float, int]]:
    """Step ``actions``; return (cell, reward, goals_reached) after each step."""
    out = []
    for action in actions:
        _, reward, _, _, info = env.step(action)
        out.append((env.unwrapped.cell, reward, info["goals_reached"]))
    return out


def make_env(n: int, **kwargs) -> gym.Env:
    return gym.make(ENV_ID, n=n, **{"num_sub_episodes": 2, "sub_episode_length": 60, **kwargs})


# ---------------------------------------------------------------------------------- grid and moves
@pytest.mark.parametrize(("n", "width"), [(1, 3), (2, 9), (3, 15), (5, 27)])
def test_grid_width(n: int, width: int) -> None:
    assert grid_width(n) == width == RoomsNEnv(n=n).width


def test_wall_bumps_are_ignored() -> None:
    env = make_env(1)
    env.reset(seed=0)
    assert env.unwrapped.cell == (0, 0)
    cells = [
        cell for cell, _, _ in walk(env, [LEFT, DOWN, DOWN, LEFT, RIGHT, RIGHT, RIGHT, UP, UP, UP])
    ]
    assert cells == [
        (0, 0),
        (0, -1),
        (0, -1),
        (0, -1),
        (1, -1),
        (2, -1),
        (2, -1),
        (2, 0),
        (2, 1),
        (2, 1),
    ]
    assert [cell for cell, _, _ in walk(env, [RIGHT, NOOP, LEFT, LEFT, LEFT])] == [
        (2, 1),
        (2, 1),
        (1, 1),
        (0, 1),
        (0, 1),
    ]


def test_corridor_is_entered_only_from_the_middle_row_and_moves_only_left_right() -> None:
    env = make_env(2)
    env.reset(seed=0)
    steps = [UP, RIGHT, RIGHT, RIGHT, DOWN, RIGHT, UP, DOWN, RIGHT, RIGHT, RIGHT, UP, LEFT]
    cells = [cell for cell, _, _ in walk(env, steps)]
    assert cells == [
        (0, 1),
        (1, 1),
        (2, 1),
        (2, 1),  # no corridor from the top row
        (2, 0),
        (3, 0),  # into the corridor from the middle row
        (3, 0),  # up and down are walls in a corridor
        (3, 0),
        (4, 0),
        (5, 0),
        (6, 0),  # room 1, middle cell of its left wall
        (6, 1),
        (6, 1),  # no corridor from room 1's top row either
    ]
    cells = [cell for cell, _, _ in walk(env, [DOWN, DOWN, LEFT, UP, RIGHT, RIGHT, RIGHT, RIGHT])]
    assert cells == [(6, 0), (6, -1), (6, -1), (6, 0), (7, 0), (8, 0), (8, 0), (8, 0)]


def test_transition_table_is_shared_and_reversible() -> None:
    env = RoomsNEnv(n=3)
    opposite = {UP: DOWN, DOWN: UP, LEFT: RIGHT, RIGHT: LEFT}
    for cell, row in enumerate(env.next_cell):
        assert row[NOOP] == cell
        for action, back in opposite.items():
            if row[action] != cell:
                assert env.next_cell[row[action]][back] == cell


# ---------------------------------------------------------------------------------- observation
@pytest.mark.parametrize("n", [1, 2, 3])
def test_observation_is_the_cell_scaled_symmetrically(n: int) -> None:
    env = make_env(n)
    width = grid_width(n)
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs, np.array([-1.0, 0.0, 0.0, 0.0], dtype=np.float32))
    actions = [RIGHT] * (width - 1) + [UP, DOWN, DOWN] + [LEFT] * 2
    for action in actions:
        obs, reward, *_ = env.step(action)
        x, y = env.unwrapped.cell
        assert obs[0] == np.float32(2 * x / (width - 1) - 1) and obs[1] == y
        assert obs[2] == np.float32(reward)
    assert env.unwrapped.cell == (width - 3, -1)


def test_observation_space_bounds_are_exact() -> None:
    space = make_env(3).observation_space
    np.testing.assert_array_equal(space.low, np.array([-1, -1, -0.1, 0], dtype=np.float32))
    np.testing.assert_array_equal(space.high, np.array([1, 1, 1, 1], dtype=np.float32))
    assert space.dtype == np.float32
    bare = make_env(3, meta_features=False).observation_space
    np.testing.assert_array_equal(bare.low, [-1, -1])
    np.testing.assert_array_equal(bare.high, [1, 1])
    assert make_env(1).action_space == gym.spaces.Discrete(5)


def test_n_one_has_the_three_x_values() -> None:
    env = make_env(1, meta_features=False)
    obs, _ = env.reset(seed=0)
    xs = [obs[0]] + [env.step(RIGHT)[0][0] for _ in range(2)]
    assert xs == [-1.0, 0.0, 1.0]


# ---------------------------------------------------------------------------------- rewards
def test_goals_pay_once_and_only_in_order_and_the_last_goal_pays_while_stood_on() -> None:
    env = make_env(2, num_sub_episodes=2, sub_episode_length=50)
    env.reset(seed=0, options={"task": [TL, BR]})  # goal 1 at (0, 1), goal 2 at (8, -1)
    # Goal 2 before goal 1: no pay.
    out = walk(env, [RIGHT] * 8 + [DOWN])
    assert out[-1] == ((8, -1), -0.1, 0)
    assert all(reward == -0.1 for _, reward, _ in out)
    # Goal 1: pays once; standing on it, or leaving and coming back, pays nothing more.
    out = walk(env, [UP] + [LEFT] * 8 + [UP, NOOP, DOWN, UP])
    assert out[-4:] == [((0, 1), 1.0, 1), ((0, 1), -0.1, 1), ((0, 0), -0.1, 1), ((0, 1), -0.1, 1)]
    assert all(reward == -0.1 for _, reward, _ in out[:-4])
    # Goal 2 now pays, on every step the agent stands on it, also after leaving and coming back.
    out = walk(env, [DOWN] + [RIGHT] * 8 + [DOWN, NOOP, NOOP, UP, DOWN, DOWN, LEFT, RIGHT])
    assert [(reward, reached) for _, reward, reached in out[-8:]] == [
        (1.0, 2),
        (1.0, 2),
        (1.0, 2),
        (-0.1, 2),
        (1.0, 2),
        (1.0, 2),  # a wall bump keeps the agent on the goal
        (-0.1, 2),
        (1.0, 2),
    ]
    assert env.unwrapped.cell == (8, -1)


def test_reached_flags_clear_at_each_sub_episode_start() -> None:
    env = make_env(2, num_sub_episodes=2, sub_episode_length=20)
    env.reset(seed=0, options={"task": [BL, TR]})  # goals (0, -1) and (8, 1)
    out = walk(env, [DOWN, UP] + [RIGHT] * 8 + [UP])
    assert [reward for _, reward, _ in out] == [1.0] + [-0.1] * 9 + [1.0]
    assert out[-1] == ((8, 1), 1.0, 2)
    for _ in range(8):
        obs, reward, _, _, info = env.step(NOOP)
        assert reward == 1.0 and info["goals_reached"] == 2 and not info["sub_episode_end"]
    obs, reward, _, truncated, info = env.step(NOOP)  # step 20: the boundary
    assert reward == 1.0 and not truncated
    assert info["sub_episode_end"] and info["sub_episode"] == 1
    assert info["goals_reached"] == 0 and info["final_goals_reached"] == 2
    np.testing.assert_array_equal(info["final_state"], np.array([1.0, 1.0], dtype=np.float32))
    assert env.unwrapped.cell == (0, 0) and obs[0] == -1.0 and obs[1] == 0.0
    # Sub-episode 2: goal 2 does not pay before goal 1 has paid again.
    out = walk(env, [RIGHT] * 8 + [UP])
    assert out[-1] == ((8, 1), -0.1, 0)
    out = walk(env, [DOWN] + [LEFT] * 8 + [DOWN])
    assert out[-1] == ((0, -1), 1.0, 1)


def test_final_step_reports_the_last_counts() -> None:
    env = make_env(1, num_sub_episodes=1, sub_episode_length=3)
    env.reset(seed=0, options={"task": [TL]})
    walk(env, [UP, NOOP])
    obs, reward, _, truncated, info = env.step(NOOP)
    assert truncated and reward == 1.0
    assert info["goals_reached"] == 1 and info["final_goals_reached"] == 1
    np.testing.assert_array_equal(obs[:2], info["final_state"])


@pytest.mark.parametrize("corner", range(4))
def test_single_room_goal_is_the_last_goal(corner: int) -> None:
    env = make_env(1)
    env.reset(seed=0, options={"task": [corner]})
    path = {TL: [UP], TR: [UP, RIGHT, RIGHT], BL: [DOWN], BR: [DOWN, RIGHT, RIGHT]}[corner]
    out = walk(env, path + [NOOP, NOOP])
    assert [reward for _, reward, _ in out] == [-0.1] * (len(path) - 1) + [1.0, 1.0, 1.0]


# ---------------------------------------------------------------------------------- tasks
def test_task_is_a_read_only_int64_array_of_corner_codes() -> None:
    env = make_env(3)
    _, info = env.reset(seed=0)
    task = env.unwrapped.task
    assert task.dtype == np.int64 and task.shape == (3,) and not task.flags.writeable
    assert set(task.tolist()) <= {0, 1, 2, 3}
    np.testing.assert_array_equal(info["task"], task)


def test_task_distribution_is_uniform_over_all_corner_combinations() -> None:
    env = RoomsNEnv(n=2)
    rng = np.random.default_rng(0)
    tasks = np.array([env.sample_task(rng) for _ in range(3200)])
    counts = np.bincount(tasks[:, 0] * 4 + tasks[:, 1], minlength=16)
    assert counts.min() > 150 and counts.max() < 250  # 200 expected per task
    assert len(env.finite_tasks()) == 16
    assert RoomsNEnv(n=6).finite_tasks() is None


@pytest.mark.parametrize(
    "task",
    [
        [0, 3, 1],
        (2, 2, 2),
        np.array([1, 0, 3], dtype=np.int32),
        np.array([3, 1, 0], np.uint8),
        [1.0, 2.0, 0.0],
    ],
)
def test_valid_tasks_are_accepted(task) -> None:
    env = make_env(3)
    env.reset(seed=0, options={"task": task})
    np.testing.assert_array_equal(env.unwrapped.task, np.asarray(task, dtype=np.int64))
    assert env.unwrapped.task.dtype == np.int64


@pytest.mark.parametrize(
    ("task", "match"),
    [
        ([0, 4, 1], "0..3"),
        ([0, -1, 1], "0..3"),
        ([0.5, 1, 1], "integer"),
        ([np.nan, 1, 1], "integer"),
        ([np.inf, 1, 1], "integer"),
        ([True, False, True], "integer"),
        (["a", "b", "c"], "integer"),
        ([0, 1], "shape"),
        ([[0, 1, 2]], "shape"),
        (2, "shape"),
    ],
)
def test_invalid_tasks_raise(task, match: str) -> None:
    env = make_env(3)
    with pytest.raises(ValueError, match=match):
        env.reset(options={"task": task})


def test_n_is_validated() -> None:
    for bad, error in [
        (0, ValueError),
        (-2, ValueError),
        (2.0, TypeError),
        (True, TypeError),
        ("3", TypeError),
    ]:
        with pytest.raises(error, match="n must be"):
            gym.make(ENV_ID, n=bad)
    assert gym.make(ENV_ID).unwrapped.reference_kwargs() == {
        "num_sub_episodes": 3,
        "sub_episode_length": 100,
        "n": 3,
    }


# ---------------------------------------------------------------------------------- actions
@pytest.mark.parametrize(
    "action", [2, np.int64(2), np.int32(2), np.uint8(2), np.array(2), np.array(2, np.int16)]
)
def test_integer_action_forms_are_accepted(action) -> None:
    env = make_env(1)
    env.reset(seed=0)
    env.unwrapped.step(action)
    assert env.unwrapped.cell == (1, 0)


@pytest.mark.parametrize(
    "action",
    [
        5,
        -1,
        1.0,
        2.5,
        np.float64(2.0),
        np.array([2]),
        np.array(2.0),
        True,
        np.bool_(True),
        "2",
        None,
    ],
)
def test_bad_actions_raise_value_error(action) -> None:
    env = make_env(1)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.unwrapped.step(action)


# ---------------------------------------------------------------------------------- vector env
def _mixed_actions(
    sync: gym.vector.VectorEnv, obs: np.ndarray, infos: dict, rng: np.random.Generator
):
    """Mostly oracle moves (so goals pay in order), sometimes random ones."""
    actions = rng.integers(0, 5, size=sync.num_envs)
    for i, env in enumerate(sync.envs):
        if rng.random() < 0.8:
            info = {"goals_reached": infos["goals_reached"][i], "task": infos["task"][i]}
            actions[i] = RoomsNOracle(env).act(obs[i], info)
    return actions


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("meta_features", [True, False])
def test_native_vector_env_equals_sync_copies_over_two_meta_episodes(
    n: int, meta_features: bool
) -> None:
    kwargs = {
        "n": n,
        "num_sub_episodes": 2,
        "sub_episode_length": 25,
        "meta_features": meta_features,
    }
    native = gym.make_vec(ENV_ID, num_envs=3, vectorization_mode="vector_entry_point", **kwargs)
    sync = gym.make_vec(ENV_ID, num_envs=3, vectorization_mode="sync", **kwargs)
    assert type(native.unwrapped).__name__ == "RoomsNVectorEnv"
    assert native.single_observation_space == sync.single_observation_space
    obs, infos = native.reset(seed=10)
    sync_obs, sync_infos = sync.reset(seed=10)
    rng = np.random.default_rng(n)
    paid = np.zeros(n + 1, dtype=int)
    truncations = 0
    for _ in range(2 * 2 * 25 + 2):  # two whole meta-episodes, the autoreset step and one more
        np.testing.assert_array_equal(obs, sync_obs)
        assert infos.keys() == sync_infos.keys()
        for key in infos:
            np.testing.assert_array_equal(infos[key], sync_infos[key], err_msg=key)
        actions = _mixed_actions(sync, sync_obs, sync_infos, rng)
        obs, rewards, terminations, truncated, infos = native.step(actions)
        sync_obs, sync_rewards, sync_terminations, sync_truncated, sync_infos = sync.step(actions)
        np.testing.assert_array_equal(rewards, sync_rewards)
        np.testing.assert_array_equal(terminations, sync_terminations)
        np.testing.assert_array_equal(truncated, sync_truncated)
        paid += np.bincount(infos["goals_reached"], minlength=n + 1)
        truncations += int(truncated.all())
    assert truncations == 2
    assert paid[n] > 0  # the comparison covered every goal paying, the last one included


def test_vector_bad_actions_raise() -> None:
    env = gym.make_vec(ENV_ID, num_envs=2, vectorization_mode="vector_entry_point")
    env.reset(seed=0)
    for bad in ([0, 5], [-1, 0], [0.0, 1.0], [1, 2, 3], [[1, 2]]):
        with pytest.raises(ValueError, match="actions"):
            env.step(np.array(bad))


# ---------------------------------------------------------------------------------- rendering
def test_frame_shows_goals_numbered_and_dims_reached_ones() -> None:
    env = gym.make(ENV_ID, n=2, render_mode="rgb_array")
    env.reset(seed=0, options={"task": [TL, BR]})
    canvas_goal = np.array([250, 200, 40])  # Canvas.GOAL

    def goal_pixel(frame, room, corner):
        unwrapped = env.unwrapped
        x, y = divmod(corner_cell(room, corner), 3)
        px, py = unwrapped._canvas.to_pixel(
            (x + 0.3, y - 1 + 0.3)
        )  # inside the square, off the digit
        return frame[py, px]

    frame = env.render()
    assert frame.shape == (env.unwrapped.frame_size[1], env.unwrapped.frame_size[0], 3)
    np.testing.assert_array_equal(goal_pixel(frame, 0, TL), canvas_goal)
    np.testing.assert_array_equal(goal_pixel(frame, 1, BR), canvas_goal)
    env.step(UP)  # goal 1 paid
    frame = env.render()
    assert not np.array_equal(goal_pixel(frame, 0, TL), canvas_goal)
    np.testing.assert_array_equal(goal_pixel(frame, 1, BR), canvas_goal)
