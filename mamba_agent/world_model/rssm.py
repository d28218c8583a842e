"""The recurrent state-space model: GRU state h (LayerNorm GRU) + categorical latent z.

Linear in the sequence length: per-step outputs are written into preallocated (T, ...) buffers (or
lists stacked once); the parts that do not depend on the recurrence (the action and embedding
projections, the prior head, the sampling noise) are computed for all steps at once outside the
loop. The posterior loop runs as one autograd node (:mod:`.posterior_scan`) except under autocast,
where the plain autograd loop (:meth:`RSSM.observe_autograd`, also the reference in the tests) runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from mamba_agent.nn.distributions import onehot_straight_through, unimix_probs
from mamba_agent.nn.layers import DeferredLinearGrad, LayerNormGRUCell, autocast_enabled
from mamba_agent.nn.packed_linear import Linear
from mamba_agent.world_model.posterior_scan import ScanWeights, posterior_scan

__all__ = ["RSSM", "RSSMState", "gumbel_noise"]


@dataclass
class RSSMState:
    """Recurrent state: ``deter`` (..., D) and the flattened one-hot latent ``stoch`` (..., S*C)."""

    deter: torch.Tensor
    stoch: torch.Tensor

    def feat(self) -> torch.Tensor:
        """Model state fed to heads, actor and critic: [h, z] (..., D + S*C)."""
        return torch.cat([self.deter, self.stoch], -1)


def gumbel_noise(
    shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device
) -> torch.Tensor:
    """Gumbel(0, 1) noise drawn from ``generator`` (reproducible categorical sampling)."""
    u = torch.rand(shape, generator=generator, device=device).clamp(1e-20, 1.0 - 1e-7)
    return -torch.log(-torch.log(u))


def _block(inp: int, out: int) -> nn.Sequential:
    return nn.Sequential(Linear(inp, out, bias=False), nn.LayerNorm(out, eps=1e-3), nn.SiLU())


class RSSM(nn.Module):
    """h_t = GRU(h_{t-1}, MLP([z_{t-1}, a_{t-1}])); prior p(z_t | h_t); posterior q(z_t | h_t, e_t).

    Sizes: ``deter`` D, ``stoch`` S, ``classes`` C, ``hidden`` width of the in/out MLPs, ``embed``
    the encoder output size, ``act_dim`` the action vector size (one-hot for discrete actions),
    ``gru_chrono`` the GRU's update-gate initialisation (see :class:`LayerNormGRUCell`).
    """

    def __init__(
        self,
        deter: int,
        stoch: int,
        classes: int,
        hidden: int,
        embed: int,
        act_dim: int,
        unimix: float = 0.01,
        gru_chrono: int = 0,
    ) -> None:
        super().__init__()
        self.deter, self.stoch, self.classes, self.unimix = deter, stoch, classes, unimix
        self.latent = stoch * classes
        self.act_dim = act_dim
        self.img_in_z = Linear(self.latent, hidden, bias=False)
        self.img_in_a = Linear(act_dim, hidden, bias=False)
        self.img_in_norm = nn.Sequential(nn.LayerNorm(hidden, eps=1e-3), nn.SiLU())
        self.gru = LayerNormGRUCell(hidden, deter, gru_chrono)
        self.img_out = nn.Sequential(_block(deter, hidden), Linear(hidden, self.latent))
        self.obs_h = Linear(deter, hidden, bias=False)
        self.obs_e = Linear(embed, hidden, bias=False)
        self.obs_norm = nn.Sequential(nn.LayerNorm(hidden, eps=1e-3), nn.SiLU())
        self.obs_logits = Linear(hidden, self.latent)
        self.init_deter = nn.Parameter(torch.zeros(deter))

    # -- helpers --------------------------------------------------------------------------------
    def initial(self, batch: int) -> RSSMState:
        """Learned initial state: h = tanh(W), z = mode of the prior at h; shape (batch, ...)."""
        h = torch.tanh(self.init_deter).expand(batch, self.deter)
        probs = self._probs(self.prior_logits(h[:1]))
        z = onehot_straight_through(probs, mode=True).reshape(1, self.latent).expand(batch, -1)
        return RSSMState(h, z)

    def _probs(self, logits: torch.Tensor) -> torch.Tensor:
        return unimix_probs(logits, self.unimix)

    def _post_logits(self, deter: torch.Tensor, embed_proj: torch.Tensor) -> torch.Tensor:
        logits = self.obs_logits(self.obs_norm(self.obs_h(deter) + embed_proj))
        return logits.reshape(logits.shape[:-1] + (self.stoch, self.classes))

    def prior_logits(self, deter: torch.Tensor) -> torch.Tensor:
        """Prior logits (..., S, C) from h (..., D)."""
        return self.img_out(deter).reshape(deter.shape[:-1] + (self.stoch, self.classes))

    def _gru_step(self, prev: RSSMState, action_proj: torch.Tensor) -> torch.Tensor:
        x = self.img_in_norm(self.img_in_z(prev.stoch) + action_proj)
        return self.gru(x, prev.deter)

    def _sample(self, logits: torch.Tensor, noise: torch.Tensor | None, mode: bool) -> torch.Tensor:
        probs = self._probs(logits)
        z = onehot_straight_through(probs, noise, mode=mode)
        return z.reshape(z.shape[:-2] + (self.latent,))

    # -- public steps ---------------------------------------------------------------------------
    def img_step(
        self,
        prev: RSSMState,
        action: torch.Tensor,
        noise: torch.Tensor | None = None,
        mode: bool = False,
    ) -> RSSMState:
        """Imagine one step: (h, z), a -> (h', z' ~ prior(h')). Batch shape (N, ...)."""
        return self.prior(self._gru_step(prev, self.img_in_a(action)), noise, mode)

    def prior(
        self, deter: torch.Tensor, noise: torch.Tensor | None = None, mode: bool = False
    ) -> RSSMState:
        """The prior state (h, z ~ p(z | h)) of deterministic states ``deter`` (..., D): what the
        model expects before the observation is seen."""
        return RSSMState(deter, self._sample(self.prior_logits(deter), noise, mode))

    def obs_step(
        self,
        prev: RSSMState,
        prev_action: torch.Tensor,
        embed: torch.Tensor,
        is_first: torch.Tensor,
        noise: torch.Tensor | None = None,
        mode: bool = False,
    ) -> RSSMState:
        """Filter one step (used when acting): reset where ``is_first`` (N,), then
        h = GRU(h, z, a_{t-1}), z ~ q(h, e). Shapes (N, ...)."""
        prev, prev_action = self._reset(prev, prev_action, is_first)
        deter = self._gru_step(prev, self.img_in_a(prev_action))
        logits = self._post_logits(deter, self.obs_e(embed))
        return RSSMState(deter, self._sample(logits, noise, mode))

    def _reset(
        self, prev: RSSMState, prev_action: torch.Tensor, is_first: torch.Tensor
    ) -> tuple[RSSMState, torch.Tensor]:
        keep = (~is_first).to(prev.deter.dtype).unsqueeze(-1)
        init = self.initial(is_first.shape[0])
        state = RSSMState(
            keep * prev.deter + (1 - keep) * init.deter, keep * prev.stoch + (1 - keep) * init.stoch
        )
        return state, prev_action * keep

    def observe(
        self,
        embed: torch.Tensor,
        prev_action: torch.Tensor,
        is_first: torch.Tensor,
        generator: torch.Generator | None = None,
        start: RSSMState | None = None,
    ) -> tuple[RSSMState, torch.Tensor, torch.Tensor]:
        """Posterior states for a batch of sequences.

        Args: ``embed`` (B, T, E), ``prev_action`` (B, T, A) = a_{t-1}, ``is_first`` (B, T) bool.
        The state is reset to the learned initial state wherever ``is_first`` is set (and the action
        zeroed), nowhere else. Returns (posterior states (B, T, ...), posterior logits (B, T, S, C),
        prior logits (B, T, S, C)).
        """
        if autocast_enabled(embed.device.type):
            return self.observe_autograd(embed, prev_action, is_first, generator, start)
        B, T, _ = embed.shape
        act_proj, emb_proj, noise = self._projections(embed, prev_action, is_first, generator)
        init = self.initial(B)
        state = start if start is not None else init
        deter, stoch, logits = posterior_scan(
            act_proj.transpose(0, 1).contiguous(),
            emb_proj.transpose(0, 1).contiguous(),
            noise.transpose(0, 1),
            is_first.T,
            (state.deter, state.stoch),
            (init.deter, init.stoch),
            self._scan_weights(),
            self.classes,
            self.unimix,
            self.img_in_norm[0].eps,
        )
        deter, stoch = deter.transpose(0, 1), stoch.transpose(0, 1)
        logits = logits.transpose(0, 1).reshape(B, T, self.stoch, self.classes)
        return RSSMState(deter, stoch), logits, self.prior_logits(deter)

    def _projections(
        self,
        embed: torch.Tensor,
        prev_action: torch.Tensor,
        is_first: torch.Tensor,
        generator: torch.Generator | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The parts of the posterior loop computed for all steps at once: the action projection
        (zero where ``is_first``), the embedding projection and the Gumbel noise, (B, T, ...)."""
        B, T, _ = embed.shape
        assert prev_action.shape[:2] == (B, T) and is_first.shape == (B, T), (
            "observe: shape mismatch"
        )
        keep = (~is_first).unsqueeze(-1).to(prev_action.dtype)
        act_proj = self.img_in_a(prev_action * keep)
        noise = gumbel_noise((B, T, self.stoch, self.classes), generator, embed.device)
        return act_proj, self.obs_e(embed), noise

    def _scan_weights(self) -> ScanWeights:
        norms = (self.img_in_norm[0], self.gru.norm, self.obs_norm[0])
        assert len({n.eps for n in norms}) == 1, "posterior_scan takes one LayerNorm epsilon"
        return ScanWeights(
            self.img_in_z.weight,
            *(norms[0].weight, norms[0].bias),
            self.gru.linear_x.weight,
            self.gru.linear_h.weight,
            *(norms[1].weight, norms[1].bias),
            self.obs_h.weight,
            *(norms[2].weight, norms[2].bias),
            self.obs_logits.weight,
            self.obs_logits.bias,
        )

    def observe_autograd(
        self,
        embed: torch.Tensor,
        prev_action: torch.Tensor,
        is_first: torch.Tensor,
        generator: torch.Generator | None = None,
        start: RSSMState | None = None,
    ) -> tuple[RSSMState, torch.Tensor, torch.Tensor]:
        """:meth:`observe` as a plain autograd loop (used under autocast; the tests' reference)."""
        B, T, _ = embed.shape
        act_proj, emb_proj, noise = self._projections(embed, prev_action, is_first, generator)
        # unbind (not [:, t]) so that the backward pass stacks the step gradients once: linear in T
        act_proj, emb_proj, noise = act_proj.unbind(1), emb_proj.unbind(1), noise.unbind(1)
        resets = is_first.any(0).tolist()
        state = start if start is not None else self.initial(B)
        init = self.initial(B) if any(resets) else None
        deters, stochs, logits_list = [], [], []
        # the per-step Linears compute their weight gradients in chunks of steps (see
        # DeferredLinearGrad): far fewer, larger kernels in the backward pass
        lin_z, lin_x, lin_h, lin_oh, lin_out = (
            DeferredLinearGrad(layer)
            for layer in (
                self.img_in_z,
                self.gru.linear_x,
                self.gru.linear_h,
                self.obs_h,
                self.obs_logits,
            )
        )
        for t in range(T):
            if resets[t]:
                keep = (~is_first[:, t]).to(embed.dtype).unsqueeze(-1)
                state = RSSMState(
                    keep * state.deter + (1 - keep) * init.deter,
                    keep * state.stoch + (1 - keep) * init.stoch,
                )
            x = self.img_in_norm(lin_z(state.stoch) + act_proj[t])
            deter = self.gru(x, state.deter, h_proj=lin_h(state.deter), x_proj=lin_x(x))
            logits = lin_out(self.obs_norm(lin_oh(deter) + emb_proj[t]))
            logits = logits.reshape(logits.shape[:-1] + (self.stoch, self.classes))
            stoch = self._sample(logits, noise[t], mode=False)
            state = RSSMState(deter, stoch)
            deters.append(deter)
            stochs.append(stoch)
            logits_list.append(logits)
        deter_all = torch.stack(deters, 1)
        post = RSSMState(deter_all, torch.stack(stochs, 1))
        post_logits = torch.stack(logits_list, 1)
        return post, post_logits, self.prior_logits(deter_all)
