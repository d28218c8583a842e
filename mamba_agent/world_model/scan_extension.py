"""Build and load the C++ posterior scan (``posterior_scan.cpp``) on first use.

The C++ loops are the Python ones of :mod:`.posterior_scan` without Python's per-op overhead
(~0.2 ms per step on 2 CPU cores, more than the arithmetic at B = 16). They are compiled once per
machine and PyTorch version with :func:`torch.utils.cpp_extension.load` (needs a C++ compiler and
``ninja``; ~1 min) into PyTorch's extension cache (``$TORCH_EXTENSIONS_DIR``, by default
``~/.cache/torch_extensions``). Where building fails, or with ``MAMBA_AGENT_SCAN=python`` in the
environment, the Python loops run instead: same results, slower.
"""

from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path

import torch

__all__ = ["native_scan_available", "SCAN_ENV_VAR"]

#: Environment variable: ``python`` forces the Python posterior scan (no C++ build).
SCAN_ENV_VAR = "MAMBA_AGENT_SCAN"

_SOURCE = Path(__file__).with_name("posterior_scan.cpp")


def native_scan_available(device_type: str, dtype: torch.dtype) -> bool:
    """Whether the C++ scan runs for tensors of ``dtype`` on ``device_type`` (CPU, float32 or
    float64); builds and loads it on the first call that needs it."""
    if device_type != "cpu" or dtype not in (torch.float32, torch.float64):
        return False
    if os.environ.get(SCAN_ENV_VAR, "").lower() == "python":
        return False
    return _load()


@functools.cache
def _load() -> bool:
    try:
        from torch.utils import cpp_extension

        cpp_extension.load(
            name="mamba_agent_posterior_scan",
            sources=[str(_SOURCE)],
            extra_cflags=["-O3", "-fopenmp-simd"],
            is_python_module=False,
            verbose=False,
        )
        return hasattr(torch.ops.mamba_agent_scan, "forward")
    except Exception as exc:  # no compiler, no ninja, headers missing: the Python scan runs
        warnings.warn(
            f"mamba_agent: the C++ posterior scan could not be built ({type(exc).__name__}: "
            f"{str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}); using the "
            f"Python scan (same results, slower). Set {SCAN_ENV_VAR}=python to skip the build.",
            RuntimeWarning,
            stacklevel=3,
        )
        return False
