"""Reference policies of Point Robot (and Wind): the half-circle sweep and the oracle."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np

from meta_envs.policies.base import ReferencePolicy
from meta_envs.policies.steering import (
    circle_points_at_distance,
    step_toward,
    unit,
)

#: Radius of the point where the sweep starts (inside the circle: the detection band is a little
#: narrower there, but the robot gets there sooner and turns faster around the origin).
SWEEP_RADIUS = 0.9
#: Candidate moves of a sweep step: a grid over the action box.
_GRID = np.linspace(-1.0, 1.0, 41)
SWEEP_ACTIONS = np.stack(np.meshgrid(_GRID, _GRID, indexing="ij"), axis=-1).reshape(-1, 2)
#: Weight of the detection half-angle in a sweep step's progress, ``angle + BAND_WEIGHT * psi``:
#: below 1, because a goal met near the robot's own angle is nearer, and pays more sooner, than
#: one met at the edge of its band (measured: 0.4 beats 1 by about 0.3 per meta-episode).
BAND_WEIGHT = 0.4
#: Safety margin on the detection half-angle (radians).
BAND_MARGIN = 1e-3


def detection_half_angle(radius: np.ndarray | float, goal_radius: float) -> Any:
    """Half-angle of the arc of the unit circle within ``goal_radius`` of a point at ``radius``
    from the origin (``nan`` where there is none): ``1 + rho^2 - 2 rho cos(psi) = r^2``."""
    rho = np.asarray(radius, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        cosine = (1.0 + rho * rho - goal_radius * goal_radius) / (2.0 * rho)
        return np.where(np.abs(cosine) <= 1.0, np.arccos(np.clip(cosine, -1.0, 1.0)), np.nan)


def _upper_angle(x: Any, y: Any) -> Any:
    """The angle in ``[-pi/2, 3 pi/2)`` (continuous over the upper half-plane)."""
    angle = np.arctan2(y, x)
    return np.where(angle < -math.pi / 2, angle + 2 * math.pi, angle)


class PointRobotOracle(ReferencePolicy):
    """Knows the goal (``info["task"]``): moves straight to it (per-step optimal) and stays there."""

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        return step_toward(obs[:2], info["task"])


class PointRobotExplorer(ReferencePolicy):
    """Near-Bayes-optimal search that does not know the goal.

    First sub-episode: sweep the half-circle counter-clockwise from angle 0. A position at radius
    ``rho`` senses the goals of the arc ``theta +- psi(rho)`` of the unit circle
    (:func:`detection_half_angle`); the sweep keeps the *front*, the angle up to which every goal
    would have paid, and each step takes the move (on a grid over the action box) of most progress
    ``angle + BAND_WEIGHT * psi`` among those whose arc still meets the front (no gap), then moves
    the front over the arc sensed. This follows the half-circle a little inside it, at full speed
    along the diagonals. A positive reward ``r`` measures the
    distance ``1 - r`` to the goal, which (the goal being on the unit circle) leaves two candidate
    points. The first measurement picks the candidate beyond the front; every later one keeps the
    candidate nearest the current estimate if that estimate agrees with the measured distance,
    else switches to the other (this also corrects the estimate under wind). The goal is
    remembered across sub-episodes: the robot stays on it and walks straight to it later. If the
    front passes pi with no reward (wind), the sweep turns back.
    """

    #: Largest disagreement (distance units) between a measurement and the current estimate.
    TOLERANCE = 0.02

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.goal_radius = float(env.unwrapped.goal_radius)
        self._start_angle = float(detection_half_angle(SWEEP_RADIUS, self.goal_radius))
        if not self.meta_features:
            self._bind(env)  # the bare observation does not carry the reward: read it from env
        self.reset()

    def reset(self) -> None:
        self._goal: np.ndarray | None = None
        self._other: np.ndarray | None = None
        self._start_sweep()

    def _start_sweep(self) -> None:
        self._direction = 1.0
        self._front = 0.0  # over direction * angle

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        position = np.asarray(obs[:2], dtype=np.float64)
        reward = self.previous_reward(obs, info)
        if info.get("step_in_sub_episode", 1) == 0:
            reward = 0.0  # the last reward of the previous sub-episode was earned elsewhere
            self._start_sweep()
        if reward > 0.0:
            self._measure(position, 1.0 - reward)
        elif self._goal is not None and self._other is not None:
            if np.linalg.norm(position - self._goal) < self.goal_radius / 2:
                # At the estimate but no reward: the estimate is wrong, take the other candidate.
                self._goal, self._other = self._other, None
        if self._goal is not None:
            return step_toward(position, self._goal)
        self._advance_front(position)
        return self._sweep(position)

    def _measure(self, position: np.ndarray, distance: float) -> None:
        ahead, behind = (unit(angle) for angle in circle_points_at_distance(position, distance))
        if self._direction < 0:
            ahead, behind = behind, ahead  # beyond the front of a clockwise sweep
        if self._goal is None:
            self._goal, self._other = ahead, behind
            return
        consistent = abs(float(np.linalg.norm(position - self._goal)) - distance) < self.TOLERANCE
        near, far = sorted((ahead, behind), key=lambda c: float(np.linalg.norm(c - self._goal)))
        self._goal, self._other = (near, far) if consistent else (far, near)

    def _advance_front(self, position: np.ndarray) -> None:
        """Move the front over the arc the robot senses now (if that arc meets the front)."""
        psi = float(detection_half_angle(np.hypot(position[0], position[1]), self.goal_radius))
        if math.isnan(psi):
            return
        psi -= BAND_MARGIN
        angle = self._direction * float(_upper_angle(position[0], position[1]))
        if angle - psi <= self._front:
            self._front = max(self._front, angle + psi)
        # The front runs over direction * angle: from 0 to pi counter-clockwise, from -pi to 0
        # clockwise.
        if self._front >= (math.pi if self._direction > 0 else 0.0):
            # Swept to the end with no reward (wind pushed the robot past the goal): turn back.
            self._direction = -self._direction
            self._front = 0.0 if self._direction > 0 else -math.pi

    def _sweep(self, position: np.ndarray) -> np.ndarray:
        ends = position + 0.1 * SWEEP_ACTIONS
        psi = detection_half_angle(np.hypot(ends[:, 0], ends[:, 1]), self.goal_radius)
        psi = psi - BAND_MARGIN
        angle = self._direction * _upper_angle(ends[:, 0], ends[:, 1])
        valid = (angle - psi <= self._front) & ~np.isnan(psi)
        if not valid.any():
            start = self._start_angle if self._direction > 0 else math.pi - self._start_angle
            return step_toward(position, SWEEP_RADIUS * unit(start))
        progress = np.where(valid, angle + BAND_WEIGHT * psi, -np.inf)
        return SWEEP_ACTIONS[int(np.argmax(progress))].astype(np.float32)


__all__ = ["PointRobotExplorer", "PointRobotOracle", "detection_half_angle"]
