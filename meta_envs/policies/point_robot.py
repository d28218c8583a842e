"""Reference policies of Point Robot (and Wind): the half-circle sweep and the oracle."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np

from meta_envs.policies.base import ReferencePolicy
from meta_envs.policies.steering import circle_points_at_distance, step_toward, unit

#: Angle at which the sweep starts and stops short of the ends: a robot on the circle at angle
#: ``theta`` detects goals within ``2 asin(r / 2)`` (about 0.2 rad for r = 0.2).
SWEEP_MARGIN = 0.2
#: How far ahead along the circle the sweep aims each step (radians).
SWEEP_LOOKAHEAD = 0.15


class PointRobotOracle(ReferencePolicy):
    """Knows the goal (``info["task"]``): moves straight to it (per-step optimal) and stays there."""

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        return step_toward(obs[:2], info["task"])


class PointRobotExplorer(ReferencePolicy):
    """Near-Bayes-optimal search that does not know the goal.

    First sub-episode: walk to the half-circle at angle ``SWEEP_MARGIN`` and sweep it
    counter-clockwise. A positive reward ``r`` measures the distance ``1 - r`` to the goal, which
    (the goal being on the unit circle) leaves two candidate points. The first measurement picks
    the candidate ahead of the sweep; every later one keeps the candidate nearest the current
    estimate if that estimate agrees with the measured distance, else switches to the other (this
    also corrects the estimate under wind). The goal is remembered across sub-episodes: the robot
    stays on it and walks straight to it later.
    """

    #: Largest disagreement (distance units) between a measurement and the current estimate.
    TOLERANCE = 0.02

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.goal_radius = float(env.unwrapped.goal_radius)
        if not self.meta_features:
            self._bind(env)  # the bare observation does not carry the reward: read it from env
        self.reset()

    def reset(self) -> None:
        self._goal: np.ndarray | None = None
        self._other: np.ndarray | None = None
        self._on_circle = False
        self._direction = 1.0

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        position = np.asarray(obs[:2], dtype=np.float64)
        reward = self.previous_reward(obs, info)
        if info.get("step_in_sub_episode", 1) == 0:
            reward = 0.0  # the last reward of the previous sub-episode was earned elsewhere
            self._on_circle, self._direction = False, 1.0
        if reward > 0.0:
            self._measure(position, 1.0 - reward)
        elif self._goal is not None and self._other is not None:
            if np.linalg.norm(position - self._goal) < self.goal_radius / 2:
                # At the estimate but no reward: the estimate is wrong, take the other candidate.
                self._goal, self._other = self._other, None
        if self._goal is not None:
            return step_toward(position, self._goal)
        return self._sweep(position)

    def _measure(self, position: np.ndarray, distance: float) -> None:
        ahead, behind = (unit(angle) for angle in circle_points_at_distance(position, distance))
        if self._goal is None:
            self._goal, self._other = ahead, behind
            return
        consistent = abs(float(np.linalg.norm(position - self._goal)) - distance) < self.TOLERANCE
        near, far = sorted((ahead, behind), key=lambda c: float(np.linalg.norm(c - self._goal)))
        self._goal, self._other = (near, far) if consistent else (far, near)

    def _sweep(self, position: np.ndarray) -> np.ndarray:
        if not self._on_circle:
            if float(np.hypot(position[0], position[1])) < 0.95:
                return step_toward(position, unit(SWEEP_MARGIN))
            self._on_circle = True
        angle = math.atan2(position[1], position[0])
        if angle < -math.pi / 2:
            angle += 2 * math.pi
        # Sweep to the far end, then back (only reached when the wind pushed the robot past the goal).
        if self._direction > 0 and angle >= math.pi - SWEEP_MARGIN:
            self._direction = -1.0
        elif self._direction < 0 and angle <= SWEEP_MARGIN:
            self._direction = 1.0
        target = min(
            max(angle + self._direction * SWEEP_LOOKAHEAD, SWEEP_MARGIN), math.pi - SWEEP_MARGIN
        )
        return step_toward(position, unit(target))
