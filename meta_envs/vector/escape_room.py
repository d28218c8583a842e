"""Native vectorised Escape Room."""

from __future__ import annotations

from typing import Any

import numpy as np

from meta_envs.core.continuous import check_box_actions
from meta_envs.envs.escape_room import (
    STEP_SIZE,
    EscapeRoomEnv,
    door_direction,
    move_in_room,
    sample_start,
)
from meta_envs.vector.meta_vector_env import MetaVectorEnv


class EscapeRoomVectorEnv(MetaVectorEnv):
    """A batch of :class:`~meta_envs.envs.escape_room.EscapeRoomEnv` meta-episodes.

    Start positions are drawn from each sub-env's own generator at every sub-episode start (one
    Python call per sub-env every ``H`` steps), so sub-env ``i`` after ``reset(seed=s)`` equals the
    single env reset with ``seed=s + i`` step for step; the wall geometry is the same batched
    function the single env uses.
    """

    single_env_class = EscapeRoomEnv

    def __init__(self, num_envs: int = 1, **env_kwargs: Any) -> None:
        super().__init__(num_envs, **env_kwargs)
        self._positions = np.zeros((self.num_envs, 2))
        self._doors = np.zeros((self.num_envs, 2))

    def _set_tasks(self, tasks: list[Any]) -> None:
        super()._set_tasks(tasks)
        self._doors = np.array([door_direction(angle) for angle in tasks])

    def _reset_physical(self) -> None:
        self._positions = np.array([sample_start(rng) for rng in self.rngs])

    def _check_actions(self, actions: Any) -> np.ndarray:
        return check_box_actions(actions, self.single_action_space, self.num_envs)

    def _step_physical(self, actions: np.ndarray) -> np.ndarray:
        intended = self._positions + STEP_SIZE * actions
        self._positions = move_in_room(self._positions, intended, self._doors)
        x, y = self._positions[:, 0], self._positions[:, 1]
        return (np.sqrt(x * x + y * y) > 1.0).astype(np.float64)

    def _physical_state(self) -> np.ndarray:
        return self._positions
