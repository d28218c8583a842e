"""Train MAMBA with Stable-Baselines3's callbacks: EvalCallback and CheckpointCallback.

Usage::

    python examples/sb3_callbacks.py [--steps 30000] [--out runs/sb3_callbacks]

``EvalCallback`` evaluates on a separate env (SB3 counts one meta-episode as one episode) and
keeps the best model; ``CheckpointCallback`` saves the model and the replay buffer (plain arrays)
every ``save_freq`` calls. ``MAMBA.load`` + ``load_replay_buffer`` continue training from them.
For a run directory with resume after a crash, use ``mamba-agent train`` instead (docs/cli.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym
from stable_baselines3.common.callbacks import CallbackList, CheckpointCallback, EvalCallback
from stable_baselines3.common.monitor import Monitor

import meta_envs  # noqa: F401  (registers the ids)
from mamba_agent import MAMBA


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30_000)
    parser.add_argument("--out", type=Path, default=Path("runs/sb3_callbacks"))
    parser.add_argument("--every", type=int, default=2_500, help="callback calls between saves")
    args = parser.parse_args()

    env_id = "meta_envs/PointRobot-v0"
    model = MAMBA(env_id, preset="point_robot_cpu", seed=0, verbose=0)
    eval_env = Monitor(gym.make(env_id))
    callbacks = CallbackList([
        # one call per vector step: 4 envs -> every 4 x --every env steps
        CheckpointCallback(save_freq=args.every, save_path=str(args.out / "checkpoints"),
                           save_replay_buffer=True),
        EvalCallback(eval_env, n_eval_episodes=5, eval_freq=args.every,
                     best_model_save_path=str(args.out / "best"), verbose=1),
    ])  # fmt: skip
    model.learn(args.steps, callback=callbacks, progress_bar=True)
    print("checkpoints:", sorted(p.name for p in (args.out / "checkpoints").iterdir()))

    # continue from the last checkpoint, replay included
    last = max((args.out / "checkpoints").glob("rl_model_*_steps.zip"),
               key=lambda p: int(p.stem.split("_")[-2]))  # fmt: skip
    replay = last.with_name(last.name.replace("rl_model_", "rl_model_replay_buffer_"))
    resumed = MAMBA.load(last, env=env_id)
    resumed.load_replay_buffer(replay.with_suffix(".pkl"))
    print(
        f"loaded {last.name}: {resumed.num_timesteps} env steps, {len(resumed.replay)} "
        "meta-episodes in replay"
    )


if __name__ == "__main__":
    main()
