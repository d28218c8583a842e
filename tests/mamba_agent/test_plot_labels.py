"""``mamba-agent plot`` groups runs by the configuration they trained with: a run whose ``--set``
overrides repeat its preset's values is the preset's run, and a run made before a field existed
counts as that field's default."""

from __future__ import annotations

from pathlib import Path

from mamba_agent.cli.plot import differences_from_preset, run_label
from mamba_agent.cli.run_dir import RunDir
from mamba_agent.config import config_to_dict, make_config

PRESET = "point_robot_cpu"


def make_run(path: Path, config: dict | None, overrides: dict) -> RunDir:
    run = RunDir(path)
    path.mkdir(parents=True)
    manifest = {"env_id": "meta_envs/PointRobot-v0", "method": "mamba", "overrides": overrides}
    run.write_manifest({**manifest, "preset_resolved": PRESET})
    if config is not None:
        run.write_config(config, "test")
    return run


def test_overrides_equal_to_the_preset_are_the_preset(tmp_path: Path) -> None:
    config = config_to_dict(make_config(PRESET))
    plain = make_run(tmp_path / "a", config, {})
    spelled_out = make_run(tmp_path / "b", config, {"gru_chrono": 300, "replay_recency": 0.5})
    assert differences_from_preset(plain, PRESET) == {}
    assert differences_from_preset(spelled_out, PRESET) == {}
    assert run_label(plain, plain.read_manifest()) == run_label(
        spelled_out, spelled_out.read_manifest()
    )
    assert run_label(plain, plain.read_manifest()) == f"mamba {PRESET}"


def test_a_changed_field_is_named(tmp_path: Path) -> None:
    run = make_run(tmp_path / "a", config_to_dict(make_config(PRESET, imag_horizon=10)), {})
    assert differences_from_preset(run, PRESET) == {"imag_horizon": 10}
    assert run_label(run, run.read_manifest()) == f"mamba {PRESET} imag_horizon=10"


def test_a_field_missing_from_an_older_run_counts_as_its_default(tmp_path: Path) -> None:
    config = config_to_dict(make_config(PRESET))
    del config["replay"]["replay_recency"]  # a run from before the field existed
    run = make_run(tmp_path / "a", config, {})
    assert differences_from_preset(run, PRESET) == {"replay_recency": 0.0}


def test_without_a_config_file_the_overrides_label_the_run(tmp_path: Path) -> None:
    run = make_run(tmp_path / "a", None, {"entropy": 0.003})
    assert differences_from_preset(run, PRESET) is None
    assert run_label(run, run.read_manifest()) == f"mamba {PRESET} entropy=0.003"
