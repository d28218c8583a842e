"""Layers: the DreamerV3 MLP block (Linear, LayerNorm, SiLU) and the LayerNorm GRU cell."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["mlp", "LayerNormGRUCell", "zero_init", "DeferredLinearGrad"]


def mlp(inp: int, units: int, layers: int, out: int | None = None) -> nn.Sequential:
    """``layers`` blocks of Linear(no bias) -> LayerNorm -> SiLU, then an optional Linear to ``out``."""
    mods: list[nn.Module] = []
    size = inp
    for _ in range(layers):
        mods += [nn.Linear(size, units, bias=False), nn.LayerNorm(units, eps=1e-3), nn.SiLU()]
        size = units
    if out is not None:
        mods.append(nn.Linear(size, out))
    return nn.Sequential(*mods)


def zero_init(layer: nn.Linear) -> nn.Linear:
    """Zero the weights and bias of ``layer`` (DreamerV3 zero-initialises reward and value outputs)."""
    nn.init.zeros_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


class LayerNormGRUCell(nn.Module):
    """DreamerV3's GRU: one Linear on [input, h] -> LayerNorm -> reset / candidate / update gates,
    update gate biased by -1. ``h' = u * tanh(r * c) + (1 - u) * h``.

    The -1 on the update gate is folded into the initial LayerNorm bias of the update part (an exact
    reparametrisation that saves an op per step), and the blend is one ``lerp``. The Linear on
    [x, h] is held as two (``linear_x``, ``linear_h``; same function and initial distribution), so
    no gradient is computed for an ``h`` that does not need one (imagination starts).
    """

    def __init__(self, inp: int, size: int) -> None:
        super().__init__()
        self.size = size
        self.linear_x = nn.Linear(inp, 3 * size, bias=False)
        self.linear_h = nn.Linear(size, 3 * size, bias=False)
        self.norm = nn.LayerNorm(3 * size, eps=1e-3)
        bound = 1.0 / (inp + size) ** 0.5  # nn.Linear's init for the fan-in of [x, h]
        with torch.no_grad():
            self.linear_x.weight.uniform_(-bound, bound)
            self.linear_h.weight.uniform_(-bound, bound)
            self.norm.bias[2 * size :] = -1.0

    def forward(
        self, x: torch.Tensor, h: torch.Tensor, h_proj: torch.Tensor | None = None
    ) -> torch.Tensor:
        """One step: x (..., inp), h (..., size) -> new h (..., size). ``h_proj`` may carry
        ``linear_h(h)`` computed by the caller (see :class:`DeferredLinearGrad`)."""
        h_proj = self.linear_h(h) if h_proj is None else h_proj
        parts = self.norm(self.linear_x(x) + h_proj)
        reset, cand, update = parts.split(self.size, -1)
        cand = torch.tanh(torch.sigmoid(reset) * cand)
        return torch.lerp(h, cand, torch.sigmoid(update))


class DeferredLinearGrad:
    """A bias-free Linear applied once per step of a recurrent loop (steps 0..T-1), whose weight
    gradient is computed with one (T*B x in) matmul when the backward pass reaches step 0, instead
    of T small matmuls and T accumulations of a full-size weight gradient. Gradients with respect to
    the inputs flow as usual. Step 0's gradient arrives last, since every later step depends on it.
    """

    def __init__(self, weight: nn.Parameter, steps: int) -> None:
        self.weight, self.detached = weight, weight.detach()
        self.inputs: list[torch.Tensor | None] = [None] * steps
        self.grads: list[torch.Tensor | None] = [None] * steps

    def __call__(self, x: torch.Tensor, t: int) -> torch.Tensor:
        out = F.linear(x, self.detached)
        if out.requires_grad and self.weight.requires_grad:
            self.inputs[t] = x.detach()
            out.register_hook(functools.partial(self._hook, t))
        return out

    def _hook(self, t: int, grad: torch.Tensor) -> None:
        self.grads[t] = grad
        if t != 0:
            return
        pairs = [(g, x) for g, x in zip(self.grads, self.inputs) if g is not None and x is not None]
        g_all = torch.cat([g.reshape(-1, g.shape[-1]) for g, _ in pairs])
        x_all = torch.cat([x.reshape(-1, x.shape[-1]) for _, x in pairs])
        dw = g_all.T @ x_all
        if self.weight.grad is None:
            self.weight.grad = dw
        else:
            self.weight.grad += dw
        self.inputs, self.grads = [], []
