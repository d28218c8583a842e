"""The world model: encoder, RSSM, decoder, heads, local window, its loss and its optimiser step."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mamba_agent.config import WorldModelConfig
from mamba_agent.data.batch import Batch
from mamba_agent.nn.distributions import symlog_bins
from mamba_agent.nn.functions import symlog
from mamba_agent.nn.packed_linear import packed_weights
from mamba_agent.world_model.loss import (
    gather_time,
    kl_balance_loss,
    local_window_targets,
    prediction_losses,
    subsample_indices,
    symlog_mse,
)
from mamba_agent.world_model.networks import (
    ContinueHead,
    Decoder,
    Encoder,
    LocalWindowHead,
    RewardHead,
)
from mamba_agent.world_model.rssm import RSSM, RSSMState

__all__ = ["WorldModel", "local_window_loss"]


def local_window_loss(
    obs_pred: torch.Tensor,
    rew_pred: torch.Tensor,
    cont_logit: torch.Tensor,
    obs_t: torch.Tensor,
    rew_t: torch.Tensor,
    cont_t: torch.Tensor,
    mask: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Masked loss of the local reconstruction window: symlog-MSE on observations and rewards,
    BCE on continues, averaged over valid (t, k) pairs. Shapes (..., W[, O]); ``mask`` (..., W)."""
    m = mask.to(obs_pred.dtype)
    per = symlog_mse(obs_pred, obs_t) + (rew_pred - symlog(rew_t)) ** 2
    per = per + F.binary_cross_entropy_with_logits(cont_logit, cont_t, reduction="none")
    loss = (per * m).sum() / m.sum().clamp_min(1.0)
    return loss, {"world_model/local_loss": loss.item()}


class WorldModel(nn.Module):
    """World model for observations of size ``obs_dim`` and action vectors of size ``act_dim``."""

    def __init__(self, cfg: WorldModelConfig, obs_dim: int, act_dim: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.encoder = Encoder(obs_dim, cfg.enc_units, cfg.enc_layers)
        embed = self.encoder.out_dim
        self.rssm = RSSM(
            cfg.deter,
            cfg.stoch,
            cfg.classes,
            cfg.hidden,
            embed,
            act_dim,
            cfg.unimix,
            cfg.gru_chrono,
        )
        self.feat_dim = cfg.deter + cfg.stoch * cfg.classes
        self.decoder = Decoder(self.feat_dim, obs_dim, cfg.enc_units, cfg.enc_layers)
        self.reward_head = RewardHead(
            self.feat_dim,
            cfg.head_units,
            cfg.head_layers,
            cfg.bins,
            inputs=cfg.deter if cfg.reward_from_deter else None,
        )
        self.continue_head = ContinueHead(self.feat_dim, cfg.head_units, cfg.head_layers)
        self.local_head = (
            LocalWindowHead(
                self.feat_dim, embed, obs_dim, cfg.local_window, cfg.head_units, cfg.head_layers
            )
            if cfg.local_window > 0
            else None
        )
        self.register_buffer("bins", symlog_bins(cfg.bins), persistent=False)
        self.optimizer = torch.optim.Adam(self.parameters(), lr=cfg.wm_lr, eps=cfg.wm_eps)

    def loss(
        self, batch: Batch, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, dict[str, float], RSSMState]:
        """World-model loss on a batch (B, T): KL on all steps, predictions on ``loss_samples``
        random steps per sequence. Returns (loss, metrics, posterior states (B, T, ...))."""
        cfg = self.cfg
        B, T = batch.shape
        assert batch.obs.shape[-1] == self.obs_dim, "observation size differs from the model's"
        embed = self.encoder(batch.obs)
        post, post_logits, prior_logits = self.rssm.observe(
            embed, batch.prev_action, batch.is_first, generator
        )
        kl, metrics = kl_balance_loss(
            post_logits, prior_logits, cfg.unimix, cfg.free_bits, cfg.kl_dyn, cfg.kl_rep
        )
        idx = subsample_indices(B, T, cfg.loss_samples, generator, batch.obs.device)
        # gather the sampled steps first: (B, K, ...) instead of (B, T, ...) temporaries
        feat = RSSMState(gather_time(post.deter, idx), gather_time(post.stoch, idx)).feat()
        cont = (~batch.is_terminal).to(batch.obs.dtype)
        pred, pm = prediction_losses(
            self.decoder(feat),
            gather_time(batch.obs, idx),
            self.reward_head(feat),
            gather_time(batch.reward, idx),
            self.continue_head(feat),
            gather_time(cont, idx),
            self.bins,
        )
        metrics.update(pm)
        loss = kl + pred
        if self.local_head is not None:
            w = cfg.local_window
            # e_{t-1} at the sampled steps, zero at meta-episode starts (and at t = 0)
            valid = (idx > 0) & ~gather_time(batch.is_first, idx)
            prev_embed = gather_time(embed, (idx - 1).clamp_min(0))
            prev_embed = prev_embed * valid.unsqueeze(-1).to(embed.dtype)
            o_p, r_p, c_p = self.local_head(feat, prev_embed)
            o_t, mask = local_window_targets(batch.obs, w)
            r_t, _ = local_window_targets(batch.reward, w)
            c_t, _ = local_window_targets(cont, w)
            lw, lm = local_window_loss(
                o_p,
                r_p,
                c_p,
                gather_time(o_t, idx),
                gather_time(r_t, idx),
                gather_time(c_t, idx),
                gather_time(mask, idx),
            )
            metrics.update(lm)
            loss = loss + lw
        metrics["world_model/loss"] = loss.item()
        return loss, metrics, RSSMState(post.deter.detach(), post.stoch.detach())

    def train_step(
        self,
        batch: Batch,
        generator: torch.Generator | None = None,
        amp_dtype: torch.dtype | None = None,
    ) -> tuple[dict[str, float], RSSMState]:
        """One Adam step on :meth:`loss` with gradient clipping; returns (metrics, detached
        posterior). ``amp_dtype`` (opt-in mixed precision) autocasts the forward pass."""
        with packed_weights():  # large Linears on oneDNN-packed weights (not under autocast)
            with torch.autocast(
                batch.obs.device.type,
                dtype=amp_dtype or torch.bfloat16,
                enabled=amp_dtype is not None,
            ):
                loss, metrics, post = self.loss(batch, generator)
            post = RSSMState(post.deter.float(), post.stoch.float())
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
        norm = nn.utils.clip_grad_norm_(self.parameters(), self.cfg.wm_clip)
        self.optimizer.step()
        metrics["world_model/grad_norm"] = float(norm)
        return metrics, post
