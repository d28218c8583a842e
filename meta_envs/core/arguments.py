"""Validation of constructor arguments and user-supplied tasks.

Every check raises at the point of the mistake with a message that names the argument and the
accepted range, so ``gym.make(id, num_sub_episodes=0)`` fails at ``gym.make`` time, not later.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np


def check_count(name: str, value: Any, minimum: int = 1) -> int:
    """Return ``value`` as an ``int`` if it is an integer ``>= minimum``.

    Raises:
        TypeError: ``value`` is not an integer (``bool`` and floats such as ``3.0`` are rejected).
        ValueError: ``value < minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_non_negative(name: str, value: Any) -> float:
    """Return ``value`` as a ``float`` if it is a finite real number ``>= 0``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number >= 0, got {value!r}")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite real number >= 0, got {value}")
    return float(value)


def check_render_mode(render_mode: str | None, render_modes: Sequence[str]) -> str | None:
    """Return ``render_mode`` if it is ``None`` or one of ``render_modes``."""
    if render_mode is not None and render_mode not in render_modes:
        raise ValueError(
            f"render_mode must be None or one of {list(render_modes)}, got {render_mode!r}"
        )
    return render_mode


def check_float_task(name: str, task: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Return ``task`` as a read-only float64 array of ``shape`` with finite entries."""
    try:
        array = np.array(task, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{name} must be a finite float array of shape {shape}, got {task!r}"
        ) from error
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got {array}")
    array.setflags(write=False)
    return array


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is a ``bool`` (or ``numpy.bool_``)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)
