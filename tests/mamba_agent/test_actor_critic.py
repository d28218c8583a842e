"""Actor-critic losses: the fused head pass against the plain formulation, input_gradient_mlps."""

from __future__ import annotations

import pytest
import torch

from mamba_agent.behavior.actor_critic import (
    ActorCritic,
    actor_loss,
    critic_loss,
    imagine,
    imagine_policy_terms,
)
from mamba_agent.behavior.returns import imagination_weights, lambda_returns
from mamba_agent.config import make_config
from mamba_agent.nn.distributions import twohot_decode
from mamba_agent.nn.layers import input_gradient_mlps, mlp
from mamba_agent.world_model.loss import gather_time, subsample_indices
from mamba_agent.world_model.model import WorldModel
from mamba_agent.world_model.rssm import RSSMState


def test_input_gradient_mlps_match_separate_nets():
    torch.manual_seed(0)
    nets = [mlp(6, 5, 2, out=3), torch.nn.Sequential(mlp(6, 4, 1), torch.nn.Linear(4, 2))]
    x = torch.randn(2, 7, 6, dtype=torch.float64, requires_grad=True)
    nets = [n.double() for n in nets]
    fused = input_gradient_mlps(x, nets)
    (g_fused,) = torch.autograd.grad(sum((o**2).sum() for o in fused), x)
    plain = [n(x) for n in nets]
    (g_plain,) = torch.autograd.grad(sum((o**2).sum() for o in plain), x)
    for a, b in zip(fused, plain):
        assert torch.allclose(a, b, atol=1e-12)
    assert torch.allclose(g_fused, g_plain, atol=1e-12)
    fused = input_gradient_mlps(x, nets)
    sum(o.sum() for o in fused).backward()
    assert all(n[0].weight.grad is None for n in (nets[0], nets[1][0]))  # first layers: none
    assert nets[0][-1].weight.grad is not None  # later layers are the nets' own


def _reference_losses(ac, wm, post, is_terminal, gen):
    """The plain formulation: each head and the critic on their own, one critic pass on s_0..s_H."""
    cfg = ac.cfg
    B, T = is_terminal.shape
    idx = subsample_indices(B, T, cfg.imag_starts, gen, is_terminal.device)
    start = RSSMState(
        gather_time(post.deter, idx).flatten(0, 1).detach(),
        gather_time(post.stoch, idx).flatten(0, 1).detach(),
    )
    cont0 = (~gather_time(is_terminal, idx).flatten(0, 1)).float()
    if ac.reinforce:
        with torch.no_grad():
            feat_list, actions, _, _ = imagine(wm, ac.actor, start, cfg.imag_horizon, gen, False)
        log_prob, entropy = imagine_policy_terms(ac.actor, torch.stack(feat_list[:-1]), actions)
    else:
        feat_list, _, log_prob, entropy = imagine(wm, ac.actor, start, cfg.imag_horizon, gen)
    feats, next_feats = torch.stack(feat_list), torch.stack(feat_list[1:])
    reward = twohot_decode(wm.reward_head(next_feats), wm.bins).T
    cont = torch.sigmoid(wm.continue_head(next_feats)).T
    critic_logits = ac.critic(feats)
    value = twohot_decode(critic_logits, ac.bins).T
    ret = lambda_returns(reward, value, cont, cfg.gamma, cfg.lam)
    weight = imagination_weights(cont0, cont, cfg.gamma)
    adv = (ret - value[:, :-1].detach()) / ac.retnorm.update(ret)
    a_loss, _ = actor_loss(adv, log_prob, entropy, weight, cfg.entropy, ac.reinforce)
    with torch.no_grad():
        slow_value = twohot_decode(ac.slow_critic(feats[:-1].detach()), ac.bins).T
    c_loss, _ = critic_loss(
        critic_logits[:-1].transpose(0, 1), ret, slow_value, weight, ac.bins, cfg.slow_critic_reg
    )
    return a_loss, c_loss


def _random_post(w, B: int, T: int) -> RSSMState:
    """Posterior states (B, T): random h, one-hot z, float64."""
    return RSSMState(
        torch.randn(B, T, w.deter, dtype=torch.float64),
        torch.nn.functional.one_hot(torch.randint(w.classes, (B, T, w.stoch)), w.classes)
        .flatten(2)
        .double(),
    )


@pytest.mark.parametrize("discrete", [False, True])
def test_losses_and_gradients_match_plain_formulation(discrete):
    torch.manual_seed(0)
    cfg = make_config("tiny", imag_horizon=3, imag_starts=5)
    act_dim = 3
    wm = WorldModel(cfg.world_model, obs_dim=3, act_dim=act_dim).double()
    w = cfg.world_model
    ac = ActorCritic(
        cfg.behavior, wm.feat_dim, act_dim, discrete, w.head_units, w.head_layers, w.bins, w.unimix
    ).double()
    with torch.no_grad():  # the zero-initialised output layers would hide the value path
        for p in [*wm.parameters(), *ac.parameters()]:
            p.add_(0.3 * torch.randn_like(p))
        ac.slow_critic.load_state_dict(ac.critic.state_dict())
    B, T = 2, 6
    post = _random_post(w, B, T)
    is_terminal = torch.zeros(B, T, dtype=torch.bool)
    is_terminal[1, 4] = True
    retnorm = {k: v.clone() for k, v in ac.retnorm.state_dict().items()}

    def grads(losses_fn):
        ac.retnorm.load_state_dict(retnorm)
        a_loss, c_loss = losses_fn(ac, wm, post, is_terminal, torch.Generator().manual_seed(3))
        actor, critic = list(ac.actor.parameters()), list(ac.critic.parameters())
        g_actor = torch.autograd.grad(a_loss, actor, retain_graph=True)  # (the plain one shares)
        g_critic = torch.autograd.grad(c_loss, critic)
        return [a_loss, c_loss, *g_actor, *g_critic]

    fused = grads(lambda ac, *args: ac.losses(*args)[:2])
    plain = grads(_reference_losses)
    assert fused[0].abs() > 0 and fused[1].abs() > 0
    for a, b in zip(fused, plain):
        assert torch.allclose(a, b, atol=1e-10, rtol=1e-8)


def _replay_setup(T: int = 6, **overrides):
    torch.manual_seed(1)
    cfg = make_config("tiny", **overrides)
    w = cfg.world_model
    ac = ActorCritic(cfg.behavior, w.deter + w.stoch * w.classes, 2, False, 16, 1, w.bins, 0.01)
    ac = ac.double()
    with torch.no_grad():
        for p in ac.parameters():
            p.add_(0.3 * torch.randn_like(p))
    B = 2
    post = _random_post(w, B, T)
    reward = torch.randn(B, T, dtype=torch.float64)
    return cfg, ac, post, reward


def test_replay_value_loss_matches_the_lambda_return_written_out():
    cfg, ac, post, reward = _replay_setup(gamma=0.9, replay_lam=0.8)
    B, T = reward.shape
    is_terminal = torch.zeros(B, T, dtype=torch.bool)
    is_terminal[1, 3] = True  # the second sequence ends (terminated) at row 3
    loss, metrics = ac.replay_value_loss(post, reward, is_terminal)
    feats = post.feat()
    value = twohot_decode(ac.critic(feats), ac.bins).detach()
    expected = torch.zeros(B, T - 1, dtype=torch.float64)
    for b in range(B):
        ret = value[b, T - 1]
        for t in reversed(range(T - 1)):
            cont = 0.0 if is_terminal[b, t + 1] else 1.0
            ret = reward[b, t + 1] + 0.9 * cont * (0.2 * value[b, t + 1] + 0.8 * ret)
            expected[b, t] = ret
    slow = twohot_decode(ac.slow_critic(feats[:, :-1]), ac.bins)
    plain, _ = critic_loss(
        ac.critic(feats)[:, :-1], expected, slow, torch.ones(B, T - 1), ac.bins, 1.0
    )
    assert torch.allclose(loss, plain, atol=1e-12)
    assert metrics["behavior/replay_return"] == pytest.approx(expected.mean().item())
    (grad,) = torch.autograd.grad(loss, [ac.critic[-1].weight])
    assert grad.abs().sum() > 0


def test_replay_lam_one_gives_the_real_discounted_returns_to_the_sequence_end():
    """With ``replay_lam=1`` the targets are the discounted real rewards to the end of the
    sequence (or its terminal step), bootstrapped with the critic only at the sequence end."""
    cfg, ac, post, reward = _replay_setup(gamma=0.9, replay_lam=1.0)
    B, T = reward.shape
    is_terminal = torch.zeros(B, T, dtype=torch.bool)
    is_terminal[1, 3] = True
    _, metrics = ac.replay_value_loss(post, reward, is_terminal)
    last = twohot_decode(ac.critic(post.feat()[:, -1]), ac.bins).detach()
    expected = torch.zeros(B, T - 1, dtype=torch.float64)
    for b in range(B):
        for t in range(T - 1):
            ret, disc = 0.0, 1.0
            for k in range(t + 1, T):
                ret += disc * reward[b, k]
                if is_terminal[b, k]:
                    break
                disc *= 0.9
            else:
                ret += disc * last[b]
            expected[b, t] = ret
    assert metrics["behavior/replay_return"] == pytest.approx(expected.mean().item())
    assert make_config("tiny").behavior.replay_lam == make_config("tiny").behavior.lam
    with pytest.raises(ValueError, match="replay_lam"):
        make_config("tiny", replay_lam=1.5)


def test_replay_value_loss_carries_a_final_reward_back_to_the_first_state():
    """Fitting the critic with the replay loss alone on one sequence whose only reward comes at
    its end: the first state's value reaches the discounted reward, 29 steps back, which an
    imagination of 2 steps per update could not do in so few updates."""
    T, gamma = 30, 0.97
    cfg, ac, post, _ = _replay_setup(T, gamma=gamma, lam=0.95, slow_critic_reg=0.0)
    reward = torch.zeros(1, T, dtype=torch.float64)
    reward[0, -1] = 1.0
    post = RSSMState(post.deter[:1], post.stoch[:1])
    is_terminal = torch.zeros(1, T, dtype=torch.bool)
    is_terminal[0, -1] = True
    opt = torch.optim.Adam(ac.critic.parameters(), lr=3e-3)
    for _ in range(400):
        loss, _ = ac.replay_value_loss(post, reward, is_terminal)
        opt.zero_grad()
        loss.backward()
        opt.step()
    first = ac.value(post.feat()[:, 0]).item()
    assert first == pytest.approx(gamma ** (T - 2), rel=0.1)


def test_losses_add_the_weighted_replay_loss_and_need_the_rewards():
    cfg0, ac0, post, reward = _replay_setup()
    cfg1, ac1, _, _ = _replay_setup(replay_value=0.3)
    ac1.load_state_dict(ac0.state_dict())
    ac1.slow_critic.load_state_dict(ac0.slow_critic.state_dict())
    wm = WorldModel(cfg0.world_model, obs_dim=3, act_dim=2).double()
    is_terminal = torch.zeros(reward.shape, dtype=torch.bool)
    _, c0, _ = ac0.losses(wm, post, is_terminal, torch.Generator().manual_seed(0), reward)
    _, c1, m1 = ac1.losses(wm, post, is_terminal, torch.Generator().manual_seed(0), reward)
    replay, _ = ac1.replay_value_loss(post, reward, is_terminal)
    assert torch.allclose(c1, c0 + 0.3 * replay, atol=1e-12)
    assert "behavior/replay_critic_loss" in m1
    with pytest.raises(ValueError, match="rewards"):
        ac1.losses(wm, post, is_terminal, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="replay_value"):
        make_config("tiny", replay_value=-0.1)
