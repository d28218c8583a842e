"""What Ray adds to a run on one machine: a 1-trial ``mamba-agent sweep`` against the same
``mamba-agent train`` command, side by side, and the resident memory of Ray's processes.

    python benchmarks/sweep_overhead.py [--rounds 2] [--steps 400]

Prints, per round, the wall time of ``train`` and of the 1-trial ``sweep`` (same env, seed,
preset and budget; a tiny preset so that start-up dominates), their difference, the seconds from
the sweep's start to its trial's start, and the summed RSS of Ray's processes while the trial runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ARGS = ["--env-kwargs", "num_sub_episodes=2", "sub_episode_length=10", "--preset", "tiny",
        "--seed", "0"]  # fmt: skip
ENV = "meta_envs/PointRobot-v0"


def ray_rss_mb() -> float:
    """Summed resident memory of Ray's processes (Linux /proc), the training process excluded."""
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if ("ray" in cmd.lower()) and not ("mamba_agent" in cmd and "ray::" not in cmd):
                if "sweep" in cmd and "mamba_agent" in cmd:
                    continue  # the sweep's own driver process is not Ray's
                for line in (proc / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total / 2**20


def run(cmd: list[str], watch: Path | None = None) -> tuple[float, float | None, float]:
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    first, rss = None, 0.0
    while proc.poll() is None:
        if watch is not None and first is None and (watch / "sweep_trial.pid").exists():
            first = time.perf_counter() - t0
        if watch is not None and first is not None:
            rss = max(rss, ray_rss_mb())
        time.sleep(0.05)
    assert proc.returncode == 0, cmd
    return time.perf_counter() - t0, first, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=400)
    args = parser.parse_args()
    cli = [sys.executable, "-m", "mamba_agent"]
    budget = ["--steps", str(args.steps)]
    common = ["--threads", "1", "--no-progress", "--verbose", "0", "--final-eval-episodes", "5",
              "--eval-every", "0"]  # fmt: skip
    print(f"{'round':>5} {'train s':>8} {'sweep s':>8} {'extra s':>8} {'to trial s':>10} "
          f"{'Ray RSS MB':>10}")  # fmt: skip
    for k in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            train_s, _, _ = run([*cli, "train", "--env", ENV, *ARGS, *budget, *common,
                                 "--run-dir", f"{tmp}/train"])  # fmt: skip
            sweep_args = [a for a in ARGS if a not in ("--seed", "0")]
            out = Path(tmp) / "sweep"
            sweep_s, first, rss = run(
                [*cli, "sweep", "--envs", ENV, "--seeds", "0", *sweep_args, *budget,
                 "--train-args=" + " ".join(common[2:]), "--out", str(out)],
                watch=out / "mamba" / "PointRobot-v0" / "seed0",
            )  # fmt: skip
        print(f"{k:>5} {train_s:8.1f} {sweep_s:8.1f} {sweep_s - train_s:8.1f} "
              f"{first or float('nan'):10.1f} {rss:10.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
