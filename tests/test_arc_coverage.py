"""results/arc_coverage.py: the coverage tables of docs/reproduce.md, from diagnostics rows."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_spec = importlib.util.spec_from_file_location("arc_coverage", ROOT / "results" / "arc_coverage.py")
assert _spec is not None and _spec.loader is not None
arc_coverage = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(arc_coverage)

SAMPLE = """\
meta_envs/PointRobot-v0 : 3 meta-episodes, deterministic actor
sub-episode      real     prior posterior
          1     35.80     35.32     35.32

per meta-episode, sorted by task (first k: step of sub-episode k's first positive reward)
                    task   return   sub 1   sub 2   sub 3 first 1 first 2 first 3
         (-1.000, 0.007)      0.0     0.0     0.0     0.0       -       -       -
         (-0.842, 0.539)     13.0     0.0     0.0    13.0       -       -      84
         (0.000, 1.000)     250.0    70.0    90.0    90.0      30       9       9
         (0.995, 0.100)     180.0     0.0    90.0    90.0       -      40       9
"""


def test_rows_are_grouped_by_the_goal_angle(tmp_path: Path) -> None:
    path = tmp_path / "diagnostics_per_task.txt"
    path.write_text(SAMPLE)
    rows = arc_coverage.read_rows(path)
    assert len(rows) == 4  # the header lines are skipped
    assert rows[0][1] == [None, None, None] and rows[1][1] == [None, None, 84]
    # 0-45: one goal, found only later; 45-135: one found in sub-episode 1;
    # 135-180 (180 included): two goals, one found in sub-episode 3
    assert arc_coverage.coverage(rows) == [(0, 1, 1), (1, 1, 1), (0, 1, 2)]


def test_other_envs_files_are_skipped(tmp_path: Path, capsys, monkeypatch) -> None:
    rooms = tmp_path / "rooms" / "diagnostics_per_task.txt"
    rooms.parent.mkdir()
    rooms.write_text(
        "                    task   return   sub 1   sub 2   sub 3 first 1 first 2 first 3\n"
        "               (0, 0, 0)    249.4    82.4    83.5    83.5       0       0       0\n"
    )
    robot = tmp_path / "robot" / "diagnostics_per_task.txt"
    robot.parent.mkdir()
    robot.write_text(SAMPLE)
    assert arc_coverage.read_rows(rooms) == []
    monkeypatch.setattr("sys.argv", ["arc_coverage.py", str(rooms), str(robot)])
    arc_coverage.main()
    out, err = capsys.readouterr()
    assert "rooms: no goal or door rows, skipped" in err and "rooms" not in out
    assert "robot | 0/1 (1) | 1/1 (1) | 0/2 (1)" in out


ESCAPE = """\
per meta-episode, sorted by task (first k: step of sub-episode k's first positive reward)
                    task   return   sub 1   sub 2 first 1 first 2
                 (0.150)    103.0    59.0    44.0       1      16
                 (0.171)     53.0     0.0    53.0       -       7
                 (1.571)     90.0    40.0    50.0      20      10
"""


def test_escape_room_rows_are_grouped_by_the_door_angle(tmp_path, capsys, monkeypatch) -> None:
    path = tmp_path / "escape" / "diagnostics_per_task.txt"
    path.parent.mkdir()
    path.write_text(ESCAPE)
    rows = arc_coverage.read_rows(path)
    assert [round(r.angle) for r in rows] == [9, 10, 90]  # radians read as degrees
    assert arc_coverage.coverage(rows, ((0.0, 60.0), (60.0, 180.0))) == [(1, 2, 2), (1, 1, 1)]
    monkeypatch.setattr("sys.argv", ["arc_coverage.py", str(path), "--edges", "0", "60", "180"])
    arc_coverage.main()
    out = capsys.readouterr().out
    assert "0-60 deg" in out and "escape | 1/2 (2) | 1/1 (1)" in out


def test_edges_must_increase(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("sys.argv", ["arc_coverage.py", "x.txt", "--edges", "90", "45"])
    with pytest.raises(SystemExit) as err:
        arc_coverage.main()
    assert err.value.code == 2


def test_first_steps_order_the_search(tmp_path, capsys, monkeypatch) -> None:
    path = tmp_path / "robot" / "diagnostics_per_task.txt"
    path.parent.mkdir()
    path.write_text(SAMPLE)
    rows = arc_coverage.read_rows(path)
    steps = arc_coverage.first_steps(rows)
    # 0-45: its one goal is not found in sub-episode 1; 45-135: found at step 30; 135-180: none
    assert math.isnan(steps[0]) and steps[1] == 30.0 and math.isnan(steps[2])
    monkeypatch.setattr("sys.argv", ["arc_coverage.py", str(path), "--steps"])
    arc_coverage.main()
    assert "robot | 0/1 (1) @ nan | 1/1 (1) @ 30 | 0/2 (1) @ nan" in capsys.readouterr().out


def test_split_shows_where_later_sub_episodes_lose_return(tmp_path, capsys, monkeypatch) -> None:
    path = tmp_path / "robot" / "diagnostics_per_task.txt"
    path.parent.mkdir()
    path.write_text(SAMPLE)
    rows = arc_coverage.read_rows(path)
    assert rows[2].returns == [70.0, 90.0, 90.0]  # the meta-episode's return is not a sub-episode's
    # sub-episode 1 found only (0, 1)'s goal; the other three missed: (0 + 0 + 90) / 3 in sub 2
    (hit2, n_hit, miss2, n_miss), (hit3, _, miss3, _) = arc_coverage.split_by_first(rows)
    assert (hit2, n_hit, n_miss) == (90.0, 1, 3) and miss2 == 30.0
    assert hit3 == 90.0 and miss3 == (0.0 + 13.0 + 90.0) / 3
    assert arc_coverage.split_by_first([]) == []
    monkeypatch.setattr("sys.argv", ["arc_coverage.py", str(path), "--split"])
    arc_coverage.main()
    out = capsys.readouterr().out
    assert (
        "sub-episode 2: 90.0 after sub-episode 1 found the goal (1), 30.0 after it did not (3)"
        in out
    )
