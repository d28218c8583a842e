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


def step_along_circle(
    position: np.ndarray, radius: float, direction: float, step_size: float = 0.1
) -> np.ndarray | None:
    """The move to the point of the circle of ``radius`` (centred on the origin) with the largest
    angular advance in ``direction`` (+1 counter-clockwise) that one step reaches.

    The reachable set of one step is the square ``position + step_size * [-1, 1]^2``, so the point
    is where the circle leaves the square: the fastest way along the circle, faster along the
    diagonals. None if the circle does not meet the square, or no point of it lies ahead.
    """
    px, py = float(position[0]), float(position[1])
    here = math.atan2(py, px)
    best: tuple[float, float, float] | None = None
    radius_sq = radius * radius
    for axis in (0, 1):
        for side in (-1.0, 1.0):
            fixed = (px if axis == 0 else py) + side * step_size
            rest = radius_sq - fixed * fixed
            if rest < 0.0:
                continue
            centre = py if axis == 0 else px
            for other in (math.sqrt(rest), -math.sqrt(rest)):
                if abs(other - centre) > step_size + 1e-12:
                    continue
                qx, qy = (fixed, other) if axis == 0 else (other, fixed)
                advance = direction * math.remainder(math.atan2(qy, qx) - here, 2.0 * math.pi)
                if best is None or advance > best[0]:
                    best = (advance, qx, qy)
    if best is None or best[0] <= 0.0:
        return None
    action = np.array([(best[1] - px) / step_size, (best[2] - py) / step_size])
    return np.clip(action, -1.0, 1.0).astype(np.float32)
