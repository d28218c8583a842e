"""Which Point Robot goals an agent finds, grouped by the goal's angle on the half-circle.

Reads the per-task rows that ``python -m mamba_agent.diagnostics RUN --per-task`` prints (saved
as ``diagnostics_per_task.txt`` in the run folders under ``results/tuning/``) and prints, for
each angle range, how many meta-episodes found their goal in sub-episode 1 and in any
sub-episode: the coverage tables of docs/reproduce.md.

    python results/arc_coverage.py results/tuning/*/diagnostics_per_task.txt
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

ARCS = ((0.0, 45.0), (45.0, 135.0), (135.0, 180.0))
"""Angle ranges in degrees (the last one includes 180)."""

_ROW = re.compile(r"^\s*\((-?[\d.]+), (-?[\d.]+)\)\s+\S+((?:\s+\S+)+)\s*$")
"""A per-task row: the goal (x, y), the return, then N sub-episode returns and N first-reward steps."""


def read_rows(path: Path) -> list[tuple[float, list[bool]]]:
    """(goal angle in degrees, found in sub-episode k for each k) for every per-task row."""
    rows = []
    for line in path.read_text().splitlines():
        m = _ROW.match(line)
        if m is None:
            continue
        x, y = float(m[1]), float(m[2])
        fields = m[3].split()
        if len(fields) % 2:
            continue  # not a per-task row
        found = [step != "-" for step in fields[len(fields) // 2 :]]
        rows.append((math.degrees(math.atan2(y, x)), found))
    return rows


def coverage(rows: list[tuple[float, list[bool]]]) -> list[tuple[int, int, int]]:
    """Per arc of ``ARCS``: (found in sub-episode 1, found in any sub-episode, meta-episodes)."""
    out = []
    for lo, hi in ARCS:
        sel = [f for a, f in rows if lo <= a < hi or a == hi == ARCS[-1][1]]
        out.append((sum(f[0] for f in sel), sum(any(f) for f in sel), len(sel)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="diagnostics_per_task.txt files")
    args = parser.parse_args()
    head = " | ".join(f"{lo:.0f}-{hi:.0f} deg: sub-episode 1 (any)" for lo, hi in ARCS)
    print(f"run | {head}")
    for path in args.files:
        rows = read_rows(path)
        if not rows:  # another env's diagnostics (its tasks are not goals on the half-circle)
            print(f"{path.parent.name}: no Point Robot goal rows, skipped", file=sys.stderr)
            continue
        cells = " | ".join(f"{a}/{n} ({b})" for a, b, n in coverage(rows))
        print(f"{path.parent.name} | {cells}")


if __name__ == "__main__":
    main()
