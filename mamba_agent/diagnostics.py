"""What a trained agent's world model predicts against what happened, per sub-episode.

A meta-RL agent exploits only if its world model remembers what earlier sub-episodes revealed: in
a later sub-episode the model should predict the reward *before* it sees it. This module runs
meta-episodes with the agent's own (deterministic) policy and records at every step:

- the real reward r_t;
- the reward predicted from the **prior** at t (the model state after a_{t-1}, before o_t is seen:
  a prediction from memory);
- the reward predicted from the **posterior** at t (after o_t is seen: a check of the reward head);
- the critic's value of the posterior state.

Summed per sub-episode, a model that remembers has prior-predicted rewards close to the real ones in
sub-episodes 2 and later; a model that does not predicts them only once the observation (which
carries the previous reward) shows them. ``python -m mamba_agent.diagnostics RUN_DIR_OR_MODEL``
prints the table; ``--per-task`` adds one row per meta-episode, sorted by task (the env's ``task``
attribute where it has one): which tasks the agent solves, and in which sub-episode it first finds
the reward, shows where its exploration fails (for instance the goals of one end of Point Robot's
half-circle).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mamba_agent.algorithm import MAMBA
from mamba_agent.data.spaces import make_vector_env
from mamba_agent.nn.distributions import twohot_decode

__all__ = ["RewardTrace", "trace_rewards", "main"]


@dataclass
class RewardTrace:
    """Per-step traces of ``n`` meta-episodes, each array (n, T)."""

    real: np.ndarray
    """Rewards received."""
    prior: np.ndarray
    """Rewards predicted from the prior state at each step (before its observation)."""
    posterior: np.ndarray
    """Rewards predicted from the posterior state at each step (after its observation)."""
    value: np.ndarray
    """Critic values of the posterior states."""
    sub_episode: np.ndarray
    """Sub-episode index (0-based) of each step."""
    tasks: list[Any] | None = None
    """Each meta-episode's task, where the env has a ``task`` attribute (else ``None``)."""

    def per_meta_episode(self) -> list[dict[str, Any]]:
        """One row per meta-episode, in the order of the trace: its ``task`` (``None`` where
        unknown), its ``return``, each sub-episode's return (``sub_returns``) and the step inside
        each sub-episode of its first positive reward (``first_reward``, ``None`` where it had none:
        step penalties are not a reward found)."""
        n_sub = int(self.sub_episode.max()) + 1
        rows = []
        for i in range(self.real.shape[0]):
            sub_returns, first_reward = [], []
            for k in range(n_sub):
                real = self.real[i][self.sub_episode[i] == k]
                sub_returns.append(float(real.sum()))
                hits = np.flatnonzero(real > 0)
                first_reward.append(int(hits[0]) if hits.size else None)
            rows.append(
                {
                    "task": None if self.tasks is None else self.tasks[i],
                    "return": float(sum(sub_returns)),
                    "sub_returns": sub_returns,
                    "first_reward": first_reward,
                }
            )
        return rows

    def per_sub_episode(self) -> list[dict[str, float]]:
        """Mean over meta-episodes of each sub-episode's summed real, prior- and posterior-predicted
        reward; the correlation of prior-predicted with real rewards inside it; and, at the first
        rewarded step (positive reward) of each sub-episode that has one, the mean real and prior-predicted reward
        (``first_real``, ``first_prior``: a model that remembers where the reward is predicts it
        on arrival, not only once it has been seen); ``revisit_*`` the same over the meta-episodes
        (``revisits`` of them) already rewarded in an earlier sub-episode: the test of memory."""
        rows = []
        for k in range(int(self.sub_episode.max()) + 1):
            mask = self.sub_episode == k
            real = np.where(mask, self.real, 0.0).sum(1)
            prior = np.where(mask, self.prior, 0.0).sum(1)
            post = np.where(mask, self.posterior, 0.0).sum(1)
            r, p = self.real[mask], self.prior[mask]
            corr = float(np.corrcoef(r, p)[0, 1]) if r.std() > 0 and p.std() > 0 else float("nan")
            rewarded = np.where(mask, self.real, 0.0) > 0
            has = rewarded.any(1)
            first = rewarded.argmax(1)[has]
            rows_with = np.flatnonzero(has)
            # ... and the same over meta-episodes that were rewarded in an earlier sub-episode
            before = (np.where(self.sub_episode < k, self.real, 0.0) > 0).any(1)
            again = before[rows_with]
            nan = float("nan")
            rows.append(
                {
                    "sub_episode": k + 1,
                    "real": float(real.mean()),
                    "prior": float(prior.mean()),
                    "posterior": float(post.mean()),
                    "prior_corr": corr,
                    "rewarded": float(has.mean()),
                    "first_real": float(self.real[rows_with, first].mean()) if has.any() else nan,
                    "first_prior": float(self.prior[rows_with, first].mean()) if has.any() else nan,
                    "revisits": int(again.sum()),
                    "revisit_real": float(self.real[rows_with, first][again].mean())
                    if again.any()
                    else nan,
                    "revisit_prior": float(self.prior[rows_with, first][again].mean())
                    if again.any()
                    else nan,
                }
            )
        return rows


@torch.no_grad()
def trace_rewards(
    model: MAMBA,
    env_id: str,
    n_episodes: int,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
) -> RewardTrace:
    """Run ``n_episodes`` meta-episodes (env ``i`` reset with ``seed + i``) with the model's
    deterministic actor and trace real against predicted rewards (see the module docstring)."""
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes}")
    wm, actor, ac = model.world_model, model.actor_critic.actor, model.actor_critic
    rssm, dev = wm.rssm, model.device
    venv = make_vector_env(
        env_id, n_episodes, model.augment, model.config.train.time_scale, env_kwargs
    )
    n = venv.num_envs
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("real", "prior", "post", "value", "sub")}
    try:
        obs, _ = venv.reset(seed=seed)
        tasks = _tasks_of(venv)
        embed = wm.encoder(torch.as_tensor(obs, device=dev, dtype=torch.float32))
        first = torch.ones(n, dtype=torch.bool, device=dev)
        zero_action = torch.zeros(n, wm.act_dim, device=dev)
        post = rssm.obs_step(rssm.initial(n), zero_action, embed, first, mode=True)
        not_first = torch.zeros_like(first)
        done = np.zeros(n, dtype=bool)
        sub = np.zeros(n, dtype=np.int64)
        while not done.all():
            action = actor(post.feat()).mode()
            if not actor.discrete:
                action = action.clamp(-1.0, 1.0)
            vec = action.float().cpu().numpy()
            obs, rewards, terms, truncs, infos = venv.step(model.codec.to_env(vec))
            # the reward of this step, predicted before (prior of the new h) and after its
            # observation is seen (posterior); the posterior is the next step's state
            embed = wm.encoder(torch.as_tensor(obs, device=dev, dtype=torch.float32))
            nxt_post = rssm.obs_step(post, action, embed, not_first, mode=True)
            nxt_prior = rssm.prior(nxt_post.deter, mode=True)
            prior_reward = twohot_decode(wm.reward_head(nxt_prior.feat()), wm.bins).cpu().numpy()
            feat = nxt_post.feat()
            live = ~done
            cols["real"].append(np.where(live, rewards, 0.0))
            cols["prior"].append(np.where(live, prior_reward, 0.0))
            cols["post"].append(
                np.where(live, twohot_decode(wm.reward_head(feat), wm.bins).cpu().numpy(), 0.0)
            )
            cols["value"].append(np.where(live, ac.value(feat).cpu().numpy(), 0.0))
            cols["sub"].append(np.where(live, sub, -1))
            ends = infos.get("sub_episode_end") if isinstance(infos, dict) else None
            if ends is not None:
                sub = sub + np.asarray(ends, dtype=np.int64)
            done |= np.logical_or(terms, truncs)
            post = nxt_post
    finally:
        venv.close()
    stack = {k: np.stack(v, 1) for k, v in cols.items()}
    return RewardTrace(
        stack["real"], stack["prior"], stack["post"], stack["value"], stack["sub"], tasks
    )


def _tasks_of(venv: Any) -> list[Any] | None:
    """The sub-envs' tasks just after a reset: a native meta vector env's ``tasks`` list, else each
    sub-env's ``task`` attribute; ``None`` for envs without tasks."""
    tasks = getattr(venv.unwrapped, "tasks", None)
    if tasks is None:
        try:
            tasks = venv.get_attr("task")
        except (AttributeError, NotImplementedError):
            return None
    return [np.array(task, copy=True) if isinstance(task, np.ndarray) else task for task in tasks]


def _format_task(task: Any) -> str:
    if task is None:
        return "-"
    values = np.asarray(task)
    if values.dtype.kind == "f":
        return "(" + ", ".join(f"{v:.3f}" for v in values.ravel()) + ")"
    if values.dtype.kind in "biu":
        return "(" + ", ".join(str(v) for v in values.ravel()) + ")"
    return str(task)


def _task_key(task: Any) -> tuple:
    values = np.asarray(task)
    if values.dtype.kind in "biuf":
        return (0, tuple(values.ravel().tolist()), "")
    return (1, (), str(task))


def main(argv: list[str] | None = None) -> None:
    """``python -m mamba_agent.diagnostics RUN_DIR_OR_MODEL [--episodes M] [--seed S]``."""
    from pathlib import Path

    from mamba_agent.cli.inspect import load_agent

    parser = argparse.ArgumentParser(
        prog="python -m mamba_agent.diagnostics",
        description="Real against world-model-predicted rewards per sub-episode of a trained "
        "MAMBA agent: prior = predicted before the step's observation (from memory), posterior = "
        "after it.",
    )
    parser.add_argument("path", help="run directory, model.zip or checkpoint.pt")
    parser.add_argument("--episodes", type=int, default=20, help="meta-episodes to run")
    parser.add_argument(
        "--seed", type=int, default=1_000_000, help="env i is reset with seed + i (evaluation's)"
    )
    parser.add_argument(
        "--per-task",
        action="store_true",
        help="also print one row per meta-episode, sorted by task: its sub-episode returns and "
        "the step of each sub-episode's first reward",
    )
    args = parser.parse_args(argv)
    model, env_id, env_kwargs, _ = load_agent(Path(args.path))
    if not isinstance(model, MAMBA):
        raise SystemExit(f"{args.path}: not a MAMBA model (it has no world model to inspect)")
    trace = trace_rewards(model, env_id, args.episodes, args.seed, env_kwargs)
    print(f"{env_id} {env_kwargs or ''}: {args.episodes} meta-episodes, deterministic actor")
    print(
        f"{'sub-episode':>11} {'real':>9} {'prior':>9} {'posterior':>9} {'corr(prior)':>11} "
        f"{'rewarded':>9} {'first real':>10} {'first prior':>11} {'revisits':>8} "
        f"{'revisit real':>12} {'revisit prior':>13}"
    )
    for row in trace.per_sub_episode():
        print(
            f"{row['sub_episode']:>11} {row['real']:9.2f} {row['prior']:9.2f} "
            f"{row['posterior']:9.2f} {row['prior_corr']:11.3f} {row['rewarded']:9.2f} "
            f"{row['first_real']:10.3f} {row['first_prior']:11.3f} {row['revisits']:8d} "
            f"{row['revisit_real']:12.3f} {row['revisit_prior']:13.3f}"
        )
    if args.per_task:
        _print_per_task(trace)


def _print_per_task(trace: RewardTrace) -> None:
    rows = trace.per_meta_episode()
    if trace.tasks is not None:
        rows.sort(key=lambda row: _task_key(row["task"]))
    n_sub = len(rows[0]["sub_returns"])
    subs = " ".join(f"{f'sub {k + 1}':>7}" for k in range(n_sub))
    firsts = " ".join(f"{f'first {k + 1}':>7}" for k in range(n_sub))
    print()
    print(
        "per meta-episode, sorted by task (first k: step of sub-episode k's first positive reward)"
    )
    print(f"{'task':>24} {'return':>8} {subs} {firsts}")
    for row in rows:
        returns = " ".join(f"{r:7.1f}" for r in row["sub_returns"])
        first = " ".join(f"{'-' if f is None else f:>7}" for f in row["first_reward"])
        print(f"{_format_task(row['task']):>24} {row['return']:8.1f} {returns} {first}")


if __name__ == "__main__":
    main()
