"""Where a Point Robot agent starts its search, and whether its critic knows what that is worth.

The agents that fall short on Point Robot (and Wind) reach the half-circle part-way along it and
sweep from there to one end, never searching the arc they skipped (``arc_coverage.py``). This
script asks two questions of a trained agent by scripting its first moves: the robot is steered
straight to the point at ``--radius`` and angle ``theta`` (the world model sees every scripted
action and observation), then the agent's deterministic actor takes over for the rest of the
meta-episode. Over a grid of goals spread evenly on the half-circle it prints, per start angle:

- the critic's value of the latent state at the hand-over (mean over the goals: the agent has seen
  no reward yet, so it is the agent's estimate of what this start is worth), beside what it
  estimates: the real return from the hand-over on, discounted with the agent's ``gamma``;
- the real return of the meta-episode from that start (mean over the goals) and the fraction of
  goals found in sub-episode 1;

and, first, the same for the agent's own choice (the angle at which it first reaches radius
0.85). A critic that ranks the starts as their real returns do could teach the actor to start at
the better end; a flat one cannot::

    python results/search_starts.py models/PointRobot-v0
    python results/search_starts.py runs/RUN --angles 5 20 50 90 130 175 --goals 36
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import meta_envs  # noqa: F401  (registers the env ids)
from mamba_agent.algorithm import MAMBA
from mamba_agent.cli.inspect import load_agent
from mamba_agent.data.wrappers import MetaFeatures

ARRIVAL_RADIUS = 0.85
"""The agent's own start: the first step at which the robot is this far from the origin."""


@dataclass
class StartResult:
    """One start of the search, over every goal of the grid."""

    angle: float
    """Start angle in degrees (the agent's own choice: the median over goals of its arrival)."""
    value: float
    """Critic value at the hand-over (own choice: at the arrival), mean over goals."""
    discounted: float
    """What that value estimates: the real return from the hand-over on, discounted with the
    agent's ``gamma``, mean over goals."""
    returns: np.ndarray
    """Meta-episode return per goal."""
    found: np.ndarray
    """Per goal: rewarded in sub-episode 1."""


def goal_angles(n: int) -> np.ndarray:
    """``n`` goal angles (radians) at the centres of ``n`` equal slices of [0, pi]."""
    if n < 1:
        raise ValueError(f"the number of goals must be >= 1, got {n}")
    return (np.arange(n) + 0.5) * math.pi / n


@torch.no_grad()
def run_start(
    model: MAMBA,
    envs: list[gym.Env],
    goals: np.ndarray,
    start: float | None,
    radius: float = 0.9,
) -> StartResult:
    """One meta-episode per goal angle in ``goals`` (radians) with the first moves scripted to the
    point at ``radius`` and angle ``start`` (radians; ``None``: the agent acts from the first step)."""
    wm, actor, critic = model.world_model, model.actor_critic.actor, model.actor_critic
    rssm, dev, n = wm.rssm, model.device, len(envs)
    tasks = [np.array([math.cos(g), math.sin(g)]) for g in goals]
    obs = np.stack([env.reset(seed=0, options={"task": t})[0] for env, t in zip(envs, tasks)])
    embed = wm.encoder(torch.as_tensor(obs, device=dev, dtype=torch.float32))
    first = torch.ones(n, dtype=torch.bool, device=dev)
    post = rssm.obs_step(rssm.initial(n), torch.zeros(n, wm.act_dim, device=dev), embed, first,
                         mode=True)  # fmt: skip
    not_first = torch.zeros_like(first)
    target = None if start is None else radius * np.array([math.cos(start), math.sin(start)])
    scripted = np.full(n, target is not None)
    value = np.full(n, np.nan)
    arrival = np.full(n, np.nan)
    returns, found = np.zeros(n), np.zeros(n, dtype=bool)
    gamma, discounted, weight = model.config.behavior.gamma, np.zeros(n), np.zeros(n)
    sub = np.zeros(n, dtype=np.int64)
    done = np.zeros(n, dtype=bool)
    while not done.all():
        action = actor(post.feat()).mode().clamp(-1.0, 1.0).cpu().numpy()
        values = critic.value(post.feat()).cpu().numpy()
        position = obs[:, :2]
        for i in range(n):
            if target is not None and scripted[i]:
                gap = target - position[i]
                distance = float(np.linalg.norm(gap))
                if distance < 0.05:
                    scripted[i] = False
                    value[i], weight[i] = values[i], 1.0
                else:
                    action[i] = gap / distance * min(1.0, distance / 0.1)
            elif target is None and np.isnan(arrival[i]):
                if np.linalg.norm(position[i]) >= ARRIVAL_RADIUS:
                    arrival[i] = math.degrees(math.atan2(position[i][1], position[i][0]))
                    value[i], weight[i] = values[i], 1.0
        steps = [env.step(model.codec.to_env(action[i : i + 1])[0]) for i, env in enumerate(envs)]
        obs = np.stack([s[0] for s in steps])
        for i, (_, reward, term, trunc, info) in enumerate(steps):
            if done[i]:
                continue
            returns[i] += reward
            discounted[i] += weight[i] * reward
            weight[i] *= gamma
            found[i] |= sub[i] == 0 and reward > 0
            sub[i] += int(info.get("sub_episode_end", False))
            done[i] = term or trunc
        embed = wm.encoder(torch.as_tensor(obs, device=dev, dtype=torch.float32))
        post = rssm.obs_step(post, torch.as_tensor(action, device=dev), embed, not_first,
                             mode=True)  # fmt: skip
    angle = float(np.nanmedian(arrival)) if start is None else math.degrees(start)
    return StartResult(angle, float(np.nanmean(value)), float(discounted.mean()), returns, found)


def make_envs(model: MAMBA, env_id: str, env_kwargs: dict[str, Any], n: int) -> list[gym.Env]:
    """``n`` copies of the env, with the meta-features the model was trained with."""
    envs = []
    for _ in range(n):
        env = gym.make(env_id, **env_kwargs)
        if model.augment:
            env = MetaFeatures(env, model.config.train.time_scale or env.spec.max_episode_steps)
        envs.append(env)
    return envs


def main(argv: list[str] | None = None) -> int:
    """Print the table for a run directory or model file; 2 on bad input."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path, help="run directory, model.zip or checkpoint.pt")
    parser.add_argument(
        "--angles",
        type=float,
        nargs="+",
        default=[5, 20, 35, 50, 70, 90, 110, 130, 145, 160, 175],
        help="start angles in degrees, in [0, 180]",
    )
    parser.add_argument("--goals", type=int, default=36, help="goals on the half-circle")
    parser.add_argument("--radius", type=float, default=0.9, help="radius of the scripted start")
    args = parser.parse_args(argv)
    if args.goals < 1 or not all(0 <= a <= 180 for a in args.angles):
        parser.error("--goals must be >= 1 and every angle in [0, 180]")
    if not 0 < args.radius <= 1.2:
        parser.error("--radius must be in (0, 1.2]")
    torch.set_num_threads(1)
    model, env_id, env_kwargs, _ = load_agent(args.path)
    if not env_id.startswith("meta_envs/PointRobot"):
        parser.error(f"{env_id}: this script scripts Point Robot (and Wind) starts only")
    goals = goal_angles(args.goals)
    envs = make_envs(model, env_id, env_kwargs, args.goals)
    try:
        results = [run_start(model, envs, goals, None, args.radius)]
        for angle in args.angles:
            results.append(run_start(model, envs, goals, math.radians(angle), args.radius))
    finally:
        for env in envs:
            env.close()
    print(f"{env_id}: {args.goals} goals on the half-circle, deterministic actor after the start")
    print(
        "| start | critic value at the start | real discounted return from it | "
        "meta-episode return | found in sub-episode 1 |"
    )
    print("|---|---|---|---|---|")
    for k, r in enumerate(results):
        label = f"own choice (~{r.angle:.0f}°)" if k == 0 else f"{r.angle:.0f}°"
        print(
            f"| {label} | {r.value:.1f} | {r.discounted:.1f} | {r.returns.mean():.1f} "
            f"| {r.found.mean():.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
