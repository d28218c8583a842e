"""Rooms-N's reference policies: the explorer's expected returns against hand-computed values and
every corner order, what it reads (not the task), and oracle > explorer > random.

The env's own rules are tested in test_rooms.py.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import pytest

from meta_envs.envs.rooms import RoomsNEnv
from meta_envs.policies import make_policy
from meta_envs.policies.rooms import (
    ALL_CORNER_ORDERS,
    RoomsNCornerOrder,
    RoomsNExplorer,
    bayes_optimal_orders,
    expected_room_cost,
    visit_sequence,
)

ENV_ID = "meta_envs/RoomsN-v0"
TL, TR, BL, BR = range(4)


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
