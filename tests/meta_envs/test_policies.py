"""Reference policies, evaluate_policy, reference returns and normalised scores."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import meta_envs
from meta_envs.policies import POLICY_KINDS, reference
from meta_envs.policies.reference import (
    SHIPPED_VARIANTS,
    _shipped_table,
    compute_reference_returns,
    shipped_arguments,
    shipped_meta_episodes,
    shipped_row,
    table_key,
    table_row,
)
from tests.meta_envs.conftest import ENV_IDS


def _without_task(info: dict) -> dict:
    return {key: value for key, value in info.items() if key != "task"}


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_explorer_never_reads_the_task(env_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The explorer is handed infos without the "task" key, and reading the env's task raises; it
    still earns exactly what it earns with both in place (so it never needed them)."""
    kwargs = {"num_sub_episodes": 2, "sub_episode_length": 40 if "Reacher" in env_id else 60}
    seeds = (0, 1) if "Reacher" in env_id else (0, 1, 2)
    expected = meta_envs.evaluate_policy(env_id, "explorer", len(seeds), seed=0, **kwargs).returns
    env = gym.make(env_id, **kwargs)
    explorer = meta_envs.make_policy("explorer", env)

    def forbidden(self):
        raise AssertionError("the explorer read the task")

    for seed, want in zip(seeds, expected, strict=True):
        obs, info = env.reset(seed=seed)
        with monkeypatch.context() as patch:
            patch.setattr(type(env.unwrapped), "task", property(forbidden))
            explorer.reset()
            total, truncated = 0.0, False
            while not truncated:
                action = explorer.act(obs, _without_task(info))
                obs, reward, _, truncated, info = env.step(action)
                total += reward
        assert total == pytest.approx(want, rel=1e-12, abs=1e-12)


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


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_two_explorers_act_identically(env_id: str) -> None:
    """Deterministic: two explorers (made from another instance where they are not bound to
    theirs) take the same actions on the same meta-episode."""
    kwargs = {"num_sub_episodes": 2, "sub_episode_length": 30}
    env = gym.make(env_id, **kwargs)
    first = meta_envs.make_policy("explorer", env)
    source = env if first.bound_env is not None else gym.make(env_id, **kwargs)
    second = meta_envs.make_policy("explorer", source)
    obs, info = env.reset(seed=7)
    first.reset()
    second.reset()
    truncated = False
    while not truncated:
        action = first.act(obs, info)
        np.testing.assert_array_equal(action, second.act(obs, info))
        obs, _, _, truncated, info = env.step(action)


#: (id, arguments) of the issue-13 example and one per id.
_ELSEWHERE_CASES = [
    ("meta_envs/RoomsN-v0", {"n": 1}),
    ("meta_envs/RoomsN-v0", {"n": 2, "sub_episode_length": 30}),
    ("meta_envs/PointRobot-v0", {"goal_radius": 0.3, "sub_episode_length": 40}),
    ("meta_envs/PointRobotWind-v0", {"sub_episode_length": 40}),
    ("meta_envs/EscapeRoom-v0", {"num_sub_episodes": 3}),
]


@pytest.mark.parametrize(("env_id", "kwargs"), _ELSEWHERE_CASES)
@pytest.mark.parametrize("kind", ["explorer", "oracle"])
def test_evaluate_policy_with_an_id_and_a_policy_made_elsewhere(
    env_id: str, kwargs: dict, kind: str
) -> None:
    """A reference policy made from another instance acts on the env evaluate_policy makes."""
    policy = meta_envs.make_policy(kind, gym.make(env_id, **kwargs))
    elsewhere = meta_envs.evaluate_policy(env_id, policy, 8, seed=3, **kwargs)
    here = meta_envs.evaluate_policy(env_id, kind, 8, seed=3, **kwargs)
    np.testing.assert_array_equal(elsewhere.returns, here.returns)
    if env_id == "meta_envs/RoomsN-v0" and kwargs == {"n": 1}:
        assert elsewhere.mean_return > 0  # the case returned -30 (the agent never moved)


def test_evaluate_policy_refuses_a_policy_for_other_arguments_or_a_bound_one() -> None:
    explorer = meta_envs.make_policy("explorer", gym.make("meta_envs/RoomsN-v0", n=3))
    with pytest.raises(ValueError, match="made for meta_envs/RoomsN-v0"):
        meta_envs.evaluate_policy("meta_envs/RoomsN-v0", explorer, 1, n=2)
    with pytest.raises(ValueError, match="made for"):
        meta_envs.evaluate_policy("meta_envs/EscapeRoom-v0", explorer, 1)
    # Without the reward in the observation the Point Robot explorer reads it from its own env.
    bare = {"meta_features": False, "num_sub_episodes": 1, "sub_episode_length": 20}
    bound = meta_envs.make_policy("explorer", gym.make("meta_envs/PointRobot-v0", **bare))
    assert bound.bound_env is not None
    with pytest.raises(ValueError, match="bound to the env instance"):
        meta_envs.evaluate_policy("meta_envs/PointRobot-v0", bound, 1, **bare)
    # ... and refuses the steps of another env in a hand-written loop.
    other = gym.make("meta_envs/PointRobot-v0", **bare)
    obs, info = other.reset(seed=0)
    obs, _, _, _, info = other.step(bound.act(obs, info))
    with pytest.raises(RuntimeError, match="bound to another env instance"):
        bound.act(obs, info)


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


#: Reacher-N's rows take long to recompute (MuJoCo steps): its quick check is slow too.
SLOW_TABLE_IDS = {"meta_envs/ReacherN-v0"}
#: Every row of the shipped table: (id, arguments), the defaults and the variants.
TABLE_ROWS = [(env_id, kwargs) for env_id in ENV_IDS for kwargs in shipped_arguments(env_id)]


def _row_params(rows: list[tuple[str, dict]], slow: set[str]) -> list:
    return [
        pytest.param(i, kw, id=table_key(i, **kw), marks=[pytest.mark.slow] if i in slow else [])
        for i, kw in rows
    ]


@pytest.mark.parametrize(("env_id", "kwargs"), _row_params(TABLE_ROWS, SLOW_TABLE_IDS))
def test_shipped_reference_table_check_is_reproducible(env_id: str, kwargs: dict) -> None:
    """The shipped row's quick check (the first 100 meta-episodes) is what the code gives now."""
    row = shipped_row(env_id, **kwargs)
    check = row["check"]
    got = compute_reference_returns(env_id, check["num_meta_episodes"], **kwargs)
    assert got == pytest.approx({k: check[k] for k in POLICY_KINDS}, rel=1e-9, abs=1e-9)
    shipped = meta_envs.reference_returns(env_id, **kwargs)
    assert gym.make(env_id, **kwargs).unwrapped.reference_returns == shipped
    assert shipped["random"] < shipped["explorer"] <= shipped["oracle"] + 1e-9
    for kind in POLICY_KINDS:
        # The sub-episode means come from the same meta-episodes as the total.
        assert sum(row["sub_episode_returns"][kind]) == pytest.approx(row[kind], rel=1e-9)
        # Sharp: the standard error is under 1% of the scale (explorer - random).
        assert 0.0 <= row["standard_error"][kind] < 0.01 * (row["explorer"] - row["random"])
    if row["exact_over_tasks"] is None:
        assert row["num_meta_episodes"] == shipped_meta_episodes(env_id)


@pytest.mark.slow
@pytest.mark.parametrize(("env_id", "kwargs"), _row_params(TABLE_ROWS, set()))
def test_shipped_reference_table_is_reproducible(env_id: str, kwargs: dict) -> None:
    """The whole shipped row (up to 10,000 meta-episodes per policy) recomputed."""
    shipped, row = shipped_row(env_id, **kwargs), table_row(env_id, **kwargs)
    assert shipped.keys() == row.keys()
    for key, value in row.items():
        if isinstance(value, dict) and key != "kwargs":
            for kind, x in value.items():
                assert np.asarray(shipped[key][kind]) == pytest.approx(np.asarray(x), rel=1e-9)
        elif value is None or isinstance(value, dict):
            assert shipped[key] == value, key
        else:
            assert shipped[key] == pytest.approx(value, rel=1e-9), key


def test_command_prints_the_shipped_table_without_computing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``python -m meta_envs.policies --shipped`` prints every stored row at once: nothing is
    evaluated, and each row's stored means appear in the output."""
    from meta_envs.policies import __main__ as command

    def no_computing(*args, **kwargs):
        raise AssertionError("--shipped must not compute")

    monkeypatch.setattr(command, "table_row", no_computing)
    monkeypatch.setattr(command, "write_table", no_computing)
    command.main(["--shipped"])
    out = capsys.readouterr().out
    assert len(_shipped_table()) == len(TABLE_ROWS)  # the table holds exactly the rows it covers
    for key, row in _shipped_table().items():
        assert f"{key} ({row['num_meta_episodes']} meta-episodes" in out
        for kind in POLICY_KINDS:
            assert f"{row[kind]:9.3f}" in out


@pytest.mark.parametrize(
    "argv",
    [["--shipped", "meta_envs/Unknown-v0"], ["--shipped", "-n", "5"], ["--shipped", "--write"]],
)
def test_command_rejects_bad_arguments(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from meta_envs.policies.__main__ import main

    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_normalized_score_scale() -> None:
    env_id = "meta_envs/EscapeRoom-v0"
    ref = meta_envs.reference_returns(env_id)
    assert meta_envs.normalized_score(env_id, ref["random"]) == pytest.approx(0.0)
    assert meta_envs.normalized_score(env_id, ref["explorer"]) == pytest.approx(1.0)


def test_reference_returns_for_other_arguments_are_computed_and_cached(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, dict]] = []

    def counting(env_id: str, num_meta_episodes: int = 200, **kwargs):
        calls.append((env_id, kwargs))
        return compute_reference_returns(env_id, num_meta_episodes, **kwargs)

    reference._cached.cache_clear()
    monkeypatch.setattr(reference, "compute_reference_returns", counting)
    kwargs = {"num_sub_episodes": 2, "sub_episode_length": 20}
    first = meta_envs.reference_returns("meta_envs/PointRobot-v0", **kwargs)
    assert len(calls) == 1
    assert first != meta_envs.reference_returns("meta_envs/PointRobot-v0")  # the shipped row
    assert first == meta_envs.reference_returns("meta_envs/PointRobot-v0", **kwargs)
    env = gym.make("meta_envs/PointRobot-v0", **kwargs)
    assert env.unwrapped.reference_returns == first
    assert len(calls) == 1  # served from the cache, not recomputed
    expected = meta_envs.evaluate_policy("meta_envs/PointRobot-v0", "oracle", 200, seed=0, **kwargs)
    assert first["oracle"] == pytest.approx(expected.mean_return)


@pytest.mark.parametrize(("env_id", "kwargs"), _row_params(TABLE_ROWS, set()))
def test_every_shipped_argument_set_has_a_row(
    env_id: str, kwargs: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipped table covers the default arguments of every id and the variants (Reacher-N with
    one goal): reference_returns reads the row and computes nothing."""
    row = shipped_row(env_id, **kwargs)
    assert row["kwargs"] == gym.make(env_id, **kwargs).unwrapped.reference_kwargs()
    assert row["random"] < row["explorer"] <= row["oracle"]

    def no_computing(*args, **kwargs):
        raise AssertionError("a shipped row must not be computed")

    monkeypatch.setattr(reference, "compute_reference_returns", no_computing)
    reference._cached.cache_clear()
    assert meta_envs.reference_returns(env_id, **kwargs) == {k: row[k] for k in POLICY_KINDS}


def test_table_keys_name_the_arguments_that_differ_from_the_defaults() -> None:
    reacher = "meta_envs/ReacherN-v0"
    assert SHIPPED_VARIANTS[reacher] == ({"n": 1},)
    assert table_key(reacher) == reacher
    assert table_key(reacher, n=2, sub_episode_length=300) == reacher  # the defaults, spelt out
    assert table_key(reacher, n=1) == f"{reacher} n=1"
    assert table_key(reacher, sub_episode_length=50, n=1) == f"{reacher} n=1 sub_episode_length=50"
    with pytest.raises(KeyError, match="no row for 'meta_envs/ReacherN-v0 n=3'"):
        shipped_row(reacher, n=3)
