"""An RL² baseline: sb3-contrib's RecurrentPPO (LSTM policy) on a meta_envs env, no extra wrapper.

Usage::

    pip install -e ".[baselines]"
    python examples/rl2_recurrent_ppo.py [--env meta_envs/PointRobot-v0] [--steps 200000]

RL² is a recurrent policy whose memory spans the whole meta-episode. With meta_envs that needs
nothing extra: a Gymnasium episode *is* the meta-episode (SB3 resets the LSTM state only at
``reset``), and the observation already carries the previous reward and the meta-episode time
t/(N·H) (``meta_features=True``, the default). The score is printed on the random (0) /
explorer (1) scale, evaluated on the same fixed tasks as ``mamba-agent eval`` uses.
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np
from sb3_contrib import RecurrentPPO

import meta_envs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="meta_envs/PointRobot-v0")
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--episodes", type=int, default=20)
    args = parser.parse_args()

    model = RecurrentPPO("MlpLstmPolicy", gym.make(args.env), n_steps=600, batch_size=600,
                         learning_rate=3e-4, gamma=0.99, seed=0, verbose=0)  # fmt: skip
    model.learn(args.steps, progress_bar=True)

    env = gym.make(args.env)
    returns = []
    for i in range(args.episodes):
        obs, info = env.reset(seed=1_000_000 + i)  # the CLI's fixed evaluation tasks
        state, start, done, total = None, np.ones((1,), bool), False, 0.0
        while not done:
            action, state = model.predict(obs, state=state, episode_start=start,
                                          deterministic=True)  # fmt: skip
            obs, reward, terminated, truncated, info = env.step(action)
            start[:] = False
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    mean = float(np.mean(returns))
    score = meta_envs.normalized_score(args.env, mean)
    print(
        f"RecurrentPPO on {args.env}: return {mean:.2f} ± {np.std(returns):.2f}, "
        f"normalised score {score:.3f}"
    )


if __name__ == "__main__":
    main()
