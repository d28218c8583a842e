"""``sweep-report`` on run directories written by hand: the table and the first-crossing column."""

from __future__ import annotations

from pathlib import Path

from mamba_agent.cli import main
from mamba_agent.cli.run_dir import RunDir
from mamba_agent.cli.sweep import first_reaching

ENV = "meta_envs/PointRobot-v0"


def make_run(path: Path, seed: int, scores: list[float]) -> None:
    run = RunDir(path)
    path.mkdir(parents=True)
    run.write_manifest({"env_id": ENV, "env_kwargs": {}, "seed": seed, "method": "mamba"})
    for i, score in enumerate(scores):
        row = {
            "timesteps": 1000 * (i + 1),
            "wall_time": 60.0 * (i + 1),
            "episodes": 10,
            "return_mean": 100.0 * score,
            "return_std": 1.0,
            "normalized_score": score,
        }
        run.append_eval(
            {**row, "sub_episode_1_return": score, "sub_episode_2_return": 2 * score}, 2
        )


def test_first_reaching() -> None:
    rows = [{"timesteps": t, "wall_time": 2.0 * t, "normalized_score": s}
            for t, s in [(1, 0.1), (2, 0.85), (3, 0.7), (4, 0.9)]]  # fmt: skip
    assert first_reaching(rows, 0.8) == (2, 4.0)
    assert first_reaching(rows, 0.95) is None
    assert first_reaching([{"timesteps": 1, "wall_time": 1.0}], 0.0) is None


def test_report_table(tmp_path: Path) -> None:
    make_run(tmp_path / "sweep" / "mamba" / "PointRobot-v0" / "seed0", 0, [0.2, 0.85, 0.9])
    make_run(tmp_path / "sweep" / "mamba" / "PointRobot-v0" / "seed1", 1, [0.1, 0.3, 0.5])
    out = tmp_path / "report" / "results.md"
    main(["sweep-report", str(tmp_path / "sweep"), "--out", str(out), "--threshold", "0.8"])
    text = out.read_text()
    # the summary row: mean ± std over the two seeds of the last evaluation
    assert f"| {ENV} | mamba | 2 | 70.00 ± 20.00 | 0.700 ± 0.200 | 0.7 ± 0.2 / 1.4 ± 0.4 |" in text
    assert "| 2000 steps, 2.0 min |" in text  # seed 0 first reached 0.85 at its second evaluation
    assert "| never |" in text  # seed 1 never did
    assert (tmp_path / "report" / "PointRobot-v0.png").is_file()


def test_report_of_run_directories_named_one_by_one(tmp_path: Path) -> None:
    make_run(tmp_path / "a", 0, [0.5, 0.9])
    make_run(tmp_path / "b" / "c", 1, [0.7])
    out = tmp_path / "results.md"
    main(["sweep-report", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(out)])
    text = out.read_text()
    assert f"| {ENV} | mamba | 2 | 80.00 ± 10.00 | 0.800 ± 0.100 |" in text
    assert main(["sweep-report", str(tmp_path / "nothing"), "--out", str(out)]) == 2
