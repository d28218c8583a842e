"""Native vectorised Rooms-N."""

from __future__ import annotations

from typing import Any

import numpy as np

from meta_envs.envs.rooms import (
    GOAL_REWARD,
    NUM_ACTIONS,
    STEP_REWARD,
    RoomsNEnv,
    corner_cell,
    room_entry,
)
from meta_envs.vector.meta_vector_env import MetaVectorEnv


class RoomsNVectorEnv(MetaVectorEnv):
    """A batch of :class:`~meta_envs.envs.rooms.RoomsNEnv` meta-episodes.

    A step is a lookup in the single env's transition table ``next_cell[cell, action]`` (numpy
    fancy indexing) and a comparison with each sub-env's currently payable goal. Sub-env ``i``
    after ``reset(seed=s)`` equals the single env reset with ``seed=s + i``, step for step
    (observations, rewards and infos, ``goals_reached`` and ``final_goals_reached`` included).
    """

    single_env_class = RoomsNEnv

    def __init__(self, num_envs: int = 1, **env_kwargs: Any) -> None:
        super().__init__(num_envs, **env_kwargs)
        self.n = self.prototype.n
        self._next_cell = np.array(self.prototype.next_cell, dtype=np.intp)
        self._cell_obs = np.asarray(self.prototype._cell_obs_table, dtype=np.float64)
        # corner_cells[room, code]: the cell index of each room's corners.
        self._corner_cells = np.array(
            [[corner_cell(room, code) for code in range(4)] for room in range(self.n)],
            dtype=np.intp,
        )
        self._rooms = np.arange(self.n)
        self._index = np.arange(self.num_envs)
        self._start = room_entry(0)
        self._cells = np.full(self.num_envs, self._start, dtype=np.intp)
        self._reached = np.zeros(self.num_envs, dtype=np.int64)
        self._final_reached = np.zeros(self.num_envs, dtype=np.int64)
        self._goal_cells = np.zeros((self.num_envs, self.n), dtype=np.intp)

    def _set_tasks(self, tasks: list[Any]) -> None:
        super()._set_tasks(tasks)
        self.task_batch = self.task_batch.astype(np.int64).reshape(self.num_envs, self.n)
        self._goal_cells = self._corner_cells[self._rooms, self.task_batch]

    def _reset_physical(self) -> None:
        self._final_reached = self._reached.copy()
        self._cells[:] = self._start
        self._reached[:] = 0

    def _check_actions(self, actions: Any) -> np.ndarray:
        array = np.asarray(actions)
        if array.shape != (self.num_envs,):
            raise ValueError(f"actions must have shape ({self.num_envs},), got shape {array.shape}")
        if array.dtype.kind not in "iu":
            raise ValueError(
                f"actions must be integers in 0..{NUM_ACTIONS - 1}, got dtype {array.dtype}"
            )
        if array.size and (array.min() < 0 or array.max() >= NUM_ACTIONS):
            raise ValueError(f"actions must be integers in 0..{NUM_ACTIONS - 1}, got {array}")
        return array

    def _step_physical(self, actions: np.ndarray) -> np.ndarray:
        cells = self._next_cell[self._cells, actions]
        self._cells = cells
        reached = self._reached
        # The goal that can pay now: the next unpaid one, or the last once all have paid.
        payable = self._goal_cells[self._index, np.minimum(reached, self.n - 1)]
        hit = cells == payable
        self._reached = reached + (hit & (reached < self.n))
        return np.where(hit, GOAL_REWARD, STEP_REWARD)

    def _physical_state(self) -> np.ndarray:
        return self._cell_obs[self._cells]

    def _step_info(self, infos: dict[str, Any]) -> None:
        infos["goals_reached"] = self._reached.copy()
        if infos["sub_episode_end"][0]:
            final = self._final_reached if self._t < self.meta_episode_length else self._reached
            infos["final_goals_reached"] = final.copy()
