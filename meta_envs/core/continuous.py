"""Validation of continuous (Box) actions, shared by the single and the vectorised envs."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces


class BoxActionChecker:
    """Validates single actions of a Box space: ``checker(action)`` returns them clipped.

    The bounds are converted to Python floats once, so a check costs a few microseconds.
    """

    def __init__(self, space: spaces.Box) -> None:
        self.shape = space.shape
        self.low = space.low.astype(np.float64).ravel().tolist()
        self.high = space.high.astype(np.float64).ravel().tolist()

    def __call__(self, action: Any) -> tuple[float, ...]:
        """Return ``action`` clipped to the space as a tuple of Python floats.

        Raises:
            ValueError: the action has the wrong shape or contains NaN.
        """
        array = np.asarray(action, dtype=np.float64)
        if array.shape != self.shape:
            raise ValueError(f"action must have shape {self.shape}, got shape {array.shape}")
        clipped = []
        for value, lo, hi in zip(array.ravel().tolist(), self.low, self.high):
            if value != value:
                raise ValueError(f"action contains NaN: {action!r}")
            clipped.append(lo if value < lo else hi if value > hi else value)
        return tuple(clipped)


def check_box_actions(actions: Any, space: spaces.Box, num_envs: int) -> np.ndarray:
    """Return a batch of actions of shape ``(num_envs, *space.shape)`` clipped to ``space``.

    Raises:
        ValueError: the batch has the wrong shape or contains NaN.
    """
    array = np.asarray(actions, dtype=np.float64)
    expected = (num_envs, *space.shape)
    if array.shape != expected:
        raise ValueError(f"actions must have shape {expected}, got shape {array.shape}")
    if np.isnan(array).any():
        raise ValueError("actions contain NaN")
    return np.clip(array, space.low.astype(np.float64), space.high.astype(np.float64))
