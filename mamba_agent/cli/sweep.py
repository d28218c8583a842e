"""``mamba-agent sweep`` and ``mamba-agent sweep-report``: seeds × envs × methods on Ray.

Each trial is an ordinary run directory of ``mamba-agent train`` (``OUT/<method>/<env>/seed<S>``),
trained by a ``mamba-agent train`` subprocess inside a plain Ray task that reserves
``--cpus-per-run`` CPUs. Ray places the tasks on this machine (started for the sweep) or on an
existing cluster (``--address`` / ``RAY_ADDRESS``); it is imported only here (the ``sweep``
extra).

Fault tolerance, in two layers: a training process that dies (a crash, ``kill -9``, the OOM
killer) is resumed from its last checkpoint by the task (``train --resume``), up to
``--max-attempts`` times; a Ray worker or node that dies has its task retried by Ray, which finds
the run directory and resumes it too. Running the same sweep again on the same ``--out`` skips the
finished trials and resumes the unfinished ones.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mamba_agent.cli.run_dir import RunDir, RunError

__all__ = ["Trial", "plan_trials", "trial_finished", "run_trial", "sweep_command", "report_command"]

TRIAL_LOG = "sweep_trial.log"
TRIAL_PID = "sweep_trial.pid"


@dataclass(frozen=True)
class Trial:
    """One (method, env, seed) of a sweep and its run directory."""

    method: str
    env_id: str
    seed: int
    run_dir: str


def env_slug(env_id: str) -> str:
    """A folder name for an env id (``meta_envs/RoomsN-v0`` -> ``RoomsN-v0``)."""
    return env_id.split(":")[-1].split("/")[-1]


def plan_trials(out: Path, methods: list[str], envs: list[str], seeds: list[int]) -> list[Trial]:
    """Every (method, env, seed), in that order, with run directories under ``out``."""
    return [
        Trial(m, e, s, str(out / m / env_slug(e) / f"seed{s}"))
        for m in methods
        for e in envs
        for s in seeds
    ]


def trial_finished(run_dir: str | Path) -> bool:
    """Whether the run in ``run_dir`` reached its budget (its final checkpoint says so)."""
    run = RunDir(Path(run_dir))
    if not run.checkpoint_path.is_file() or not run.model_path.is_file():
        return False
    from mamba_agent.persistence import safe_torch_load

    try:
        return bool(safe_torch_load(run.checkpoint_path, "cpu").get("run", {}).get("finished"))
    except (ValueError, OSError):
        return False


def _fresh_start(run_dir: Path) -> None:
    """Remove what a trial killed before its first checkpoint left (keeps the sweep's own log)."""
    for path in run_dir.iterdir():
        if path.name in (TRIAL_LOG, TRIAL_PID):
            continue
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def _die_with_parent() -> None:
    """In the training process (Linux): be killed when the Ray worker that started it dies, so
    that the task Ray retries never finds the old process still training the run."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG


def run_trial(trial: dict[str, Any], train_args: list[str], max_attempts: int = 3) -> dict:
    """Train one trial to its end in ``mamba-agent train`` subprocesses (the body of the Ray
    task): start it, or resume it when its run directory has a checkpoint; a process that dies
    is resumed from its last checkpoint, up to ``max_attempts`` processes in all. Returns a
    summary: status ("finished", "failed" or "bad input"), attempts, return codes, wall time."""
    run_dir = Path(trial["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    codes: list[int] = []
    start = time.monotonic()
    status = "failed"
    for _ in range(max_attempts):
        if trial_finished(run_dir):
            status = "finished"
            break
        if RunDir(run_dir).checkpoint_path.is_file():
            cmd = ["train", "--resume", str(run_dir)]
        else:
            _fresh_start(run_dir)
            cmd = ["train", *train_args, "--run-dir", str(run_dir)]
        with (run_dir / TRIAL_LOG).open("a") as log:
            log.write(f"\n$ mamba-agent {' '.join(cmd)}\n")
            log.flush()
            proc = subprocess.Popen(
                [sys.executable, "-m", "mamba_agent", *cmd],
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
            (run_dir / TRIAL_PID).write_text(str(proc.pid))
            codes.append(proc.wait())
        if codes[-1] == 2:  # the command's input is wrong: retrying cannot help
            status = "bad input"
            break
        if codes[-1] == 0 and trial_finished(run_dir):
            status = "finished"
            break
    return {**trial, "status": status, "return_codes": codes,
            "seconds": round(time.monotonic() - start, 1)}  # fmt: skip


def trial_train_args(trial: Trial, args: argparse.Namespace) -> list[str]:
    """The ``mamba-agent train`` arguments of a new trial."""
    out = ["--env", trial.env_id, "--seed", str(trial.seed), "--method", trial.method,
           "--no-progress", "--verbose", "0", "--threads", str(args.cpus_per_run)]  # fmt: skip
    if args.env_kwargs:
        out += ["--env-kwargs", *args.env_kwargs]
    if trial.method == "rl2":
        out += ["--preset", args.rl2_preset]
    elif args.preset is not None:
        out += ["--preset", args.preset]
    if args.steps is not None:
        out += ["--steps", str(args.steps)]
    if args.minutes is not None:
        out += ["--minutes", str(args.minutes)]
        if args.steps is None:
            out += ["--steps", str(10**12)]
    if args.set and trial.method != "rl2":
        out += ["--set", *args.set]
    if args.rl2_set and trial.method == "rl2":
        out += ["--set", *args.rl2_set]
    out += shlex.split(args.train_args or "")
    return out


def sweep_command(args: argparse.Namespace) -> None:
    """Run the sweep (see the sub-command's help)."""
    try:
        import ray
    except ImportError:
        raise RunError('the sweep needs Ray: pip install -e ".[sweep]"') from None
    if args.cpus_per_run < 1 or args.max_attempts < 1:
        raise RunError("--cpus-per-run and --max-attempts must be >= 1")
    if args.steps is None and args.minutes is None:
        raise RunError("give a budget per trial: --steps N or --minutes M")
    from mamba_agent.evaluation import resolve_env_id

    for env_id in args.envs:
        resolve_env_id(env_id)  # an unknown id is an error before anything starts
    trials = plan_trials(args.out, args.methods, args.envs, args.seeds)
    done = [t for t in trials if trial_finished(t.run_dir)]
    todo = [t for t in trials if t not in done]
    print(f"{len(trials)} trials: {len(done)} finished (skipped), "
          f"{sum(RunDir(Path(t.run_dir)).checkpoint_path.is_file() for t in todo)} to resume, "
          f"{sum(not RunDir(Path(t.run_dir)).checkpoint_path.is_file() for t in todo)} to start",
          flush=True)  # fmt: skip
    if todo:
        t0 = time.monotonic()
        address = args.address or os.environ.get("RAY_ADDRESS")
        init: dict[str, Any] = {"include_dashboard": False, "logging_level": "WARNING"}
        if address:
            ray.init(address=address, **init)
        else:
            # "local": a new Ray for this sweep, even where one started by `ray start` runs
            ray.init(address="local", num_cpus=os.cpu_count(), **init)
        try:
            task = ray.remote(num_cpus=args.cpus_per_run, max_retries=3)(run_trial)
            pending = {
                task.remote(asdict(t), trial_train_args(t, args), args.max_attempts): t
                for t in todo
            }
            print(f"Ray ready in {time.monotonic() - t0:.1f} s "
                  f"({'cluster ' + address if address else 'local'}, "
                  f"{ray.cluster_resources().get('CPU', 0):g} CPUs, {args.cpus_per_run} per "
                  "trial); logs: <run dir>/" + TRIAL_LOG, flush=True)  # fmt: skip
            failed = 0
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    trial = pending.pop(ref)
                    try:
                        summary = ray.get(ref)
                    except Exception as err:  # the task failed after Ray's retries
                        summary = {"status": f"failed ({type(err).__name__})", "seconds": 0}
                    failed += summary["status"] != "finished"
                    print(f"[{len(trials) - len(pending)}/{len(trials)}] {trial.method} "
                          f"{trial.env_id} seed {trial.seed}: {summary['status']} "
                          f"({summary['seconds']} s, {len(summary.get('return_codes', []))} "
                          "process(es))", flush=True)  # fmt: skip
        finally:
            ray.shutdown()
        if failed:
            raise RunError(f"{failed} trial(s) did not finish; see their {TRIAL_LOG} (running the "
                           "same sweep again resumes them)")  # fmt: skip
    print(
        f"all {len(trials)} trials finished; report: mamba-agent sweep-report {args.out} "
        f"--out {args.out / 'results.md'}"
    )


def _fmt(values: list[float], digits: int = 2) -> str:
    import numpy as np

    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values):.{digits}f}"


def first_reaching(rows: list[dict[str, float]], threshold: float) -> tuple[float, float] | None:
    """(env steps, wall seconds) of the first evaluation whose normalised score is at least
    ``threshold``; None if none is."""
    for row in rows:
        if row.get("normalized_score", float("-inf")) >= threshold:
            return row["timesteps"], row["wall_time"]
    return None


def report_command(args: argparse.Namespace) -> None:
    """Write the results table and curves (see the sub-command's help)."""
    from collections import defaultdict

    from mamba_agent.cli.plot import find_runs, plot_runs, run_label

    runs = find_runs(args.sweep_dirs)
    where = " ".join(str(d) for d in args.sweep_dirs)
    groups: dict[tuple[str, str], list[tuple[RunDir, dict, dict]]] = defaultdict(list)
    by_env: dict[str, list[RunDir]] = defaultdict(list)
    for run in runs:
        manifest = run.read_manifest()
        rows = run.read_eval()
        if not rows:
            continue
        env = manifest["env_id"]
        manifest["first_reaching"] = first_reaching(rows, args.threshold)
        groups[(env, run_label(run, manifest))].append((run, manifest, rows[-1]))
        by_env[env].append(run)
    if not groups:
        raise RunError(f"no evaluated runs under {where}")
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# Results: {where}",
        "",
        "Final evaluation of each run (its last eval.csv row: the deterministic actor on the "
        "fixed evaluation tasks); mean ± std over seeds. Normalised score: 0 = random policy, "
        "1 = the env's explorer.",
        "",
        "| env | method and settings | seeds | return | normalised score | per sub-episode | env steps | "
        "wall time (min) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    details = ["", "## Every run", "", f"First ≥ {args.threshold:g}: the env steps and wall time "
               f"of the first evaluation with a normalised score of at least {args.threshold:g}.",
               "", "| env | method and settings | seed | return | normalised | per sub-episode | env steps | "
               f"wall time (min) | first ≥ {args.threshold:g} | run |",
               "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for (env, method), entries in sorted(groups.items()):
        finals = [r for _, _, r in entries]
        subs_n = max(sum(k.startswith("sub_episode_") for k in r) for r in finals)
        sub_cells = " / ".join(
            _fmt([r[f"sub_episode_{k + 1}_return"] for r in finals
                  if f"sub_episode_{k + 1}_return" in r], 1)
            for k in range(subs_n)
        )  # fmt: skip
        lines.append(
            f"| {env} | {method} | {len(entries)} | {_fmt([r['return_mean'] for r in finals])} | "
            f"{_fmt([r['normalized_score'] for r in finals if 'normalized_score' in r], 3)} | "
            f"{sub_cells or '—'} | {_fmt([r['timesteps'] for r in finals], 0)} | "
            f"{_fmt([r['wall_time'] / 60 for r in finals], 1)} |"
        )
        for run, manifest, r in sorted(entries, key=lambda e: e[1].get("seed", 0)):
            subs = " / ".join(f"{r[k]:.1f}" for k in sorted(r) if k.startswith("sub_episode_"))
            score = f"{r['normalized_score']:.3f}" if "normalized_score" in r else "—"
            first = manifest["first_reaching"]
            reached = f"{int(first[0])} steps, {first[1] / 60:.1f} min" if first else "never"
            details.append(
                f"| {env} | {method} | {manifest.get('seed')} | {r['return_mean']:.2f} | {score} | "
                f"{subs or '—'} | {int(r['timesteps'])} | {r['wall_time'] / 60:.1f} | {reached} | "
                f"{os.path.relpath(run.path, out.parent)} |"
            )
    figures = ["", "## Curves", ""]
    for env, env_runs in sorted(by_env.items()):
        image = out.parent / f"{env_slug(env)}.png"
        plot_runs(env_runs, image, title=env)
        figures.append(f"![{env}]({image.name})")
        figures.append("")
    out.write_text("\n".join(lines + details + figures) + "\n")
    print(f"wrote {out} ({len(runs)} runs, {len(by_env)} figure(s))")
