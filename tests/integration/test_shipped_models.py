"""The trained models shipped under ``models/<env name>/`` load with this code (weights only),
were trained on the env their folder names with the preset their manifest states, and act well:
``mamba-agent eval models/<env name>`` shows a newcomer a trained agent in seconds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import meta_envs  # noqa: F401  (registers the env ids)
from mamba_agent import MAMBA
from mamba_agent.cli import main
from mamba_agent.evaluation import evaluate_meta_episodes

ROOT = Path(__file__).resolve().parents[2]
MODELS = sorted(p for p in (ROOT / "models").glob("*") if p.is_dir())


def test_there_are_shipped_models():
    assert MODELS, "models/ holds no trained model"


@pytest.fixture(params=MODELS, ids=[p.name for p in MODELS])
def shipped(request):
    folder = request.param
    manifest = json.loads((folder / "manifest.json").read_text())
    return folder, manifest


def test_folder_holds_a_small_model_and_its_manifest(shipped):
    folder, manifest = shipped
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "model.zip"]
    assert (folder / "model.zip").stat().st_size < 10 * 2**20
    assert manifest["env_id"].split("/")[-1] == folder.name
    assert manifest["preset_resolved"].endswith("_cpu")
    assert "/work/" not in (folder / "manifest.json").read_text()


def test_model_loads_and_beats_random_clearly(shipped):
    folder, manifest = shipped
    model = MAMBA.load(folder / "model.zip", device="cpu")
    assert model.env_id == manifest["env_id"]
    reference = manifest["reference_returns"]
    result = evaluate_meta_episodes(
        model, manifest["env_id"], 4, manifest["eval_seed"], manifest["env_kwargs"], reference
    )
    assert np.isfinite(result.returns).all()
    # the shipped models score 0.75 or more on 100 meta-episodes (models/README.md); four
    # meta-episodes vary, but a model that no longer loads its trained weights scores ~0
    assert result.normalized_score > 0.4


def test_eval_command_prints_the_normalised_score(shipped, capsys):
    folder, _ = shipped
    main(["eval", str(folder), "--episodes", "2"])
    out = capsys.readouterr().out
    assert "normalised" in out and "oracle" in out and "MAMBA" in out
