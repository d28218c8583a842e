"""Actor, critic, imagination and the actor-critic losses and optimiser step."""

from __future__ import annotations

import copy

import torch
from torch import nn

from mamba_agent.behavior.returns import ReturnNormalizer, imagination_weights, lambda_returns
from mamba_agent.config import BehaviorConfig
from mamba_agent.nn.distributions import (
    BoundedNormal,
    categorical_entropy,
    onehot_straight_through,
    symlog_bins,
    twohot_decode,
    twohot_nll,
    unimix_probs,
)
from mamba_agent.nn.layers import input_gradient_mlps, mlp, zero_init
from mamba_agent.nn.packed_linear import Linear, packed_weights
from mamba_agent.world_model.loss import gather_time, subsample_indices
from mamba_agent.world_model.model import WorldModel
from mamba_agent.world_model.rssm import RSSMState, gumbel_noise

__all__ = ["Actor", "OneHotCategorical", "imagine", "actor_loss", "critic_loss", "ActorCritic"]


class OneHotCategorical:
    """Discrete actions as one-hot vectors: unimix categorical with straight-through samples."""

    def __init__(self, logits: torch.Tensor, unimix: float) -> None:
        self.probs = unimix_probs(logits, unimix)

    def rsample(self, noise: torch.Tensor | None = None) -> torch.Tensor:
        """One-hot sample; ``noise`` is standard Gumbel noise of the probabilities' shape."""
        return onehot_straight_through(self.probs, noise)

    def mode(self) -> torch.Tensor:
        """One-hot of the most likely action."""
        return onehot_straight_through(self.probs, mode=True)

    def log_prob(self, onehot: torch.Tensor) -> torch.Tensor:
        """Log-probability of one-hot actions (..., A) -> (...)."""
        return (onehot * torch.log(self.probs)).sum(-1)

    def entropy(self) -> torch.Tensor:
        """Entropy (...)."""
        return categorical_entropy(self.probs)


class Actor(nn.Module):
    """Policy pi(a | s) on model states (..., feat): bounded Normal (continuous) or unimix
    one-hot categorical (discrete, ``act_dim`` classes)."""

    def __init__(
        self,
        feat: int,
        act_dim: int,
        discrete: bool,
        units: int,
        layers: int,
        unimix: float = 0.01,
        min_std: float = 0.1,
        max_std: float = 1.0,
    ) -> None:
        super().__init__()
        self.discrete, self.act_dim = discrete, act_dim
        self.unimix, self.min_std, self.max_std = unimix, min_std, max_std
        self.net = mlp(feat, units, layers, out=act_dim if discrete else 2 * act_dim)

    def forward(self, feat: torch.Tensor) -> OneHotCategorical | BoundedNormal:
        raw = self.net(feat)
        if self.discrete:
            return OneHotCategorical(raw, self.unimix)
        return BoundedNormal(raw, self.min_std, self.max_std)

    def noise(
        self, shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device
    ) -> torch.Tensor:
        """Sampling noise for ``shape`` leading dims: Gumbel (discrete) or standard Normal."""
        full = shape + (self.act_dim,)
        if self.discrete:
            return gumbel_noise(full, generator, device)
        return torch.randn(full, generator=generator, device=device)


def imagine(
    wm: WorldModel,
    actor: Actor,
    start: RSSMState,
    horizon: int,
    generator: torch.Generator | None = None,
    through_dynamics: bool = True,
) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor, torch.Tensor]:
    """Roll the prior forward ``horizon`` steps from ``start`` (N, ...) with actions from ``actor``.

    Returns the model states s_0..s_H as a list of H + 1 tensors (N, F) (the caller stacks what it
    needs: stacking, unlike slicing a stacked tensor, keeps head inputs contiguous and the backward
    free of full-size zero fills), actions (N, H, A) with a_k taken at s_k, and the policy's
    log-probabilities (of the detached actions) and entropies at s_0..s_{H-1}, (N, H).
    Without ``through_dynamics`` the actions enter the dynamics detached.
    """
    N = start.deter.shape[0]
    rssm, dev = wm.rssm, start.deter.device
    state = start
    feats, actions, log_probs, entropies = [state.feat()], [], [], []
    for _ in range(horizon):
        dist = actor(feats[-1] if through_dynamics else feats[-1].detach())
        action = dist.rsample(actor.noise((N,), generator, dev))
        actions.append(action)
        log_probs.append(dist.log_prob(action.detach()))
        entropies.append(dist.entropy())
        noise = gumbel_noise((N, rssm.stoch, rssm.classes), generator, dev)
        state = rssm.img_step(state, action if through_dynamics else action.detach(), noise)
        feats.append(state.feat())
    return feats, torch.stack(actions, 1), torch.stack(log_probs, 1), torch.stack(entropies, 1)


def imagine_policy_terms(
    actor: Actor, feats: torch.Tensor, actions: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probabilities and entropies (N, H) of ``actions`` (N, H, A) under the policy at the
    detached imagined states ``feats`` (H, N, F) (REINFORCE: the gradient reaches only the actor)."""
    dist = actor(feats.detach().transpose(0, 1))
    return dist.log_prob(actions.detach()), dist.entropy()


def actor_loss(
    adv: torch.Tensor,
    log_prob: torch.Tensor,
    entropy: torch.Tensor,
    weight: torch.Tensor,
    eta: float,
    reinforce: bool,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Actor loss over imagined steps (N, H): -adv (dynamics backprop) or -log_prob * sg(adv)
    (REINFORCE), minus ``eta`` x entropy, weighted by ``weight`` and averaged."""
    objective = log_prob * adv.detach() if reinforce else adv
    loss = -(weight.detach() * (objective + eta * entropy)).mean()
    return loss, {
        "behavior/actor_loss": loss.item(),
        "behavior/entropy": entropy.mean().item(),
        "behavior/advantage": adv.mean().item(),
    }


def critic_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    slow_value: torch.Tensor,
    weight: torch.Tensor,
    bins: torch.Tensor,
    slow_reg: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Two-hot critic loss (N, H): NLL of sg(target) plus ``slow_reg`` x NLL of the slow critic's
    value, weighted and averaged."""
    log_probs = torch.log_softmax(logits, -1)
    nll = twohot_nll(log_probs, target.detach(), bins)
    reg = twohot_nll(log_probs, slow_value.detach(), bins)
    loss = (weight.detach() * (nll + slow_reg * reg)).mean()
    return loss, {"behavior/critic_loss": loss.item()}


class ActorCritic(nn.Module):
    """Actor, critic, slow critic, return normaliser and their optimisers."""

    def __init__(
        self,
        cfg: BehaviorConfig,
        feat: int,
        act_dim: int,
        discrete: bool,
        units: int,
        layers: int,
        bins: int,
        unimix: float,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.actor = Actor(feat, act_dim, discrete, units, layers, unimix, cfg.min_std, cfg.max_std)
        self.critic = nn.Sequential(mlp(feat, units, layers), zero_init(Linear(units, bins)))
        self.slow_critic = copy.deepcopy(self.critic).requires_grad_(False)
        self.retnorm = ReturnNormalizer(cfg.retnorm_decay, cfg.retnorm_low, cfg.retnorm_high)
        self.register_buffer("bins", symlog_bins(bins), persistent=False)
        mode = cfg.actor_grad
        self.reinforce = discrete if mode == "auto" else mode == "reinforce"
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.actor_lr, eps=cfg.ac_eps)
        self.critic_opt = torch.optim.Adam(
            self.critic.parameters(), lr=cfg.critic_lr, eps=cfg.ac_eps
        )

    def value(self, feat: torch.Tensor) -> torch.Tensor:
        """Critic value (...) of model states (..., F)."""
        return twohot_decode(self.critic(feat), self.bins)

    def losses(
        self,
        wm: WorldModel,
        post: RSSMState,
        is_terminal: torch.Tensor,
        generator: torch.Generator | None = None,
        replay_reward: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """Imagine from ``imag_starts`` random posterior states per sequence (post (B, T, ...),
        is_terminal (B, T)); returns (actor loss, critic loss, metrics). With
        ``cfg.replay_value > 0`` the critic loss adds that weight times the replay value loss
        (:meth:`replay_value_loss`), which needs the batch's real rewards ``replay_reward`` (B, T)."""
        cfg = self.cfg
        B, T = is_terminal.shape
        idx = subsample_indices(B, T, cfg.imag_starts, generator, is_terminal.device)
        start = RSSMState(
            gather_time(post.deter, idx).flatten(0, 1).detach(),
            gather_time(post.stoch, idx).flatten(0, 1).detach(),
        )
        cont0 = (~gather_time(is_terminal, idx).flatten(0, 1)).float()
        if self.reinforce:  # no gradient through the dynamics: imagine without a graph
            with torch.no_grad():
                feat_list, actions, _, _ = imagine(
                    wm, self.actor, start, cfg.imag_horizon, generator, False
                )
            log_prob, entropy = imagine_policy_terms(
                self.actor, torch.stack(feat_list[:-1]), actions
            )
        else:
            feat_list, _, log_prob, entropy = imagine(
                wm, self.actor, start, cfg.imag_horizon, generator, True
            )
        # s_1..s_H carry the actor's gradient (through the dynamics) into the reward, continue and
        # critic heads: one matmul for the three first layers, and one for its input gradient
        next_feats = torch.stack(feat_list[1:])  # (H, N, F), time-major and contiguous
        rew_logits, cont_logit, next_logits = input_gradient_mlps(
            next_feats, (wm.reward_head.net, wm.continue_head.net, self.critic)
        )
        reward = twohot_decode(rew_logits, wm.bins).T  # (N, H)
        cont = torch.sigmoid(cont_logit.squeeze(-1)).T
        next_value = twohot_decode(next_logits, self.bins).T  # v(s_1..s_H), (N, H)
        # s_0..s_{H-1} (detached) serve the critic loss, the baseline and the slow critic
        prev_feats = torch.stack([f.detach() for f in feat_list[:-1]])  # (H, N, F)
        critic_logits = self.critic(prev_feats)
        prev_value = twohot_decode(critic_logits, self.bins).T.detach()  # v(s_0..s_{H-1})
        value = torch.cat([prev_value[:, :1], next_value], 1)  # (N, H + 1)
        ret = lambda_returns(reward, value, cont, cfg.gamma, cfg.lam)
        weight = imagination_weights(cont0, cont, cfg.gamma)
        scale = self.retnorm.update(ret)
        adv = (ret - prev_value) / scale
        a_loss, metrics = actor_loss(adv, log_prob, entropy, weight, cfg.entropy, self.reinforce)
        with torch.no_grad():
            slow_value = twohot_decode(self.slow_critic(prev_feats), self.bins).T
        c_loss, cm = critic_loss(
            critic_logits.transpose(0, 1),
            ret,
            slow_value,
            weight,
            self.bins,
            cfg.slow_critic_reg,
        )
        metrics.update(cm)
        if cfg.replay_value > 0:
            if replay_reward is None:
                raise ValueError("replay_value > 0 needs the batch's rewards (replay_reward)")
            r_loss, rm = self.replay_value_loss(post, replay_reward, is_terminal)
            c_loss = c_loss + cfg.replay_value * r_loss
            metrics.update(rm)
        metrics.update(
            {
                "behavior/return": ret.mean().item(),
                "behavior/return_scale": float(scale),
                "behavior/value": value.mean().item(),
                "behavior/imag_reward": reward.mean().item(),
            }
        )
        return a_loss, c_loss, metrics

    def replay_value_loss(
        self, post: RSSMState, reward: torch.Tensor, is_terminal: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Critic loss on the replayed sequences (post (B, T, ...), the batch's reward and
        is_terminal (B, T), aligned as in :mod:`mamba_agent.data.batch`): the critic of the states
        of rows 0..T-2 against the lambda-returns (``replay_lam``) of the real rewards r_{t+1}..
        (continue = not terminal), bootstrapped with the critic's own (detached) values, the last
        row's at the sequence end; plus the slow-critic regulariser, as the imagination critic
        loss."""
        cfg = self.cfg
        if reward.shape[1] < 2:  # no transition to learn from
            return reward.new_zeros(()), {"behavior/replay_critic_loss": 0.0}
        feats = post.feat().detach()
        logits = self.critic(feats)  # (B, T, bins)
        value = twohot_decode(logits, self.bins).detach()
        cont = (~is_terminal[:, 1:]).to(value.dtype)
        ret = lambda_returns(reward[:, 1:].to(value.dtype), value, cont, cfg.gamma, cfg.replay_lam)
        with torch.no_grad():
            slow_value = twohot_decode(self.slow_critic(feats[:, :-1]), self.bins)
        loss, _ = critic_loss(
            logits[:, :-1], ret, slow_value, torch.ones_like(ret), self.bins, cfg.slow_critic_reg
        )
        return loss, {
            "behavior/replay_critic_loss": loss.item(),
            "behavior/replay_return": ret.mean().item(),
        }

    def train_step(
        self,
        wm: WorldModel,
        post: RSSMState,
        is_terminal: torch.Tensor,
        generator: torch.Generator | None = None,
        amp_dtype: torch.dtype | None = None,
        replay_reward: torch.Tensor | None = None,
    ) -> dict[str, float]:
        """:meth:`losses`, then one actor and one critic step and the slow-critic update.
        ``amp_dtype`` (opt-in mixed precision) autocasts the forward passes; ``replay_reward``
        (B, T), the batch's real rewards, is needed where ``replay_value > 0``."""
        cfg = self.cfg
        actor_params = list(self.actor.parameters())
        critic_params = list(self.critic.parameters())
        with packed_weights():  # large Linears on oneDNN-packed weights (not under autocast)
            with torch.autocast(
                is_terminal.device.type,
                dtype=amp_dtype or torch.bfloat16,
                enabled=amp_dtype is not None,
            ):
                a_loss, c_loss, metrics = self.losses(
                    wm, post, is_terminal, generator, replay_reward
                )
            self.actor_opt.zero_grad(set_to_none=True)
            self.critic_opt.zero_grad(set_to_none=True)
            a_loss.backward(inputs=actor_params)  # the two losses share no graph
            c_loss.backward(inputs=critic_params)
        metrics["behavior/actor_grad_norm"] = float(
            nn.utils.clip_grad_norm_(actor_params, cfg.ac_clip)
        )
        metrics["behavior/critic_grad_norm"] = float(
            nn.utils.clip_grad_norm_(critic_params, cfg.ac_clip)
        )
        self.actor_opt.step()
        self.critic_opt.step()
        with torch.no_grad():
            for slow, fast in zip(self.slow_critic.parameters(), self.critic.parameters()):
                slow.lerp_(fast, cfg.slow_critic_fraction)
        return metrics
