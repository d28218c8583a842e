"""World model and imagination: the optimised RSSM loop against plain autograd, shapes."""

from __future__ import annotations

import pytest
import torch

import mamba_agent.nn.kernels as kernels
import mamba_agent.nn.layers as layers
import mamba_agent.world_model.posterior_scan as posterior_scan
import mamba_agent.world_model.rssm as rssm_module
from mamba_agent.behavior.actor_critic import Actor, ActorCritic, imagine
from mamba_agent.config import make_config
from mamba_agent.data.batch import Batch
from mamba_agent.world_model.model import WorldModel


class PlainLinear:
    """Stand-in for DeferredLinearGrad: the layer itself (ordinary autograd)."""

    def __init__(self, layer: torch.nn.Linear) -> None:
        self.layer = layer

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


def _batch(B: int = 3, T: int = 7) -> Batch:
    g = torch.Generator().manual_seed(0)
    is_first = torch.zeros(B, T, dtype=torch.bool)
    is_first[:, 0] = True
    return Batch(
        torch.randn(B, T, 3, generator=g),
        torch.randn(B, T, 2, generator=g),
        torch.randn(B, T, generator=g),
        is_first,
        torch.zeros(B, T, dtype=torch.bool),
    )


@pytest.mark.parametrize("chunk_rows", [1024, 6])
@pytest.mark.parametrize(
    "dtype, packed",
    [(torch.float64, False), (torch.float32, True), (torch.float32, False)],
    ids=["float64", "float32-onednn-packed", "float32-addmm"],
)
@pytest.mark.parametrize("reset_mid_sequence", [False, True])
@pytest.mark.parametrize("scan_impl", ["c++", "c++-row-blocks", "python"])
def test_observe_gradients_match_plain_autograd(
    monkeypatch, torch_threads, scan_impl, reset_mid_sequence, dtype, packed, chunk_rows
):
    """The posterior scan (hand-written backward; the C++ loops and the Python ones) and the
    autograd loop with chunked weight gradients give the plain autograd loop's losses and
    gradients, including through resets; ``chunk_rows`` 6 makes the scan's backward add its weight
    gradients in chunks of 2 steps (B = 3, T = 7: three full chunks and a partial one). In float32
    the scan runs both with its oneDNN-packed recurrent matmuls (where this PyTorch build has them)
    and with plain addmm. ``c++-row-blocks``: B = 9 on two threads, so the C++ loops run as two
    blocks of rows in parallel (5 + 4 rows; a reset of one row in each block)."""
    rows = 9 if scan_impl == "c++-row-blocks" else 3
    if rows > 3:
        torch_threads(2)
    monkeypatch.setattr(posterior_scan, "_CHUNK_ROWS", chunk_rows)
    if not packed:
        monkeypatch.setattr(
            posterior_scan, "onednn_packing_available", lambda device_type, dtype: False
        )
    if scan_impl == "python":
        monkeypatch.setattr(posterior_scan, "native_kernels_available", lambda *args: False)
    else:
        assert kernels.native_kernels_available("cpu", dtype), "the C++ kernels did not build"
    calls = []
    original = posterior_scan._PosteriorScan.forward

    def spy(ctx, *args):
        out = original(ctx, *args)
        calls.append(ctx.native)
        return out

    monkeypatch.setattr(posterior_scan._PosteriorScan, "forward", staticmethod(spy))
    torch.manual_seed(0)
    wm = WorldModel(make_config("tiny").world_model, obs_dim=3, act_dim=2).to(dtype)
    batch = _batch(B=rows)
    batch = Batch(batch.obs.to(dtype), batch.prev_action.to(dtype), batch.reward.to(dtype),
                  batch.is_first, batch.is_terminal)  # fmt: skip
    if reset_mid_sequence:
        batch.is_first[:, 4] = True
        batch.is_first[1, 2] = True  # and one row alone
        if rows > 3:
            batch.is_first[7, 5] = True  # one row alone in the second block too

    def grads() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        wm.zero_grad(set_to_none=True)
        loss, _, _ = wm.loss(batch, torch.Generator().manual_seed(1))
        loss.backward()
        return loss, {n: p.grad.clone() for n, p in wm.named_parameters() if p.grad is not None}

    scan = grads()
    assert calls == [scan_impl != "python"]
    monkeypatch.setattr(rssm_module.RSSM, "observe", rssm_module.RSSM.observe_autograd)
    chunked = grads()
    monkeypatch.setattr(rssm_module, "DeferredLinearGrad", PlainLinear)
    monkeypatch.setattr(layers, "native_kernels_available", lambda *args: False)
    plain = grads()  # PyTorch ops only
    tol = {"atol": 1e-10, "rtol": 1e-8} if dtype == torch.float64 else {"atol": 1e-5, "rtol": 1e-4}
    for loss, fast in (scan, chunked):
        assert torch.allclose(loss, plain[0], **tol)
        assert fast.keys() == plain[1].keys() and "rssm.gru.linear_h.weight" in fast
        for name in plain[1]:
            assert torch.allclose(fast[name], plain[1][name], **tol), name


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_recurrent_linear_matches_addmm(dtype):
    """x W^T and x W^T + other, for the packed (float32 CPU, oneDNN) and the plain path (float64)."""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(48, 20, generator=g, dtype=dtype)
    other = torch.randn(5, 48, generator=g, dtype=dtype)
    f = posterior_scan.recurrent_linear(w, rows=5)
    for rows in (5, 3):  # packed for 5 rows, still right for another row count
        x = torch.randn(rows, 20, generator=g, dtype=dtype)
        tol = {"atol": 1e-5, "rtol": 1e-5} if dtype == torch.float32 else {"atol": 1e-12}
        assert torch.allclose(f(x, None), x @ w.T, **tol)
        assert torch.allclose(f(x, other[:rows]), other[:rows] + x @ w.T, **tol)
    assert f(x, None).dtype == dtype and not f(x, None).requires_grad


def test_observe_without_gradients_and_from_a_given_start():
    torch.manual_seed(0)
    wm = WorldModel(make_config("tiny").world_model, obs_dim=3, act_dim=2).double()
    batch = _batch()
    embed = wm.encoder(batch.obs.double())
    with torch.no_grad():
        post, _, _ = wm.rssm.observe(embed, batch.prev_action.double(), batch.is_first)
        start = rssm_module.RSSMState(post.deter[:, 3], post.stoch[:, 3])
        first = torch.zeros_like(batch.is_first[:, 4:])
        actions = batch.prev_action[:, 4:].double()
        args = (embed[:, 4:], actions, first)
        a = wm.rssm.observe(*args, torch.Generator().manual_seed(2), start=start)
        b = wm.rssm.observe_autograd(*args, torch.Generator().manual_seed(2), start=start)
    for x, y in ((a[0].deter, b[0].deter), (a[0].stoch, b[0].stoch), (a[1], b[1]), (a[2], b[2])):
        assert torch.allclose(x, y, atol=1e-10)
    assert torch.all(a[0].stoch.sum(-1) == wm.rssm.stoch)  # one-hot per latent


def test_imagination_shapes_and_gradient_through_the_dynamics():
    torch.manual_seed(0)
    cfg = make_config("tiny")
    wm = WorldModel(cfg.world_model, obs_dim=3, act_dim=2)
    _, _, post = wm.loss(_batch())
    actor = Actor(wm.feat_dim, 2, False, 16, 1)
    start = rssm_module.RSSMState(post.deter.flatten(0, 1), post.stoch.flatten(0, 1))
    feats, actions, log_prob, entropy = imagine(wm, actor, start, horizon=3)
    assert len(feats) == 4 and feats[0].shape == (21, wm.feat_dim)
    assert actions.shape == (21, 3, 2) and log_prob.shape == entropy.shape == (21, 3)
    assert torch.all(actions.abs() <= 1)
    # a plain backward: the imagined states carry the actor's gradient through the dynamics, so
    # the world model's imagination weights are on its path (imagine itself shields nothing: the
    # actor-critic step must keep that gradient out of the world model, tested below)
    feats[-1].sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in actor.parameters())
    assert wm.rssm.gru.linear_h.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("discrete", [False, True], ids=["dynamics", "reinforce"])
def test_the_actor_critic_step_gives_the_world_model_no_gradient(discrete):
    """ActorCritic.train_step right after a world-model step: the actor and critic train, and the
    world model's parameters and their gradients (left by its own step) are exactly as before."""
    torch.manual_seed(0)
    cfg = make_config("tiny")
    wm = WorldModel(cfg.world_model, obs_dim=3, act_dim=2)
    wm_cfg = cfg.world_model
    ac = ActorCritic(
        cfg.behavior,
        wm.feat_dim,
        2,
        discrete,
        wm_cfg.head_units,
        wm_cfg.head_layers,
        wm_cfg.bins,
        wm_cfg.unimix,
    )
    batch = _batch()
    gen = torch.Generator().manual_seed(0)
    for _ in range(2):  # the second time with nonzero reward / critic output layers
        _, post = wm.train_step(batch, gen)
        before = {n: (p.detach().clone(), p.grad.clone()) for n, p in wm.named_parameters()}
        actor_before = [p.detach().clone() for p in ac.actor.parameters()]
        ac.train_step(wm, post, batch.is_terminal, gen)
        for name, p in wm.named_parameters():
            value, grad = before[name]
            assert torch.equal(p, value), name
            assert torch.equal(p.grad, grad), f"{name} got a gradient from the actor-critic step"
        assert any(not torch.equal(p, q) for p, q in zip(ac.actor.parameters(), actor_before))


def test_reward_head_on_the_deterministic_state_only():
    """``reward_from_deter``: the reward does not depend on z, in the loss and in imagination,
    before and after training steps (the masked weights stay zero)."""
    cfg = make_config("tiny", reward_from_deter=True)
    torch.manual_seed(0)
    wm = WorldModel(cfg.world_model, 3, 2)
    ac = ActorCritic(cfg.behavior, wm.feat_dim, 2, False, 32, 1, cfg.world_model.bins, 0.01)
    D = cfg.world_model.deter
    g = torch.Generator().manual_seed(1)
    for _ in range(3):
        _, post = wm.train_step(_batch(), g)
        ac.train_step(wm, post, _batch().is_terminal, g)
    feat = torch.randn(5, wm.feat_dim)
    other = feat.clone()
    other[:, D:] = torch.randn(5, wm.feat_dim - D)
    torch.testing.assert_close(wm.reward_head(feat), wm.reward_head(other))
    # the fused imagination path (first layers of several heads as one matmul) agrees
    fused = layers.input_gradient_mlps(other, (wm.reward_head.net, wm.continue_head.net))[0]
    torch.testing.assert_close(fused, wm.reward_head(feat))
    # ... while the default head reads z
    plain = WorldModel(make_config("tiny").world_model, 3, 2)
    for _ in range(3):
        plain.train_step(_batch(), g)
    assert not torch.allclose(plain.reward_head(feat), plain.reward_head(other))


def test_gru_update_gate_initialisation():
    """DreamerV3's -1 by default; ``gru_chrono=T``: time scales 1 / sigmoid(bias) log-uniform on
    [2, T], different per unit, from the model's seed."""
    default = WorldModel(make_config("tiny").world_model, 3, 2)
    D = default.rssm.deter
    assert torch.all(default.rssm.gru.norm.bias[2 * D :] == -1.0)
    torch.manual_seed(0)
    cfg = make_config("tiny", deter=512, gru_chrono=300)
    chrono = WorldModel(cfg.world_model, 3, 2).rssm.gru.norm.bias[2 * 512 :].detach()
    tau = 1.0 / torch.sigmoid(chrono)
    assert tau.min() >= 2.0 - 1e-4 and tau.max() <= 300.0 + 1e-3
    # log-uniform: about half the units below sqrt(2 * 300) ~ 24.5 steps
    assert 0.4 < (tau < 600**0.5).float().mean() < 0.6
    assert tau.max() > 150 and tau.min() < 3
    with pytest.raises(ValueError, match="chrono"):
        WorldModel(make_config("tiny", gru_chrono=2).world_model, 3, 2)
