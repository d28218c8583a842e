"""Native vectorised Point Robot and Point Robot Wind."""

from __future__ import annotations

from typing import Any

import numpy as np

from meta_envs.core.continuous import check_box_actions
from meta_envs.envs.point_robot import POSITION_BOUND, STEP_SIZE, PointRobotEnv, PointRobotWindEnv
from meta_envs.vector.meta_vector_env import MetaVectorEnv


class PointRobotVectorEnv(MetaVectorEnv):
    """A batch of :class:`~meta_envs.envs.point_robot.PointRobotEnv` meta-episodes.

    Sub-env ``i`` after ``reset(seed=s)`` equals the single env reset with ``seed=s + i``, step for
    step (same float64 arithmetic in the same order).
    """

    single_env_class = PointRobotEnv

    def __init__(self, num_envs: int = 1, **env_kwargs: Any) -> None:
        super().__init__(num_envs, **env_kwargs)
        self.goal_radius = self.prototype.goal_radius
        self._positions = np.zeros((self.num_envs, 2))
        self._low = self.single_action_space.low.astype(np.float64)

    def _reset_physical(self) -> None:
        self._positions[:] = 0.0

    def _check_actions(self, actions: Any) -> np.ndarray:
        return check_box_actions(actions, self.single_action_space, self.num_envs)

    def _step_physical(self, actions: np.ndarray) -> np.ndarray:
        positions = self._positions + STEP_SIZE * actions
        np.clip(positions, -POSITION_BOUND, POSITION_BOUND, out=positions)
        self._positions = positions
        delta = positions - self.task_batch
        distance = np.sqrt(delta[:, 0] * delta[:, 0] + delta[:, 1] * delta[:, 1])
        return np.where(distance <= self.goal_radius, 1.0 - distance, 0.0)

    def _physical_state(self) -> np.ndarray:
        return self._positions


class PointRobotWindVectorEnv(PointRobotVectorEnv):
    """A batch of :class:`~meta_envs.envs.point_robot.PointRobotWindEnv` meta-episodes.

    The wind noise of all sub-envs is drawn in one call from the vector env's own generator
    (``self.np_random``, seeded by ``reset(seed)``), so the sub-envs follow the same distribution as
    the single env but not its exact noise sequence.
    """

    single_env_class = PointRobotWindEnv

    def __init__(self, num_envs: int = 1, **env_kwargs: Any) -> None:
        super().__init__(num_envs, **env_kwargs)
        self.wind_std = self.prototype.wind_std

    def _step_physical(self, actions: np.ndarray) -> np.ndarray:
        noise = self.np_random.normal(0.0, self.wind_std, size=actions.shape)
        return super()._step_physical(np.clip(actions + noise, -1.0, 1.0))
