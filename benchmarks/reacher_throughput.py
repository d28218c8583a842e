"""Reacher-N throughput: steps/s next to Gymnasium's Reacher-v5, rendered frames/s, vector forms.

    python benchmarks/reacher_throughput.py            # all figures, then the machine yardstick
    python benchmarks/reacher_throughput.py --quick    # shorter runs

Single-env figures go through ``gym.make`` (so both envs carry the same default wrappers) and are
measured side by side in this one process, interleaved, best of several repeats, with zero actions
and resets counted. Frames/s are ``rgb_array`` renders at 256x256 with a full trail. The vector
figures compare ``gym.make_vec(..., vectorization_mode="vector_entry_point")`` with
``vectorization_mode="sync"``. At the end, when the machine yardstick is found beside the
repository (``../shared/bench/yardstick.py``), its factor (median of 3 runs) is printed, so that
absolute figures can be scaled to the reference machine; without it nothing is printed about it.
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
from env_throughput import YARDSTICK, yardstick_factor  # noqa: E402  (same folder)

import meta_envs  # noqa: F401,I001  (registers the ids)
import meta_envs.envs.reacher  # noqa: F401  (picks MUJOCO_GL before mujoco is imported)


def steps_per_second(env: gym.Env, steps: int) -> float:
    action = np.zeros(env.action_space.shape, dtype=env.action_space.dtype)
    env.reset(seed=0)
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def vector_steps_per_second(env: gym.vector.VectorEnv, steps: int) -> float:
    actions = np.zeros(env.action_space.shape, dtype=env.action_space.dtype)
    env.reset(seed=0)
    for _ in range(10):
        env.step(actions)
    start = time.perf_counter()
    for _ in range(steps):
        env.step(actions)
    return steps * env.num_envs / (time.perf_counter() - start)


def frames_per_second(frames: int) -> float:
    env = gym.make("meta_envs/ReacherN-v0", render_mode="rgb_array", width=256, height=256)
    env.reset(seed=0)
    for _ in range(600):  # two sub-episodes of trail
        env.step(env.action_space.sample())
    env.render()
    start = time.perf_counter()
    for _ in range(frames):
        env.render()
    rate = frames / (time.perf_counter() - start)
    env.close()
    return rate


def report(quick: bool = False) -> None:
    """Print the Reacher-N figures (single env vs Reacher-v5, frames/s, vector forms)."""
    steps = 5_000 if quick else 20_000
    repeats = 3 if quick else 5

    ours = gym.make("meta_envs/ReacherN-v0")
    theirs = gym.make("Reacher-v5")
    best = {"ReacherN-v0": 0.0, "Reacher-v5": 0.0}
    for _ in range(repeats):  # interleaved, so both see the same machine load
        best["ReacherN-v0"] = max(best["ReacherN-v0"], steps_per_second(ours, steps))
        best["Reacher-v5"] = max(best["Reacher-v5"], steps_per_second(theirs, steps))
    ratio = best["ReacherN-v0"] / best["Reacher-v5"]
    print(f"single env, gym.make, best of {repeats} x {steps} steps:")
    print(f"  meta_envs/ReacherN-v0  {best['ReacherN-v0']:9.0f} steps/s")
    print(f"  Reacher-v5             {best['Reacher-v5']:9.0f} steps/s")
    print(f"  ratio                  {ratio:9.2f}x (target >= 1.5x)")

    fps = max(frames_per_second(100 if quick else 300) for _ in range(2))
    print(f"rgb_array 256x256 with trails: {fps:.0f} frames/s (target >= 200)")

    for num_envs in (8, 32):
        rates = {}
        for mode in ("vector_entry_point", "sync"):
            env = gym.make_vec("meta_envs/ReacherN-v0", num_envs=num_envs, vectorization_mode=mode)
            rates[mode] = max(vector_steps_per_second(env, steps // num_envs) for _ in range(2))
            env.close()
        print(
            f"vector, {num_envs} envs: native {rates['vector_entry_point']:.0f} env-steps/s, "
            f"SyncVectorEnv {rates['sync']:.0f} env-steps/s "
            f"({rates['vector_entry_point'] / rates['sync']:.2f}x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--no-yardstick", action="store_true", help="skip the machine yardstick")
    args = parser.parse_args()
    report(args.quick)
    factor = None if args.no_yardstick else yardstick_factor(YARDSTICK)
    if factor is not None:  # the yardstick is optional: skipped quietly when absent
        print(f"yardstick factor (median of 3): {factor} (1.0 = reference machine; >1 = slower)")


if __name__ == "__main__":
    main()
