"""Pure return computations: lambda-returns with continue flags, and the percentile return
normaliser (EMA of the 5th-95th percentile range)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["lambda_returns", "imagination_weights", "percentile_update", "ReturnNormalizer"]


def lambda_returns(
    reward: torch.Tensor, value: torch.Tensor, cont: torch.Tensor, gamma: float, lam: float
) -> torch.Tensor:
    """lambda-returns of imagined trajectories.

    Shapes: ``reward`` (N, H) with reward[:, k] = r_{k+1} (received on reaching state k+1),
    ``value`` (N, H + 1) with value[:, k] = v(s_k), ``cont`` (N, H) with cont[:, k] = c_{k+1}.
    R_H = v_H and R_k = r_{k+1} + gamma c_{k+1} ((1 - lam) v_{k+1} + lam R_{k+1}).
    Returns (N, H): R_0 .. R_{H-1}.
    """
    N, H = reward.shape
    assert value.shape == (N, H + 1) and cont.shape == (N, H), "lambda_returns: shape mismatch"
    out = []
    ret = value[:, H]
    for k in reversed(range(H)):
        ret = reward[:, k] + gamma * cont[:, k] * ((1 - lam) * value[:, k + 1] + lam * ret)
        out.append(ret)
    return torch.stack(out[::-1], 1)


def imagination_weights(cont0: torch.Tensor, cont: torch.Tensor, gamma: float) -> torch.Tensor:
    """Loss weights of imagined steps 0..H-1: w_0 = c_0, w_k = w_{k-1} * gamma * c_k.
    ``cont0`` (N,), ``cont`` (N, H) as in :func:`lambda_returns`. Returns (N, H), no gradient."""
    disc = torch.cat([cont0.unsqueeze(1), gamma * cont[:, :-1]], 1)
    return torch.cumprod(disc, 1).detach()


def percentile_update(
    low: torch.Tensor,
    high: torch.Tensor,
    returns: torch.Tensor,
    decay: float,
    low_pct: float = 5.0,
    high_pct: float = 95.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """EMA of the return percentiles: low <- decay * low + (1 - decay) * P_low(returns), same for
    high; scale = max(1, high - low). Returns (low, high, scale)."""
    flat = returns.detach().flatten().float()
    q = torch.quantile(flat, torch.tensor([low_pct / 100, high_pct / 100], device=flat.device))
    low = decay * low + (1 - decay) * q[0]
    high = decay * high + (1 - decay) * q[1]
    return low, high, torch.clamp(high - low, min=1.0)


class ReturnNormalizer(nn.Module):
    """Holds the percentile EMA as buffers (so checkpoints save it); see :func:`percentile_update`."""

    def __init__(self, decay: float = 0.99, low_pct: float = 5.0, high_pct: float = 95.0) -> None:
        super().__init__()
        self.decay, self.low_pct, self.high_pct = decay, low_pct, high_pct
        self.register_buffer("low", torch.zeros(()))
        self.register_buffer("high", torch.zeros(()))

    def update(self, returns: torch.Tensor) -> torch.Tensor:
        """Update with a batch of returns and return the current scale (>= 1)."""
        low, high, scale = percentile_update(
            self.low, self.high, returns, self.decay, self.low_pct, self.high_pct
        )
        self.low.copy_(low)
        self.high.copy_(high)
        return scale

    def scale(self) -> torch.Tensor:
        """max(1, high - low)."""
        return torch.clamp(self.high - self.low, min=1.0)
