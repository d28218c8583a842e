"""The C++ kernels (mamba_agent/nn/kernels.cpp): the GRU gates against the PyTorch ops, gradcheck,
and the loader's opt-out and fallback. The posterior scan's kernels are compared with autograd in
test_world_model.py."""

from __future__ import annotations

import os

import pytest
import torch

import mamba_agent.nn.kernels as kernels
import mamba_agent.nn.layers as layers
from mamba_agent.nn.layers import LayerNormGRUCell, _LayerNormGRUGates

pytestmark = pytest.mark.skipif(
    not kernels.native_kernels_available("cpu", torch.float32), reason="C++ kernels not built"
)


def _cell(dtype: torch.dtype) -> LayerNormGRUCell:
    torch.manual_seed(0)
    cell = LayerNormGRUCell(5, 6).to(dtype)
    with torch.no_grad():  # away from the initial affine (1, 0 / -1) so every term matters
        cell.norm.weight.normal_()
        cell.norm.bias.normal_()
    return cell


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_gru_gates_kernel_matches_pytorch_ops(monkeypatch, torch_threads, dtype, threads):
    """Same output and gradients (inputs, state, LayerNorm affine, projections) as the ops path,
    on one thread and with the rows split between two."""
    torch_threads(threads)
    cell = _cell(dtype)
    x = torch.randn(37, 5, dtype=dtype, requires_grad=True)  # several row blocks
    h = torch.randn(37, 6, dtype=dtype, requires_grad=True)
    target = torch.randn(37, 6, dtype=dtype)

    def run() -> list[torch.Tensor]:
        cell.zero_grad(set_to_none=True)
        x.grad = h.grad = None
        out = cell(x, h)
        ((out - target) ** 2).sum().backward()
        return [out.detach(), x.grad, h.grad] + [p.grad for p in cell.parameters()]

    calls = []
    original = _LayerNormGRUGates.forward

    def spy(ctx, *args):
        calls.append(1)
        return original(ctx, *args)

    monkeypatch.setattr(_LayerNormGRUGates, "forward", staticmethod(spy))
    fused = run()
    assert calls == [1]
    monkeypatch.setattr(layers, "native_kernels_available", lambda *args: False)
    ops = run()
    assert calls == [1]
    tol = {"atol": 1e-12} if dtype == torch.float64 else {"atol": 1e-5, "rtol": 1e-4}
    for a, b in zip(fused, ops):
        assert torch.allclose(a, b, **tol)


def test_gru_gates_kernel_gradcheck():
    cell = _cell(torch.float64)
    pre = torch.randn(9, 18, dtype=torch.float64, requires_grad=True)
    h = torch.randn(9, 6, dtype=torch.float64, requires_grad=True)
    w, b = cell.norm.weight, cell.norm.bias
    assert torch.autograd.gradcheck(
        lambda *t: _LayerNormGRUGates.apply(*t, 1e-3), (pre, h, w, b), eps=1e-6, atol=1e-6
    )


def test_kernels_opt_out_and_build_failure(monkeypatch):
    """MAMBA_AGENT_KERNELS=python skips the C++ kernels; a failed build warns and falls back."""
    monkeypatch.setenv(kernels.KERNELS_ENV_VAR, "python")
    assert not kernels.native_kernels_available("cpu", torch.float32)
    monkeypatch.delenv(kernels.KERNELS_ENV_VAR)
    assert not kernels.native_kernels_available("cpu", torch.float16)
    assert not kernels.native_kernels_available("cuda", torch.float32)

    def fail(**kwargs):
        raise RuntimeError("Ninja is required to load C++ extensions")

    kernels._load.cache_clear()
    try:
        with monkeypatch.context() as m, pytest.warns(RuntimeWarning, match="Ninja is required"):
            m.setattr(torch.utils.cpp_extension, "load", fail)
            assert not kernels.native_kernels_available("cpu", torch.float32)
    finally:
        kernels._load.cache_clear()
    assert kernels.native_kernels_available("cpu", torch.float32)  # loads again


def test_openmp_only_with_pytorchs_gnu_openmp(monkeypatch):
    """-fopenmp only on Linux where PyTorch's threads are OpenMP's and the runtime loaded is
    libgomp.so.1 (which the kernels then share); otherwise their parallel loops run serially."""
    monkeypatch.setattr(kernels.sys, "platform", "darwin")
    assert kernels._openmp_flags() == []
    monkeypatch.setattr(kernels.sys, "platform", "linux")
    monkeypatch.setattr(
        torch.__config__, "parallel_info", lambda: "ATen parallel backend: native thread pool"
    )
    assert kernels._openmp_flags() == []
    monkeypatch.setattr(torch.__config__, "parallel_info", lambda: "ATen parallel backend: OpenMP")
    maps = "7f00-7f01 r-xp 0 0:0 1 /opt/torch/lib/{}\n"
    monkeypatch.setattr(kernels.Path, "read_text", lambda self: maps.format("libiomp5.so"))
    assert kernels._openmp_flags() == []
    monkeypatch.setattr(kernels.Path, "read_text", lambda self: maps.format("libgomp.so.1"))
    assert kernels._openmp_flags() == ["-fopenmp"]


def test_vector_instruction_flags_follow_pytorchs_cpu_capability(monkeypatch):
    """The kernels are compiled for the vector instructions PyTorch found on this CPU, no more."""
    for capability, expected in (("DEFAULT", []), ("SVE256", []), ("AVX2", ["-mavx2", "-mfma"])):
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda c=capability: c)
        assert kernels._isa_flags() == expected
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    assert {"-mavx2", "-mfma", "-mavx512f", "-mavx512bw"} <= set(kernels._isa_flags())


def test_a_stale_build_lock_is_removed_and_a_fresh_one_kept(tmp_path):
    """A process killed while building the kernels leaves ``lock`` behind; torch's loader would
    wait on it forever."""
    lock = tmp_path / "lock"
    lock.touch()
    assert not kernels.remove_stale_build_lock(tmp_path)  # a build in progress: kept
    assert lock.exists()
    old = lock.stat().st_mtime - kernels.STALE_LOCK_SECONDS - 1
    os.utime(lock, (old, old))
    assert kernels.remove_stale_build_lock(tmp_path) and not lock.exists()
    assert not kernels.remove_stale_build_lock(tmp_path)  # nothing there: no error
