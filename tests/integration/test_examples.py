"""Every example script runs as a user copies it (with small budgets)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(script: str, *args: str, cwd: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SDL_VIDEODRIVER": "dummy",
           "OMP_NUM_THREADS": "1"}  # fmt: skip
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory) -> Path:
    import meta_envs  # noqa: F401
    from mamba_agent import MAMBA

    path = tmp_path_factory.mktemp("model") / "model.zip"
    kwargs = {"num_sub_episodes": 2, "sub_episode_length": 10}
    model = MAMBA("meta_envs/PointRobot-v0", preset="tiny", seed=0, env_kwargs=kwargs)
    model.learn(80)
    model.save(path)
    return path


def test_custom_meta_env(tmp_path):
    out = run("custom_meta_env.py", "--steps", "200", cwd=tmp_path)
    assert "per sub-episode" in out


def test_sb3_callbacks(tmp_path):
    out = run("sb3_callbacks.py", "--steps", "1300", "--every", "150", "--out", "run",
              cwd=tmp_path)  # fmt: skip
    assert "rl_model_600_steps.zip" in out and "meta-episodes in replay" in out
    assert (tmp_path / "run" / "best" / "best_model.zip").is_file()


def test_evaluate_saved_model(tmp_path, saved_model):
    out = run("evaluate_saved_model.py", str(saved_model), "--episodes", "3", cwd=tmp_path)
    assert "normalised score" in out and "SB3 evaluate_policy" in out


def test_make_video(tmp_path, saved_model):
    out = run("make_video.py", str(saved_model), "--out", "a.mp4", "--episodes", "1",
              cwd=tmp_path)  # fmt: skip
    assert (tmp_path / "a.mp4").stat().st_size > 0 and "21 frames" in out


def test_rl2_recurrent_ppo(tmp_path):
    pytest.importorskip("sb3_contrib")
    out = run("rl2_recurrent_ppo.py", "--steps", "600", "--episodes", "2", cwd=tmp_path)
    assert "RecurrentPPO on meta_envs/PointRobot-v0" in out and "normalised score" in out
