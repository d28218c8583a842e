"""The learning-run logs kept under ``results/`` (docs/reproduce.md) are run directories that
``mamba-agent plot`` can redraw, and name no path of the machine they ran on."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from mamba_agent.cli.run_dir import RunDir

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = sorted((ROOT / "results").glob("**/manifest.json")) + sorted(
    (ROOT / "models").glob("*/manifest.json")
)
TRAIN_LOGS = sorted((ROOT / "results").glob("**/train.log"))


def absolute_paths(value: Any) -> list[str]:
    """Every string in a JSON value that is an absolute POSIX path."""
    if isinstance(value, dict):
        return [p for v in value.values() for p in absolute_paths(v)]
    if isinstance(value, list):
        return [p for v in value for p in absolute_paths(v)]
    return [value] if isinstance(value, str) and value.startswith("/") else []


def test_absolute_paths_finds_nested_strings():
    value = {"command": ["mamba-agent", "--run-dir", "/home/me/runs/a"], "x": {"y": ["/tmp"]}}
    assert absolute_paths(value) == ["/home/me/runs/a", "/tmp"]
    assert absolute_paths({"command": ["--run-dir", "runs/a"], "n": 3}) == []


def test_there_are_kept_runs():
    assert len(MANIFESTS) > 10


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: str(p.parent.relative_to(ROOT)))
def test_kept_run_names_no_machine_path(manifest: Path):
    assert absolute_paths(json.loads(manifest.read_text())) == []


@pytest.mark.parametrize(
    "manifest",
    [m for m in MANIFESTS if m.parts[-3] != "models"],
    ids=lambda p: str(p.parent.relative_to(ROOT)),
)
def test_kept_run_has_readable_evaluations(manifest: Path):
    run = RunDir(manifest.parent)
    assert run.read_manifest()["env_id"].startswith("meta_envs/")
    rows = run.read_eval()
    assert rows and all("timesteps" in r and "return_mean" in r for r in rows)


@pytest.mark.parametrize("log", TRAIN_LOGS, ids=lambda p: str(p.parent.relative_to(ROOT)))
def test_kept_train_log_names_no_machine_run_dir(log: Path):
    assert re.findall(r"(?:--resume|--run-dir)\s+/\S*", log.read_text()) == []
