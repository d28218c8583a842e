"""Acting, separate from learning: one filtering step of the world model and one policy sample,
with the recurrent state passed in and returned explicitly (numpy in, numpy out). Never trains."""

from __future__ import annotations

import numpy as np
import torch

from mamba_agent.behavior.actor_critic import Actor
from mamba_agent.world_model.model import WorldModel
from mamba_agent.world_model.rssm import RSSMState, gumbel_noise

__all__ = ["State", "initial_state", "act"]

State = tuple[np.ndarray, np.ndarray, np.ndarray]
"""Recurrent acting state, batched: (h (n, D), z (n, S*C), previous action vector (n, A))."""


@torch.no_grad()
def initial_state(wm: WorldModel, n: int) -> State:
    """Acting state of ``n`` fresh meta-episodes (the learned initial state, zero action)."""
    init = wm.rssm.initial(n)
    return (
        init.deter.cpu().numpy().copy(),
        init.stoch.cpu().numpy().copy(),
        np.zeros((n, wm.act_dim), np.float32),
    )


@torch.no_grad()
def act(
    wm: WorldModel,
    actor: Actor,
    obs: np.ndarray,
    state: State,
    is_first: np.ndarray,
    deterministic: bool,
    generator: torch.Generator | None = None,
) -> tuple[np.ndarray, State]:
    """Action vectors (n, A) for observations ``obs`` (n, O) and the next state.

    Where ``is_first`` (n,) is set, the state is reset to the learned initial state first (a new
    meta-episode). Deterministic acting takes the latent and action modes; otherwise both are
    sampled with noise from ``generator``. Continuous actions are clipped to [-1, 1].
    """
    dev = wm.bins.device
    n = obs.shape[0]
    assert state[0].shape[0] == n and is_first.shape == (n,), "act: batch sizes differ"
    prev = RSSMState(torch.as_tensor(state[0], device=dev), torch.as_tensor(state[1], device=dev))
    prev_action = torch.as_tensor(state[2], device=dev)
    first = torch.as_tensor(is_first, device=dev, dtype=torch.bool)
    embed = wm.encoder(torch.as_tensor(obs, device=dev, dtype=torch.float32))
    noise = None
    if not deterministic:
        noise = gumbel_noise((n, wm.rssm.stoch, wm.rssm.classes), generator, dev)
    post = wm.rssm.obs_step(prev, prev_action, embed, first, noise, mode=deterministic)
    dist = actor(post.feat())
    if deterministic:
        action = dist.mode()
    else:
        action = dist.rsample(actor.noise((n,), generator, dev))
    if not actor.discrete:
        action = action.clamp(-1.0, 1.0)
    vec = action.float().cpu().numpy()
    return vec, (post.deter.cpu().numpy(), post.stoch.cpu().numpy(), vec)
