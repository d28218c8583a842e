"""Which goals (Point Robot) or doors (Escape Room) an agent finds, grouped by their angle on the
upper half-circle.

Reads the per-task rows that ``python -m mamba_agent.diagnostics RUN --per-task`` prints (saved
as ``diagnostics_per_task.txt`` in the run folders under ``results/tuning/``) and prints, for
each angle range, how many meta-episodes found their goal in sub-episode 1 and in any
sub-episode (for Escape Room: left the room): the coverage tables of docs/reproduce.md. With
``--split``, also the mean return of each later sub-episode in the meta-episodes whose sub-episode 1
found the goal and in those whose sub-episode 1 did not (where the later sub-episodes lose return).

    python results/arc_coverage.py results/tuning/*/diagnostics_per_task.txt
    python results/arc_coverage.py results/tuning/escape_room_cpu_seed*/diagnostics_per_task.txt \
        --edges 0 60 180
    python results/arc_coverage.py FILES --edges 0 20 40 60 80 100 120 140 160 180 --steps
    python results/arc_coverage.py FILES --split
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path
from typing import NamedTuple

ARCS = ((0.0, 45.0), (45.0, 135.0), (135.0, 180.0))
"""Default angle ranges in degrees (the last one includes its upper edge)."""

_ROW = re.compile(r"^\s*\((-?[\d.]+)(?:, (-?[\d.]+))?\)\s+\S+((?:\s+\S+)+)\s*$")
"""A per-task row: the goal (x, y) or the door angle (radians), the return (not captured), then N
sub-episode returns and N first-reward steps (group 3)."""


class Row(NamedTuple):
    """A meta-episode of a per-task table."""

    angle: float
    """The goal or door angle in degrees."""
    steps: list[int | None]
    """Per sub-episode, the step of the first positive reward (None: the goal was not found)."""
    returns: list[float]
    """Per sub-episode, the return."""


def read_rows(path: Path) -> list[Row]:
    """Every per-task row of a diagnostics file (none for other envs' files)."""
    rows = []
    for line in path.read_text().splitlines():
        m = _ROW.match(line)
        if m is None:
            continue
        if m[2] is None:  # Escape Room: the door angle
            angle = math.degrees(float(m[1]))
        else:  # Point Robot: the goal (x, y)
            angle = math.degrees(math.atan2(float(m[2]), float(m[1])))
        fields = m[3].split()
        if len(fields) % 2:
            continue  # not a per-task row
        half = len(fields) // 2
        steps = [None if step == "-" else int(step) for step in fields[half:]]
        returns = [float(value) for value in fields[:half]]
        rows.append(Row(angle, steps, returns))
    return rows


def _in_arcs(
    rows: list[Row], arcs: tuple[tuple[float, float], ...]
) -> list[list[list[int | None]]]:
    """The rows' first-reward steps, grouped by arc (the last arc includes its upper edge)."""
    last = arcs[-1][1]
    return [
        [r.steps for r in rows if lo <= r.angle < hi or r.angle == hi == last] for lo, hi in arcs
    ]


def coverage(
    rows: list[Row], arcs: tuple[tuple[float, float], ...] = ARCS
) -> list[tuple[int, int, int]]:
    """Per arc: (found in sub-episode 1, found in any sub-episode, meta-episodes)."""
    return [
        (
            sum(s[0] is not None for s in sel),
            sum(any(k is not None for k in s) for s in sel),
            len(sel),
        )
        for sel in _in_arcs(rows, arcs)
    ]


def first_steps(rows: list[Row], arcs: tuple[tuple[float, float], ...] = ARCS) -> list[float]:
    """Per arc: the mean step at which sub-episode 1 first finds the goal, over the meta-episodes
    that find it (nan where none does): the order in which the agent's search visits the arcs."""
    out = []
    for sel in _in_arcs(rows, arcs):
        found = [s[0] for s in sel if s[0] is not None]
        out.append(sum(found) / len(found) if found else math.nan)
    return out


def split_by_first(rows: list[Row]) -> list[tuple[float, int, float, int]]:
    """Per sub-episode after the first: (mean return where sub-episode 1 found the goal, how many
    such meta-episodes, mean return where it did not, how many); nan for an empty group, [] for no
    rows."""

    def mean(values: list[float]) -> float:
        return sum(values) / len(values) if values else math.nan

    found = [r for r in rows if r.steps[0] is not None]
    missed = [r for r in rows if r.steps[0] is None]
    return [
        (
            mean([r.returns[k] for r in found]),
            len(found),
            mean([r.returns[k] for r in missed]),
            len(missed),
        )
        for k in range(1, len(rows[0].returns) if rows else 0)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="diagnostics_per_task.txt files")
    parser.add_argument(
        "--edges",
        nargs="+",
        type=float,
        default=[0.0, 45.0, 135.0, 180.0],
        help="edges of the angle ranges in degrees, increasing (default 0 45 135 180)",
    )
    parser.add_argument(
        "--steps",
        action="store_true",
        help="also print, per range, the mean step of sub-episode 1's first reward ('@ step')",
    )
    parser.add_argument(
        "--split",
        action="store_true",
        help="also print each later sub-episode's mean return where sub-episode 1 found the goal "
        "and where it did not",
    )
    args = parser.parse_args()
    if len(args.edges) < 2 or any(b <= a for a, b in zip(args.edges, args.edges[1:])):
        parser.error("--edges needs two or more increasing angles")
    arcs = tuple(zip(args.edges, args.edges[1:]))
    head = " | ".join(f"{lo:.0f}-{hi:.0f} deg: sub-episode 1 (any)" for lo, hi in arcs)
    print(f"run | {head}")
    for path in args.files:
        rows = read_rows(path)
        if not rows:  # another env's diagnostics (its tasks are not angles on the half-circle)
            print(f"{path.parent.name}: no goal or door rows, skipped", file=sys.stderr)
            continue
        cells = [f"{a}/{n} ({b})" for a, b, n in coverage(rows, arcs)]
        if args.steps:
            cells = [f"{c} @ {t:.0f}" for c, t in zip(cells, first_steps(rows, arcs))]
        cells = " | ".join(cells)
        print(f"{path.parent.name} | {cells}")
        if args.split:
            for k, (hit, n_hit, miss, n_miss) in enumerate(split_by_first(rows), start=2):
                print(
                    f"  sub-episode {k}: {hit:.1f} after sub-episode 1 found the goal ({n_hit}), "
                    f"{miss:.1f} after it did not ({n_miss})"
                )


if __name__ == "__main__":
    main()
