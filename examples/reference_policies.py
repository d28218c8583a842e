"""Roll out the reference policies on every 2D meta-env, print the score table, write videos.

Usage::

    python examples/reference_policies.py [--out videos] [--seed 0]

For each env this prints the mean meta-episode return of the random, explorer and oracle policies
(the scale every learning result is reported on) and the explorer's return per sub-episode, then
writes one mp4 of the explorer's meta-episode (one trail colour per sub-episode) to ``--out``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # headless machines: draw off-screen only

import gymnasium as gym

import meta_envs

ENV_IDS = (
    "meta_envs/PointRobot-v0",
    "meta_envs/PointRobotWind-v0",
    "meta_envs/EscapeRoom-v0",
    "meta_envs/RoomsN-v0",
)


def record_explorer(env_id: str, path: Path, seed: int) -> Path:
    """One meta-episode of the explorer, rendered frame by frame into a video."""
    env = gym.make(env_id, render_mode="rgb_array")
    explorer = meta_envs.make_policy("explorer", env)
    obs, info = env.reset(seed=seed)
    explorer.reset()
    frames = [env.render()]
    truncated = False
    while not truncated:
        obs, _, _, truncated, info = env.step(explorer.act(obs, info))
        frames.append(env.render())
    env.close()
    return meta_envs.save_video(frames, path, fps=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("videos"), help="folder for the mp4 files")
    parser.add_argument("--seed", type=int, default=0, help="seed of the recorded meta-episodes")
    args = parser.parse_args()

    header = f"{'env':<30}{'random':>10}{'explorer':>10}{'oracle':>10}   explorer per sub-episode"
    print(header)
    print("-" * len(header))
    for env_id in ENV_IDS:
        ref = meta_envs.reference_returns(env_id)
        explorer = meta_envs.evaluate_policy(env_id, "explorer", 50, seed=args.seed)
        per_sub = " ".join(f"{r:7.2f}" for r in explorer.sub_episode_returns)
        print(
            f"{env_id:<30}{ref['random']:>10.2f}{ref['explorer']:>10.2f}{ref['oracle']:>10.2f}   {per_sub}"
        )
    print()
    for env_id in ENV_IDS:
        name = env_id.split("/")[1].removesuffix("-v0").lower()
        path = record_explorer(env_id, args.out / f"{name}_explorer.mp4", args.seed)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
