"""Reference policies of Escape Room: the oracle and the Bayesian wall search.

Geometry both use. A move is ``0.1 * action`` with the action in the box ``[-1, 1]^2``, so the
fewest steps from ``p`` to a point ``x`` is the Chebyshev distance ``max |x - p|`` over 0.1, rounded
up, along a straight line (diagonals are the fast directions). The agent leaves the room at the
first step whose segment crosses the wall inside the door and ends outside; from inside, the
segment from ``p`` to a point just beyond the wall at ``c`` crosses the wall at ``c``. So the fastest
exit through a known open arc of the wall is the straight line to the arc point of least Chebyshev
distance (:func:`exit_action`), not a walk to a point in front of the door.

The explorer keeps the set of door angles still possible (a fine grid over the prior ``[0, pi]``)
and updates it after every step whose intended endpoint lay beyond the wall: the crossing point of
that segment is in the door if the agent ended outside, and not in the door if it was stopped.
While the open arc common to every possible door is not empty it leaves through it (this is how
later sub-episodes go straight out); otherwise it searches: it goes straight to a wall point
``alpha`` and slides along the wall in a direction ``+-1``, every step pushing slightly outward
with the largest angular advance the box allows, so that each step tests the wall point where it
ends (the radial projection of a blocked move puts the agent back at radius 0.99, at the angle of
the intended endpoint). ``alpha`` and the direction minimise the expected step at which the door is
found, over the door angles still possible (a second leg back to the other side included), from
the agent's start position; the plan is made again at each sub-episode start and whenever no
possible door is left ahead of the slide.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import gymnasium as gym
import numpy as np

from meta_envs.envs.escape_room import DOOR_WIDTH, STEP_SIZE
from meta_envs.policies.base import ReferencePolicy
from meta_envs.policies.steering import step_along_circle

#: Half the door's angular width.
HALF_DOOR = DOOR_WIDTH / 2
#: Angle kept clear of the edges of an arc known to be open when leaving through it (radians).
EXIT_MARGIN = 1e-3
#: Radius of the point beyond the wall a leaving move aims at (just outside: the crossing point
#: is then the aimed wall point).
EXIT_RADIUS = 1.0 + 1e-6
#: Radius a search move aims at: far enough beyond the wall to test it unambiguously.
TEST_RADIUS = 1.0 + 1e-3
#: Door angles the explorer considers: a grid over the full circle, continuous over the upper half.
DOOR_GRID = np.linspace(-math.pi / 2, 1.5 * math.pi, 4097)
#: Spacing of :data:`DOOR_GRID` (the door's true angle lies within this of a grid point).
GRID_STEP = float(DOOR_GRID[1] - DOOR_GRID[0])
#: The prior: door angles ``U[0, pi]``.
PRIOR = (DOOR_GRID >= 0.0) & (DOOR_GRID <= math.pi)
#: Spacing of the wall points ``alpha`` the planner considers (radians).
PLAN_STEP = 0.01
#: Door angles the planner averages over (at most).
PLAN_DOORS = 160


def _angle(point: np.ndarray) -> float:
    return math.atan2(float(point[1]), float(point[0]))


def _unwrap_near(angle: float, reference: float) -> float:
    """``angle`` plus a multiple of 2 pi, within pi of ``reference``."""
    return reference + math.remainder(angle - reference, 2.0 * math.pi)


def exit_action(position: np.ndarray, low: float, high: float) -> np.ndarray:
    """The action of the fastest straight exit through the open wall arc ``[low, high]`` (angles).

    The target is the arc point (just beyond the wall) of least Chebyshev distance from
    ``position``; the action moves an equal share of the way on each of the remaining steps, so
    the agent reaches it on a straight line, in the fewest steps.
    """
    angles = np.linspace(low, high, 257) if high > low else np.array([0.5 * (low + high)])
    targets = EXIT_RADIUS * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    chebyshev = np.max(np.abs(targets - position), axis=1)
    steps = np.maximum(np.ceil(chebyshev / STEP_SIZE - 1e-9), 1.0)
    best = int(np.lexsort((chebyshev, steps))[0])
    action = (targets[best] - position) / (STEP_SIZE * steps[best])
    return np.clip(action, -1.0, 1.0).astype(np.float32)


def slide_action(position: np.ndarray, direction: float) -> np.ndarray | None:
    """The move along the wall with the largest angular advance in ``direction`` (+1
    counter-clockwise) whose endpoint is at :data:`TEST_RADIUS` (so it tests the wall where it
    ends); None if no move reaches that radius."""
    return step_along_circle(position, TEST_RADIUS, direction, STEP_SIZE)


def crossing_point(start: np.ndarray, end: np.ndarray) -> np.ndarray | None:
    """Where the segment from ``start`` (inside the room) to ``end`` (outside) crosses the wall."""
    d = end - start
    a = float(d @ d)
    b = float(start @ d)
    c = float(start @ start) - 1.0
    disc = b * b - a * c
    if a <= 0.0 or disc < 0.0:
        return None
    s = (-b + math.sqrt(disc)) / a
    return start + s * d


@lru_cache(maxsize=1)
def slide_clock() -> tuple[np.ndarray, np.ndarray]:
    """``(angles, steps)``: the tested wall angle after each step of a long counter-clockwise
    slide (from angle -2 pi, unwrapped), for :func:`slide_clock_at`."""
    position = 0.99 * np.array([1.0, 0.0])
    angles = [-2.0 * math.pi]
    last = -2.0 * math.pi
    for _ in range(200):
        action = slide_action(position, 1.0)
        assert action is not None
        end = position + STEP_SIZE * action.astype(np.float64)
        cross = crossing_point(position, end)
        assert cross is not None
        last = _unwrap_near(_angle(cross), last)
        angles.append(last)
        position = 0.99 * end / float(np.hypot(end[0], end[1]))
    return np.array(angles), np.arange(len(angles), dtype=np.float64)


def slide_clock_at(angle: np.ndarray | float, direction: float) -> Any:
    """A clock of the slide in ``direction``: ``slide_clock_at(b, d) - slide_clock_at(a, d)`` is
    the number of slide steps from the wall angle ``a`` until the tested angle passes ``b`` (the
    slide's speed varies with the angle: the box is fastest along diagonals)."""
    angles, steps = slide_clock()
    return np.interp(direction * np.asarray(angle, dtype=np.float64), angles, steps)


def _chebyshev_steps(position: np.ndarray, angles: np.ndarray) -> np.ndarray:
    targets = TEST_RADIUS * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    return np.ceil(np.max(np.abs(targets - position), axis=-1) / STEP_SIZE - 1e-9)


def plan_search(position: np.ndarray, doors: np.ndarray) -> tuple[float, float]:
    """The wall point ``alpha`` to go to and the slide direction that minimise the expected step
    at which a door uniform over ``doors`` (angles, sorted) is found, from ``position``.

    A door is found at the arrival on ``alpha`` if it covers ``alpha``, else when the slide's tested
    angle reaches its near edge; doors behind ``alpha`` are searched by a second leg: after the
    slide has passed the last door ahead, straight to the highest (lowest) point that still covers
    the nearest door behind, then the slide the other way.
    """
    if len(doors) > PLAN_DOORS:
        doors = doors[np.linspace(0, len(doors) - 1, PLAN_DOORS).round().astype(int)]
    alphas = np.arange(doors[0] - HALF_DOOR, doors[-1] + HALF_DOOR + PLAN_STEP / 2, PLAN_STEP)
    arrive = _chebyshev_steps(position, alphas)  # (A,)
    phi = doors[None, :]  # (1, D)
    best: tuple[float, float, float] | None = None
    for direction in (1.0, -1.0):
        alpha = alphas[:, None]  # (A, 1)
        clock_alpha = slide_clock_at(alphas, direction)
        covered = np.abs(phi - alpha) <= HALF_DOOR
        ahead = direction * (phi - alpha) > HALF_DOOR
        behind = ~covered & ~ahead
        # First leg: found when the slide's tested angle reaches the door's near edge.
        near_clock = slide_clock_at(doors - direction * HALF_DOOR, direction)
        first_leg = arrive[:, None] + np.ceil(near_clock[None, :] - clock_alpha[:, None] - 1e-9)
        # Second leg: the slide ends where it tests the last door ahead (or at alpha) ...
        last_edge = (doors[-1] if direction > 0 else doors[0]) - direction * HALF_DOOR
        end = np.where(direction * (last_edge - alphas) > 0, last_edge, alphas)
        slide_out = np.ceil(slide_clock_at(end, direction) - clock_alpha - 1e-9)
        # ... then goes straight to the point covering the nearest door behind, and slides back.
        nearest = np.where(behind, phi, -direction * np.inf)
        nearest = nearest.max(axis=1) if direction > 0 else nearest.min(axis=1)
        nearest = np.where(np.isfinite(nearest), nearest, alphas)
        alpha2 = nearest - direction * HALF_DOOR
        end_points = 0.99 * np.stack([np.cos(end), np.sin(end)], axis=-1)
        targets = TEST_RADIUS * np.stack([np.cos(alpha2), np.sin(alpha2)], axis=-1)
        back = np.ceil(np.max(np.abs(targets - end_points), axis=-1) / STEP_SIZE - 1e-9)
        far_clock = slide_clock_at(doors + direction * HALF_DOOR, -direction)
        covered2 = np.abs(phi - alpha2[:, None]) <= HALF_DOOR
        back_slide = np.ceil(
            far_clock[None, :] - slide_clock_at(alpha2, -direction)[:, None] - 1e-9
        )
        second_leg = (arrive + slide_out + back)[:, None] + np.where(covered2, 0.0, back_slide)
        steps = np.where(covered, arrive[:, None], np.where(ahead, first_leg, second_leg))
        expected = steps.mean(axis=1)
        i = int(np.argmin(expected))
        if best is None or expected[i] < best[0] - 1e-9:
            best = (float(expected[i]), float(alphas[i]), direction)
    assert best is not None
    return best[1], best[2]


class EscapeRoomOracle(ReferencePolicy):
    """Knows the door (``info["task"]``): leaves along the fastest straight line through it
    (:func:`exit_action`), then stays outside."""

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        position = np.asarray(obs[:2], dtype=np.float64)
        if float(np.hypot(position[0], position[1])) > 1.0:
            return np.zeros(2, dtype=np.float32)  # outside: stay (the wall keeps the agent out)
        door = float(info["task"])
        return exit_action(position, door - HALF_DOOR + EXIT_MARGIN, door + HALF_DOOR - EXIT_MARGIN)


class EscapeRoomExplorer(ReferencePolicy):
    """Near-Bayes-optimal search that does not know the door (see the module docstring).

    It reads the position from the observation and learns from its own moves: whether a move
    aimed beyond the wall ended outside (the door) or was stopped (wall). Knowledge is kept across
    the sub-episodes of a meta-episode, so once the door is found later sub-episodes leave straight
    through the part of the wall known to be open. Deterministic.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.reset()

    def reset(self) -> None:
        self._possible = PRIOR.copy()
        self._last_position: np.ndarray | None = None
        self._last_action: np.ndarray | None = None
        self._plan: tuple[float, float] | None = None
        self._sliding = False

    def possible_doors(self) -> np.ndarray:
        """The door angles (grid points) still possible."""
        return DOOR_GRID[self._possible]

    def _learn(self, result: np.ndarray) -> None:
        start, action = self._last_position, self._last_action
        if start is None or action is None or float(start @ start) > 1.0:
            return
        end = start + STEP_SIZE * action.astype(np.float64)
        if float(np.hypot(end[0], end[1])) <= 1.0 + 1e-6:
            return  # no wall test (or too close to tell)
        cross = crossing_point(start, end)
        if cross is None:
            return
        distance = np.abs(np.remainder(DOOR_GRID - _angle(cross) + math.pi, 2 * math.pi) - math.pi)
        if float(np.hypot(result[0], result[1])) > 1.0:
            consistent = distance <= HALF_DOOR + 1e-6  # went through: the door covers `cross`
        else:
            consistent = distance >= HALF_DOOR - 1e-6  # stopped: it does not
            self._sliding = self._plan is not None
        possible = self._possible & consistent
        if not possible.any():
            possible = consistent & ~PRIOR  # an off-prior door (a task passed through options)
            if not possible.any():
                possible = np.ones_like(self._possible)
        self._possible = possible

    def _open_arc(self) -> tuple[float, float] | None:
        """The wall arc open for every door still possible (None if empty)."""
        doors = self.possible_doors()
        low = float(doors[-1]) + GRID_STEP - HALF_DOOR + EXIT_MARGIN
        high = float(doors[0]) - GRID_STEP + HALF_DOOR - EXIT_MARGIN
        return (low, high) if high >= low else None

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        position = np.asarray(obs[:2], dtype=np.float64)
        final_state = info.get("final_state")
        self._learn(position if final_state is None else np.asarray(final_state, np.float64))
        if info.get("step_in_sub_episode") == 0:
            self._plan, self._sliding = None, False  # a new start: plan again
        action = self._decide(position)
        self._last_position, self._last_action = position, action
        return action

    def _decide(self, position: np.ndarray) -> np.ndarray:
        if float(np.hypot(position[0], position[1])) > 1.0:
            return np.zeros(2, dtype=np.float32)  # outside: stay
        arc = self._open_arc()
        if arc is not None:
            return exit_action(position, *arc)
        doors = self.possible_doors()
        if self._plan is not None and self._sliding:
            here = _angle(position)
            direction = self._plan[1]
            ahead = direction * (doors - _unwrap_near(here, float(doors.mean()))) > 0
            if not ahead.any():
                self._plan, self._sliding = None, False
        if self._plan is None:
            self._plan = plan_search(position, doors)
            self._sliding = False
        alpha, direction = self._plan
        if self._sliding:
            action = slide_action(position, direction)
            if action is not None:
                return action
        target = TEST_RADIUS * np.array([math.cos(alpha), math.sin(alpha)])
        steps = max(math.ceil(float(np.max(np.abs(target - position))) / STEP_SIZE - 1e-9), 1)
        return np.clip((target - position) / (STEP_SIZE * steps), -1.0, 1.0).astype(np.float32)
