"""Rooms-N: find one goal corner in each of n rooms in a row, and visit the goals in order."""

from __future__ import annotations

import itertools
import numbers
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from meta_envs.core.arguments import check_count
from meta_envs.core.meta_env import MetaEnv
from meta_envs.rendering.canvas import Canvas

#: Side of a room in cells, and length of the corridor between two rooms.
ROOM_SIZE = 3
CORRIDOR_LENGTH = 3
#: x distance between the left walls of two neighbouring rooms.
ROOM_PERIOD = ROOM_SIZE + CORRIDOR_LENGTH
#: Actions: 0 noop, 1 up, 2 right, 3 down, 4 left, as moves (dx, dy) with +y up.
MOVES: tuple[tuple[int, int], ...] = ((0, 0), (0, 1), (1, 0), (0, -1), (-1, 0))
NUM_ACTIONS = len(MOVES)
#: Corner codes 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right, as (dx, y) in a room.
CORNERS: tuple[tuple[int, int], ...] = ((0, 1), (ROOM_SIZE - 1, 1), (0, -1), (ROOM_SIZE - 1, -1))
CORNER_NAMES = ("top-left", "top-right", "bottom-left", "bottom-right")
#: Reward of an ordinary step and of a paying goal step.
STEP_REWARD = -0.1
GOAL_REWARD = 1.0
#: :meth:`RoomsNEnv.finite_tasks` lists the tasks while there are at most this many (n <= 5).
MAX_ENUMERATED_TASKS = 1024


def grid_width(n: int) -> int:
    """Width W in cells of the grid of ``n`` rooms: ``3n + 3(n - 1)``."""
    return ROOM_SIZE * n + CORRIDOR_LENGTH * (n - 1)


def cell_id(x: int, y: int) -> int:
    """Index of cell ``(x, y)`` (``y`` in {-1, 0, 1}) in the transition and observation tables."""
    return 3 * x + y + 1


def cell_xy(cell: int) -> tuple[int, int]:
    """The ``(x, y)`` of a cell index (inverse of :func:`cell_id`)."""
    x, row = divmod(cell, 3)
    return x, row - 1


def is_cell(x: int, y: int, n: int) -> bool:
    """Whether ``(x, y)`` is a free cell: any cell of a room, or the middle row of a corridor."""
    if not 0 <= x < grid_width(n) or not -1 <= y <= 1:
        return False
    return x % ROOM_PERIOD < ROOM_SIZE or y == 0


def corner_cell(room: int, corner: int) -> int:
    """Cell index of corner ``corner`` (0 TL, 1 TR, 2 BL, 3 BR) of room ``room``."""
    dx, y = CORNERS[corner]
    return cell_id(ROOM_PERIOD * room + dx, y)


def room_entry(room: int) -> int:
    """The middle cell of a room's left wall (the start cell for room 0)."""
    return cell_id(ROOM_PERIOD * room, 0)


def room_exit(room: int) -> int:
    """The middle cell of a room's right wall (where the corridor to the next room begins)."""
    return cell_id(ROOM_PERIOD * room + ROOM_SIZE - 1, 0)


def transition_table(n: int) -> list[list[int]]:
    """``next_cell[cell][action]`` for every cell index (moves into walls leave the cell unchanged).

    Corridor cells exist only in the middle row, so a corridor admits only left/right moves and is
    entered only from a room's middle row. Indices of non-cells map to themselves (never reached).
    """
    width = grid_width(n)
    table = []
    for cell in range(3 * width):
        x, y = cell_xy(cell)
        row = []
        for dx, dy in MOVES:
            free = is_cell(x, y, n) and is_cell(x + dx, y + dy, n)
            row.append(cell_id(x + dx, y + dy) if free else cell)
        table.append(row)
    return table


def cell_observations(n: int) -> np.ndarray:
    """The physical observation ``(2x / (W - 1) - 1, y)`` of every cell index, shape ``(3W, 2)``."""
    width = grid_width(n)
    cells = np.arange(3 * width)
    x, row = np.divmod(cells, 3)
    table = np.stack([2.0 * x / (width - 1) - 1.0, row - 1.0], axis=1)
    table.setflags(write=False)
    return table


def check_rooms_task(task: Any, n: int) -> np.ndarray:
    """Return ``task`` as a read-only int64 array of shape ``(n,)`` with corner codes in 0..3.

    Integer arrays and integral floats (``1.0``) are accepted; booleans, fractional or non-finite
    values, other shapes and codes outside 0..3 raise ``ValueError``.
    """
    try:
        array = np.asarray(task)
    except (TypeError, ValueError) as error:  # pragma: no cover - ragged input on old numpy
        raise ValueError(f"task must be an integer array of shape ({n},), got {task!r}") from error
    if array.shape != (n,):
        raise ValueError(
            f"task must have shape ({n},) (one corner code per room), got shape {array.shape}"
        )
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
            raise ValueError(f"task must hold integer corner codes in 0..3, got {array}")
    elif array.dtype.kind not in "iu":
        raise ValueError(
            f"task must hold integer corner codes in 0..3, got dtype {array.dtype}: {task!r}"
        )
    if np.any(array < 0) or np.any(array > 3):
        raise ValueError(
            "task corner codes must be in 0..3 (0 top-left, 1 top-right, 2 bottom-left, "
            f"3 bottom-right), got {array}"
        )
    result = array.astype(np.int64)
    result.setflags(write=False)
    return result


class RoomsNEnv(MetaEnv[int]):
    """Rooms-N: in each of ``n`` rooms one corner is the goal; collect the goals from left to right.

    ## Description

    ``n`` rooms of 3x3 cells lie in a row, joined by corridors of 3 cells along their middle row.
    Cells are ``(x, y)`` with ``x = 0..W-1`` from left to right (``W = 3n + 3(n - 1)``) and
    ``y`` in {-1, 0, 1}, +1 the top row and 0 the corridor row. The agent starts every sub-episode
    on the middle cell of room 0's left wall, ``(0, 0)``. In each room one of the four corner cells
    is that room's goal; goals pay only in order (room 0's first), so the agent has to find each
    room's goal by visiting its corners and then move on. The task distribution is *decomposable*:
    each room's goal matters only in that room. The best policy searches every room's corners once
    in the first sub-episode and walks the known shortest path in later ones.

    ## Task Distribution

    Each room's goal is one of its 4 corners, i.i.d. uniform (``4^n`` tasks). Corner codes: 0
    top-left, 1 top-right, 2 bottom-left, 3 bottom-right. ``env.unwrapped.task`` is a read-only
    int64 array of shape ``(n,)``; ``reset(options={"task": task})`` takes any integer array-like
    of shape ``(n,)`` with codes in 0..3 (integral floats such as ``1.0`` are accepted; other
    values raise ``ValueError``).

    ## Action Space

    ``Discrete(5)``: 0 noop, 1 up (+y), 2 right (+x), 3 down, 4 left. A move into a wall leaves the
    agent where it is; in a corridor only left/right move, and a corridor is entered only from a
    room's middle row. Python ints, numpy integer scalars and 0-d integer arrays are accepted; any
    other action (out of range, non-integer, a bool, wrong shape) raises ``ValueError``.

    ## Observation Space

    ``Box(float32)`` of shape ``(4,)`` (``(2,)`` with ``meta_features=False``):

    | index | observation                        | min  | max |
    |-------|------------------------------------|------|-----|
    | 0     | x scaled: 2x / (W - 1) - 1         | -1   | 1   |
    | 1     | y (row: -1 bottom, 0 middle, 1 top)| -1   | 1   |
    | 2     | previous reward (0 after reset)    | -0.1 | 1   |
    | 3     | meta-episode time t / (N * H)      | 0    | 1   |

    ## Rewards

    -0.1 per step, except +1 when the agent stands on goal ``i`` after the step, every goal
    before ``i`` has paid in this sub-episode, and goal ``i`` has not yet paid in this sub-episode
    ("reached" means paid in order). The last goal pays +1 on every step the agent stands on it
    once all earlier goals have paid in this sub-episode, also after leaving it and coming back.
    The reached flags are cleared at every sub-episode start. ``info["goals_reached"]`` is the
    number of goals paid in the current sub-episode (0 on a step that starts a new sub-episode);
    on a step that ends a sub-episode, ``info["final_goals_reached"]`` is the number paid in the
    sub-episode that ended.

    ## Starting State

    ``(0, 0)``, the middle cell of room 0's left wall, at the start of every sub-episode.

    ## Episode End

    The meta-episode is truncated after ``num_sub_episodes * sub_episode_length`` steps;
    ``terminated`` is always False. The step that ends a sub-episode returns the first observation
    of the next one and the old final state in ``info["final_state"]``.

    ## Arguments

    | argument             | default | meaning                                                  |
    |----------------------|---------|----------------------------------------------------------|
    | `n`                  | `3`     | number of rooms (>= 1)                                   |
    | `num_sub_episodes`   | `3`     | N, sub-episodes per meta-episode (>= 1)                  |
    | `sub_episode_length` | `100`   | H, steps per sub-episode (>= 1)                          |
    | `render_mode`        | `None`  | `None`, `"rgb_array"` or `"human"`                       |
    | `meta_features`      | `True`  | append previous reward and t/(N*H) to the observation    |

    ## Version History

    * v0: first version. Differences from the reference MAMBA code: the observation scales both
      axes symmetrically to [-1, 1] (the reference's y scaling was asymmetric); the default is three
      sub-episodes (the reference's shipped config used one, the paper's figures show three); the
      boundary step returns the first observation of the next sub-episode (the reference revealed it
      one action late); task sampling is seeded by ``reset(seed=...)``.
    """

    env_id: ClassVar[str] = "meta_envs/RoomsN-v0"
    reward_range_bounds: ClassVar[tuple[float, float]] = (STEP_REWARD, GOAL_REWARD)

    def __init__(
        self,
        n: int = 3,
        num_sub_episodes: int = 3,
        sub_episode_length: int = 100,
        render_mode: str | None = None,
        meta_features: bool = True,
    ) -> None:
        self.n = check_count("n", n)
        self.width = grid_width(self.n)
        super().__init__(num_sub_episodes, sub_episode_length, render_mode, meta_features)
        self.action_space = spaces.Discrete(NUM_ACTIONS)
        #: next_cell[cell][action], shared in numpy form with the vector env.
        self.next_cell = transition_table(self.n)
        self._cell_obs_table = cell_observations(self.n)
        self._cell_obs = [row for row in self._cell_obs_table]
        self._start = room_entry(0)
        self._cell = self._start
        self._reached = 0
        self._final_reached = 0
        self._goal_cells: list[int] = []
        # Rendering geometry: one world unit per cell, cells centred on integer coordinates.
        self.world_bounds = (-1.0, self.width, -2.1, 2.1)
        pixels = max(24, min(56, 1200 // (self.width + 1)))
        # Even sizes (W + 1 = 6n - 2 is even), which H.264 video needs.
        self.frame_size = (pixels * (self.width + 1), 2 * round(pixels * 2.1))

    # ------------------------------------------------------------------ hooks
    def physical_observation_space(self) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)

    def sample_task(self, rng: np.random.Generator) -> np.ndarray:
        """One corner code per room, i.i.d. uniform on {0, 1, 2, 3}."""
        task = rng.integers(0, 4, size=self.n, dtype=np.int64)
        task.setflags(write=False)
        return task

    def _check_task(self, task: Any) -> np.ndarray:
        return check_rooms_task(task, self.n)

    def _check_action(self, action: Any) -> int:
        if type(action) is int and 0 <= action < NUM_ACTIONS:
            return action
        if isinstance(action, (numbers.Integral, np.ndarray)) and not isinstance(
            action, (bool, np.bool_)
        ):
            array = np.asarray(action)
            if array.shape == () and array.dtype.kind in "iu" and 0 <= array < NUM_ACTIONS:
                return int(array)
        raise ValueError(
            f"action must be an integer in 0..{NUM_ACTIONS - 1} "
            f"(0 noop, 1 up, 2 right, 3 down, 4 left), got {action!r}"
        )

    def _reset_physical(self, rng: np.random.Generator) -> None:
        self._final_reached = self._reached
        self._cell = self._start
        self._reached = 0
        self._goal_cells = [corner_cell(room, int(code)) for room, code in enumerate(self._task)]

    def _step_physical(self, action: int) -> float:
        cell = self._cell = self.next_cell[self._cell][action]
        reached = self._reached
        n = self.n
        # The goal that can pay now: the next unpaid one, or the last once all have paid.
        if cell == self._goal_cells[reached if reached < n else n - 1]:
            if reached < n:
                self._reached = reached + 1
            return GOAL_REWARD
        return STEP_REWARD

    def _physical_state(self) -> np.ndarray:
        return self._cell_obs[self._cell]

    def _step_info(self, info: dict[str, Any]) -> None:
        info["goals_reached"] = self._reached
        if info["sub_episode_end"]:
            # At the last step no reset happened: the count is still that of the ended sub-episode.
            info["final_goals_reached"] = (
                self._final_reached if self._t < self.meta_episode_length else self._reached
            )

    def reference_kwargs(self) -> dict[str, Any]:
        return {**super().reference_kwargs(), "n": self.n}

    def finite_tasks(self) -> list[np.ndarray] | None:
        """All ``4^n`` tasks (in lexicographic order of the corner codes) while ``4^n <= 1024``."""
        if 4**self.n > MAX_ENUMERATED_TASKS:
            return None
        tasks = []
        for codes in itertools.product(range(4), repeat=self.n):
            task = np.array(codes, dtype=np.int64)
            task.setflags(write=False)
            tasks.append(task)
        return tasks

    # ------------------------------------------------------------------ state, for tests
    @property
    def cell(self) -> tuple[int, int]:
        """The agent's cell ``(x, y)``."""
        return cell_xy(self._cell)

    @property
    def goals_reached(self) -> int:
        """Goals paid in the current sub-episode."""
        return self._reached

    # ------------------------------------------------------------------ rendering
    def _trail_point(self) -> np.ndarray:
        # The cell centre in world units (one unit per cell).
        return np.array(cell_xy(self._cell), dtype=np.float64)

    def _draw_agent(self, canvas: Canvas) -> None:
        canvas.circle(cell_xy(self._cell), 0.24, canvas.AGENT)

    def _draw(self, canvas: Canvas) -> None:
        canvas.rect((-0.7, -1.7), (self.width - 0.3, 1.7), canvas.WALL)
        floor = (236, 236, 228)
        for cell in range(3 * self.width):
            x, y = cell_xy(cell)
            if is_cell(x, y, self.n):
                canvas.rect((x - 0.5, y - 0.5), (x + 0.5, y + 0.5), floor)
                canvas.rect((x - 0.5, y - 0.5), (x + 0.5, y + 0.5), canvas.MUTED, 1)
        canvas.circle(cell_xy(self._start), 0.12, canvas.MUTED)
        size = max(12, canvas.pixels(0.45))
        for room, goal in enumerate(self._goal_cells):
            x, y = cell_xy(goal)
            paid = room < self._reached
            fill, edge = (
                ((245, 232, 190), (200, 180, 130)) if paid else (canvas.GOAL, canvas.GOAL_EDGE)
            )
            canvas.rect((x - 0.42, y - 0.42), (x + 0.42, y + 0.42), fill)
            canvas.rect((x - 0.42, y - 0.42), (x + 0.42, y + 0.42), edge, 2)
            canvas.text(str(room + 1), (x, y), (170, 150, 110) if paid else (20, 20, 20), size)
