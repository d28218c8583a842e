"""Files a user loads, written so that loading them never runs code.

A model or checkpoint file is a ``torch.save`` archive of plain data only: tensors, numbers,
strings, lists and dicts (spaces are stored as dicts, the replay as flat tensors), and it is read
back with ``torch.load(..., weights_only=True)``, which refuses any other object instead of
unpickling it. Every write is atomic: a temporary file in the same folder, flushed and fsynced,
then renamed over the target, so a crash (even ``kill -9``) mid-write leaves the previous file
intact. A file that is not such an archive, or is truncated, corrupt or carries a pickle payload,
raises one ``ValueError`` naming the file.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from mamba_agent.data.batch import EPISODE_KEYS

__all__ = [
    "MODEL_FORMAT",
    "atomic_write",
    "atomic_torch_save",
    "content_digest",
    "safe_torch_load",
    "space_to_data",
    "space_from_data",
    "episodes_to_tensors",
    "episodes_from_tensors",
    "save_episodes_npz",
    "load_episodes_npz",
]

MODEL_FORMAT = "mamba-agent/model"
"""Value of the ``format`` key of every model and checkpoint file (checked on load)."""


def atomic_write(path: str | os.PathLike, write: Callable[[io.BufferedWriter], None]) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, fsync it and rename it to ``path``
    (and fsync the folder), so ``path`` holds either the old or the complete new content."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # platforms without directory handles
        return path
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
    return path


def content_digest(obj: Any) -> str:
    """SHA-256 of a nest of dicts, lists, tensors and scalars (dict keys in sorted order): what
    :func:`atomic_torch_save` stores and :func:`safe_torch_load` checks, so that a file whose
    bytes changed (a bad disk, a partial copy) is refused instead of loading wrong weights."""
    digest = hashlib.sha256()

    def feed(value: Any) -> None:
        if isinstance(value, dict):
            digest.update(b"{")
            for key in sorted(value, key=str):
                digest.update(repr(key).encode() + b":")
                feed(value[key])
            digest.update(b"}")
        elif isinstance(value, list | tuple):
            digest.update(b"[")
            for item in value:
                feed(item)
            digest.update(b"]")
        elif isinstance(value, torch.Tensor):
            t = value.detach().cpu()
            digest.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            if t.dtype in (torch.bfloat16, torch.float16):
                t = t.float()  # exact; numpy has no bfloat16
            digest.update(t.numpy().tobytes())  # C order, whatever the strides
        else:
            digest.update(repr(value).encode())

    feed(obj)
    return digest.hexdigest()


def atomic_torch_save(obj: dict[str, Any], path: str | os.PathLike) -> Path:
    """``torch.save(obj)`` to ``path`` atomically (see :func:`atomic_write`), with the
    :func:`content_digest` of ``obj`` stored under ``"sha256"``."""
    obj = {**{k: v for k, v in obj.items() if k != "sha256"}}
    obj["sha256"] = content_digest(obj)
    return atomic_write(path, lambda f: torch.save(obj, f))


def safe_torch_load(
    path: str | os.PathLike, map_location: str | torch.device | None = None
) -> dict[str, Any]:
    """Load a file written by :func:`atomic_torch_save` with ``weights_only=True`` (no code runs).

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file for anything
    that is not a mamba-agent model or checkpoint (wrong kind of file, truncated, corrupt, or holding
    objects other than plain data).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such model file: {path}")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # UnpicklingError, RuntimeError (zip), EOFError, ...
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"{path} is not a readable mamba-agent model file (it may be truncated, corrupt, or "
            f"hold objects other than plain data, which are never unpickled): {first}"
        ) from None
    if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
        raise ValueError(f"{path} is not a mamba-agent model file (no '{MODEL_FORMAT}' marker)")
    stored = data.pop("sha256", None)
    if stored is None:
        raise ValueError(
            f"{path} has no content checksum: it was not written by this version of mamba-agent"
        )
    if stored != content_digest(data):
        raise ValueError(
            f"{path} is corrupt: its content does not match the checksum it was saved with"
        )
    return data


def space_to_data(space: gym.Space) -> dict[str, Any]:
    """A ``Box`` or ``Discrete`` space as plain data (for :func:`space_from_data`)."""
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, gym.spaces.Box):
        return {
            "type": "Box",
            "low": torch.from_numpy(np.array(space.low, dtype=np.float64)),
            "high": torch.from_numpy(np.array(space.high, dtype=np.float64)),
            "dtype": np.dtype(space.dtype).name,
        }
    raise TypeError(f"cannot store space {space}: only Box and Discrete are supported")


def space_from_data(data: dict[str, Any]) -> gym.Space:
    """Inverse of :func:`space_to_data`."""
    if data["type"] == "Discrete":
        return gym.spaces.Discrete(int(data["n"]), start=int(data["start"]))
    if data["type"] == "Box":
        dtype = np.dtype(data["dtype"])
        low, high = data["low"].cpu().numpy(), data["high"].cpu().numpy()
        return gym.spaces.Box(low.astype(dtype), high.astype(dtype), dtype=dtype)
    raise ValueError(f"unknown stored space type {data['type']!r}")


def episodes_to_arrays(episodes: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Meta-episodes (dicts of arrays with L + 1 rows each) as flat arrays: each key concatenated
    along time, plus ``lengths`` (rows per episode)."""
    lengths = np.array([len(ep["obs"]) for ep in episodes], dtype=np.int64)
    out: dict[str, np.ndarray] = {"lengths": lengths}
    for key in EPISODE_KEYS:
        if episodes:
            out[key] = np.concatenate([np.asarray(ep[key]) for ep in episodes])
        else:
            out[key] = np.zeros((0,), np.float32)
    return out


def episodes_from_arrays(arrays: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    """Inverse of :func:`episodes_to_arrays` (checks that the lengths add up)."""
    lengths = np.asarray(arrays["lengths"], dtype=np.int64)
    total = int(lengths.sum())
    for key in EPISODE_KEYS:
        if len(arrays[key]) != total:
            raise ValueError(
                f"replay arrays are inconsistent: {key} has {len(arrays[key])} rows, "
                f"the episode lengths add up to {total}"
            )
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    return [
        {key: np.array(arrays[key][bounds[i] : bounds[i + 1]]) for key in EPISODE_KEYS}
        for i in range(len(lengths))
    ]


def episodes_to_tensors(episodes: list[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    """:func:`episodes_to_arrays` as CPU tensors (storable in a weights-only archive)."""
    return {
        k: torch.from_numpy(np.ascontiguousarray(v))
        for k, v in episodes_to_arrays(episodes).items()
    }


def episodes_from_tensors(tensors: dict[str, torch.Tensor]) -> list[dict[str, np.ndarray]]:
    """Inverse of :func:`episodes_to_tensors`."""
    return episodes_from_arrays({k: v.cpu().numpy() for k, v in tensors.items()})


def save_episodes_npz(episodes: list[dict[str, np.ndarray]], path: str | os.PathLike) -> Path:
    """Write meta-episodes to ``path`` as an uncompressed ``.npz`` of plain arrays, atomically
    (the name is kept as given: no ``.npz`` is appended)."""
    arrays = episodes_to_arrays(episodes)
    return atomic_write(path, lambda f: np.savez(f, **arrays))


def load_episodes_npz(path: str | os.PathLike) -> list[dict[str, np.ndarray]]:
    """Read meta-episodes written by :func:`save_episodes_npz` (``allow_pickle=False``: object
    arrays are refused). Raises ``ValueError`` naming the file if it is not such a file."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in ("lengths", *EPISODE_KEYS)}
        return episodes_from_arrays(arrays)
    except FileNotFoundError:
        raise
    except Exception as err:
        raise ValueError(f"{path} is not a mamba-agent replay file: {err}") from None
