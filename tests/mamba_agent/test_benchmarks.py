"""benchmarks/agent_throughput.py: a failing measuring process ends the benchmark with its error
(it used to wait on the process's queue forever); the yardstick is found relative to the repo."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def bench(monkeypatch):
    # importable by name, so that the spawned measuring processes find the module too
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("agent_throughput")


def _raise(*args) -> None:
    raise RuntimeError("self and mat2 must have the same dtype (stand-in)")


def _die(*args) -> None:
    os._exit(3)  # as a crash in native code or the OOM killer: no exception, no result


@pytest.mark.timeout(60)
def test_a_failing_measurement_ends_the_benchmark_with_its_error(bench, monkeypatch, capsys):
    monkeypatch.setattr(bench, "_update_timing", _raise)
    monkeypatch.setattr(bench, "yardstick", lambda runs=3: None)
    monkeypatch.setattr(sys, "argv", ["agent_throughput.py", "--lengths", "300", "--skip-learn"])
    with pytest.raises(SystemExit) as exc:
        bench.main()
    message = str(exc.value.code)
    assert message.startswith("benchmark stopped: _raise failed in its process")
    assert "Traceback" in message and "same dtype (stand-in)" in message
    with pytest.raises(bench.MeasurementFailed, match="exited with code 3 without a result"):
        bench._in_subprocess(_die, poll_s=0.2)


def test_the_yardstick_is_found_beside_the_repository_and_optional(bench, monkeypatch, tmp_path):
    repo = BENCHMARKS.parent
    assert bench.YARDSTICK == repo.parent / "shared" / "bench" / "yardstick.py"
    monkeypatch.setattr(bench, "YARDSTICK", tmp_path / "absent.py")
    assert bench.yardstick() is None


@pytest.mark.timeout(300)
def test_world_model_memory_benchmark_runs_and_reports_each_config(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    bench = importlib.import_module("world_model_memory")
    monkeypatch.setattr(sys, "argv", [
        "world_model_memory.py", "--preset", "tiny", "--updates", "4", "--every", "2",
        "--train-episodes", "3", "--test-episodes", "2", "--no-yardstick",
        "--configs", "", "gru_chrono=50 reward_from_deter=true",
    ])  # fmt: skip
    bench.main()
    out = capsys.readouterr().out
    assert "config (preset):" in out and "config gru_chrono=50 reward_from_deter=true:" in out
    assert out.count("arrival predicted") == 4  # 2 evaluation points x 2 configs
    # every held-out meta-episode of the explorer revisits its goal: arrival rewards are 1 - d with
    # d <= goal radius 0.2
    reals = [float(part.split(")")[0]) for part in out.split("(real ")[1:]]
    assert len(reals) == 4 and all(0.8 <= r <= 1.0 for r in reals)
