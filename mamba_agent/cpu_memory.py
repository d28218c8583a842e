"""Keep freed memory in the process for reuse during CPU training (glibc's ``mallopt``).

By default glibc's malloc serves large blocks with fresh ``mmap`` pages and hands freed memory at the
top of the heap back to the kernel, so every update page-faults its large temporaries in again
(tens of thousands of 4 KiB faults per actor-critic step at the Point Robot shape). PyTorch's CUDA
allocator caches freed blocks for this reason; on the CPU PyTorch uses the C library's allocator.
:func:`retain_freed_memory` raises the heap's trim threshold and fixes the mmap threshold at its
maximum (32 MiB) so that freed blocks are reused instead. The process's resident memory then stays
near its peak. :meth:`MAMBA.learn <mamba_agent.MAMBA.learn>` calls it when training on the CPU
(config field ``cpu_retain_memory``, on by default).
"""

from __future__ import annotations

import ctypes
import functools
import platform

__all__ = ["retain_freed_memory"]

# mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_SETTINGS = (
    (_M_MMAP_THRESHOLD, 32 * 2**20),  # blocks up to 32 MiB come from the heap (glibc's maximum)
    (_M_TRIM_THRESHOLD, 2**31 - 1),  # never trim the heap's top back to the kernel
    (_M_TOP_PAD, 128 * 2**20),  # grow the heap in 128 MiB steps
)


@functools.cache
def retain_freed_memory() -> bool:
    """Set glibc's malloc to keep freed memory for reuse (process-wide; the first call decides,
    later calls return its result at no cost).

    Returns True when the settings are in effect, False where they do not apply (not Linux with
    glibc). Never raises.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in _SETTINGS)
