"""Reference policies, evaluate_policy, reference returns and normalised scores."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import meta_envs
from meta_envs.policies.reference import compute_reference_returns
from tests.meta_envs.conftest import ENV_IDS


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_explorer_never_reads_the_task(env_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    env = gym.make(env_id, num_sub_episodes=2)
    explorer = meta_envs.make_policy("explorer", env)
    obs, info = env.reset(seed=0)
    explorer.reset()
    cls = type(env.unwrapped)

    def forbidden(self):
        raise AssertionError("the explorer read the task")

    monkeypatch.setattr(cls, "task", property(forbidden))
    for _ in range(env.unwrapped.meta_episode_length):
        obs, _, _, truncated, info = env.step(explorer.act(obs, info))
    assert truncated


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_policies_are_ordered_random_explorer_oracle(env_id: str) -> None:
    results = {
        kind: meta_envs.evaluate_policy(env_id, kind, 20, seed=100)
        for kind in ("random", "explorer", "oracle")
    }
    assert results["random"].mean_return < results["explorer"].mean_return
    assert results["explorer"].mean_return <= results["oracle"].mean_return + 1e-9
    # The explorer pays for exploring in the first sub-episode only.
    explorer, oracle = (
        results["explorer"].sub_episode_returns,
        results["oracle"].sub_episode_returns,
    )
    assert explorer[0] < explorer[-1]
    assert explorer[-1] >= 0.9 * oracle[-1]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_deterministic_policies(env_id: str) -> None:
    for kind in ("explorer", "oracle"):
        a = meta_envs.evaluate_policy(env_id, kind, 3, seed=5, num_sub_episodes=2).returns
        b = meta_envs.evaluate_policy(env_id, kind, 3, seed=5, num_sub_episodes=2).returns
        np.testing.assert_array_equal(a, b)
    a = meta_envs.evaluate_policy(env_id, "random", 3, seed=5, num_sub_episodes=2).returns
    b = meta_envs.evaluate_policy(env_id, "random", 3, seed=5, num_sub_episodes=2).returns
    np.testing.assert_array_equal(a, b)


def test_evaluate_policy_seeds_and_sums() -> None:
    env = gym.make("meta_envs/PointRobot-v0", num_sub_episodes=2, sub_episode_length=30)
    oracle = meta_envs.make_policy("oracle", env)
    result = meta_envs.evaluate_policy(env, oracle, 4, seed=10)
    assert result.returns.shape == (4,) and result.sub_episode_returns.shape == (2,)
    assert result.mean_return == pytest.approx(result.returns.mean())
    assert result.std_return == pytest.approx(result.returns.std())
    assert result.sub_episode_returns.sum() == pytest.approx(result.mean_return)
    # Meta-episode m is reset(seed=10 + m): replay the third one by hand.
    obs, info = env.reset(seed=12)
    oracle.reset()
    total = 0.0
    for _ in range(60):
        obs, reward, _, _, info = env.step(oracle.act(obs, info))
        total += reward
    assert total == pytest.approx(result.returns[2], rel=1e-12)


def test_evaluate_policy_fixed_tasks_and_errors() -> None:
    tasks = [np.array([1.0, 0.0]), np.array([-1.0, 0.0])]
    result = meta_envs.evaluate_policy("meta_envs/PointRobot-v0", "oracle", 4, tasks=tasks)
    assert result.returns[0] == result.returns[2] and result.returns[1] == result.returns[3]
    with pytest.raises(ValueError, match="num_meta_episodes"):
        meta_envs.evaluate_policy("meta_envs/PointRobot-v0", "oracle", 0)
    with pytest.raises(TypeError, match="env_kwargs"):
        meta_envs.evaluate_policy(
            gym.make("meta_envs/PointRobot-v0"), "oracle", 1, num_sub_episodes=2
        )


def test_make_policy_errors() -> None:
    env = gym.make("meta_envs/PointRobot-v0")
    with pytest.raises(ValueError, match="kind"):
        meta_envs.make_policy("expert", env)
    with pytest.raises(TypeError, match="meta_envs"):
        meta_envs.make_policy("explorer", gym.make("CartPole-v1"))


def test_policy_objects_are_callables() -> None:
    env = gym.make("meta_envs/EscapeRoom-v0")
    policy = meta_envs.make_policy("explorer", env)
    obs, info = env.reset(seed=0)
    assert env.action_space.contains(policy(obs, info))


#: Reacher-N's table row takes ~25 s to recompute (600 meta-episodes of 900 MuJoCo steps).
SLOW_TABLE_IDS = {"meta_envs/ReacherN-v0"}


@pytest.mark.parametrize(
    "env_id",
    [pytest.param(i, marks=pytest.mark.slow) if i in SLOW_TABLE_IDS else i for i in ENV_IDS],
)
def test_shipped_reference_table_is_reproducible(env_id: str) -> None:
    shipped = meta_envs.reference_returns(env_id)
    assert shipped == pytest.approx(compute_reference_returns(env_id), rel=1e-9)
    assert gym.make(env_id).unwrapped.reference_returns == shipped
    assert shipped["random"] < shipped["explorer"] <= shipped["oracle"] + 1e-9


def test_normalized_score_scale() -> None:
    env_id = "meta_envs/EscapeRoom-v0"
    ref = meta_envs.reference_returns(env_id)
    assert meta_envs.normalized_score(env_id, ref["random"]) == pytest.approx(0.0)
    assert meta_envs.normalized_score(env_id, ref["explorer"]) == pytest.approx(1.0)


def test_reference_returns_for_other_arguments_are_computed_and_cached() -> None:
    kwargs = {"num_sub_episodes": 2, "sub_episode_length": 20}
    first = meta_envs.reference_returns("meta_envs/PointRobot-v0", **kwargs)
    assert first != meta_envs.reference_returns("meta_envs/PointRobot-v0")
    assert first == meta_envs.reference_returns("meta_envs/PointRobot-v0", **kwargs)
    env = gym.make("meta_envs/PointRobot-v0", **kwargs)
    assert env.unwrapped.reference_returns == first
    expected = meta_envs.evaluate_policy("meta_envs/PointRobot-v0", "oracle", 200, seed=0, **kwargs)
    assert first["oracle"] == pytest.approx(expected.mean_return)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_every_id_has_a_shipped_row(env_id: str) -> None:
    """The shipped table covers the default arguments of every id (no silent recomputation)."""
    from meta_envs.policies.reference import _shipped_table

    row = _shipped_table()[env_id]
    assert row["kwargs"] == gym.make(env_id).unwrapped.reference_kwargs()
    assert row["random"] < row["explorer"] <= row["oracle"]
