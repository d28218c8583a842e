"""Layers: the DreamerV3 MLP block (Linear, LayerNorm, SiLU) and the LayerNorm GRU cell."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["mlp", "LayerNormGRUCell", "zero_init"]


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
    reparametrisation that saves an op per step), and the blend is one ``lerp``.
    """

    def __init__(self, inp: int, size: int) -> None:
        super().__init__()
        self.size = size
        self.linear = nn.Linear(inp + size, 3 * size, bias=False)
        self.norm = nn.LayerNorm(3 * size, eps=1e-3)
        with torch.no_grad():
            self.norm.bias[2 * size :] = -1.0

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """One step: x (..., inp), h (..., size) -> new h (..., size)."""
        parts = self.norm(self.linear(torch.cat([x, h], -1)))
        reset, cand, update = parts.split(self.size, -1)
        cand = torch.tanh(torch.sigmoid(reset) * cand)
        return torch.lerp(h, cand, torch.sigmoid(update))
