"""The ``mamba-agent`` command line on meta_envs ids: a run directory, ``kill -9`` (also mid-write of
a checkpoint) and SIGTERM followed by ``--resume`` that continues exactly as the uninterrupted run,
clear one-line errors, and the eval / render / plot commands on a trained run."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest
import torch

from mamba_agent import MAMBA
from mamba_agent.cli import main
from mamba_agent.persistence import safe_torch_load

ROOT = Path(__file__).resolve().parents[2]
ENV = "meta_envs/PointRobot-v0"
# 20-step meta-episodes (2 sub-episodes of 10), 2 envs: one collection = 40 env steps
ENV_KWARGS_DICT = {"num_sub_episodes": 2, "sub_episode_length": 10}
ENV_KWARGS = [f"{k}={v}" for k, v in ENV_KWARGS_DICT.items()]
STEPS = 480
TRAIN_ARGS = [
    "train", "--env", ENV, "--env-kwargs", *ENV_KWARGS, "--preset", "tiny", "--steps", str(STEPS),
    "--seed", "3", "--threads", "1", "--eval-every", "120", "--eval-episodes", "3",
    "--final-eval-episodes", "4", "--log-interval", "1", "--verbose", "0", "--no-progress",
    "--set", "train_ratio=2.0",
]  # fmt: skip
LOSS_COLUMNS = (
    "world_model/recon_loss",
    "world_model/kl",
    "behavior/actor_loss",
    "train/n_updates",
)


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "mamba_agent", *args]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "SDL_VIDEODRIVER": "dummy"}


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def losses(run: Path) -> list[tuple]:
    out = []
    for row in rows(run / "progress.csv"):
        out.append(tuple([row["time/total_timesteps"]] + [row.get(k, "") for k in LOSS_COLUMNS]))
    return out


def evals(run: Path) -> list[tuple]:
    keep = ("timesteps", "episodes", "return_mean", "return_std", "normalized_score")
    return [tuple(r[k] for k in keep) for r in rows(run / "eval.csv")]


def replay_of(path: Path) -> dict[str, torch.Tensor]:
    return safe_torch_load(path)["replay"]


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory) -> Path:
    """The uninterrupted run every interrupted one is compared with."""
    run = tmp_path_factory.mktemp("cli") / "uninterrupted"
    subprocess.run(cli(*TRAIN_ARGS, "--run-dir", str(run)), env=env(), check=True, timeout=300)
    return run


def wait_for(predicate, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, f"training ended before the test could interrupt it: {proc}"
        assert time.monotonic() < end, "timed out waiting for the run to progress"
        time.sleep(0.02)


def progressed(run: Path, min_rows: int):
    def check() -> bool:
        path = run / "progress.csv"
        return (
            (run / "checkpoint.pt").exists()
            and path.exists()
            and (len(path.read_text().splitlines()) > min_rows)
        )

    return check


def assert_same_as_reference(run: Path, reference: Path) -> None:
    assert losses(run) == losses(reference)  # no duplicated, no missing rows, same numbers
    assert evals(run) == evals(reference)
    final, ref = (
        safe_torch_load(run / "checkpoint.pt"),
        safe_torch_load(reference / "checkpoint.pt"),
    )
    assert final["counters"] == ref["counters"]
    assert final["counters"]["num_timesteps"] >= STEPS
    a, b = final["replay"], ref["replay"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # each episode once
    assert (run / "model.zip").is_file()


def test_run_directory_contents(reference_run):
    manifest = json.loads((reference_run / "manifest.json").read_text())
    assert manifest["env_id"] == ENV and manifest["seed"] == 3
    assert manifest["env_kwargs"] == {"num_sub_episodes": 2, "sub_episode_length": 10}
    assert set(manifest["versions"]) >= {"python", "torch", "numpy", "gymnasium", "mamba_agent"}
    assert manifest["machine"]["cores"] >= 1 and manifest["preset_resolved"] == "tiny"
    assert set(manifest["reference_returns"]) == {"random", "explorer", "oracle"}
    config = (reference_run / "config.toml").read_text()
    assert "[world_model]" in config and "train_ratio = 2.0" in config
    assert list(reference_run.glob("events.out.tfevents.*"))
    ev = rows(reference_run / "eval.csv")
    # every 120 steps on 3 meta-episodes; the final evaluation at the budget on 4
    assert [(int(r["timesteps"]), int(r["episodes"])) for r in ev] == [
        (120, 3), (240, 3), (360, 3), (480, 4)
    ]  # fmt: skip
    assert ev[-1]["sub_episode_2_return"] != "" and ev[-1]["normalized_score"] != ""
    model = MAMBA.load(reference_run / "model.zip", device="cpu")
    assert model.num_timesteps >= STEPS and model.env_id == ENV


def test_kill_9_then_resume_continues_exactly(reference_run, tmp_path):
    run = tmp_path / "killed"
    proc = subprocess.Popen(
        cli(*TRAIN_ARGS, "--run-dir", str(run), "--checkpoint-every", "0.002"), env=env()
    )
    wait_for(progressed(run, 4), proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    at_kill = safe_torch_load(run / "checkpoint.pt")
    steps_at_kill = at_kill["counters"]["num_timesteps"]
    assert 0 < steps_at_kill < STEPS
    episodes_at_kill = len(at_kill["replay"]["lengths"])
    assert episodes_at_kill == at_kill["counters"]["episodes"]  # every collected episode, once
    resumed = MAMBA.load(run / "checkpoint.pt", device="cpu")
    assert len(resumed.replay) == episodes_at_kill  # not doubled by loading

    subprocess.run(cli("train", "--resume", str(run)), env=env(), check=True, timeout=300)
    assert_same_as_reference(run, reference_run)


def test_kill_9_while_writing_a_checkpoint(reference_run, tmp_path):
    """The third checkpoint write stalls half-way (a patched writer) and the process is killed
    there: the previous checkpoint is intact, and the resumed run still matches."""
    run = tmp_path / "killed_mid_write"
    script = (
        "import io, sys, time\n"
        "import mamba_agent.cli.train as T\n"
        "from mamba_agent import persistence as P\n"
        "calls = []\n"
        "def stalling(obj, path):\n"
        "    calls.append(1)\n"
        "    if len(calls) < 3:\n"
        "        return P.atomic_torch_save(obj, path)\n"
        "    def write(f):\n"
        "        import torch\n"
        "        buf = io.BytesIO(); torch.save(obj, buf); data = buf.getvalue()\n"
        "        f.write(data[: len(data) // 2]); f.flush()\n"
        "        print('WRITING', flush=True); time.sleep(120)\n"
        "    return P.atomic_write(path, write)\n"
        "T.atomic_torch_save = stalling\n"
        "from mamba_agent.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *TRAIN_ARGS, "--run-dir", str(run),
         "--checkpoint-every", "0.002"],
        env=env(), stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    line = ""
    while "WRITING" not in line:
        line = proc.stdout.readline()
        assert line or proc.poll() is None, "the run ended without the stalled write"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert list(run.glob(".checkpoint.pt.*.tmp"))  # the half-written file, never renamed
    intact = safe_torch_load(run / "checkpoint.pt")  # the second checkpoint, complete
    assert intact["counters"]["num_timesteps"] < STEPS
    subprocess.run(cli("train", "--resume", str(run)), env=env(), check=True, timeout=300)
    assert not list(run.glob(".checkpoint.pt.*.tmp"))  # cleaned up by the resume
    assert_same_as_reference(run, reference_run)


def test_sigterm_checkpoints_and_stops_then_resume(reference_run, tmp_path):
    run = tmp_path / "terminated"
    proc = subprocess.Popen(
        cli(*TRAIN_ARGS, "--run-dir", str(run), "--checkpoint-every", "60"),
        env=env(), stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_for(progressed(run, 3), proc)
    first = safe_torch_load(run / "checkpoint.pt")["counters"]["num_timesteps"]
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert "SIGTERM" in out and "--resume" in out
    at_stop = safe_torch_load(run / "checkpoint.pt")["counters"]["num_timesteps"]
    assert first < at_stop < STEPS  # a checkpoint was written on the signal
    assert not (run / "model.zip").exists()
    subprocess.run(cli("train", "--resume", str(run)), env=env(), check=True, timeout=300)
    assert_same_as_reference(run, reference_run)


def test_resume_of_a_finished_run_and_extension(reference_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(reference_run, run)
    before = (run / "eval.csv").read_text()
    assert main(["train", "--resume", str(run)]) == 0
    assert "finished" in capsys.readouterr().out
    assert (run / "eval.csv").read_text() == before  # nothing redone, nothing lost
    assert main(["train", "--resume", str(run), "--steps", str(STEPS + 80)]) == 0
    final = safe_torch_load(run / "checkpoint.pt")
    assert final["counters"]["num_timesteps"] >= STEPS + 80
    ev = rows(run / "eval.csv")
    assert int(ev[-1]["timesteps"]) >= STEPS + 80 and len(ev) > len(before.splitlines()) - 1
    assert json.loads((run / "manifest.json").read_text())["steps"] == STEPS + 80
    capsys.readouterr()
    # a wall-time budget given on resume replaces the run's (and is kept): one already spent
    # ends the run at once, whatever --steps says
    assert main(["train", "--resume", str(run), "--steps", str(STEPS + 400), "--minutes",
                 "0.0001"]) == 0  # fmt: skip
    assert "finished" in capsys.readouterr().out
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["minutes"] == 0.0001 and manifest["steps"] == STEPS + 400
    assert rows(run / "eval.csv") == ev


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--env", "meta_envs/NoSuchEnv-v0"], "unknown env id"),
        (["train", "--env", "PointRobot-v0"], "did you mean 'meta_envs/PointRobot-v0'?"),
        (["train", "--env", ENV, "--preset", "huge"], "unknown preset"),
        (["train", "--env", ENV, "--set", "no_such_key=1"], "no_such_key"),
        (["train", "--env", ENV, "--steps", "0"], "--steps must be >= 1"),
        (["train", "--env", ENV, "--env-kwargs", "n"], "key=value"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path, capsys):
    assert main([*args, "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "run").exists()  # nothing created


def test_only_a_final_evaluation_with_eval_every_0(tmp_path):
    run = tmp_path / "final_only"
    args = [a if a != "120" else "0" for a in TRAIN_ARGS]  # --eval-every 0
    args[args.index("--steps") + 1] = "80"
    assert main([*args, "--run-dir", str(run)]) == 0
    assert [(r["timesteps"], r["episodes"]) for r in rows(run / "eval.csv")] == [("80", "4")]


def test_a_wall_time_budget_ends_the_run_like_a_step_budget(tmp_path, capsys):
    run = tmp_path / "minutes"
    args = [*TRAIN_ARGS, "--minutes", "0.001", "--run-dir", str(run)]  # 0.06 s: the first check
    assert main(args) == 0
    assert "time budget of 0.001 minutes reached" in capsys.readouterr().out
    final = safe_torch_load(run / "checkpoint.pt")
    assert final["run"]["finished"] and final["counters"]["num_timesteps"] < STEPS
    assert (run / "model.zip").is_file() and rows(run / "eval.csv")[-1]["episodes"] == "4"
    assert main(["train", "--resume", str(run)]) == 0  # spent: nothing more to do
    assert "finished" in capsys.readouterr().out


def test_existing_run_dirs_are_never_overwritten(reference_run, tmp_path, capsys):
    before = {p.name: p.stat().st_mtime_ns for p in reference_run.iterdir()}
    assert main(["train", "--env", "meta_envs/RoomsN-v0", "--run-dir", str(reference_run)]) == 2
    assert "holds a run of meta_envs/PointRobot-v0" in capsys.readouterr().err
    assert main(["train", "--env", ENV, "--run-dir", str(reference_run)]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err
    (tmp_path / "manifest.json").write_text(
        (reference_run / "manifest.json").read_text()
    )  # a run dir that lost its checkpoint
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in reference_run.iterdir()} == before


def test_eval_render_and_plot_commands(reference_run, tmp_path, capsys):
    assert main(["eval", str(reference_run), "--episodes", "3"]) == 0
    out = capsys.readouterr().out
    assert "explorer" in out and "oracle" in out and "sub-ep. 2" in out and "MAMBA" in out
    assert main(["eval", str(reference_run / "model.zip"), "--episodes", "2", "--seed", "5"]) == 0

    video, still = tmp_path / "agent.mp4", tmp_path / "still.png"
    assert (
        main(
            [
                "render",
                str(reference_run),
                "--out",
                str(video),
                "--episodes",
                "2",
                "--still",
                str(still),
            ]
        )
        == 0
    )
    frames = imageio.mimread(video, memtest=False)
    last = imageio.imread(still)[..., :3].astype(float)  # the uncropped last frame, lossless
    fh, fw = frames[-1].shape[:2]
    assert last.shape[0] - fh in (0, 1) and last.shape[1] - fw in (0, 1)  # mp4: even sizes
    to_last = np.abs(last[:fh, :fw] - frames[-1][..., :3]).mean()
    assert to_last < 8 and to_last < np.abs(last[:fh, :fw] - frames[-21][..., :3]).mean()
    assert len(frames) == 2 * (20 + 1)  # every step of both meta-episodes, plus each reset
    assert len({f.shape for f in frames}) == 1
    import gymnasium as gym

    plain = gym.make(ENV, render_mode="rgb_array").unwrapped
    plain.reset(seed=0)
    h, w = plain.render().shape[:2]
    assert frames[0].shape[0] > h and abs(frames[0].shape[1] - w) <= 1  # caption band below
    assert "sub-episode returns" in capsys.readouterr().out

    png = tmp_path / "curve.png"
    assert main(["plot", str(reference_run), str(reference_run), "--out", str(png)]) == 0
    image = imageio.imread(png)
    assert image.ndim == 3 and image.shape[1] > 800
    assert main(["plot", str(tmp_path / "nothing"), "--out", str(png)]) == 2
    assert main(["render", str(reference_run), "--out", str(tmp_path / "x.avi")]) == 2


def test_every_command_has_complete_help(capsys):
    for command in ("train", "eval", "render", "plot", "demo"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        text = capsys.readouterr().out
        assert text.startswith("usage: mamba-agent " + command)
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(c in out for c in ("train", "eval", "render", "plot", "demo"))


def test_every_option_of_every_command_has_a_help_text():
    import argparse

    from mamba_agent.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [
        f"{name} {action.option_strings or action.dest}"
        for name, command in sub.choices.items()
        for action in command._actions
        if not action.help
    ]
    assert not missing


def test_console_script_is_installed():
    result = subprocess.run(
        [str(Path(sys.executable).with_name("mamba-agent")), "--version"],
        capture_output=True, text=True, env=env(),
    )  # fmt: skip
    if result.returncode != 0 and not Path(sys.executable).with_name("mamba-agent").exists():
        pytest.skip("not installed with pip (no console script next to the interpreter)")
    assert result.stdout.startswith("mamba-agent ")


def test_eval_names_the_method_of_the_model(tmp_path, capsys):
    import meta_envs  # noqa: F401  (registers the ids for MAMBA(ENV))

    model = MAMBA(ENV, preset="tiny", device="cpu", seed=0, env_kwargs=ENV_KWARGS_DICT,
                  dreamer_vanilla=True)  # fmt: skip
    path = model.save(tmp_path / "dreamer_vanilla")
    assert main(["eval", str(path), "--episodes", "1", "--stochastic"]) == 0
    out = capsys.readouterr().out
    assert "Dreamer-Vanilla (stochastic)" in out and "MAMBA" not in out


def test_numbers_in_eval_csv_are_the_model_evaluated_again(reference_run):
    """The last eval.csv row is reproducible from model.zip with the library's evaluation."""
    from mamba_agent.evaluation import evaluate_meta_episodes

    manifest = json.loads((reference_run / "manifest.json").read_text())
    model = MAMBA.load(reference_run / "model.zip", device="cpu")
    last = rows(reference_run / "eval.csv")[-1]
    result = evaluate_meta_episodes(
        model, ENV, int(last["episodes"]), manifest["eval_seed"], manifest["env_kwargs"]
    )
    assert np.isclose(result.mean, float(last["return_mean"]), rtol=1e-6, atol=1e-6)


def test_demo_trains_prints_the_score_and_writes_curve_and_video(tmp_path, capsys):
    run = tmp_path / "demo"
    assert main(["demo", "--steps", "300", "--run-dir", str(run), "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "normalised score" in out and "video of the trained agent" in out
    assert (run / "learning_curve.png").stat().st_size > 0
    assert len(imageio.mimread(run / "agent.mp4", memtest=False)) == 2 * 301
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["env_id"] == "meta_envs/PointRobot-v0"
    assert manifest["preset_resolved"] == "point_robot_cpu"
