"""The world-model reward trace: real rewards as evaluation sees them, predictions beside them."""

from __future__ import annotations

import numpy as np
import pytest

import meta_envs  # noqa: F401  (registers the ids)
from mamba_agent import MAMBA
from mamba_agent.diagnostics import main, trace_rewards
from mamba_agent.evaluation import evaluate_meta_episodes

ENV = "meta_envs/PointRobot-v0"


@pytest.fixture(scope="module")
def model() -> MAMBA:
    agent = MAMBA(ENV, preset="tiny", seed=0, device="cpu")
    agent.learn(600)
    return agent


def test_real_rewards_are_those_of_the_evaluation(model: MAMBA) -> None:
    trace = trace_rewards(model, ENV, 3, seed=5)
    assert trace.real.shape == trace.prior.shape == trace.posterior.shape == (3, 300)
    result = evaluate_meta_episodes(model, ENV, 3, seed=5)
    np.testing.assert_allclose(trace.real.sum(1), result.returns, rtol=1e-6, atol=1e-6)
    assert result.sub_episode_returns is not None
    rows = trace.per_sub_episode()
    assert [r["sub_episode"] for r in rows] == [1, 2, 3]
    np.testing.assert_allclose(
        [r["real"] for r in rows], result.sub_episode_returns.mean(0), rtol=1e-6, atol=1e-6
    )
    # every step belongs to a sub-episode of 100 steps
    assert [(trace.sub_episode[0] == k).sum() for k in range(3)] == [100, 100, 100]
    assert np.isfinite(trace.value).all()


def test_command_prints_a_row_per_sub_episode(
    model: MAMBA, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = model.save(tmp_path / "model.zip")
    main([str(path), "--episodes", "2"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith(ENV)
    assert [line.split()[0] for line in lines[2:]] == ["1", "2", "3"]


def test_per_sub_episode_on_a_hand_made_trace() -> None:
    from mamba_agent.diagnostics import RewardTrace

    # two meta-episodes of 2 sub-episodes x 3 steps
    sub = np.array([[0, 0, 0, 1, 1, 1]] * 2)
    real = np.array([[0, 1, 1, 0, 0, 1], [0, 0, 0, 0, 1, 1]], float)
    prior = np.array([[0, 0, 1, 0, 0, 0.5], [0, 0, 0, 0, 0.2, 1]], float)
    rows = RewardTrace(real, prior, real, np.zeros_like(real), sub).per_sub_episode()
    assert rows[0]["real"] == 1.0 and rows[0]["prior"] == 0.5 and rows[0]["rewarded"] == 0.5
    assert rows[0]["first_prior"] == 0.0 and rows[0]["revisits"] == 0
    assert rows[1]["rewarded"] == 1.0 and rows[1]["first_prior"] == pytest.approx(0.35)
    # only the first meta-episode was rewarded before sub-episode 2: its arrival was predicted 0.5
    assert rows[1]["revisits"] == 1 and rows[1]["revisit_prior"] == 0.5


def test_per_meta_episode_rows_on_a_hand_made_trace() -> None:
    from mamba_agent.diagnostics import RewardTrace

    sub = np.array([[0, 0, 0, 1, 1, 1]] * 2)
    real = np.array([[0, 1, 1, 0, 0, 1], [0, 0, 0, 0, 0, 0]], float)
    trace = RewardTrace(real, real, real, np.zeros_like(real), sub, tasks=["a", "b"])
    rows = trace.per_meta_episode()
    assert rows[0] == {
        "task": "a",
        "return": 3.0,
        "sub_returns": [2.0, 1.0],
        "first_reward": [1, 2],
    }
    assert rows[1]["first_reward"] == [None, None] and rows[1]["return"] == 0.0
    assert RewardTrace(real, real, real, real, sub).per_meta_episode()[0]["task"] is None


def test_trace_records_each_meta_episodes_task(model: MAMBA) -> None:
    import gymnasium as gym

    trace = trace_rewards(model, ENV, 3, seed=5)
    assert trace.tasks is not None and len(trace.tasks) == 3
    env = gym.make(ENV)
    for i, task in enumerate(trace.tasks):
        env.reset(seed=5 + i)
        np.testing.assert_array_equal(task, env.unwrapped.task)
    rows = trace.per_meta_episode()
    np.testing.assert_allclose([r["return"] for r in rows], trace.real.sum(1), rtol=1e-6)


def test_command_per_task_prints_a_row_per_meta_episode_sorted_by_task(
    model: MAMBA, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = model.save(tmp_path / "model.zip")
    main([str(path), "--episodes", "4", "--per-task"])
    out = capsys.readouterr().out
    rows = out.split("sorted by task")[1].strip().splitlines()[2:]
    assert len(rows) == 4
    xs = [float(row.split(")")[0].strip().lstrip("(").split(",")[0]) for row in rows]
    assert xs == sorted(xs)
