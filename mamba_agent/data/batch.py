"""The training batch and its time alignment (drawn once, here).

A meta-episode of L env steps is stored as L + 1 rows. Row t holds the observation o_t, the action
a_{t-1} that led to it, the reward r_t received on arriving at o_t, and flags:

    env:      reset -> o_0 --a_0--> (r_1, o_1) --a_1--> (r_2, o_2) ... --a_{L-1}--> (r_L, o_L)

    row t        :   0       1       2      ...     L
    obs          :  o_0     o_1     o_2     ...    o_L
    prev_action  :   0      a_0     a_1     ...   a_{L-1}
    reward       :   0      r_1     r_2     ...    r_L
    is_first     :  True   False   False    ...   False
    is_terminal  : False   False   False    ...   terminated at L

The action chosen at o_t is therefore stored in row t + 1. Sub-episode boundaries inside a
meta-episode are ordinary rows (is_first False, is_terminal False): the recurrent state is reset
only at rows with ``is_first`` (the start of a meta-episode, or the start of a Dreamer-Vanilla
window). A truncated meta-episode ends with is_terminal False (continue = 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["Batch", "EPISODE_KEYS"]

EPISODE_KEYS = ("obs", "prev_action", "reward", "is_first", "is_terminal")
"""Keys of a stored meta-episode (numpy arrays with a leading time axis of L + 1 rows)."""


@dataclass
class Batch:
    """Sequences aligned as in the module docstring: obs (B, T, O) float, prev_action (B, T, A) float
    (one-hot for discrete actions), reward (B, T) float, is_first (B, T) bool, is_terminal (B, T) bool."""

    obs: torch.Tensor
    prev_action: torch.Tensor
    reward: torch.Tensor
    is_first: torch.Tensor
    is_terminal: torch.Tensor

    def __post_init__(self) -> None:
        B, T = self.obs.shape[:2]
        for name in ("prev_action",):
            assert getattr(self, name).shape[:2] == (B, T), f"Batch.{name}: expected (B, T, ...)"
        for name in ("reward", "is_first", "is_terminal"):
            assert getattr(self, name).shape == (B, T), f"Batch.{name}: expected shape {(B, T)}"

    @property
    def shape(self) -> tuple[int, int]:
        """(B, T)."""
        return tuple(self.obs.shape[:2])  # type: ignore[return-value]

    @classmethod
    def from_numpy(cls, arrays: dict[str, np.ndarray], device: torch.device | str = "cpu") -> Batch:
        """Build from numpy arrays keyed by :data:`EPISODE_KEYS`, each with leading (B, T)."""

        def conv(key: str, dtype: torch.dtype) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(arrays[key])).to(device=device, dtype=dtype)

        return cls(
            conv("obs", torch.float32),
            conv("prev_action", torch.float32),
            conv("reward", torch.float32),
            conv("is_first", torch.bool),
            conv("is_terminal", torch.bool),
        )
