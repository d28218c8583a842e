"""Layers: the DreamerV3 MLP block (Linear, LayerNorm, SiLU) and the LayerNorm GRU cell."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mamba_agent.nn.kernels import native_kernels_available
from mamba_agent.nn.packed_linear import Linear, autocast_enabled, linear

__all__ = [
    "mlp",
    "input_gradient_mlps",
    "LayerNormGRUCell",
    "zero_init",
    "DeferredLinearGrad",
    "autocast_enabled",
]


def mlp(inp: int, units: int, layers: int, out: int | None = None) -> nn.Sequential:
    """``layers`` blocks of Linear(no bias) -> LayerNorm -> SiLU, then an optional Linear to ``out``
    (:class:`~mamba_agent.nn.packed_linear.Linear`: on packed weights inside training updates)."""
    mods: list[nn.Module] = []
    size = inp
    for _ in range(layers):
        mods += [Linear(size, units, bias=False), nn.LayerNorm(units, eps=1e-3), nn.SiLU()]
        size = units
    if out is not None:
        mods.append(Linear(size, out))
    return nn.Sequential(*mods)


def input_gradient_mlps(x: torch.Tensor, nets: Sequence[nn.Module]) -> list[torch.Tensor]:
    """Several MLPs on one input, for gradients with respect to the input only.

    ``nets`` are (nested) ``nn.Sequential`` whose first layer is a bias-free ``nn.Linear``, as
    :func:`mlp` builds them. Their first layers run as one matmul with the weights detached, so the
    backward pass computes one input-gradient matmul for all of them (and no sum of per-net input
    gradients) and no gradient for those weights; the later layers are the nets' own. Used where
    imagination's actor gradient passes the world-model heads and the critic without training them.
    """
    layers = [[m for m in net.modules() if not isinstance(m, nn.Sequential)] for net in nets]
    firsts = [net_layers[0] for net_layers in layers]
    assert all(isinstance(f, nn.Linear) and f.bias is None for f in firsts), (
        "bias-free Linear first"
    )
    weight = torch.cat([f.weight for f in firsts]).detach()
    outs = []
    for net_layers, y in zip(layers, linear(x, weight).split([f.out_features for f in firsts], -1)):
        for layer in net_layers[1:]:
            y = layer(y)
        outs.append(y)
    return outs


def zero_init(layer: nn.Linear) -> nn.Linear:
    """Zero the weights and bias of ``layer`` (DreamerV3 zero-initialises reward and value outputs)."""
    nn.init.zeros_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


def chrono_update_bias(size: int, chrono: int) -> torch.Tensor | float:
    """Initial update-gate bias of a GRU of ``size`` units: DreamerV3's -1 for ``chrono`` 0 (every
    unit then keeps ~73 % of its state per step), else a chrono initialisation (Tallec and
    Ollivier, 2018) with log-uniform time scales: unit i gets -log(tau_i - 1) with log tau_i ~
    U[log 2, log chrono], so its update gate starts at 1 / tau_i and its memory at a time scale of
    ~tau_i steps: as many units below sqrt(2 chrono) steps as above (from torch's generator)."""
    if chrono == 0:
        return -1.0
    if chrono <= 2:
        raise ValueError(f"chrono must be 0 or > 2 steps, got {chrono}")
    tau = torch.empty(size).uniform_(math.log(2.0), math.log(chrono)).exp()
    return -torch.log(tau - 1.0)


class LayerNormGRUCell(nn.Module):
    """DreamerV3's GRU: one Linear on [input, h] -> LayerNorm -> reset / candidate / update gates,
    update gate biased by -1 (or by the chrono initialisation, ``chrono`` > 0: see
    :func:`chrono_update_bias`). ``h' = u * tanh(r * c) + (1 - u) * h``.

    The -1 on the update gate is folded into the initial LayerNorm bias of the update part (an exact
    reparametrisation that saves an op per step), and the blend is one ``lerp``. The Linear on
    [x, h] is held as two (``linear_x``, ``linear_h``; same function and initial distribution), so
    no gradient is computed for an ``h`` that does not need one (imagination starts).
    """

    def __init__(self, inp: int, size: int, chrono: int = 0) -> None:
        super().__init__()
        self.size = size
        self.linear_x = Linear(inp, 3 * size, bias=False)
        self.linear_h = Linear(size, 3 * size, bias=False)
        self.norm = nn.LayerNorm(3 * size, eps=1e-3)
        bound = 1.0 / (inp + size) ** 0.5  # nn.Linear's init for the fan-in of [x, h]
        with torch.no_grad():
            self.linear_x.weight.uniform_(-bound, bound)
            self.linear_h.weight.uniform_(-bound, bound)
            self.norm.bias[2 * size :] = chrono_update_bias(size, chrono)

    def forward(
        self,
        x: torch.Tensor,
        h: torch.Tensor,
        h_proj: torch.Tensor | None = None,
        x_proj: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One step: x (..., inp), h (..., size) -> new h (..., size). ``h_proj`` / ``x_proj`` may
        carry ``linear_h(h)`` / ``linear_x(x)`` computed by the caller (see
        :class:`DeferredLinearGrad`)."""
        own_proj = h_proj is None
        h_proj = self.linear_h(h) if h_proj is None else h_proj
        w_x = self.linear_x.weight.t()
        if x_proj is None and x.dim() == 2 and x.dtype == h_proj.dtype == w_x.dtype:
            # h W_h^T + x W_x^T in one addmm: no separate (N, 3 size) x-projection and sum, and
            # into h W_h^T itself where it is ours (its backward does not need it). Under
            # autocast h_proj and x are lower precision while the weight is not, and the in-place
            # addmm_ is not autocast: those take the Linear (autocast casts its weight).
            pre = h_proj.addmm_(x, w_x) if own_proj else torch.addmm(h_proj, x, w_x)
        else:
            pre = (self.linear_x(x) if x_proj is None else x_proj) + h_proj
        if _fused_gates(pre, h):
            return _LayerNormGRUGates.apply(pre, h, self.norm.weight, self.norm.bias, self.norm.eps)
        parts = self.norm(pre)
        reset, cand, update = parts.split(self.size, -1)
        cand = torch.tanh(torch.sigmoid(reset) * cand)
        gate = torch.sigmoid(update)  # (.to is free when the dtypes already agree)
        return torch.lerp(h, cand.to(h.dtype), gate.to(h.dtype))


def _fused_gates(pre: torch.Tensor, h: torch.Tensor) -> bool:
    """Whether the C++ gates kernel applies: (N, 3D) rows on the CPU, one float dtype, no autocast."""
    return (
        pre.dim() == 2
        and h.shape == (pre.shape[0], pre.shape[1] // 3)
        and pre.dtype == h.dtype
        and not autocast_enabled(pre.device.type)
        and native_kernels_available(pre.device.type, pre.dtype)
    )


class _LayerNormGRUGates(torch.autograd.Function):
    """LayerNorm -> reset / candidate / update gates -> blend with h, as one C++ kernel
    (``mamba_agent/nn/kernels.cpp``) with a hand-written backward; the same function as the
    PyTorch ops of :meth:`LayerNormGRUCell.forward` (a test compares them and runs gradcheck)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        pre: torch.Tensor,
        h: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor,
        eps: float,
    ) -> torch.Tensor:
        h_new, gates, mean, rstd = torch.ops.mamba_agent_kernels.gru_forward(
            pre, h, weight, bias, eps
        )
        ctx.save_for_backward(pre, h, gates, mean, rstd, weight, bias)
        return h_new

    @staticmethod
    def backward(ctx: Any, d_h_new: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        d_pre, d_h, d_w, d_b = torch.ops.mamba_agent_kernels.gru_backward(
            d_h_new, *ctx.saved_tensors
        )
        need = ctx.needs_input_grad
        return (
            d_pre if need[0] else None,
            d_h if need[1] else None,
            d_w if need[2] else None,
            d_b if need[3] else None,
            None,
        )


class DeferredLinearGrad:
    """A Linear applied once per step of a recurrent loop, whose weight (and bias) gradient is
    computed from chunks of steps, one ``(rows x out)^T @ (rows x in)`` matmul per chunk of about
    ``chunk_rows`` rows, instead of one small matmul and one full-size accumulation per step.
    Gradients with respect to the inputs flow as usual. Every step's output must receive a gradient
    in the backward pass (true for the RSSM loop, where every step feeds the KL loss).

    Chunks keep the temporaries small and of a fixed size however long the sequence is, so the
    backward pass stays linear in the sequence length (one concatenation of all steps would allocate
    hundreds of MB at T = 1,800 and page-fault on every use).
    """

    def __init__(self, layer: nn.Linear, chunk_rows: int = 1024) -> None:
        self.weight, self.bias = layer.weight, layer.bias
        self.w = layer.weight.detach()
        self.b = None if layer.bias is None else layer.bias.detach()
        self.chunk_rows = chunk_rows
        self.inputs: list[torch.Tensor | None] = []
        self.ready: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.ready_rows = 0
        self.pending = 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = F.linear(x, self.w, self.b)
        if out.requires_grad and self.weight.requires_grad:
            self.inputs.append(x.detach())
            self.pending += 1
            out.register_hook(functools.partial(self._hook, len(self.inputs) - 1))
        return out

    def _hook(self, t: int, grad: torch.Tensor) -> None:
        x = self.inputs[t]
        self.inputs[t] = None
        self.ready.append((x, grad))  # type: ignore[arg-type]
        self.ready_rows += grad.numel() // grad.shape[-1]
        self.pending -= 1
        if self.ready_rows >= self.chunk_rows or self.pending == 0:
            self._flush()
        if self.pending == 0:
            self.inputs = []

    def _flush(self) -> None:
        dtype = self.weight.dtype  # (under autocast the step tensors may be lower precision)
        g = torch.cat([g.reshape(-1, g.shape[-1]) for _, g in self.ready]).to(dtype)
        x = torch.cat([x.reshape(-1, x.shape[-1]) for x, _ in self.ready]).to(dtype)
        self.ready, self.ready_rows = [], 0
        _accumulate(self.weight, g.T @ x)
        if self.bias is not None:
            _accumulate(self.bias, g.sum(0))


def _accumulate(param: nn.Parameter, grad: torch.Tensor) -> None:
    if param.grad is None:
        param.grad = grad
    else:
        param.grad += grad
