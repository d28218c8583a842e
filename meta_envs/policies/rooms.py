"""Reference policies of Rooms-N: a scripted corner search, the Bayes-optimal explorer, the oracle.

All three walk shortest paths computed once per ``n`` by breadth-first search on the env's own
transition table, with a fixed tie-break between equally short moves (the first of up, right,
down, left that gets closer). They read the agent's cell from the first two observation entries
(the physical state), so they work with and without ``meta_features``.

Bayes-optimal search
--------------------
Rooms are independent (each room's goal pays only in that room, and only after every earlier goal
has paid), so the first sub-episode's return is ``H - 1.1 (T - n)``, a decreasing linear function
of the step ``T`` at which the last goal is first reached (while ``T <= H``): each of the ``T - n``
steps that pay -0.1 would otherwise pay +1 on the last goal. ``E[T]`` is the sum over rooms of the
expected steps from entering a room (the middle cell of its left wall) to standing on its goal,
plus, for every room but the last, the steps from the goal to the room's exit (the middle cell of
its right wall), plus the fixed corridor steps. So the exact Bayes-optimal search minimises, room by
room, the expected cost of the corner order, with the goal uniform over the 4 corners;
:func:`expected_room_cost` computes it by executing the scripted search for each goal corner.

With the entry at distance 1 from the two left corners and 3 from the two right ones, and adjacent
corners 2 apart, the best executed visit sequences are the four "walk round the room" sweeps
starting on the left: TL-TR-BR-BL, TL-BL-BR-TR, BL-BR-TR-TL and BL-TL-TR-BR (arrival after 1, 3, 5,
7 steps; expected 4 steps to the goal, and 6 to the exit in a non-last room: goal-to-exit is 3 from
a left corner and 1 from a right one). The explorer considers the orders executed as written (the
search stands on the corners in exactly that order, passing over no other corner on the way) and
breaks ties towards the smallest tuple of corner codes: ``(0, 1, 3, 2)``, top-left, top-right,
bottom-right, bottom-left (a clockwise sweep), in every room. Expected first-sub-episode cost with
the defaults (n = 3): ``E[T] = 6 + 4 + 6 + 4 + 4 = 24`` steps (4 corridor steps between rooms), so
an expected first-sub-episode return of ``100 - 1.1 * (24 - 3) = 76.9``.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import gymnasium as gym
import numpy as np

from meta_envs.envs.rooms import (
    NUM_ACTIONS,
    cell_id,
    corner_cell,
    grid_width,
    room_entry,
    room_exit,
    transition_table,
)
from meta_envs.policies.base import ReferencePolicy

#: Corner orders as tuples of corner codes (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right).
CornerOrder = tuple[int, int, int, int]
ALL_CORNER_ORDERS: tuple[CornerOrder, ...] = tuple(itertools.permutations(range(4)))  # type: ignore[arg-type]
NOOP = 0


class RoomsNMap:
    """Shortest-path navigation on the Rooms-N grid of ``n`` rooms (use :func:`rooms_map`).

    ``distance[target][cell]`` and ``action[target][cell]`` (the first move of a shortest path from
    ``cell`` to ``target``; noop on the target) are stored for the corner cells as targets.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.width = grid_width(n)
        self.next_cell = transition_table(n)
        #: corner cell -> (room, corner code)
        self.corner_of: dict[int, tuple[int, int]] = {
            corner_cell(room, code): (room, code) for room in range(n) for code in range(4)
        }
        self.distance: dict[int, list[int]] = {}
        self.action: dict[int, list[int]] = {}
        for target in self.corner_of:
            self._add_target(target)

    def _add_target(self, target: int) -> None:
        # Moves are reversible, so a BFS from the target gives every cell's distance to it.
        unreachable = 1 << 30
        distance = [unreachable] * len(self.next_cell)
        distance[target] = 0
        queue = deque([target])
        while queue:
            cell = queue.popleft()
            for neighbour in self.next_cell[cell][1:]:
                if distance[neighbour] == unreachable:
                    distance[neighbour] = distance[cell] + 1
                    queue.append(neighbour)
        action = [NOOP] * len(self.next_cell)
        for cell, row in enumerate(self.next_cell):
            if 0 < distance[cell] < unreachable:
                action[cell] = next(
                    a for a in range(1, NUM_ACTIONS) if distance[row[a]] == distance[cell] - 1
                )
        self.distance[target] = distance
        self.action[target] = action

    def cell_of(self, state: np.ndarray) -> int:
        """The cell index of a physical state ``(2x / (W - 1) - 1, y)`` (observation[:2])."""
        x = round((float(state[0]) + 1.0) * (self.width - 1) / 2.0)
        return cell_id(x, round(float(state[1])))


@lru_cache(maxsize=32)
def rooms_map(n: int) -> RoomsNMap:
    """The (cached) :class:`RoomsNMap` of ``n`` rooms."""
    return RoomsNMap(n)


class RoomsNCornerOrder(ReferencePolicy):
    """A scripted search: visit each room's corners in a given order until its goal pays.

    While goals ``0..k-1`` have paid in the current sub-episode, the policy heads for room ``k``'s
    goal if it is known, else for the first corner of ``orders[k]`` not yet ruled out. It learns
    only from what it observes: after each step, standing on a corner of room ``j`` with reward +1
    shows that corner is goal ``j``; reward -0.1 there while exactly ``j`` goals had paid rules it
    out (passing over a corner on the way to another is free information). Three corners ruled out
    reveal the fourth. Once every goal has paid it stays on the last one. Knowledge is kept across
    the sub-episodes of a meta-episode, so later sub-episodes walk the known shortest path.

    Args:
        env: a Rooms-N env (wrappers allowed).
        orders: one corner order (a permutation of 0..3) for every room, or ``n`` of them.
    """

    def __init__(self, env: gym.Env, orders: Sequence[int] | Sequence[Sequence[int]]) -> None:
        super().__init__(env)
        n = self.n = int(env.unwrapped.n)
        self.map = rooms_map(n)
        if len(orders) > 0 and isinstance(orders[0], (int, np.integer)):
            orders = [orders] * n  # type: ignore[list-item]
        if len(orders) != n:
            raise ValueError(f"orders must be one corner order or {n} of them, got {len(orders)}")
        checked = []
        for order in orders:
            order = tuple(int(code) for code in order)  # type: ignore[union-attr]
            if sorted(order) != [0, 1, 2, 3]:
                raise ValueError(f"a corner order must be a permutation of 0..3, got {order}")
            checked.append(order)
        self.orders: list[CornerOrder] = checked  # type: ignore[assignment]
        self.goals: list[int | None] = []
        self.ruled_out: list[set[int]] = []
        self.reset()

    def reset(self) -> None:
        n = self.n
        self.goals = [None] * n
        self.ruled_out = [set() for _ in range(n)]
        self._paid_before = 0

    def _learn(self, cell: int, paid: bool) -> None:
        corner = self.map.corner_of.get(cell)
        if corner is None:
            return
        room, code = corner
        if paid:
            self.goals[room] = code
        elif room == self._paid_before and self.goals[room] is None:
            ruled_out = self.ruled_out[room]
            ruled_out.add(code)
            if len(ruled_out) == 3:
                self.goals[room] = next(c for c in range(4) if c not in ruled_out)

    def _target(self, paid: int) -> int:
        """The corner cell to head for while ``paid`` goals have paid in this sub-episode."""
        n = self.n
        room = paid if paid < n else n - 1
        goal = self.goals[room]
        if goal is not None:
            return corner_cell(room, goal)
        ruled_out = self.ruled_out[room]
        return corner_cell(room, next(c for c in self.orders[room] if c not in ruled_out))

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> int:
        # A goal paid on the last step iff the count of goals paid in order went up (the last
        # goal, paying again, is already known): the info says what the reward said, with and
        # without meta_features.
        if info.get("sub_episode_end"):
            paid_now = int(info["final_goals_reached"])
            self._learn(self.map.cell_of(info["final_state"]), paid_now > self._paid_before)
        elif info["step_in_sub_episode"] > 0:
            paid_now = int(info["goals_reached"])
            self._learn(self.map.cell_of(obs), paid_now > self._paid_before)
        paid = int(info["goals_reached"])
        self._paid_before = paid
        return self.map.action[self._target(paid)][self.map.cell_of(obs)]


def _search(n: int, room: int, order: CornerOrder, goal: int | None) -> tuple[int, CornerOrder]:
    """Run :class:`RoomsNCornerOrder`'s search of ``room`` from its entry with the goal at corner
    ``goal`` (``None``: no goal, search until every corner is visited or deduced).

    Returns the steps until standing on the goal (or on the last corner) and the corners in the
    order they were first stood on (the executed visit sequence).
    """
    nav = rooms_map(n)
    cell, steps, visits, known = room_entry(room), 0, [], None
    while True:
        corner = nav.corner_of.get(cell)
        if corner is not None and corner[0] == room and corner[1] not in visits:
            visits.append(corner[1])
            if corner[1] == goal or len(visits) == 4:
                return steps, tuple(visits)  # type: ignore[return-value]
            if len(visits) == 3:
                known = next(c for c in range(4) if c not in visits)
        code = known if known is not None else next(c for c in order if c not in visits)
        target = corner_cell(room, code)
        cell = nav.next_cell[cell][nav.action[target][cell]]
        steps += 1


@lru_cache(maxsize=1024)
def expected_room_cost(n: int, room: int, order: CornerOrder) -> float:
    """Expected steps of :class:`RoomsNCornerOrder` with ``order`` in ``room``, goal uniform.

    Counted from standing on the room's entry (the middle cell of its left wall) to standing on the
    goal, plus, unless ``room`` is the last, the steps from the goal to the room's exit.
    """
    nav = rooms_map(n)
    total = 0
    for goal in range(4):
        steps, _ = _search(n, room, order, goal)
        if room < n - 1:
            steps += nav.distance[corner_cell(room, goal)][room_exit(room)]
        total += steps
    return total / 4


def visit_sequence(n: int, room: int, order: CornerOrder) -> CornerOrder:
    """The corners in the order the search with ``order`` stands on them when the goal is the last
    (an order differs from its visit sequence when a path passes over a corner on the way)."""
    return _search(n, room, order, None)[1]


def bayes_optimal_orders(n: int) -> list[CornerOrder]:
    """For each room, the corner order of least expected cost among the orders executed as written
    (visit sequence = order); ties go to the smallest tuple of corner codes."""
    orders = []
    for room in range(n):
        clean = [order for order in ALL_CORNER_ORDERS if visit_sequence(n, room, order) == order]
        orders.append(min(clean, key=lambda order: (expected_room_cost(n, room, order), order)))
    return orders


class RoomsNExplorer(RoomsNCornerOrder):
    """The exact Bayes-optimal search (see the module docstring): :class:`RoomsNCornerOrder` with
    the corner order of least expected cost in every room (:func:`bayes_optimal_orders`; ties broken
    towards the smallest tuple of corner codes), which is top-left, top-right, bottom-right,
    bottom-left in every room.

    Expected steps: 6 from entering a non-last room to its exit, 4 from entering the last room
    to its goal. It learns only from the observed rewards, never from the task.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env, bayes_optimal_orders(env.unwrapped.n))


class RoomsNOracle(ReferencePolicy):
    """Told the task (``info["task"]``): walks the shortest path through the goals in order, then
    stays on the last goal (which pays +1 on every step)."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.map = rooms_map(int(env.unwrapped.n))

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> int:
        task = info["task"]
        n = len(task)
        paid = int(info["goals_reached"])
        room = paid if paid < n else n - 1
        target = corner_cell(room, int(task[room]))
        return self.map.action[target][self.map.cell_of(obs)]


__all__ = [
    "ALL_CORNER_ORDERS",
    "RoomsNCornerOrder",
    "RoomsNExplorer",
    "RoomsNMap",
    "RoomsNOracle",
    "bayes_optimal_orders",
    "expected_room_cost",
    "rooms_map",
    "visit_sequence",
]
