"""``mamba-agent demo``: train on Point Robot with the CPU preset, then plot and render."""

from __future__ import annotations

import argparse
from types import SimpleNamespace

from mamba_agent.cli.run_dir import RunDir

__all__ = ["DEMO_ENV", "DEMO_STEPS", "demo_command"]

DEMO_ENV = "meta_envs/PointRobot-v0"
DEMO_STEPS = 150_000
"""Default budget of the demo (see the README for the time it takes and the score it reaches)."""


def demo_command(args: argparse.Namespace) -> None:
    """Train (or resume an unfinished demo run), print the score, write the curve and a video."""
    from mamba_agent.cli.inspect import render_command
    from mamba_agent.cli.plot import plot_command
    from mamba_agent.cli.train import TrainSettings, resume_run, start_run

    run = RunDir(args.run_dir)
    steps = DEMO_STEPS if args.steps is None else args.steps
    if run.exists():
        print(f"{run.path} holds a demo run: continuing it (delete the folder to start over)")
        resume_run(run.path, steps)
    else:
        settings = TrainSettings(
            env_id=DEMO_ENV,
            preset="point_robot_cpu",
            device="cpu",
            steps=steps,
            seed=args.seed,
            threads=args.threads,
            eval_every=max(steps // 10, 1),
            verbose=0,
        )
        start_run(settings, run.path)
    if not run.model_path.is_file():
        return  # stopped by a signal: the message says how to continue
    curve, video = run.path / "learning_curve.png", run.path / "agent.mp4"
    plot_command(SimpleNamespace(runs=[run.path], out=curve, title="MAMBA on Point Robot (demo)"))
    render_command(
        SimpleNamespace(
            target=run.path,
            out=video,
            episodes=2,
            seed=None,
            fps=30,
            every=1,
            still=None,
            env=None,
            env_kwargs=None,
            device="cpu",
        )
    )
    print(f"learning curve: {curve}\nvideo of the trained agent: {video}")
