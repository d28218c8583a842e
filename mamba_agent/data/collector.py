"""The collector: steps a Gymnasium ``VectorEnv`` and turns its transitions into meta-episodes laid
out as in :mod:`mamba_agent.data.batch` (one row per observation)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv

__all__ = ["Collector", "CollectResult", "Policy"]

Policy = Callable[[np.ndarray, np.ndarray], tuple[Any, np.ndarray]]
"""policy(obs (n, O), is_first (n,)) -> (env actions, action vectors (n, A) stored in replay)."""


@dataclass
class CollectResult:
    """What one call of :meth:`Collector.collect` produced."""

    episodes: list[dict[str, np.ndarray]] = field(default_factory=list)
    """Completed meta-episodes (rows aligned as in the batch module)."""
    steps: int = 0
    """Real env steps taken (autoreset steps are not counted)."""
    returns: list[float] = field(default_factory=list)
    """Return of each completed meta-episode."""
    sub_episode_returns: list[list[float]] = field(default_factory=list)
    """Per-sub-episode returns of each completed meta-episode (when the env reports
    ``info["sub_episode_end"]``)."""


class Collector:
    """Collects complete meta-episodes from ``env``; the recurrent acting state lives in the policy,
    which is told where meta-episodes start (``is_first``)."""

    def __init__(self, env: VectorEnv, act_dim: int) -> None:
        self.env, self.n, self.act_dim = env, env.num_envs, act_dim
        mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
            raise ValueError(f"vector env autoreset mode {mode} is not supported")
        self.same_step = mode == AutoresetMode.SAME_STEP
        self._obs: np.ndarray | None = None
        self._bufs: list[dict[str, list]] = []
        self._sub_returns: list[list[float]] = []
        self._autoreset = np.zeros(self.n, dtype=bool)

    def _start(self, i: int, obs: np.ndarray) -> None:
        self._bufs[i] = {
            "obs": [obs],
            "prev_action": [np.zeros(self.act_dim, np.float32)],
            "reward": [0.0],
            "is_first": [True],
            "is_terminal": [False],
        }
        self._sub_returns[i] = [0.0]

    def reset(self, seed: int | None = None) -> None:
        """Reset all envs (a new meta-episode each); ``seed`` seeds env i with seed + i."""
        obs, _ = self.env.reset(seed=seed)
        self._obs = np.asarray(obs, dtype=np.float32)
        self._bufs = [{} for _ in range(self.n)]
        self._sub_returns = [[] for _ in range(self.n)]
        for i in range(self.n):
            self._start(i, self._obs[i])
        self._autoreset[:] = False

    def at_boundary(self) -> bool:
        """True when no meta-episode is in progress: before the first reset, or when every env
        has just finished its meta-episode (so a ``reset`` now loses no transition)."""
        if self._obs is None:
            return True
        if self.same_step:
            return all(len(b["obs"]) == 1 for b in self._bufs)
        return bool(self._autoreset.all())

    def _finish(self, i: int, result: CollectResult) -> None:
        buf = self._bufs[i]
        ep = {
            "obs": np.stack(buf["obs"]).astype(np.float32),
            "prev_action": np.stack(buf["prev_action"]).astype(np.float32),
            "reward": np.asarray(buf["reward"], np.float32),
            "is_first": np.asarray(buf["is_first"], bool),
            "is_terminal": np.asarray(buf["is_terminal"], bool),
        }
        result.episodes.append(ep)
        result.returns.append(float(ep["reward"].sum()))
        result.sub_episode_returns.append(list(self._sub_returns[i]))

    def collect(
        self,
        policy: Policy,
        min_episodes: int,
        max_steps: int | None = None,
        on_step: Callable[[dict[str, Any]], bool] | None = None,
    ) -> CollectResult:
        """Step until ``min_episodes`` meta-episodes have completed (or ``max_steps`` real steps);
        unfinished meta-episodes carry over to the next call. ``on_step(locals)`` is called after
        every vector step; returning False stops collection early."""
        if self._obs is None:
            self.reset()
        result = CollectResult()
        while len(result.episodes) < min_episodes and (
            max_steps is None or result.steps < max_steps
        ):
            is_first = np.array([len(b["obs"]) == 1 for b in self._bufs])
            actions, vectors = policy(self._obs, is_first)
            new_obs, rewards, terms, truncs, infos = self.env.step(actions)
            new_obs = np.asarray(new_obs, dtype=np.float32)
            dones = np.logical_or(terms, truncs)
            real_steps = result.steps
            sub_end = infos.get("sub_episode_end") if isinstance(infos, dict) else None
            for i in range(self.n):
                if self._autoreset[i]:
                    self._start(i, new_obs[i])
                    continue
                result.steps += 1
                final = new_obs[i]
                if self.same_step and dones[i]:
                    final = np.asarray(infos["final_obs"][i], dtype=np.float32)
                buf = self._bufs[i]
                buf["obs"].append(final)
                buf["prev_action"].append(np.asarray(vectors[i], np.float32))
                buf["reward"].append(float(rewards[i]))
                buf["is_first"].append(False)
                buf["is_terminal"].append(bool(terms[i]))
                self._sub_returns[i][-1] += float(rewards[i])
                if sub_end is not None and bool(sub_end[i]) and not dones[i]:
                    self._sub_returns[i].append(0.0)
                if dones[i]:
                    self._finish(i, result)
                    if self.same_step:
                        self._start(i, new_obs[i])
            self._autoreset = dones.copy() if not self.same_step else np.zeros(self.n, bool)
            self._obs = new_obs
            if on_step is not None and not on_step(
                {
                    "new_obs": new_obs,
                    "rewards": rewards,
                    "dones": dones,
                    "infos": infos,
                    "actions": actions,
                    "real_steps": result.steps - real_steps,
                }
            ):
                break
        return result
