"""Encoder, decoder, reward / continue heads and the local-reconstruction-window head."""

from __future__ import annotations

import torch
from torch import nn

from mamba_agent.nn.functions import symlog
from mamba_agent.nn.layers import mlp, zero_init
from mamba_agent.nn.packed_linear import Linear

__all__ = ["Encoder", "Decoder", "RewardHead", "ContinueHead", "LocalWindowHead"]


class Encoder(nn.Module):
    """MLP on symlog(observation): (..., obs_dim) -> embedding (..., units)."""

    def __init__(self, obs_dim: int, units: int, layers: int) -> None:
        super().__init__()
        self.net = mlp(obs_dim, units, max(layers, 1))
        self.out_dim = units

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(symlog(obs))


class Decoder(nn.Module):
    """MLP predicting symlog(observation) from the model state (..., feat) -> (..., obs_dim)."""

    def __init__(self, feat: int, obs_dim: int, units: int, layers: int) -> None:
        super().__init__()
        self.net = mlp(feat, units, layers, out=obs_dim)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return self.net(feat)


class RewardHead(nn.Module):
    """Two-hot logits over symlog bins (..., bins); output layer zero-initialised. Also the critic.

    With ``inputs`` < ``feat`` the head reads only the first ``inputs`` features (the deterministic
    state h of [h, z]): the first layer's weights on the others are zero and their gradients are
    masked, so it keeps taking the whole state (one fused matmul with the other heads in
    imagination) while its output does not depend on the rest.
    """

    def __init__(
        self, feat: int, units: int, layers: int, bins: int, inputs: int | None = None
    ) -> None:
        super().__init__()
        self.net = nn.Sequential(mlp(feat, units, layers), zero_init(Linear(units, bins)))
        self.inputs = feat if inputs is None else inputs
        if self.inputs < feat:
            first = next(m for m in self.net.modules() if isinstance(m, nn.Linear))
            mask = torch.zeros_like(first.weight)
            mask[:, : self.inputs] = 1.0
            with torch.no_grad():
                first.weight.mul_(mask)
            first.weight.register_hook(lambda grad: grad * mask.to(grad.device, grad.dtype))

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return self.net(feat)


class ContinueHead(nn.Module):
    """Bernoulli logit of continuing (not terminal): (..., feat) -> (...)."""

    def __init__(self, feat: int, units: int, layers: int) -> None:
        super().__init__()
        self.net = mlp(feat, units, layers, out=1)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return self.net(feat).squeeze(-1)


class LocalWindowHead(nn.Module):
    """MAMBA's local reconstruction window: from [feat_t, e_{t-1}] predict symlog(o), symlog(r) and the
    continue logit at t, t+1, ..., t+W-1. Returns (obs (..., W, obs_dim), reward (..., W),
    continue logits (..., W))."""

    def __init__(
        self, feat: int, embed: int, obs_dim: int, window: int, units: int, layers: int
    ) -> None:
        super().__init__()
        self.window, self.obs_dim = window, obs_dim
        self.net = mlp(feat + embed, units, layers, out=window * (obs_dim + 2))

    def forward(
        self, feat: torch.Tensor, prev_embed: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.net(torch.cat([feat, prev_embed], -1))
        out = out.reshape(out.shape[:-1] + (self.window, self.obs_dim + 2))
        return out[..., : self.obs_dim], out[..., self.obs_dim], out[..., self.obs_dim + 1]
