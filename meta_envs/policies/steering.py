"""Steering helpers shared by the continuous 2D reference policies."""

from __future__ import annotations

import math

import numpy as np


def step_toward(position: np.ndarray, target: np.ndarray, step_size: float = 0.1) -> np.ndarray:
    """The action that brings ``position`` closest to ``target`` in one step.

    With moves of ``step_size * action`` and ``action`` in ``[-1, 1]^2``, the reachable set is a
    square, and its closest point to the target is reached by clipping each component: this is the
    per-step optimal move, and repeating it is the fastest path to the target.
    """
    delta = (
        np.asarray(target, dtype=np.float64) - np.asarray(position, dtype=np.float64)
    ) / step_size
    return np.clip(delta, -1.0, 1.0).astype(np.float32)


def unit(angle: float) -> np.ndarray:
    """The unit vector at ``angle``."""
    return np.array([math.cos(angle), math.sin(angle)])


def circle_points_at_distance(position: np.ndarray, distance: float) -> tuple[float, float]:
    """Angles of the two unit-circle points at ``distance`` from ``position`` (ahead, behind).

    With ``rho = |position|`` and ``psi`` the angle between the position and the point,
    ``distance^2 = 1 + rho^2 - 2 rho cos(psi)``; returns ``(theta + psi, theta - psi)``.
    """
    rho = float(np.hypot(position[0], position[1]))
    theta = math.atan2(position[1], position[0])
    if rho < 1e-9:
        return theta, theta
    cos_psi = (1.0 + rho * rho - distance * distance) / (2.0 * rho)
    psi = math.acos(min(1.0, max(-1.0, cos_psi)))
    return theta + psi, theta - psi
