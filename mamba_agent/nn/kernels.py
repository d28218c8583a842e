"""Build and load the C++ CPU kernels (``kernels.cpp``) on first use.

Two pieces of the world model run as C++ loops on the CPU: the RSSM posterior scan
(:mod:`mamba_agent.world_model.posterior_scan`: the Python loop without Python's per-op overhead,
~0.2 ms per step on 2 CPU cores, more than the arithmetic at B = 16) and the LayerNorm GRU gates
(:class:`mamba_agent.nn.layers.LayerNormGRUCell`: LayerNorm, gates and blend as a few loops over
blocks of rows that stay in cache instead of a dozen full-size temporaries). Matmuls, sigmoid, SiLU
and softmax stay ATen calls. Where PyTorch's threads are GNU OpenMP's (Linux wheels) the kernels
share them: the gates' loops over rows run in parallel, and the scan runs its sequences as blocks of
rows, one per thread (the recurrences are independent). The kernels are compiled once per machine
and PyTorch version with :func:`torch.utils.cpp_extension.load` (needs a C++ compiler and ``ninja``;
~20 s) into PyTorch's extension cache (``$TORCH_EXTENSIONS_DIR``, by default
``~/.cache/torch_extensions``). Where building fails, or with ``MAMBA_AGENT_KERNELS=python`` in the
environment, the same computations run as PyTorch ops from Python: same results up to float
rounding, slower.
"""

from __future__ import annotations

import functools
import os
import sys
import time
import warnings
from pathlib import Path

import torch

__all__ = ["native_kernels_available", "KERNELS_ENV_VAR"]

#: Environment variable: ``python`` runs the PyTorch-op versions (no C++ build).
KERNELS_ENV_VAR = "MAMBA_AGENT_KERNELS"

_SOURCE = Path(__file__).with_name("kernels.cpp")


def native_kernels_available(device_type: str, dtype: torch.dtype) -> bool:
    """Whether the C++ kernels run for tensors of ``dtype`` on ``device_type`` (CPU, float32 or
    float64); builds and loads them on the first call that needs them."""
    if device_type != "cpu" or dtype not in (torch.float32, torch.float64):
        return False
    if os.environ.get(KERNELS_ENV_VAR, "").lower() == "python":
        return False
    return _load()


def _openmp_flags() -> list[str]:
    """``-fopenmp`` where PyTorch's intra-op threads are GNU OpenMP's (Linux; the loaded runtime is
    ``libgomp.so.1``, which the kernels then share), so that their ``at::parallel_for`` loops run on
    PyTorch's threads. Elsewhere the kernels are built without OpenMP and those loops run on the
    calling thread (``at::parallel_for`` compiled without OpenMP runs its body serially)."""
    if not sys.platform.startswith("linux"):
        return []
    if "parallel backend: OpenMP" not in torch.__config__.parallel_info():
        return []
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return []
    return ["-fopenmp"] if "/libgomp.so.1\n" in maps else []


# vector instructions for the kernels' loops, by the CPU capability PyTorch detected at run time
# (the sets ATen itself requires for its AVX2 / AVX512 kernels)
_ISA_FLAGS = {
    "AVX2": ["-mavx2", "-mfma"],
    "AVX512": ["-mavx2", "-mfma", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq"],
}


def _isa_flags() -> list[str]:
    """Compiler flags for the vector instructions this CPU has, as PyTorch detected them (x86;
    none elsewhere). They are part of the build's hash in the extension cache, so a machine with
    other instructions builds its own copy."""
    return list(_ISA_FLAGS.get(torch.backends.cpu.get_cpu_capability(), []))


STALE_LOCK_SECONDS = 600.0
"""A build lock older than this is left by a process killed mid-build (a build takes well under a
minute); it is removed, else every later process would wait on it forever."""


def remove_stale_build_lock(
    build_dir: str | os.PathLike, max_age: float = STALE_LOCK_SECONDS
) -> bool:
    """Delete ``build_dir/lock`` if it is older than ``max_age`` seconds; True if it was."""
    lock = Path(build_dir) / "lock"
    try:
        if time.time() - lock.stat().st_mtime > max_age:
            lock.unlink()
            return True
    except FileNotFoundError:
        pass
    return False


@functools.cache
def _load() -> bool:
    try:
        from torch.utils import cpp_extension

        try:  # torch's own folder for the extension (private helper: skipped if it moves)
            remove_stale_build_lock(
                cpp_extension._get_build_directory("mamba_agent_kernels", verbose=False)
            )
        except (AttributeError, OSError, TypeError):
            pass
        openmp = _openmp_flags()
        cpp_extension.load(
            name="mamba_agent_kernels",
            sources=[str(_SOURCE)],
            extra_cflags=["-O3", "-fopenmp-simd", *_isa_flags(), *openmp],
            extra_ldflags=openmp,
            is_python_module=False,
            verbose=False,
        )
        return hasattr(torch.ops.mamba_agent_kernels, "scan_forward")
    except Exception as exc:  # no compiler, no ninja, headers missing: the PyTorch ops run
        message = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
        warnings.warn(
            f"mamba_agent: the C++ kernels could not be built ({type(exc).__name__}: {message}); "
            f"running the PyTorch-op versions (same results, slower). Set "
            f"{KERNELS_ENV_VAR}=python to skip the build.",
            RuntimeWarning,
            stacklevel=3,
        )
        return False
