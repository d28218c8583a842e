"""Model, checkpoint and replay files: plain data read with ``weights_only=True`` /
``allow_pickle=False``; anything else (not a model, truncated, corrupt, a planted pickle payload)
is one ``ValueError`` naming the file, and nothing in it runs. Saves are atomic."""

from __future__ import annotations

import os
import pickle
import zipfile

import gymnasium as gym
import numpy as np
import pytest
import torch
from tiny_envs import BanditMetaEnv, DriftMetaEnv

from mamba_agent import MAMBA
from mamba_agent.persistence import (
    atomic_torch_save,
    load_episodes_npz,
    save_episodes_npz,
    space_from_data,
    space_to_data,
)


def tiny(env=None, **kw) -> MAMBA:
    return MAMBA(env or BanditMetaEnv(), preset="tiny", device="cpu", seed=0, **kw)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    model = tiny(DriftMetaEnv())
    model.learn(60)
    path = model.save(tmp_path_factory.mktemp("model") / "model", include_replay=True)
    return model, path


class Payload:
    """Unpickling this runs ``open(target, "w")``: the file appears if the payload ever runs."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_model_file_is_plain_data(trained):
    model, path = trained
    data = torch.load(path, weights_only=True)  # no custom class needed to read it
    assert data["format"] == "mamba-agent/model" and data["env_id"] is None
    assert len(data["replay"]["lengths"]) == len(model.replay)


def test_loaded_model_with_replay_continues_like_the_original(trained):
    model, path = trained
    loaded = MAMBA.load(path, env=DriftMetaEnv(), device="cpu")
    assert len(loaded.replay) == len(model.replay)
    for a, b in zip(loaded.replay.episodes, model.replay.episodes):
        assert all(np.array_equal(a[k], b[k]) for k in a)
    assert list(loaded._ep_returns) == list(model._ep_returns)
    m1, m2 = model.train(2), loaded.train(2)
    assert {k: v for k, v in m1.items() if "time" not in k} == {
        k: v for k, v in m2.items() if "time" not in k
    }


@pytest.mark.parametrize(
    "space",
    [
        gym.spaces.Discrete(5, start=-2),
        gym.spaces.Box(-1.0, 2.0, (3,), np.float32),
        gym.spaces.Box(np.array([-np.inf, 0.0]), np.array([np.inf, 1.0]), dtype=np.float64),
    ],
)
def test_spaces_round_trip(space):
    assert space_from_data(space_to_data(space)) == space


def test_a_planted_pickle_payload_never_runs(tmp_path, trained):
    target = tmp_path / "pwned"
    model, _ = trained
    data = model._state()
    data["config"] = Payload(str(target))
    bad = tmp_path / "evil.zip"
    torch.save(data, bad)
    assert not target.exists()
    with pytest.raises(ValueError, match="evil.zip"):
        MAMBA.load(bad)
    assert not target.exists()
    # the same payload as a bare pickle
    raw = tmp_path / "evil.pkl"
    raw.write_bytes(pickle.dumps(Payload(str(target))))
    with pytest.raises(ValueError, match="evil.pkl"):
        MAMBA.load(raw)
    assert not target.exists()
    # sanity: the payload does run when unpickled without protection
    pickle.loads(raw.read_bytes())
    assert target.exists()


def test_not_a_model_truncated_or_corrupt_give_value_error_naming_the_file(tmp_path, trained):
    _, path = trained
    text = tmp_path / "notes.zip"
    text.write_text("hello")
    other = tmp_path / "weights.pt"
    torch.save({"w": torch.zeros(3)}, other)  # a torch file, but not a MAMBA model
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    corrupt = tmp_path / "corrupt.zip"
    blob = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.infolist()[len(z.infolist()) // 2]
    start = info.header_offset + 30 + len(info.filename) + 8
    blob[start : start + 64] = bytes(64)
    corrupt.write_bytes(bytes(blob))
    for bad in (text, other, truncated, corrupt):
        with pytest.raises(ValueError, match=bad.name):
            MAMBA.load(bad)
    with pytest.raises(FileNotFoundError):
        MAMBA.load(tmp_path / "missing.zip")


def test_a_model_missing_parts_is_a_value_error(tmp_path, trained):
    model, _ = trained
    data = model._state()
    del data["world_model"]
    path = atomic_torch_save(data, tmp_path / "partial.zip")  # a valid checksum, parts missing
    with pytest.raises(ValueError, match="partial.zip"):
        MAMBA.load(path)


def test_save_is_atomic_when_the_write_fails(tmp_path, trained, monkeypatch):
    model, _ = trained
    path = model.save(tmp_path / "m")
    before = path.read_bytes()

    def broken(obj, f, *args, **kwargs):
        f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(OSError, match="disk full"):
        model.save(tmp_path / "m")
    monkeypatch.undo()
    assert path.read_bytes() == before  # the old file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["m.zip"]  # no temporary left behind
    MAMBA.load(path)


def test_replay_buffer_file_is_plain_arrays(tmp_path, trained):
    model, _ = trained
    path = tmp_path / "replay.pkl"  # the name SB3's CheckpointCallback uses: content is npz
    model.save_replay_buffer(path)
    with np.load(path, allow_pickle=False) as data:
        assert set(data.files) == {"lengths", "obs", "prev_action", "reward", "is_first",
                                   "is_terminal"}  # fmt: skip
    fresh = tiny(DriftMetaEnv())
    fresh.load_replay_buffer(path)
    assert len(fresh.replay) == len(model.replay)
    # object arrays (which need pickle) are refused, and the payload does not run
    target = tmp_path / "pwned"
    evil = tmp_path / "evil.npz"
    with open(evil, "wb") as f:
        np.savez(f, lengths=np.array([2]), obs=np.array([Payload(str(target))], dtype=object))
    with pytest.raises(ValueError, match="evil.npz"):
        fresh.load_replay_buffer(evil)
    assert not target.exists()
    junk = tmp_path / "junk.npz"
    junk.write_bytes(os.urandom(100))
    with pytest.raises(ValueError, match="junk.npz"):
        load_episodes_npz(junk)


def test_episode_arrays_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    episodes = [
        {
            "obs": rng.normal(size=(n, 3)).astype(np.float32),
            "prev_action": rng.normal(size=(n, 2)).astype(np.float32),
            "reward": rng.normal(size=n).astype(np.float32),
            "is_first": np.r_[True, np.zeros(n - 1, bool)],
            "is_terminal": np.zeros(n, bool),
        }
        for n in (3, 7, 2)
    ]
    path = save_episodes_npz(episodes, tmp_path / "episodes.bin")
    back = load_episodes_npz(path)
    assert len(back) == 3
    for a, b in zip(episodes, back):
        assert all(np.array_equal(a[k], b[k]) and a[k].dtype == b[k].dtype for k in a)


def test_atomic_torch_save_replaces_whole_files(tmp_path):
    path = tmp_path / "x.pt"
    atomic_torch_save({"a": torch.ones(2)}, path)
    atomic_torch_save({"a": torch.zeros(3)}, path)
    assert torch.equal(torch.load(path, weights_only=True)["a"], torch.zeros(3))


def test_learn_rejects_budgets_below_one():
    model = tiny()
    for bad in (0, -5):
        with pytest.raises(ValueError, match="total_timesteps must be >= 1"):
            model.learn(bad)
