"""``mamba-agent sweep`` on Ray: trials are ordinary run directories; a trial's training process
killed with ``kill -9`` is resumed from its checkpoint, and so is a trial whose Ray worker is
killed (Ray retries the task); the same sweep run again skips finished
trials and resumes unfinished ones; a sweep runs on an existing cluster (``ray start --head``);
``sweep-report`` writes the table and the curves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")
if not sys.platform.startswith("linux"):
    pytest.skip("the tests read /proc to find a trial's Ray worker", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
ENV = "meta_envs/PointRobot-v0"
COMMON = [
    "--envs", ENV, "--env-kwargs", "num_sub_episodes=2", "sub_episode_length=10",
    "--preset", "tiny", "--rl2-preset", "rl2_tiny", "--steps", "400", "--set", "train_ratio=0.5",
    "--train-args=--eval-every 200 --eval-episodes 2 --final-eval-episodes 3 "
    "--checkpoint-every 0.002 --log-interval 1",
]  # fmt: skip


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "SDL_VIDEODRIVER": "dummy",
            "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}  # fmt: skip


def sweep(*args: str) -> list[str]:
    return [sys.executable, "-m", "mamba_agent", "sweep", *COMMON, *args]


def eval_steps(run: Path) -> list[int]:
    lines = (run / "eval.csv").read_text().splitlines()[1:]
    return [int(line.split(",")[0]) for line in lines]


def test_local_sweep_kill_9_rerun_and_report(tmp_path):
    out = tmp_path / "sweep"
    cmd = sweep("--seeds", "0", "1", "--methods", "mamba", "--out", str(out))
    proc = subprocess.Popen(cmd, env=env(), stdout=subprocess.PIPE, text=True)
    victim = out / "mamba" / "PointRobot-v0" / "seed0"
    try:
        end = time.monotonic() + 600
        while not ((victim / "checkpoint.pt").exists() and (victim / "progress.csv").exists()
                   and len((victim / "progress.csv").read_text().splitlines()) > 3):  # fmt: skip
            assert proc.poll() is None and time.monotonic() < end, "the trial did not progress"
            time.sleep(0.05)
        pid = int((victim / "sweep_trial.pid").read_text())
        os.kill(pid, signal.SIGKILL)  # the trial's training process
        # the Ray worker running seed 1's task: Ray retries the task, the retry resumes the run
        other = out / "mamba" / "PointRobot-v0" / "seed1"
        while not (other / "checkpoint.pt").exists():
            assert proc.poll() is None and time.monotonic() < end, "seed 1 did not progress"
            time.sleep(0.05)
        trainer = int((other / "sweep_trial.pid").read_text())
        worker = int(Path(f"/proc/{trainer}/stat").read_text().rsplit(")", 1)[1].split()[1])
        assert b"ray" in Path(f"/proc/{worker}/cmdline").read_bytes().lower()  # a Ray worker
        os.kill(worker, signal.SIGKILL)
        stdout, _ = proc.communicate(timeout=900)
    finally:
        proc.kill()
    assert proc.returncode == 0, stdout
    assert "seed 0: finished" in stdout and "seed 1: finished" in stdout
    log = (victim / "sweep_trial.log").read_text()
    assert "train --resume" in log and "resuming at" in log  # retried from its checkpoint
    other_log = (out / "mamba" / "PointRobot-v0" / "seed1" / "sweep_trial.log").read_text()
    assert "train --resume" in other_log  # the task Ray retried resumed the run
    for seed in (0, 1):
        run = out / "mamba" / "PointRobot-v0" / f"seed{seed}"
        assert (run / "model.zip").is_file()
        assert eval_steps(run) == [200, 400]  # no duplicated rows (the last: the final one)
    # the same command again: everything finished, nothing trained
    again = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "2 finished (skipped), 0 to resume, 0 to start" in again.stdout
    # an unfinished trial is resumed by the same command: seed 1 as if it had crashed after its
    # last checkpoint before the final evaluation (not finished, the final eval.csv row not in it)
    from mamba_agent.persistence import atomic_torch_save, safe_torch_load

    ckpt = out / "mamba" / "PointRobot-v0" / "seed1" / "checkpoint.pt"
    state = safe_torch_load(ckpt)
    state["run"]["finished"] = False
    state["run"]["eval_rows"] -= 1
    atomic_torch_save(state, ckpt)
    resumed = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "1 finished (skipped), 1 to resume, 0 to start" in resumed.stdout
    assert eval_steps(out / "mamba" / "PointRobot-v0" / "seed1") == [200, 400]
    report = tmp_path / "report" / "results.md"
    subprocess.run([sys.executable, "-m", "mamba_agent", "sweep-report", str(out), "--out",
                    str(report)], env=env(), check=True, timeout=120)  # fmt: skip
    text = report.read_text()
    assert f"| {ENV} | mamba tiny train_ratio=0.5 | 2 |" in text  # method and settings
    assert "mamba/PointRobot-v0/seed1" in text
    assert (tmp_path / "report" / "PointRobot-v0.png").is_file()


def test_sweep_on_an_existing_ray_cluster(tmp_path):
    ray = [str(Path(sys.executable).with_name("ray"))]
    if not Path(ray[0]).exists():
        ray = [sys.executable, "-m", "ray.scripts.scripts"]
    port = 6300 + os.getpid() % 500
    head = [*ray, "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
            "--disable-usage-stats"]  # fmt: skip
    subprocess.run(head, env=env(), check=True, capture_output=True, timeout=180)
    try:
        out = tmp_path / "sweep"
        result = subprocess.run(
            sweep("--seeds", "0", "--methods", "mamba", "rl2", "--out", str(out), "--address",
                  f"127.0.0.1:{port}"),
            env=env(), capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"cluster 127.0.0.1:{port}" in result.stdout
        for method in ("mamba", "rl2"):
            run = out / method / "PointRobot-v0" / "seed0"
            assert (run / "model.zip").is_file() and eval_steps(run)[-1] == 400
    finally:
        subprocess.run([*ray, "stop", "--force"], env=env(), capture_output=True, timeout=120)


def test_sweep_input_errors(tmp_path):
    from mamba_agent.cli import main

    assert main(["sweep", "--envs", ENV, "--out", str(tmp_path)]) == 2  # no budget
    assert main(["sweep", "--envs", "meta_envs/Nope-v0", "--steps", "10", "--out",
                 str(tmp_path)]) == 2  # fmt: skip
    assert not any(tmp_path.iterdir())
