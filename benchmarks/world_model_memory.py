"""Can the world model learn to remember the task? World-model training alone, configurations side
by side.

A meta-RL agent exploits only if its world model predicts, in a later sub-episode, the reward it
found in an earlier one *before* it sees it again. This script isolates that from the actor: it
collects meta-episodes of the env's explorer (which finds the goal in sub-episode 1 and goes
straight back to it in the later ones, so every meta-episode holds revisits), trains only the world
model on them for ``--updates`` updates per configuration, and measures on held-out meta-episodes
the reward predicted from the **prior** (before the observation) at the first rewarded step of
each sub-episode: ~0 in sub-episode 1 (nothing to remember yet); close to the real reward in
sub-episodes 2 and later if the model remembers.

    python benchmarks/world_model_memory.py                       # default and the two options
    python benchmarks/world_model_memory.py --updates 3000 --configs "" "gru_chrono=300"

Each configuration is a preset (``--preset``, default ``point_robot_cpu``) plus ``key=value``
overrides separated by spaces; "" is the preset itself. Prints one table row per configuration and
evaluation point, with the yardstick factor of the machine where the yardstick is found.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import meta_envs
from mamba_agent import MAMBA
from mamba_agent.config import make_config
from mamba_agent.data.batch import Batch
from mamba_agent.data.replay import MetaEpisodeReplay
from mamba_agent.diagnostics import RewardTrace
from mamba_agent.nn.distributions import twohot_decode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from agent_throughput import yardstick  # noqa: E402  (the yardstick beside the repository)


def collect(env_id: str, n: int, seed: int, kind: str = "explorer") -> list[dict[str, np.ndarray]]:
    """``n`` meta-episodes of the env's reference policy ``kind``, as replay episodes."""
    env = gym.make(env_id)
    policy = meta_envs.make_policy(kind, env, seed=seed)
    episodes = []
    for i in range(n):
        obs, info = env.reset(seed=seed + i)
        policy.reset()
        rows: dict[str, list[Any]] = {
            "obs": [obs],
            "prev_action": [np.zeros(env.action_space.shape, np.float32)],
            "reward": [0.0],
            "is_first": [True],
            "is_terminal": [False],
        }
        done = False
        while not done:
            action = np.asarray(policy(obs, info), np.float32)
            obs, reward, term, trunc, info = env.step(action)
            done = term or trunc
            rows["obs"].append(obs)
            rows["prev_action"].append(np.clip(action, -1.0, 1.0))
            rows["reward"].append(float(reward))
            rows["is_first"].append(False)
            rows["is_terminal"].append(bool(term))
        episodes.append({k: np.asarray(v) for k, v in rows.items()})
    env.close()
    return episodes


def fix_sub_episodes(ep: dict[str, np.ndarray], length: int) -> np.ndarray:
    """Sub-episode index of each row (row t >= 1 is the step into o_t)."""
    t = np.arange(len(ep["obs"]))
    return np.maximum(t - 1, 0) // length


@torch.no_grad()
def memory_trace(model: MAMBA, episodes: list[dict[str, np.ndarray]], length: int) -> RewardTrace:
    """Real, prior- and posterior-predicted rewards along the given meta-episodes."""
    wm = model.world_model
    keys = ("obs", "prev_action", "reward", "is_first", "is_terminal")
    batch = Batch.from_numpy({k: np.stack([e[k] for e in episodes]) for k in keys})
    _, _, post = wm.loss(batch)
    prior = wm.rssm.prior(post.deter, mode=True)
    prior_r = twohot_decode(wm.reward_head(prior.feat()), wm.bins).numpy()
    post_r = twohot_decode(wm.reward_head(post.feat()), wm.bins).numpy()
    real = batch.reward.numpy()
    sub = np.stack([fix_sub_episodes(e, length) for e in episodes])
    # row 0 (the reset) carries no reward: leave it out
    return RewardTrace(
        real[:, 1:], prior_r[:, 1:], post_r[:, 1:], np.zeros_like(real[:, 1:]), sub[:, 1:]
    )


def run_config(
    env_id: str,
    preset: str,
    overrides: dict[str, Any],
    train: list[dict[str, np.ndarray]],
    test: list[dict[str, np.ndarray]],
    updates: int,
    every: int,
    seed: int,
    length: int,
) -> list[dict[str, float]]:
    model = MAMBA(env_id, preset=preset, seed=seed, device="cpu", **overrides)
    replay = MetaEpisodeReplay(10**7)
    for ep in train:
        replay.add(ep)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    out = []
    start = time.perf_counter()
    for u in range(1, updates + 1):
        batch = Batch.from_numpy(replay.sample(model.config.replay.batch_size, rng))
        metrics, _ = model.world_model.train_step(batch, gen)
        if u % every == 0 or u == updates:
            rows = memory_trace(model, test, length).per_sub_episode()
            later = rows[1:]
            out.append(
                {
                    "updates": u,
                    "seconds": time.perf_counter() - start,
                    "reward_loss": metrics["world_model/reward_loss"],
                    "first_prior_1": rows[0]["first_prior"],
                    "revisit_real": float(np.mean([r["revisit_real"] for r in later])),
                    "revisit_prior": float(np.mean([r["revisit_prior"] for r in later])),
                }
            )
            print(
                f"  {u:6d} updates {out[-1]['seconds']:7.0f} s  reward loss "
                f"{out[-1]['reward_loss']:.4f}  arrival predicted: sub-episode 1 "
                f"{out[-1]['first_prior_1']:.3f}, later {out[-1]['revisit_prior']:.3f} "
                f"(real {out[-1]['revisit_real']:.3f})",
                flush=True,
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="meta_envs/PointRobot-v0")
    parser.add_argument("--preset", default="point_robot_cpu")
    parser.add_argument(
        "--configs",
        nargs="*",
        default=[
            "",
            "gru_chrono=300",
            "reward_from_deter=true",
            "reward_from_deter=true gru_chrono=300",
        ],
    )
    parser.add_argument("--updates", type=int, default=1500)
    parser.add_argument("--every", type=int, default=250)
    parser.add_argument("--train-episodes", type=int, default=200)
    parser.add_argument("--test-episodes", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-yardstick", action="store_true", help="skip the machine yardstick")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    env = gym.make(args.env)
    length = int(env.unwrapped.sub_episode_length)
    env.close()
    t0 = time.perf_counter()
    train = collect(args.env, args.train_episodes, args.seed)
    test = collect(args.env, args.test_episodes, 10**6 + args.seed)
    print(
        f"{args.env}: {len(train)} explorer meta-episodes to train on, {len(test)} held out "
        f"({time.perf_counter() - t0:.0f} s); preset {args.preset}, {args.threads} thread(s)"
    )
    for spec in args.configs:
        overrides: dict[str, Any] = {}
        for item in spec.split():
            key, value = item.split("=", 1)
            overrides[key] = {"true": True, "false": False}.get(value.lower(), value)
            for cast in (int, float):
                try:
                    overrides[key] = cast(value)
                    break
                except ValueError:
                    continue
        make_config(args.preset, **overrides)  # fail early on a bad key
        print(f"config {spec or '(preset)'}:", flush=True)
        run_config(
            args.env,
            args.preset,
            overrides,
            train,
            test,
            args.updates,
            args.every,
            args.seed,
            length,
        )
    factor = None if args.no_yardstick else yardstick()
    print(f"yardstick factor (median of 3): {factor if factor is not None else 'n/a'}")


if __name__ == "__main__":
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    main()
