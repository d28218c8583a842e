"""Environment throughput, measured side by side in one run.

Prints:
  1. single-env steps/s through ``gym.make`` for every meta_envs id next to Gymnasium's
     CartPole-v1 (target: PointRobot and RoomsN at least 0.7x CartPole-v1);
  2. native vector env-steps/s against Gymnasium's SyncVectorEnv at 1,024 envs (target:
     PointRobot at least 10 M env-steps/s, scaled by the yardstick factor, and at least 50x Sync);
  3. Reacher-N next to Gymnasium's Reacher-v5 (target: at least 1.5x single-env), its rgb_array
     frames/s at 256x256 (target: 200) and its native vector form (``reacher_throughput.py``).

Usage::

    python benchmarks/env_throughput.py [--seconds 2] [--num-envs 1024] [--yardstick PATH]

Machines of the same kind differ by 2x or more, so absolute figures are printed with the factor of
``shared/bench/yardstick.py`` (run three times, median) when that file is found.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import meta_envs

#: The machine yardstick, in the shared folder beside the repository.
YARDSTICK = Path(__file__).resolve().parents[2] / "shared" / "bench" / "yardstick.py"

TWO_D_IDS = (
    "meta_envs/PointRobot-v0",
    "meta_envs/PointRobotWind-v0",
    "meta_envs/EscapeRoom-v0",
    "meta_envs/RoomsN-v0",
)


def single_env_steps_per_second(env_id: str, seconds: float, **kwargs: Any) -> float:
    """Steps/s of ``gym.make(env_id)`` (with its default wrappers) under pre-sampled random actions."""
    env = gym.make(env_id, **kwargs)
    env.reset(seed=0)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(1024)]
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for action in actions:
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
        steps += len(actions)
    elapsed = time.perf_counter() - start
    env.close()
    return steps / elapsed


def vector_steps_per_second(env_id: str, mode: str, num_envs: int, seconds: float) -> float:
    """Env-steps/s (sub-env steps) of ``gym.make_vec`` in ``mode`` under random actions."""
    envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode)
    envs.reset(seed=0)
    envs.action_space.seed(0)
    actions = [envs.action_space.sample() for _ in range(8)]
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for action in actions:
            envs.step(action)
        calls += len(actions)
    elapsed = time.perf_counter() - start
    envs.close()
    return calls * num_envs / elapsed


def yardstick_factor(path: Path) -> float | None:
    """Median factor of three runs of the yardstick script, or None if it is not there."""
    if not path.exists():
        return None
    factors = []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, str(path)], capture_output=True, text=True, check=True
        ).stdout
        factors.append(json.loads(out.strip().splitlines()[-1])["factor"])
    return statistics.median(factors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    parser.add_argument("--num-envs", type=int, default=1024)
    parser.add_argument("--yardstick", type=Path, default=YARDSTICK)
    parser.add_argument("--quick", action="store_true", help="shorter Reacher-N runs")
    args = parser.parse_args()

    factor = yardstick_factor(args.yardstick)
    if factor is not None:  # the yardstick is optional: nothing is said when it is absent
        print(f"yardstick factor: {factor}")
    print(
        f"numpy {np.__version__}, gymnasium {gym.__version__}, meta_envs {meta_envs.__version__}\n"
    )

    print("1. single env through gym.make (steps/s)")
    cartpole = single_env_steps_per_second("CartPole-v1", args.seconds)
    print(f"   {'CartPole-v1':<30}{cartpole:>12,.0f}   1.00x")
    for env_id in meta_envs.env_ids():
        rate = single_env_steps_per_second(env_id, args.seconds)
        print(f"   {env_id:<30}{rate:>12,.0f}   {rate / cartpole:.2f}x CartPole-v1")

    print(f"\n2. vector, {args.num_envs} envs (env-steps/s)")
    for env_id in TWO_D_IDS:
        native = vector_steps_per_second(env_id, "vector_entry_point", args.num_envs, args.seconds)
        sync = vector_steps_per_second(env_id, "sync", args.num_envs, args.seconds)
        scaled = "" if factor is None else f"  ({native * factor / 1e6:.1f} M at factor 1.0)"
        print(
            f"   {env_id:<30} native {native / 1e6:6.2f} M   sync {sync / 1e3:8.1f} k   {native / sync:6.0f}x{scaled}"
        )

    print("\n3. Reacher-N")
    import reacher_throughput  # same folder; imports MuJoCo

    reacher_throughput.report(quick=args.quick)


if __name__ == "__main__":
    main()
