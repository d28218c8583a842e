"""Which goals (Point Robot) or doors (Escape Room) an agent finds, grouped by their angle on the
upper half-circle.

Reads the per-task rows that ``python -m mamba_agent.diagnostics RUN --per-task`` prints (saved
as ``diagnostics_per_task.txt`` in the run folders under ``results/tuning/``) and prints, for
each angle range, how many meta-episodes found their goal in sub-episode 1 and in any
sub-episode (for Escape Room: left the room): the coverage tables of docs/reproduce.md.

    python results/arc_coverage.py results/tuning/*/diagnostics_per_task.txt
    python results/arc_coverage.py results/tuning/escape_room_cpu_seed*/diagnostics_per_task.txt \
        --edges 0 60 180
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

ARCS = ((0.0, 45.0), (45.0, 135.0), (135.0, 180.0))
"""Default angle ranges in degrees (the last one includes its upper edge)."""

_ROW = re.compile(r"^\s*\((-?[\d.]+)(?:, (-?[\d.]+))?\)\s+\S+((?:\s+\S+)+)\s*$")
"""A per-task row: the goal (x, y) or the door angle (radians), the return, then N sub-episode
returns and N first-reward steps."""


def read_rows(path: Path) -> list[tuple[float, list[bool]]]:
    """(goal or door angle in degrees, found in sub-episode k for each k) for every per-task row."""
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
        found = [step != "-" for step in fields[len(fields) // 2 :]]
        rows.append((angle, found))
    return rows


def coverage(
    rows: list[tuple[float, list[bool]]], arcs: tuple[tuple[float, float], ...] = ARCS
) -> list[tuple[int, int, int]]:
    """Per arc: (found in sub-episode 1, found in any sub-episode, meta-episodes)."""
    out = []
    for lo, hi in arcs:
        sel = [f for a, f in rows if lo <= a < hi or a == hi == arcs[-1][1]]
        out.append((sum(f[0] for f in sel), sum(any(f) for f in sel), len(sel)))
    return out


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
        cells = " | ".join(f"{a}/{n} ({b})" for a, b, n in coverage(rows, arcs))
        print(f"{path.parent.name} | {cells}")


if __name__ == "__main__":
    main()
