"""Reference policies of Escape Room: the wall sweep and the oracle."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np

from meta_envs.envs.escape_room import DOOR_WIDTH
from meta_envs.policies.base import ReferencePolicy
from meta_envs.policies.steering import step_toward, unit

#: Radius of the waypoint from which the policies leave radially through a known door.
APPROACH_RADIUS = 0.9
#: Angular step of the wall sweep (radians per step, about the 0.1 step size at radius 1).
SWEEP_STEP = 0.1


def _leave_through(position: np.ndarray, door_angle: float) -> np.ndarray:
    """Walk to the waypoint in front of the door, then straight out along the door's ray."""
    if float(np.hypot(position[0], position[1])) > 1.0:
        return np.zeros(2, dtype=np.float32)  # outside: stay (the wall keeps the agent out)
    direction = unit(door_angle)
    along = float(np.dot(position, direction))
    off_ray = position - along * direction
    if along < APPROACH_RADIUS - 1e-6 or float(np.linalg.norm(off_ray)) > 1e-3:
        return step_toward(position, APPROACH_RADIUS * direction)
    # Along the ray at full speed: the crossing point is exactly at the door angle.
    return (direction / np.max(np.abs(direction))).astype(np.float32)


class EscapeRoomOracle(ReferencePolicy):
    """Knows the door: walks to the point in front of it and leaves radially, then stays out."""

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        return _leave_through(np.asarray(obs[:2], dtype=np.float64), float(self.env.task))


class EscapeRoomExplorer(ReferencePolicy):
    """Near-Bayes-optimal search that does not know the door.

    First sub-episode: walk to the end of the upper wall (angle 0 or pi) nearer to the start and
    slide along the wall towards the other end (the radial projection of blocked moves lets the
    agent slide). The first step that ends outside reveals the door: the exit angle lies near the
    door's first edge met by the sweep, so the door centre is estimated half a door width further
    on. Later sub-episodes leave straight through the estimated centre.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.reset()

    def reset(self) -> None:
        self._door: float | None = None
        self._direction = 0.0
        self._sweeping = False

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        position = np.asarray(obs[:2], dtype=np.float64)
        radius = float(np.hypot(position[0], position[1]))
        if self._door is not None:
            return _leave_through(position, self._door)
        angle = math.atan2(position[1], position[0])
        if radius > 1.0:
            # The sweep just went through the door, near its first edge: estimate the centre.
            self._door = angle + self._direction * (DOOR_WIDTH / 2 - SWEEP_STEP / 2)
            return np.zeros(2, dtype=np.float32)
        if info.get("step_in_sub_episode") == 0:
            self._direction = 1.0 if position[0] >= 0.0 else -1.0
            self._sweeping = False
        start = 0.0 if self._direction > 0 else math.pi
        if not self._sweeping:
            if radius >= 0.98 and abs(math.remainder(angle - start, 2 * math.pi)) < SWEEP_STEP:
                self._sweeping = True
            else:
                # Aim past the wall, so that a door on the way is taken.
                return step_toward(position, 1.05 * unit(start))
        if self._direction < 0 and angle < -math.pi / 2:
            angle += 2 * math.pi  # keep the left end near pi, not -pi
        return step_toward(position, 1.05 * unit(angle + self._direction * SWEEP_STEP))
