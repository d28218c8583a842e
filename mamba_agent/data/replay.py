"""Meta-episode replay: stores complete meta-episodes and samples whole ones from t = 0 (MAMBA) or
random windows that start anywhere (Dreamer-Vanilla); plus the world-model horizon schedule."""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from mamba_agent.data.batch import EPISODE_KEYS

__all__ = ["MetaEpisodeReplay", "wm_horizon", "recency_share"]


def wm_horizon(env_steps: int, start: int, ramp_steps: int, full_length: int) -> int:
    """World-model horizon schedule (MAMBA change 4): the number of leading steps of each sequence
    used, growing linearly from ``start`` at 0 env steps to ``full_length`` at ``ramp_steps`` env
    steps. ``ramp_steps <= 0`` means no schedule (always ``full_length``)."""
    if ramp_steps <= 0 or start >= full_length:
        return full_length
    frac = min(max(env_steps / ramp_steps, 0.0), 1.0)
    return int(min(full_length, start + (full_length - start) * frac))


def recency_share(env_steps: int, recency: float, recency_steps: int) -> float:
    """The recency share of a batch at ``env_steps``: ``recency`` for the first
    ``recency_steps`` env steps, 0 (uniform replay) from then on; ``recency_steps <= 0``: always
    ``recency``."""
    if recency_steps <= 0 or env_steps < recency_steps:
        return recency
    return 0.0


class MetaEpisodeReplay:
    """FIFO store of complete meta-episodes (dicts of arrays keyed by :data:`EPISODE_KEYS`, aligned as
    in :mod:`mamba_agent.data.batch`), bounded by ``capacity`` env steps."""

    def __init__(
        self,
        capacity: int,
        dreamer_vanilla: bool = False,
        window_length: int = 64,
        recency: float = 0.0,
    ) -> None:
        if not 0.0 <= recency <= 1.0:
            raise ValueError(f"recency must be in [0, 1], got {recency}")
        self.capacity = capacity
        self.dreamer_vanilla = dreamer_vanilla
        self.window_length = window_length
        self.recency = recency
        self.episodes: deque[dict[str, np.ndarray]] = deque()
        self.num_steps = 0

    def __len__(self) -> int:
        return len(self.episodes)

    def add(self, episode: dict[str, np.ndarray]) -> None:
        """Store one meta-episode of L + 1 rows (L >= 1), dropping the oldest beyond capacity."""
        rows = len(episode["obs"])
        assert rows >= 2, "a stored meta-episode needs at least one env step"
        assert all(len(episode[k]) == rows for k in EPISODE_KEYS), "episode arrays differ in length"
        assert episode["is_first"][0], "episodes must start with is_first"
        self.episodes.append({k: np.asarray(episode[k]) for k in EPISODE_KEYS})
        self.num_steps += rows - 1
        while self.num_steps > self.capacity and len(self.episodes) > 1:
            self.num_steps -= len(self.episodes.popleft()["obs"]) - 1

    def sample(
        self,
        batch_size: int,
        rng: np.random.Generator,
        horizon: int | None = None,
        recency: float | None = None,
    ) -> dict[str, np.ndarray]:
        """A batch of arrays with leading (B, T).

        MAMBA mode: B meta-episodes, each from row 0, cut to the shortest sampled one and to the
        first ``horizon`` rows. Dreamer-Vanilla: B windows of ``window_length`` rows starting
        anywhere (episodes drawn in proportion to their length), with ``is_first`` set at the window
        start so the latent is re-initialised there. With ``recency`` > 0, that share of the B
        meta-episodes (windows: of the meta-episodes they are cut from) is drawn with a preference
        for the newest ones (``recency`` given here overrides the replay's own share).
        """
        assert len(self.episodes) > 0, "replay is empty"
        n = len(self.episodes)
        if self.dreamer_vanilla:
            lengths = np.array([len(e["obs"]) for e in self.episodes], dtype=np.float64)
            idx = self._meta_episode_indices(
                batch_size, n, rng, p=lengths / lengths.sum(), recency=recency
            )
            T = int(min(self.window_length, min(lengths[i] for i in idx)))
            out = {k: [] for k in EPISODE_KEYS}
            for i in idx:
                ep = self.episodes[i]
                s = int(rng.integers(0, len(ep["obs"]) - T + 1))
                for k in EPISODE_KEYS:
                    out[k].append(ep[k][s : s + T])
            batch = {k: np.stack(v) for k, v in out.items()}
            batch["is_first"] = batch["is_first"].copy()
            batch["is_first"][:, 0] = True
            return batch
        idx = self._meta_episode_indices(batch_size, n, rng, recency=recency)
        T = min(len(self.episodes[i]["obs"]) for i in idx)
        if horizon is not None:
            T = max(2, min(T, horizon))
        return {k: np.stack([self.episodes[i][k][:T] for i in idx]) for k in EPISODE_KEYS}

    def _meta_episode_indices(
        self,
        batch_size: int,
        n: int,
        rng: np.random.Generator,
        p: np.ndarray | None = None,
        recency: float | None = None,
    ) -> np.ndarray:
        """Indices of the sampled meta-episodes: uniform (or by ``p``), except a share ``recency``
        of the batch (rounded to the nearest whole sequence) drawn with probability proportional
        to ``1 / (age + 1)``, age 0 being the newest meta-episode."""
        share = self.recency if recency is None else recency
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"recency must be in [0, 1], got {share}")
        n_recent = int(round(share * batch_size))
        if p is None:
            idx = rng.integers(0, n, size=batch_size - n_recent)
        else:
            idx = rng.choice(n, size=batch_size - n_recent, p=p)
        if n_recent == 0:
            return idx
        weights = 1.0 / np.arange(n, 0, -1, dtype=np.float64)  # oldest first: 1/n ... 1/1
        recent = rng.choice(n, size=n_recent, p=weights / weights.sum())
        return np.concatenate([idx, recent])

    def max_length(self) -> int:
        """Longest stored meta-episode in rows (0 when empty)."""
        return max((len(e["obs"]) for e in self.episodes), default=0)

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: the episodes and the capacity."""
        return {"capacity": self.capacity, "episodes": list(self.episodes)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`."""
        self.episodes = deque()
        self.num_steps = 0
        for ep in state["episodes"]:
            self.add(ep)
