"""Writing rendered frames to a video file with imageio (mp4 through imageio-ffmpeg, or gif)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def save_video(frames: Sequence[np.ndarray], path: str | os.PathLike[str], fps: int = 30) -> Path:
    """Write ``frames`` (each ``(H, W, 3)`` uint8) to ``path``; the suffix picks mp4 or gif.

    Args:
        frames: the frames, e.g. collected from ``env.render()`` with ``render_mode="rgb_array"``.
        path: destination ending in ``.mp4`` or ``.gif``; parent folders are created. Frames of
            odd height or width are padded by one edge row/column for mp4 (H.264 needs even sizes).
        fps: frames per second.

    Returns:
        The path written.

    Raises:
        ValueError: no frames, frames of different shapes, or an unsupported suffix.
    """
    import imageio.v2 as imageio

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".mp4", ".gif"):
        raise ValueError(f"save_video writes .mp4 or .gif files, got {path.name!r}")
    if len(frames) == 0:
        raise ValueError("save_video needs at least one frame")
    shape = np.shape(frames[0])
    if len(shape) != 3 or shape[2] != 3:
        raise ValueError(f"frames must be (H, W, 3) uint8 arrays, got shape {shape}")
    if any(np.shape(frame) != shape for frame in frames):
        raise ValueError("all frames must have the same shape")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".mp4":
        # H.264 in yuv420p needs even sizes: pad odd frames by one edge row/column instead of
        # letting imageio resize them (macro_block_size=1 turns its resizing off).
        pad = ((0, shape[0] % 2), (0, shape[1] % 2), (0, 0))
        with imageio.get_writer(
            path, fps=fps, codec="libx264", macro_block_size=1, quality=7
        ) as writer:
            for frame in frames:
                writer.append_data(np.pad(np.asarray(frame, dtype=np.uint8), pad, mode="edge"))
    else:
        imageio.mimsave(
            path, [np.asarray(f, dtype=np.uint8) for f in frames], duration=1000 / fps, loop=0
        )
    return path
