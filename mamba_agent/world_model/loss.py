"""Pure world-model loss functions: KL balancing with free bits, loss subsampling, the local
reconstruction window's targets and masks, and the prediction losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mamba_agent.nn.distributions import twohot_loss, unimix_probs
from mamba_agent.nn.functions import symlog

__all__ = [
    "categorical_kl",
    "kl_balance_loss",
    "subsample_indices",
    "gather_time",
    "local_window_targets",
    "symlog_mse",
    "prediction_losses",
]


def categorical_kl(q_logits: torch.Tensor, p_logits: torch.Tensor, unimix: float) -> torch.Tensor:
    """KL(q || p) of S categoricals (..., S, C) after the unimix; summed over S -> (...)."""
    q = unimix_probs(q_logits, unimix)
    p = unimix_probs(p_logits, unimix)
    return (q * (torch.log(q) - torch.log(p))).sum((-2, -1))


def kl_balance_loss(
    post_logits: torch.Tensor,
    prior_logits: torch.Tensor,
    unimix: float = 0.01,
    free_bits: float = 1.0,
    dyn_scale: float = 0.5,
    rep_scale: float = 0.1,
) -> tuple[torch.Tensor, dict[str, float]]:
    """DreamerV3 KL balancing: dyn = KL(sg(post) || prior), rep = KL(post || sg(prior)), each clipped
    below at ``free_bits`` per time step; loss = mean(dyn_scale * dyn + rep_scale * rep).

    Shapes: logits (B, T, S, C). Returns (scalar loss, metrics: the KL and the loss, and the
    posterior and prior entropies summed over the S latents). The probabilities and their logs are
    computed once for both terms and the metrics (the (B, T, S, C) tensors are the large ones).
    """
    q, p = unimix_probs(post_logits, unimix), unimix_probs(prior_logits, unimix)
    log_q, log_p = torch.log(q), torch.log(p)
    q_sg, log_q_sg, log_p_sg = q.detach(), log_q.detach(), log_p.detach()
    dyn = (q_sg * (log_q_sg - log_p)).sum((-2, -1))
    rep = (q * (log_q - log_p_sg)).sum((-2, -1))
    loss = (dyn_scale * dyn.clamp_min(free_bits) + rep_scale * rep.clamp_min(free_bits)).mean()
    with torch.no_grad():
        entropies = -(q_sg * log_q_sg).sum((-2, -1)).mean(), -(p * log_p_sg).sum((-2, -1)).mean()
    return loss, {
        "world_model/kl": dyn.mean().item(),
        "world_model/kl_loss": loss.item(),
        "world_model/posterior_entropy": entropies[0].item(),
        "world_model/prior_entropy": entropies[1].item(),
    }


def subsample_indices(
    batch: int,
    length: int,
    k: int,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """``k`` distinct random time indices per sequence, sorted, shape (batch, min(k, length)).

    ``k <= 0`` or ``k >= length`` gives every index 0..length-1 for every sequence.
    """
    if k <= 0 or k >= length:
        return torch.arange(length, device=device).expand(batch, length)
    scores = torch.rand((batch, length), generator=generator, device=device)
    return scores.topk(k, dim=1).indices.sort(dim=1).values


def gather_time(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """x (B, T, ...) at time indices ``index`` (B, K) -> (B, K, ...)."""
    idx = index.reshape(index.shape + (1,) * (x.dim() - 2)).expand(index.shape + x.shape[2:])
    return torch.gather(x, 1, idx)


def local_window_targets(x: torch.Tensor, window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets x_{t+k} for k = 0..window-1 and their validity mask.

    x (B, T, ...) -> targets (B, T, window, ...) with zeros where t + k >= T, mask (B, T, window)
    True where t + k < T.
    """
    B, T = x.shape[:2]
    pad = torch.zeros((B, window - 1) + x.shape[2:], dtype=x.dtype, device=x.device)
    xp = torch.cat([x, pad], 1)
    targets = torch.stack([xp[:, k : k + T] for k in range(window)], 2)
    t = torch.arange(T, device=x.device).unsqueeze(1) + torch.arange(window, device=x.device)
    mask = (t < T).unsqueeze(0).expand(B, T, window)
    return targets, mask


def symlog_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared error between ``pred`` (in symlog space) and symlog(target), summed over the last axis."""
    return ((pred - symlog(target)) ** 2).sum(-1)


def prediction_losses(
    obs_pred: torch.Tensor,
    obs: torch.Tensor,
    reward_logits: torch.Tensor,
    reward: torch.Tensor,
    cont_logit: torch.Tensor,
    cont: torch.Tensor,
    bins: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Decoder symlog-MSE + reward two-hot NLL + continue BCE, each averaged over (B, K).

    Shapes: obs_pred / obs (B, K, O), reward_logits (B, K, bins), reward (B, K), cont_logit /
    cont (B, K). Returns (sum of the three, metrics).
    """
    rec = symlog_mse(obs_pred, obs).mean()
    rew = twohot_loss(reward_logits, reward, bins).mean()
    con = F.binary_cross_entropy_with_logits(cont_logit, cont).mean()
    metrics = {
        "world_model/recon_loss": rec.item(),
        "world_model/reward_loss": rew.item(),
        "world_model/continue_loss": con.item(),
    }
    return rec + rew + con, metrics
