"""The ``mamba-agent`` command line: train (and resume), eval, render, plot and demo.

Each sub-command's ``--help`` is its manual; ``docs/cli.md`` shows them together. Errors in the
input (an unknown env id, preset or config key, a run directory made for another env, a budget
below 1, a file that is not a model) end with one line on stderr and exit status 2; nothing is
overwritten.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mamba_agent.cli.parser import build_parser

__all__ = ["main", "build_parser", "parse_assignments"]


def parse_assignments(items: Sequence[str] | None, what: str) -> dict[str, Any]:
    """``["k=v", ...]`` -> dict; values are Python literals (``3``, ``0.5``, ``True``, ``[1, 2]``)
    or else strings. ``true`` / ``false`` are accepted for booleans."""
    from mamba_agent.cli.run_dir import RunError

    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise RunError(f"{what} expects key=value, got {item!r}")
        lowered = text.strip().lower()
        if lowered in ("true", "false"):
            value: Any = lowered == "true"
        else:
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                value = text
        out[key.strip()] = value
    return out


def _train(args: argparse.Namespace) -> None:
    from mamba_agent.cli.run_dir import RunError
    from mamba_agent.cli.train import TrainSettings, resume_run, start_run

    if args.resume is not None:
        if args.env is not None:
            raise RunError("--resume reads the env from the run; do not pass --env with it")
        resume_run(args.resume, args.steps, args.minutes)
        return
    if args.env is None:
        raise RunError("train needs --env ID (or --resume RUN_DIR)")
    settings = TrainSettings(
        env_id=args.env,
        env_kwargs=parse_assignments(args.env_kwargs, "--env-kwargs"),
        method=args.method,
        minutes=args.minutes,
        preset=args.preset,
        overrides=parse_assignments(args.overrides, "--set"),
        steps=100_000 if args.steps is None else args.steps,
        seed=args.seed,
        device=args.device,
        threads=args.threads,
        eval_every=args.eval_every,
        eval_episodes=args.eval_episodes,
        final_eval_episodes=args.final_eval_episodes,
        eval_seed=args.eval_seed,
        checkpoint_every=args.checkpoint_every,
        log_interval=args.log_interval,
        verbose=args.verbose,
        progress_bar=not args.no_progress,
    )
    run_dir = args.run_dir
    if run_dir is None:
        import time

        name = args.env.split(":")[-1].split("/")[-1]
        run_dir = Path("runs") / f"{name}-seed{args.seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    start_run(settings, run_dir)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mamba-agent`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from mamba_agent.cli.run_dir import RunError

    try:
        if args.command == "train":
            _train(args)
        elif args.command == "eval":
            from mamba_agent.cli.inspect import eval_command

            eval_command(args)
        elif args.command == "render":
            from mamba_agent.cli.inspect import render_command

            render_command(args)
        elif args.command == "plot":
            from mamba_agent.cli.plot import plot_command

            plot_command(args)
        elif args.command == "sweep":
            from mamba_agent.cli.sweep import sweep_command

            args.out = args.out.resolve()
            sweep_command(args)
        elif args.command == "sweep-report":
            from mamba_agent.cli.sweep import report_command

            report_command(args)
        elif args.command == "demo":
            from mamba_agent.cli.demo import demo_command

            demo_command(args)
    except (RunError, ValueError, FileNotFoundError) as err:
        print(f"mamba-agent {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mamba-agent: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
