"""The argument parser of the ``mamba-agent`` command line: every sub-command, its arguments and
its ``--help`` text (``docs/cli.md`` shows them together). The commands themselves live in the
sibling modules, imported only when their command runs."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["build_parser"]

_EPILOG_TRAIN = """\
examples:
  mamba-agent train --env meta_envs/PointRobot-v0 --steps 60000 --seed 0 --run-dir runs/pr0
  mamba-agent train --env meta_envs/RoomsN-v0 --env-kwargs n=3 --set train_ratio=0.5
  mamba-agent train --resume runs/pr0              # after a crash, kill -9 or Ctrl-C
  mamba-agent train --resume runs/pr0 --steps 120000   # extend a finished run
  mamba-agent train --resume runs/pr0 --minutes 90     # ... or give it more wall time

The run directory holds manifest.json (env, seed, settings, versions, machine), config.toml (the
full configuration), progress.csv and TensorBoard event files (training metrics), eval.csv (one
row per evaluation), checkpoint.pt (written atomically every --checkpoint-every minutes and on
SIGINT/SIGTERM) and model.zip (the final model).
"""


def _agent_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of the commands that load a trained agent (eval, render)."""
    parser.add_argument(
        "target",
        type=Path,
        metavar="RUN_DIR_OR_MODEL",
        help="a run directory (its model.zip, else its checkpoint) or a model file",
    )
    parser.add_argument("--env", default=None, help="env id (default: the model's own)")
    parser.add_argument(
        "--env-kwargs",
        nargs="*",
        metavar="K=V",
        default=None,
        help="env arguments (default: the model's own)",
    )
    parser.add_argument("--device", default="cpu", help="device of the model (default cpu)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="mamba-agent",
        description="Train, resume, evaluate, render and plot MAMBA meta-RL agents "
        "(any Gymnasium env whose episode is a meta-episode, e.g. meta_envs/PointRobot-v0).",
    )
    from mamba_agent import __version__

    parser.add_argument("--version", action="version", version=f"mamba-agent {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    fmt = argparse.RawDescriptionHelpFormatter
    t = sub.add_parser(
        "train",
        help="train a MAMBA agent in a run directory, or resume one",
        description="Train MAMBA on an env into a run directory (progress bar, CSV / TensorBoard "
        "logs, evaluations on fixed tasks, atomic checkpoints), or continue a stopped run with "
        "--resume.",
        epilog=_EPILOG_TRAIN,
        formatter_class=fmt,
    )
    t.add_argument(
        "--env",
        help="env id, e.g. meta_envs/PointRobot-v0 (the package named by the "
        "id's namespace is imported), or module:id",
    )
    t.add_argument(
        "--env-kwargs",
        nargs="*",
        metavar="K=V",
        default=[],
        help="env constructor arguments, e.g. n=3 num_sub_episodes=4",
    )
    t.add_argument("--method", default="mamba", choices=["mamba", "dreamer_vanilla", "rl2"],
                   help="mamba (default); dreamer_vanilla: the ablation (random 64-step windows, "
                   "latent re-initialised at the window start); rl2: sb3-contrib's RecurrentPPO "
                   "(needs the baselines extra; presets rl2_cpu, rl2_tiny)")  # fmt: skip
    t.add_argument(
        "--preset",
        default="auto",
        help="config preset (default auto: the env's "
        "preset, its _cpu variant on a CPU); see docs/agent.md for the list",
    )
    t.add_argument(
        "--steps",
        type=int,
        default=None,
        help="budget in real env steps (default 100000; with --resume: a new budget)",
    )
    t.add_argument("--minutes", type=float, default=None,
                   help="wall-time budget in minutes, over every resume (training ends at "
                   "whichever of --steps and --minutes comes first; with --resume: a new "
                   "budget)")  # fmt: skip
    t.add_argument("--seed", type=int, default=0, help="seed of everything (default 0)")
    t.add_argument(
        "--run-dir",
        type=Path,
        default=None,
        help="where to write the run (default runs/<env>-seed<seed>-<time>)",
    )
    t.add_argument(
        "--set",
        nargs="*",
        metavar="KEY=VALUE",
        default=[],
        dest="overrides",
        help="config fields, e.g. train_ratio=0.5 deter=256 dreamer_vanilla=true",
    )
    t.add_argument("--device", default="auto", help="auto (CUDA if available), cpu or cuda")
    t.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: torch's, the number of cores)",
    )
    t.add_argument(
        "--eval-every",
        type=int,
        default=10_000,
        help="evaluate every this many env steps (default 10000; 0: only at the end)",
    )
    t.add_argument(
        "--eval-episodes", type=int, default=10, help="meta-episodes per evaluation (default 10)"
    )
    t.add_argument(
        "--final-eval-episodes",
        type=int,
        default=100,
        help="meta-episodes of the evaluation at the end (default 100; 0: none)",
    )
    t.add_argument(
        "--eval-seed",
        type=int,
        default=1_000_000,
        help="seed of the fixed evaluation tasks: meta-episode i is reset with "
        "eval-seed + i, the same for every run (default 1000000)",
    )
    t.add_argument(
        "--checkpoint-every",
        type=float,
        default=10.0,
        metavar="MINUTES",
        help="minutes between checkpoints, a float (0.05 = every 3 s; default 10)",
    )
    t.add_argument(
        "--log-interval",
        type=int,
        default=5,
        help="write training metrics every this many collections (default 5)",
    )
    t.add_argument("--verbose", type=int, default=1, help="1: metric tables on stdout, 0: none")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument(
        "--resume",
        type=Path,
        default=None,
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR from its last checkpoint, up to the budget "
        "it was started with (or --steps); other options are read from the run",
    )

    e = sub.add_parser(
        "eval",
        help="evaluate a trained agent: a table of returns beside the reference policies",
        description="Evaluate a run directory (its model.zip, else its checkpoint) or a model "
        "file on fixed tasks with the deterministic actor: mean ± std of the total and of each "
        "sub-episode's return, the normalised score, and the random / explorer / oracle returns "
        "where the env exposes them.",
    )
    _agent_arguments(e)
    e.add_argument("--episodes", type=int, default=100, help="meta-episodes (default 100)")
    e.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the tasks (default: the run's --eval-seed, else 1000000)",
    )
    e.add_argument("--stochastic", action="store_true", help="sample actions (default: mode)")

    r = sub.add_parser(
        "render",
        help="write a video of a trained agent's meta-episodes",
        description="Roll out meta-episodes of a trained agent through the env's own renderer "
        "(rgb_array; meta_envs draws one trail colour per sub-episode) and write an mp4 or gif "
        "with a caption of the sub-episode returns.",
    )
    _agent_arguments(r)
    r.add_argument("--out", type=Path, required=True, help="video file (.mp4 or .gif)")
    r.add_argument("--episodes", type=int, default=1, help="meta-episodes, one after the other")
    r.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the first meta-episode (default: the run's --eval-seed)",
    )
    r.add_argument("--fps", type=int, default=30, help="frames per second (default 30)")
    r.add_argument("--every", type=int, default=1, help="keep every k-th frame (default 1)")
    r.add_argument(
        "--still",
        type=Path,
        default=None,
        metavar="PNG",
        help="also write the last frame (the whole trail of the last meta-episode) as an image",
    )

    p = sub.add_parser(
        "plot",
        help="learning curves of one or more runs",
        description="Learning curves from the eval.csv of each run: return and normalised score "
        "against env steps and against wall time. Runs of one env are drawn as their mean and a "
        "band (min to max); the random / explorer / oracle returns as reference lines.",
    )
    p.add_argument(
        "runs",
        type=Path,
        nargs="+",
        metavar="RUN_DIR",
        help="run directories (or folders holding run directories)",
    )
    p.add_argument("--out", type=Path, required=True, help="image file (.png, .pdf, .svg)")
    p.add_argument("--title", default=None, help="a title above the panels (default: none)")

    w = sub.add_parser(
        "sweep",
        help="train every (method, env, seed) on Ray, locally or on a cluster",
        description="One `mamba-agent train` run directory per (method, env, seed) under --out "
        "(OUT/<method>/<env>/seed<S>), trained in parallel by Ray tasks of --cpus-per-run CPUs "
        "each: on this machine by default, on an existing cluster with --address (or "
        "RAY_ADDRESS). A training process that dies is resumed from its last checkpoint; a dead "
        "Ray worker's task is retried by Ray and resumes too; running the same command again "
        "skips finished trials and resumes unfinished ones. Needs the sweep extra "
        '(pip install -e ".[sweep]").',
        epilog="examples:\n"
        "  mamba-agent sweep --envs meta_envs/PointRobot-v0 meta_envs/RoomsN-v0 --seeds 0 1 2 \\\n"
        "      --methods mamba dreamer_vanilla rl2 --minutes 60 --cpus-per-run 2 --out sweeps/main\n"
        "  mamba-agent sweep ... --address 10.0.0.1:6379      # an existing Ray cluster\n"
        "  mamba-agent sweep-report sweeps/main --out sweeps/main/results.md\n",
        formatter_class=fmt,
    )
    w.add_argument("--envs", nargs="+", required=True, metavar="ID", help="env ids to train on")
    w.add_argument(
        "--seeds", nargs="+", type=int, default=[0, 1, 2], metavar="S", help="seeds (default 0 1 2)"
    )
    w.add_argument(
        "--methods",
        nargs="+",
        default=["mamba"],
        choices=["mamba", "dreamer_vanilla", "rl2"],
        help="mamba, dreamer_vanilla (the one-option ablation) and/or rl2 (sb3-contrib's "
        "RecurrentPPO; default mamba)",
    )
    w.add_argument(
        "--preset",
        default=None,
        help="preset of the mamba / dreamer_vanilla trials (default: auto)",
    )
    w.add_argument("--steps", type=int, default=None, help="env-step budget per trial")
    w.add_argument("--minutes", type=float, default=None, help="wall-time budget per trial")
    w.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="config fields of the MAMBA trials",
    )
    w.add_argument(
        "--rl2-set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="settings of the RL² trials (e.g. learning_rate=1e-4)",
    )
    w.add_argument(
        "--env-kwargs", nargs="*", default=[], metavar="K=V", help="env arguments of every trial"
    )
    w.add_argument("--rl2-preset", default="rl2_cpu", help="preset of the RL² trials")
    w.add_argument(
        "--train-args",
        default="",
        metavar="'ARGS'",
        help="more `train` options for every trial, as one quoted string: "
        "--train-args='--eval-every 5000 --eval-episodes 20'",
    )
    w.add_argument(
        "--cpus-per-run",
        type=int,
        default=1,
        help="CPUs (and torch threads) per "
        "trial; trials run in parallel as the CPUs allow (default 1)",
    )
    w.add_argument(
        "--address",
        default=None,
        help="address of a running Ray cluster (default: "
        "RAY_ADDRESS, else a Ray started on this machine for the sweep)",
    )
    w.add_argument(
        "--max-attempts",
        type=int,
        default=3,
        help="training processes per trial before it counts as failed (default 3)",
    )
    w.add_argument("--out", type=Path, required=True, help="folder of the sweep's run directories")

    rp = sub.add_parser(
        "sweep-report",
        help="the results table and curves of a sweep (or of any run directories)",
        description="Writes a Markdown table (mean ± std over seeds of the final evaluation: "
        "return, normalised score, per sub-episode, env steps, wall time; then every run, with the "
        "env steps and wall time at which it first reached --threshold) and one "
        "curve figure per env (every method as mean and band) beside it.",
    )
    rp.add_argument(
        "sweep_dirs",
        type=Path,
        nargs="+",
        metavar="DIR",
        help="the --out folder of a sweep, or any folders or run directories (every run below "
        "them is reported)",
    )
    rp.add_argument("--out", type=Path, required=True, help="the Markdown file to write")
    rp.add_argument(
        "--threshold",
        type=float,
        default=0.8,
        help="each run's table row says when its normalised score first reached this (default 0.8)",
    )

    d = sub.add_parser(
        "demo",
        help="train on Point Robot with the CPU preset, then plot and render the agent",
        description="The quickest look at MAMBA: trains on meta_envs/PointRobot-v0 with the CPU "
        "preset (progress bar), prints the final normalised score, and writes the learning curve "
        "and a video of the trained agent into the run directory.",
    )
    d.add_argument(
        "--steps",
        type=int,
        default=None,
        help="budget in env steps (default: the budget stated in the README)",
    )
    d.add_argument("--seed", type=int, default=0, help="seed of everything (default 0)")
    d.add_argument(
        "--run-dir",
        type=Path,
        default=Path("runs/demo"),
        help="the demo's run directory (default runs/demo); running the command again continues "
        "an interrupted demo there, delete it to start over",
    )
    d.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: torch's, the number of cores)",
    )
    return parser
