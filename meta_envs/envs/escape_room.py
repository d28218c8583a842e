"""Escape Room: find the door in the wall of a circular room and leave through it."""

from __future__ import annotations

import math
import numbers
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from meta_envs.core.continuous import BoxActionChecker
from meta_envs.core.meta_env import MetaEnv
from meta_envs.rendering.canvas import Canvas

#: Distance moved per unit of action.
STEP_SIZE = 0.1
#: Angular width of the door (an arc of the wall centred on the door angle).
DOOR_WIDTH = math.pi / 8
#: Cosine of the door's half-width: a wall point ``c`` is in the door iff ``c . u >= DOOR_COS``.
DOOR_COS = math.cos(DOOR_WIDTH / 2)
#: A blocked move from inside ends at this radius (radial projection of the intended endpoint).
INSIDE_RADIUS = 0.99
#: A blocked move from outside ends at this radius.
OUTSIDE_RADIUS = 1.01
#: Positions are clipped to [-POSITION_BOUND, POSITION_BOUND]^2 (always outside the room).
POSITION_BOUND = 2.0


def sample_start(rng: np.random.Generator) -> tuple[float, float]:
    """A start position: angle uniform on the circle, then radius ``U[0, 1]`` (not area-uniform)."""
    angle = rng.uniform(0.0, 2.0 * math.pi)
    radius = rng.uniform(0.0, 1.0)
    return radius * math.cos(angle), radius * math.sin(angle)


def door_direction(door_angle: float) -> tuple[float, float]:
    """The unit vector pointing at the door's centre."""
    return math.cos(door_angle), math.sin(door_angle)


def move_in_room(positions: np.ndarray, intended: np.ndarray, doors: np.ndarray) -> np.ndarray:
    """Resolve moves against the wall of the unit circle, batched over rows.

    Args:
        positions: current positions, shape ``(k, 2)``.
        intended: intended endpoints ``q``, shape ``(k, 2)``.
        doors: unit vectors to each room's door centre, shape ``(k, 2)``.

    Returns:
        The new positions, shape ``(k, 2)``. A move whose segment crosses the wall away from the door
        is blocked: from inside it ends at ``0.99 q / |q|``, from outside at ``1.01 q / |q|``. A
        segment that dips inside and out again is blocked unless both crossings are in the door.
        Inside means ``|p| <= 1``.
    """
    px, py = positions[:, 0], positions[:, 1]
    dx, dy = intended[:, 0] - px, intended[:, 1] - py
    a = dx * dx + dy * dy
    b = px * dx + py * dy
    p_sq = px * px + py * py
    q_sq = intended[:, 0] * intended[:, 0] + intended[:, 1] * intended[:, 1]
    inside = p_sq <= 1.0
    disc = b * b - a * (p_sq - 1.0)
    root = np.sqrt(np.maximum(disc, 0.0))
    safe_a = np.where(a > 0.0, a, 1.0)
    s_out = (-b + root) / safe_a
    s_in = (-b - root) / safe_a

    def in_door(s: np.ndarray) -> np.ndarray:
        cx, cy = px + s * dx, py + s * dy
        return cx * doors[:, 0] + cy * doors[:, 1] >= DOOR_COS * np.sqrt(cx * cx + cy * cy)

    leaving = inside & (q_sq > 1.0)
    entering = ~inside & (q_sq <= 1.0)
    dipping = ~inside & (q_sq > 1.0) & (a > 0.0) & (disc > 0.0) & (s_in >= 0.0) & (s_in <= 1.0)
    blocked_in = leaving & ~in_door(s_out)
    blocked_out = (entering & ~in_door(s_in)) | (dipping & ~(in_door(s_in) & in_door(s_out)))
    norm = np.sqrt(np.maximum(q_sq, 1e-24))[:, None]
    result = np.where(blocked_in[:, None], INSIDE_RADIUS * intended / norm, intended)
    result = np.where(blocked_out[:, None], OUTSIDE_RADIUS * intended / norm, result)
    return np.clip(result, -POSITION_BOUND, POSITION_BOUND)


def move_one(
    px: float, py: float, qx: float, qy: float, ux: float, uy: float
) -> tuple[float, float]:
    """:func:`move_in_room` for one move, in Python floats (the single env's fast path).

    The same IEEE operations in the same order as the batched version, so both give bit-identical
    positions (the vector tests check this step for step).
    """
    dx, dy = qx - px, qy - py
    a = dx * dx + dy * dy
    b = px * dx + py * dy
    p_sq = px * px + py * py
    q_sq = qx * qx + qy * qy
    inside = p_sq <= 1.0
    disc = b * b - a * (p_sq - 1.0)
    root = math.sqrt(max(disc, 0.0))
    safe_a = a if a > 0.0 else 1.0

    def in_door(s: float) -> bool:
        cx, cy = px + s * dx, py + s * dy
        return cx * ux + cy * uy >= DOOR_COS * math.sqrt(cx * cx + cy * cy)

    if inside:
        blocked_in = q_sq > 1.0 and not in_door((-b + root) / safe_a)
        blocked_out = False
    else:
        s_in = (-b - root) / safe_a
        blocked_in = False
        if q_sq <= 1.0:
            blocked_out = not in_door(s_in)
        elif a > 0.0 and disc > 0.0 and 0.0 <= s_in <= 1.0:
            blocked_out = not (in_door(s_in) and in_door((-b + root) / safe_a))
        else:
            blocked_out = False
    if blocked_in or blocked_out:
        norm = math.sqrt(max(q_sq, 1e-24))
        radius = INSIDE_RADIUS if blocked_in else OUTSIDE_RADIUS
        qx, qy = radius * qx / norm, radius * qy / norm
    bound = POSITION_BOUND
    return min(max(qx, -bound), bound), min(max(qy, -bound), bound)


def check_door_angle(task: Any) -> float:
    """Validate a door angle passed through ``reset(options={"task": ...})``."""
    array = np.asarray(task)
    if (
        array.shape != ()
        or not isinstance(array.item(), numbers.Real)
        or isinstance(array.item(), bool)
    ):
        raise ValueError(f"task (the door angle) must be a real scalar in radians, got {task!r}")
    angle = float(array)
    if not math.isfinite(angle):
        raise ValueError(f"task (the door angle) must be finite, got {angle}")
    return angle


class EscapeRoomEnv(MetaEnv[np.ndarray]):
    """Escape Room: a circular room whose wall has one door; the reward is for being outside.

    ## Description

    The agent moves inside a room of radius 1. One arc of the wall of width ``pi/8``, centred on the
    door angle, is open. A move whose segment crosses the wall elsewhere is stopped: from inside,
    the agent is placed at ``0.99 q/|q|`` where ``q`` is the intended endpoint (a radial projection,
    which lets an agent slide along the wall while it searches for the door); from outside at
    ``1.01 q/|q|``. The best policy sweeps the upper wall to find the door in the first
    sub-episode, leaves, and goes straight through the door in later sub-episodes.

    ## Task Distribution

    Door angle ``~ U[0, pi]`` (upper half). ``env.unwrapped.task`` is the door angle as a float in
    radians; ``reset(options={"task": angle})`` takes any finite real number.

    ## Action Space

    ``Box(-1, 1, (2,), float32)``: the move ``(dx, dy)``, clipped to the box and scaled by 0.1.

    ## Observation Space

    ``Box(float32)`` of shape ``(4,)`` (``(2,)`` with ``meta_features=False``):

    | index | observation                        | min  | max |
    |-------|------------------------------------|------|-----|
    | 0     | x position                         | -2   | 2   |
    | 1     | y position                         | -2   | 2   |
    | 2     | previous reward (0 after reset)    | 0    | 1   |
    | 3     | meta-episode time t / (N * H)      | 0    | 1   |

    ## Rewards

    1 on every step that ends outside the room (``|p| > 1``), else 0.

    ## Starting State

    Re-drawn at every sub-episode: angle uniform on the full circle, radius ``U[0, 1]`` (not
    area-uniform), from ``self.np_random``.

    ## Episode End

    Truncated after ``num_sub_episodes * sub_episode_length`` steps; never terminated. The step
    that ends a sub-episode returns the first observation of the next one and the old final state
    in ``info["final_state"]``.

    ## Arguments

    | argument             | default | meaning                                                  |
    |----------------------|---------|----------------------------------------------------------|
    | `num_sub_episodes`   | `2`     | N, sub-episodes per meta-episode (>= 1)                  |
    | `sub_episode_length` | `60`    | H, steps per sub-episode (>= 1)                          |
    | `render_mode`        | `None`  | `None`, `"rgb_array"` or `"human"`                       |
    | `meta_features`      | `True`  | append previous reward and t/(N*H) to the observation    |

    ## Version History

    * v0: first version. Differences from the reference MAMBA code: the wall blocks from both
      sides (the reference teleported an agent touching the wall from outside back inside; here an
      agent outside stays outside); the boundary step returns the first observation of the next
      sub-episode; positions are clipped to ``[-2, 2]^2`` (outside the room, so no effect on the
      reward) to bound the observation space; tasks and starts are seeded by ``reset(seed=...)``.
    """

    env_id: ClassVar[str] = "meta_envs/EscapeRoom-v0"
    reward_range_bounds: ClassVar[tuple[float, float]] = (0.0, 1.0)
    world_bounds: ClassVar[tuple[float, float, float, float]] = (-1.3, 1.3, -1.3, 1.3)
    frame_size: ClassVar[tuple[int, int]] = (480, 480)

    def __init__(
        self,
        num_sub_episodes: int = 2,
        sub_episode_length: int = 60,
        render_mode: str | None = None,
        meta_features: bool = True,
    ) -> None:
        super().__init__(num_sub_episodes, sub_episode_length, render_mode, meta_features)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self._check_action_fn = BoxActionChecker(self.action_space)
        self._x = self._y = 0.0
        self._ux, self._uy = 1.0, 0.0

    def physical_observation_space(self) -> spaces.Box:
        return spaces.Box(-POSITION_BOUND, POSITION_BOUND, shape=(2,), dtype=np.float32)

    def sample_task(self, rng: np.random.Generator) -> float:
        """A door angle ``~ U[0, pi]``."""
        return float(rng.uniform(0.0, math.pi))

    def _check_task(self, task: Any) -> float:
        return check_door_angle(task)

    def _check_action(self, action: Any) -> tuple[float, ...]:
        return self._check_action_fn(action)

    def _reset_physical(self, rng: np.random.Generator) -> None:
        self._x, self._y = sample_start(rng)
        self._ux, self._uy = door_direction(self._task)

    def _step_physical(self, action: tuple[float, ...]) -> float:
        qx = self._x + STEP_SIZE * action[0]
        qy = self._y + STEP_SIZE * action[1]
        self._x, self._y = move_one(self._x, self._y, qx, qy, self._ux, self._uy)
        return 1.0 if math.sqrt(self._x * self._x + self._y * self._y) > 1.0 else 0.0

    def _physical_state(self) -> np.ndarray:
        return np.array([self._x, self._y])

    def _draw(self, canvas: Canvas) -> None:
        canvas.circle((0.0, 0.0), 1.0, (235, 235, 228))
        door = self._task
        half = DOOR_WIDTH / 2
        canvas.arc((0.0, 0.0), 1.0, door + half, door - half + 2 * math.pi, canvas.WALL, 5)
        canvas.arc((0.0, 0.0), 1.0, door - half, door + half, canvas.GOAL, 5)
