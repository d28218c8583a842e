"""Distributions used by MAMBA: two-hot over symlog bins, unimix categoricals with straight-through
one-hot samples, and the bounded Normal of the continuous actor."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from mamba_agent.nn.functions import symexp, symlog

__all__ = [
    "symlog_bins",
    "twohot_encode",
    "twohot_decode",
    "twohot_loss",
    "twohot_nll",
    "unimix_probs",
    "onehot_straight_through",
    "categorical_entropy",
    "BoundedNormal",
]


def symlog_bins(num_bins: int = 255, low: float = -20.0, high: float = 20.0) -> torch.Tensor:
    """Bin centres, evenly spaced in symlog space on [low, high] (DreamerV3: 255 bins on [-20, 20]).
    A symmetric range with an odd count is built mirrored, so the middle bin is exactly 0 and a
    uniform distribution decodes to exactly 0."""
    if low == -high and num_bins % 2 == 1:
        half = torch.linspace(0.0, high, (num_bins + 1) // 2)
        return torch.cat([-half.flip(0)[:-1], half])
    return torch.linspace(low, high, num_bins)


def _twohot_neighbours(
    x: torch.Tensor, bins: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Indices of the bins below / above ``x`` (in bin space) and the weight of the one above."""
    k = bins.shape[0]
    x = x.clamp(bins[0], bins[-1]).contiguous()
    below = (torch.bucketize(x, bins, right=True) - 1).clamp(0, k - 1)
    above = (below + 1).clamp(max=k - 1)
    lo, hi = bins[below], bins[above]
    dist = (hi - lo).clamp_min(1e-12)
    w_above = torch.where(above == below, torch.zeros_like(x), (x - lo) / dist)
    return below, above, w_above


def twohot_encode(x: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """Two-hot encoding of ``x`` (any shape, already in bin space) over sorted ``bins`` (K,).

    The weight is split between the two neighbouring bins in proportion to closeness; values outside
    the range put all weight on the nearest end bin. Returns shape ``x.shape + (K,)``; rows sum to 1.
    """
    k = bins.shape[0]
    below, above, w_above = _twohot_neighbours(x, bins)
    out = F.one_hot(below, k).to(x.dtype) * (1.0 - w_above).unsqueeze(-1)
    out = out + F.one_hot(above, k).to(x.dtype) * w_above.unsqueeze(-1)
    return out


def twohot_decode(
    logits: torch.Tensor, bins: torch.Tensor, symlog_space: bool = True
) -> torch.Tensor:
    """Mean of the two-hot distribution given by ``logits`` (..., K); symexp-ed when ``symlog_space``."""
    mean = (torch.softmax(logits, -1) * bins).sum(-1)
    return symexp(mean) if symlog_space else mean


def twohot_loss(logits: torch.Tensor, target: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood of ``target`` (raw scale, shape = logits.shape[:-1]) under the two-hot
    distribution over symlog ``bins``: the cross-entropy with twohot(symlog(target))."""
    return twohot_nll(torch.log_softmax(logits, -1), target, bins)


def twohot_nll(log_probs: torch.Tensor, target: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """:func:`twohot_loss` from log-probabilities (..., K) (to share one ``log_softmax`` between
    several targets). Only the two neighbouring bins of each target are read (a gather), so no
    (..., K) two-hot tensor is built."""
    below, above, w_above = _twohot_neighbours(symlog(target), bins)
    picked = torch.gather(log_probs, -1, torch.stack([below, above], -1))
    return -torch.lerp(picked[..., 0], picked[..., 1], w_above.to(picked.dtype))


def unimix_probs(logits: torch.Tensor, unimix: float) -> torch.Tensor:
    """Softmax probabilities mixed with a uniform: (1 - unimix) * softmax + unimix / K."""
    probs = torch.softmax(logits, -1)
    if unimix > 0:
        probs = (1.0 - unimix) * probs + unimix / logits.shape[-1]
    return probs


def onehot_straight_through(
    probs: torch.Tensor, noise: torch.Tensor | None = None, mode: bool = False
) -> torch.Tensor:
    """One-hot sample of a categorical with straight-through gradients: ``onehot + p - sg(p)``.

    ``noise`` is optional Gumbel noise of the same shape (drawn by the caller from its generator so
    that sampling is reproducible); ``mode=True`` takes the argmax.
    """
    scores = torch.log(probs)
    if not mode:
        if noise is None:
            noise = -torch.log(-torch.log(torch.rand_like(probs).clamp(1e-20, 1.0)))
        scores = scores + noise
    index = scores.argmax(-1)
    onehot = F.one_hot(index, probs.shape[-1]).to(probs.dtype)
    return onehot + probs - probs.detach()


def categorical_entropy(probs: torch.Tensor) -> torch.Tensor:
    """Entropy of categoricals with probabilities ``probs`` (..., K), summed over the last axis."""
    return -(probs * torch.log(probs.clamp_min(1e-12))).sum(-1)


class BoundedNormal:
    """DreamerV3's bounded Normal for actions in [-1, 1]: mean = tanh(m),
    std = (max_std - min_std) * sigmoid(s + 2) + min_std; samples are clipped to [-1, 1] with
    straight-through gradients. Log-probs and entropies are summed over action dimensions."""

    def __init__(self, raw: torch.Tensor, min_std: float = 0.1, max_std: float = 1.0) -> None:
        m, s = raw.chunk(2, -1)
        self.mean = torch.tanh(m)
        self.std = (max_std - min_std) * torch.sigmoid(s + 2.0) + min_std

    def rsample(self, noise: torch.Tensor | None = None) -> torch.Tensor:
        """Reparameterised sample (gradients flow to mean and std), clipped straight-through."""
        if noise is None:
            noise = torch.randn_like(self.mean)
        x = self.mean + self.std * noise
        return x + (x.clamp(-1.0, 1.0) - x).detach()

    def mode(self) -> torch.Tensor:
        """The mean action."""
        return self.mean

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Normal log-density of ``x`` summed over the last axis."""
        var = self.std**2
        lp = -((x - self.mean) ** 2) / (2 * var) - torch.log(self.std) - 0.5 * math.log(2 * math.pi)
        return lp.sum(-1)

    def entropy(self) -> torch.Tensor:
        """Entropy of the (unclipped) Normal summed over the last axis."""
        return (0.5 + 0.5 * math.log(2 * math.pi) + torch.log(self.std)).sum(-1)
