"""results/search_starts.py: scripted search starts on Point Robot, with the shipped model."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "PointRobot-v0"

_spec = importlib.util.spec_from_file_location(
    "search_starts", ROOT / "results" / "search_starts.py"
)
assert _spec is not None and _spec.loader is not None
search_starts = importlib.util.module_from_spec(_spec)
sys.modules["search_starts"] = search_starts  # its dataclass looks its module up
_spec.loader.exec_module(search_starts)


def test_goal_angles_are_slice_centres() -> None:
    np.testing.assert_allclose(np.degrees(search_starts.goal_angles(4)), [22.5, 67.5, 112.5, 157.5])
    with pytest.raises(ValueError, match=">= 1"):
        search_starts.goal_angles(0)


@pytest.fixture(scope="module")
def agent():
    from mamba_agent.cli.inspect import load_agent

    model, env_id, env_kwargs, _ = load_agent(MODEL)
    envs = search_starts.make_envs(model, env_id, env_kwargs, 2)
    yield model, envs
    for env in envs:
        env.close()


def test_a_scripted_start_passes_the_goal_on_its_way(agent) -> None:
    """A start scripted to radius 0.9 at the goal's own angle comes within 0.1 of the goal (the
    goal radius is 0.2), so sub-episode 1 is rewarded whatever the actor does after it; a goal at
    the other end is not passed on the way."""
    model, envs = agent
    goals = np.radians([30.0, 150.0])
    result = search_starts.run_start(model, envs, goals, math.radians(30.0))
    assert result.angle == pytest.approx(30.0)
    assert result.found[0]
    assert result.returns[0] > 0
    assert np.isfinite(result.value) and result.discounted <= result.returns.mean() + 1e-9
    assert result.returns.shape == result.found.shape == (2,)


def test_the_agents_own_start_is_where_it_reaches_the_circle(agent) -> None:
    model, envs = agent
    result = search_starts.run_start(model, envs, np.radians([30.0, 150.0]), None)
    assert 0.0 <= result.angle <= 180.0
    assert np.isfinite(result.value)


def test_the_cli_prints_one_row_per_start_and_rejects_bad_input(capsys) -> None:
    assert search_starts.main([str(MODEL), "--angles", "10", "170", "--goals", "2"]) == 0
    out = capsys.readouterr().out
    assert "own choice" in out and "| 10° |" in out and "| 170° |" in out
    with pytest.raises(SystemExit) as bad:
        search_starts.main([str(MODEL), "--angles", "200"])
    assert bad.value.code == 2
