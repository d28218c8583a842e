"""A video of a trained agent: meta-episodes through the env's own renderer, one trail colour per
sub-episode, with the sub-episode returns in a caption.

Usage::

    python examples/make_video.py MODEL_OR_RUN_DIR [--out agent.mp4] [--episodes 2]

The same video is one command: ``mamba-agent render MODEL_OR_RUN_DIR --out agent.mp4``. This
script shows the loop behind it with the plain APIs: ``predict`` threads the recurrent state and
``episode_start`` marks the start of a meta-episode; ``meta_envs.save_video`` writes the frames.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # headless machines: draw off-screen only

import gymnasium as gym
import numpy as np

import meta_envs
from mamba_agent import MAMBA


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--out", type=Path, default=Path("agent.mp4"))
    parser.add_argument("--episodes", type=int, default=2)
    args = parser.parse_args()

    path = args.model
    if path.is_dir():
        path = path / "model.zip" if (path / "model.zip").exists() else path / "checkpoint.pt"
    model = MAMBA.load(path, device="cpu")
    env = gym.make(model.env_id, render_mode="rgb_array", **model.env_kwargs)
    frames = []
    for k in range(args.episodes):
        obs, info = env.reset(seed=k)
        frames.append(env.render())
        state, start, done, subs = None, True, False, [0.0]
        while not done:
            action, state = model.predict(obs, state, np.array([start]), deterministic=True)
            start = False
            obs, reward, terminated, truncated, info = env.step(action)
            done = terminated or truncated
            subs[-1] += float(reward)
            if info["sub_episode_end"] and not done:
                subs.append(0.0)
            frames.append(env.render())
        print(f"meta-episode {k}: sub-episode returns", [round(r, 2) for r in subs])
    meta_envs.save_video(frames, args.out, fps=30)
    print(f"wrote {args.out} ({len(frames)} frames)")


if __name__ == "__main__":
    main()
