"""Rooms-N: grid rules, rewards, observation, tasks, the vector env and the reference policies.

The registry-wide contract (determinism, boundary semantics, bad arguments, rendering) is tested in
test_contract.py, test_vector.py and test_rendering.py; this module tests what is Rooms-N's own.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import pytest

from meta_envs.envs.rooms import RoomsNEnv, corner_cell, grid_width
from meta_envs.policies import make_policy
from meta_envs.policies.rooms import (
    ALL_CORNER_ORDERS,
    RoomsNCornerOrder,
    RoomsNExplorer,
    RoomsNOracle,
    bayes_optimal_orders,
    expected_room_cost,
    visit_sequence,
)

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


# ---------------------------------------------------------------------------------- policies
def first_sub_episode_return(
    n: int, horizon: int, policy_factory: Callable[[RoomsNEnv], object], bound: bool = False
) -> float:
    """Mean first-sub-episode return over all 4^n tasks (exact: the policies are deterministic).

    With ``bound=True`` each episode stops when the last goal first pays and counts +1 (the most
    any step pays) for every remaining step: an upper bound of the return, equal to it for a
    policy that then stays on the last goal.
    """
    env = RoomsNEnv(n=n, num_sub_episodes=1, sub_episode_length=horizon)
    policy = policy_factory(env)
    returns = []
    for task in itertools.product(range(4), repeat=n):
        obs, info = env.reset(seed=0, options={"task": task})
        policy.reset()
        total = 0.0
        for t in range(1, horizon + 1):
            obs, reward, _, _, info = env.step(policy.act(obs, info))
            total += reward
            if bound and info["goals_reached"] == n:
                total += horizon - t
                break
        else:
            assert info["final_goals_reached"] == n, (task, "search not finished within H")
        returns.append(total)
    return float(np.mean(returns))


def meta_episode_returns(env: gym.Env, policy, task) -> np.ndarray:
    """Per-sub-episode returns of one meta-episode on ``task``."""
    obs, info = env.reset(seed=0, options={"task": task})
    policy.reset()
    unwrapped = env.unwrapped
    returns = np.zeros(unwrapped.num_sub_episodes)
    truncated = False
    while not truncated:
        k = info["sub_episode"]
        obs, reward, _, truncated, info = env.step(policy.act(obs, info))
        returns[k] += reward
    return returns


def test_explorer_expected_return_for_one_room_is_the_hand_computed_value() -> None:
    # One room, entry (0, 0), goal uniform over the corners. The explorer's order is top-left,
    # top-right, bottom-right, bottom-left: it stands on them after 1, 3, 5 and 7 steps (1 step up,
    # then 2 steps along each wall; after three misses the fourth corner is the goal). Arriving at
    # step T, the sub-episode pays -0.1 for T - 1 steps and +1 for the H - T + 1 others:
    # H - 1.1 (T - 1). E[T - 1] = (0 + 2 + 4 + 6) / 4 = 3, so with H = 100:
    # (100 + 97.8 + 95.6 + 93.4) / 4 = 100 - 1.1 * 3 = 96.7.
    assert bayes_optimal_orders(1) == [(TL, TR, BR, BL)]
    assert expected_room_cost(1, 0, (TL, TR, BR, BL)) == 4.0
    assert first_sub_episode_return(1, 100, RoomsNExplorer) == pytest.approx(96.7, abs=1e-9)


def _best_expected_room_cost(last: bool) -> float:
    """Least expected steps over all 24 visit sequences, from plain geometry (not the policy code).

    Room cells (x, y), x = 0..2, y = -1..1; the entry is (0, 0), the exit (2, 0). A room is convex,
    so the shortest path between two of its cells is the Manhattan distance; a path that passes
    over a corner is the visit sequence with that corner inserted, at no extra cost.
    """
    corners = [(0, 1), (2, 1), (0, -1), (2, -1)]

    def distance(a, b):
        return abs(a[0] - b[0]) + abs(a[1] - b[1])

    best = math.inf
    for order in itertools.permutations(range(4)):
        total = 0
        for goal in range(4):
            here, steps = (0, 0), 0
            for code in order:
                steps += distance(here, corners[code])
                here = corners[code]
                if code == goal:
                    break
            total += steps if last else steps + distance(here, (2, 0))
        best = min(best, total / 4)
    return best


def test_geometric_optimum_matches_the_explorer_room_costs() -> None:
    assert _best_expected_room_cost(last=False) == 6.0
    assert _best_expected_room_cost(last=True) == 4.0
    orders = bayes_optimal_orders(3)
    assert orders == [(TL, TR, BR, BL)] * 3
    assert [expected_room_cost(3, room, order) for room, order in enumerate(orders)] == [
        6.0,
        6.0,
        4.0,
    ]
    # The four equally good visit sequences: sweeps round the room starting on a left corner.
    best = {
        visit_sequence(3, 0, o) for o in ALL_CORNER_ORDERS if expected_room_cost(3, 0, o) == 6.0
    }
    assert best == {(TL, TR, BR, BL), (TL, BL, BR, TR), (BL, TL, TR, BR), (BL, BR, TR, TL)}


@pytest.mark.parametrize(("n", "horizon"), [(1, 30), (2, 40)])
def test_no_corner_order_beats_the_explorer(n: int, horizon: int) -> None:
    """Every combination of per-room corner orders (24^n), executed, averaged over all 4^n tasks."""
    explorer = first_sub_episode_return(n, horizon, RoomsNExplorer)
    assert first_sub_episode_return(n, horizon, RoomsNExplorer, bound=True) == explorer
    best = -math.inf
    for orders in itertools.product(ALL_CORNER_ORDERS, repeat=n):
        value = first_sub_episode_return(
            n, horizon, lambda env, o=orders: RoomsNCornerOrder(env, list(o)), bound=True
        )
        assert value <= explorer + 1e-9, orders
        best = max(best, value)
    assert best == pytest.approx(explorer, abs=1e-9)
    # E[T] = 6 per non-last room + 4 corridor steps + 4 in the last room; return H - 1.1 (E[T] - n).
    expected_t = 10 * (n - 1) + 4
    assert explorer == pytest.approx(horizon - 1.1 * (expected_t - n), abs=1e-9)


def test_orders_with_the_same_visit_sequence_behave_the_same() -> None:
    # Passing over a corner on the way to another is free information: TR first passes TL.
    a, b = (TR, TL, BR, BL), (TL, TR, BR, BL)
    assert visit_sequence(1, 0, a) == visit_sequence(1, 0, b) == b
    assert expected_room_cost(1, 0, a) == expected_room_cost(1, 0, b) == 4.0
    returns = [
        first_sub_episode_return(1, 20, lambda env, o=o: RoomsNCornerOrder(env, o)) for o in (a, b)
    ]
    assert returns[0] == returns[1]


def test_explorer_learns_without_reading_the_task(monkeypatch: pytest.MonkeyPatch) -> None:
    env = gym.make(ENV_ID)
    explorer = make_policy("explorer", env)
    assert isinstance(explorer, RoomsNExplorer)

    def forbidden(self):
        raise AssertionError("the explorer read the task")

    obs, info = env.reset(seed=4)
    task = env.unwrapped.task
    monkeypatch.setattr(RoomsNEnv, "task", property(forbidden))
    explorer.reset()
    truncated = False
    while not truncated:
        blind = {key: value for key, value in info.items() if key != "task"}
        obs, _, _, truncated, info = env.step(explorer.act(obs, blind))
    assert explorer.goals == task.tolist()


@pytest.mark.parametrize("task", list(itertools.product(range(4), repeat=3)))
def test_explorer_later_sub_episodes_equal_the_oracle(task) -> None:
    env = gym.make(ENV_ID)
    explorer = meta_episode_returns(env, make_policy("explorer", env), task)
    oracle = meta_episode_returns(env, make_policy("oracle", env), task)
    np.testing.assert_allclose(explorer[1:], oracle[1:], atol=1e-9)
    # The oracle walks 4 steps through each non-last room, 4 corridor steps between rooms, and 1 or
    # 3 steps to the last goal: T = 17 or 19, return H - 1.1 (T - n).
    t = 17 if task[2] in (TL, BL) else 19
    np.testing.assert_allclose(oracle, 100 - 1.1 * (t - 3), atol=1e-9)


@pytest.mark.parametrize(("horizon", "first_return"), [(7, 0.4), (5, -0.5)])
def test_explorer_learns_from_the_reward_of_a_boundary_step(
    horizon: int, first_return: float
) -> None:
    # Goal bottom-left, searched last (TL at step 1, TR at 3, BR at 5, BL at 7). With H = 7 the
    # goal pays on the boundary step (six -0.1 steps, then +1); with H = 5 the third miss (BR) is
    # on the boundary step and reveals BL (five -0.1 steps). Either way the next sub-episode goes
    # straight down to the goal and stays: 1 + (H - 1) = H.
    env = gym.make(ENV_ID, n=1, num_sub_episodes=2, sub_episode_length=horizon)
    explorer = make_policy("explorer", env)
    returns = meta_episode_returns(env, explorer, [BL])
    assert explorer.goals == [BL]
    assert returns[0] == pytest.approx(first_return, abs=1e-9)
    assert returns[1] == pytest.approx(horizon, abs=1e-9)


def test_explorer_keeps_searching_across_short_sub_episodes() -> None:
    # H = 24 is too short to search three rooms in one sub-episode for some tasks (up to 35 steps);
    # what was learned is kept, so by the last sub-episode the explorer walks the oracle's path.
    env = gym.make(ENV_ID, num_sub_episodes=4, sub_episode_length=24)
    still_searching = 0
    for task in itertools.product(range(4), repeat=3):
        explorer = make_policy("explorer", env)
        returns = meta_episode_returns(env, explorer, task)
        oracle = meta_episode_returns(env, make_policy("oracle", env), task)
        assert explorer.goals == list(task)
        assert returns[-1] == pytest.approx(oracle[-1], abs=1e-9)
        still_searching += returns[1] < oracle[1] - 1e-9
    assert still_searching > 0  # for some tasks the search did go on in the second sub-episode


def test_corner_order_policy_validates_orders() -> None:
    env = RoomsNEnv(n=2)
    RoomsNCornerOrder(env, (0, 1, 2, 3))
    RoomsNCornerOrder(env, [(0, 1, 2, 3), (3, 2, 1, 0)])
    for bad in [(0, 1, 2), (0, 1, 2, 2), [(0, 1, 2, 3)] * 3, (0, 1, 2, 4)]:
        with pytest.raises(ValueError, match="order"):
            RoomsNCornerOrder(env, bad)


def test_oracle_beats_explorer_beats_random_with_default_arguments() -> None:
    env = gym.make(ENV_ID)
    tasks = list(itertools.product(range(4), repeat=3))
    explorer = np.mean(
        [meta_episode_returns(env, make_policy("explorer", env), t).sum() for t in tasks]
    )
    oracle = np.mean(
        [meta_episode_returns(env, make_policy("oracle", env), t).sum() for t in tasks]
    )
    # Hand values: oracle 3 * 83.5 (E[T] = 18); explorer 76.9 (E[T] = 24) + 2 * 83.5.
    assert oracle == pytest.approx(250.5, abs=1e-9)
    assert explorer == pytest.approx(243.9, abs=1e-9)
    random_policy = make_policy("random", env, seed=0)
    random_returns = []
    for m in range(10):
        obs, info = env.reset(seed=m)
        random_policy.reset()
        total, truncated = 0.0, False
        while not truncated:
            obs, reward, _, truncated, info = env.step(random_policy.act(obs, info))
            total += reward
        random_returns.append(total)
    assert oracle > explorer > np.mean(random_returns)


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
