"""Pure functions against hand-computed examples."""

from __future__ import annotations

import math

import pytest
import torch

from mamba_agent.behavior.returns import (
    ReturnNormalizer,
    imagination_weights,
    lambda_returns,
    percentile_update,
)
from mamba_agent.data.replay import wm_horizon
from mamba_agent.nn.distributions import (
    BoundedNormal,
    onehot_straight_through,
    symlog_bins,
    twohot_decode,
    twohot_encode,
    twohot_loss,
    unimix_probs,
)
from mamba_agent.nn.functions import symexp, symlog
from mamba_agent.world_model.loss import (
    categorical_kl,
    gather_time,
    kl_balance_loss,
    local_window_targets,
    subsample_indices,
)

E1 = math.e - 1.0


def test_symlog_symexp_values():
    x = torch.tensor([0.0, E1, -E1, math.e**2 - 1])
    assert torch.allclose(symlog(x), torch.tensor([0.0, 1.0, -1.0, 2.0]))
    assert torch.allclose(symexp(torch.tensor([0.0, 1.0, -1.0, 2.0])), x)
    y = torch.linspace(-50, 50, 101)
    assert torch.allclose(symexp(symlog(y)), y, atol=1e-3)


def test_twohot_encode_hand_example():
    bins = torch.tensor([-1.0, 0.0, 1.0, 2.0])
    enc = twohot_encode(torch.tensor([0.25, -5.0, 2.0, 1.0, 7.0]), bins)
    expected = torch.tensor(
        [[0, 0.75, 0.25, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0], [0, 0, 0, 1]]
    )
    assert torch.allclose(enc, expected)
    assert torch.allclose(enc.sum(-1), torch.ones(5))


def test_twohot_decode_and_loss():
    bins = torch.tensor([-1.0, 0.0, 1.0, 2.0])
    logits = torch.log(torch.tensor([1e-9, 0.75, 0.25, 1e-9]))
    assert twohot_decode(logits, bins, symlog_space=False).item() == pytest.approx(0.25, abs=1e-6)
    assert twohot_decode(logits, bins).item() == pytest.approx(math.expm1(0.25), abs=1e-6)
    # under p = [0.1, 0.2, 0.3, 0.4] (unnormalised logits): a target r with symlog(r) = 0.25 weighs
    # bins 0 and 1 by 0.75 / 0.25, so its loss is 0.75 * -log 0.2 + 0.25 * -log 0.3; beyond the last
    # bin all weight is on it, below the first on the first, and on a bin only that bin counts
    p = torch.tensor([0.1, 0.2, 0.3, 0.4])
    targets = symexp(torch.tensor([0.25, 0.5, 5.0, -3.0, 1.0]))
    loss = twohot_loss(torch.log(p).expand(5, 4) + 1.7, targets, bins)
    lg = [math.log(v) for v in (0.1, 0.2, 0.3, 0.4)]
    expected = [-0.75 * lg[1] - 0.25 * lg[2], -0.5 * lg[1] - 0.5 * lg[2], -lg[3], -lg[0], -lg[2]]
    assert loss.tolist() == pytest.approx(expected, abs=1e-6)
    assert symlog_bins(255)[0] == -20 and symlog_bins(255)[-1] == 20 and symlog_bins(255)[127] == 0


def test_twohot_loss_is_the_cross_entropy_with_the_twohot_encoding():
    torch.manual_seed(0)
    bins = symlog_bins(15, -3.0, 3.0)
    logits = torch.randn(5, 6, 15, requires_grad=True)
    # inside the range, on bin centres, and beyond both ends
    target = torch.cat([torch.randn(5, 5) * 4, torch.full((5, 1), -100.0)], 1)
    target[0, 0] = symexp(bins[3])
    loss = twohot_loss(logits, target, bins)
    (grad,) = torch.autograd.grad(loss.sum(), logits)
    dense = -(twohot_encode(symlog(target), bins) * torch.log_softmax(logits, -1)).sum(-1)
    (dense_grad,) = torch.autograd.grad(dense.sum(), logits)
    assert torch.allclose(loss, dense, atol=1e-5)
    assert torch.allclose(grad, dense_grad, atol=1e-6)


def test_unimix_categorical():
    probs = unimix_probs(torch.tensor([0.0, math.log(3.0)]), 0.01)
    assert torch.allclose(probs, torch.tensor([0.99 * 0.25 + 0.005, 0.99 * 0.75 + 0.005]))
    logits = torch.tensor([[0.0, 2.0, 1.0]], requires_grad=True)
    p = unimix_probs(logits, 0.01)
    sample = onehot_straight_through(p, mode=True)
    assert torch.allclose(sample.detach(), torch.tensor([[0.0, 1.0, 0.0]]), atol=1e-6)
    # straight-through: d(sample . w)/d logits equals d(p . w)/d logits
    w = torch.tensor([1.0, -2.0, 0.5])
    (g1,) = torch.autograd.grad((sample * w).sum(), logits, retain_graph=True)
    (g2,) = torch.autograd.grad((p * w).sum(), logits)
    assert torch.allclose(g1, g2)


def test_kl_balance_with_free_bits():
    # one variable, two classes: q = [.5, .5], p = [.25, .75]
    post = torch.log(torch.tensor([[[[0.5, 0.5]]]])).requires_grad_(True)
    prior = torch.log(torch.tensor([[[[0.25, 0.75]]]])).requires_grad_(True)
    kl = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    assert categorical_kl(post, prior, 0.0).item() == pytest.approx(kl, abs=1e-6)
    loss, metrics = kl_balance_loss(post, prior, 0.0, free_bits=1.0, dyn_scale=0.5, rep_scale=0.1)
    assert loss.item() == pytest.approx(0.6) and metrics["world_model/kl"] == pytest.approx(kl)
    assert metrics["world_model/posterior_entropy"] == pytest.approx(math.log(2))
    h_prior = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert metrics["world_model/prior_entropy"] == pytest.approx(h_prior, abs=1e-6)
    loss.backward()  # both terms below the free bits: no gradient
    assert post.grad.abs().sum() == 0 and prior.grad.abs().sum() == 0
    post.grad, prior.grad = None, None
    loss, _ = kl_balance_loss(post, prior, 0.0, free_bits=0.0, dyn_scale=0.5, rep_scale=0.1)
    assert loss.item() == pytest.approx(0.6 * kl, abs=1e-6)
    loss.backward()
    (g_post,) = torch.autograd.grad(categorical_kl(post, prior.detach(), 0.0), post)
    (g_prior,) = torch.autograd.grad(categorical_kl(post.detach(), prior, 0.0), prior)
    assert torch.allclose(post.grad, 0.1 * g_post) and torch.allclose(prior.grad, 0.5 * g_prior)


def test_lambda_returns_with_continue_flags():
    reward = torch.tensor([[1.0, 2.0]])
    value = torch.tensor([[0.0, 3.0, 4.0]])
    cont = torch.tensor([[1.0, 0.5]])
    ret = lambda_returns(reward, value, cont, gamma=0.9, lam=0.5)
    # R2 = 4; R1 = 2 + .9*.5*(.5*4 + .5*4) = 3.8; R0 = 1 + .9*1*(.5*3 + .5*3.8) = 4.06
    assert torch.allclose(ret, torch.tensor([[4.06, 3.8]]))
    # terminal (cont 0) cuts the bootstrap
    ret0 = lambda_returns(reward, value, torch.tensor([[0.0, 1.0]]), gamma=0.9, lam=0.5)
    assert ret0[0, 0].item() == pytest.approx(1.0)
    w = imagination_weights(torch.tensor([1.0]), torch.tensor([[1.0, 0.5, 0.2]]), 0.9)
    assert torch.allclose(w, torch.tensor([[1.0, 0.9, 0.9 * 0.9 * 0.5]]))


def test_percentile_return_normaliser():
    returns = torch.arange(101, dtype=torch.float32)  # P5 = 5, P95 = 95
    low, high, scale = percentile_update(torch.tensor(0.0), torch.tensor(0.0), returns, 0.99)
    assert low.item() == pytest.approx(0.05) and high.item() == pytest.approx(0.95)
    assert scale.item() == 1.0  # range 0.9 < 1: scale is at least 1
    low, high, scale = percentile_update(torch.tensor(0.0), torch.tensor(0.0), returns, 0.0)
    assert (low.item(), high.item(), scale.item()) == pytest.approx((5.0, 95.0, 90.0))
    norm = ReturnNormalizer(decay=0.5)
    norm.update(returns)
    assert norm.update(returns).item() == pytest.approx(0.75 * 90)
    assert set(norm.state_dict()) == {"low", "high"}


def test_horizon_schedule():
    assert wm_horizon(0, 50, 1000, 301) == 50
    assert wm_horizon(500, 50, 1000, 301) == 175  # 50 + 251 / 2, rounded down
    assert wm_horizon(1000, 50, 1000, 301) == 301
    assert wm_horizon(10**9, 50, 1000, 301) == 301
    assert wm_horizon(0, 50, 0, 301) == 301  # no schedule
    assert wm_horizon(0, 50, 1000, 20) == 20  # never longer than the sequence


def test_loss_subsampling():
    g = torch.Generator().manual_seed(0)
    idx = subsample_indices(3, 100, 8, g)
    assert idx.shape == (3, 8)
    for row in idx:
        assert torch.all(row[1:] > row[:-1]) and row.min() >= 0 and row.max() < 100
    assert not torch.equal(idx[0], idx[1])
    again = subsample_indices(3, 100, 8, torch.Generator().manual_seed(0))
    assert torch.equal(idx, again)
    assert torch.equal(subsample_indices(2, 5, 8), torch.arange(5).expand(2, 5))
    assert torch.equal(subsample_indices(2, 5, 0), torch.arange(5).expand(2, 5))
    x = torch.arange(10.0).reshape(1, 5, 2)
    assert torch.equal(
        gather_time(x, torch.tensor([[1, 3]])), torch.tensor([[[2.0, 3.0], [6.0, 7.0]]])
    )


def test_local_window_targets_and_masks():
    x = torch.tensor([[1.0, 2.0, 3.0]])
    targets, mask = local_window_targets(x, 3)
    assert torch.equal(targets, torch.tensor([[[1.0, 2.0, 3.0], [2.0, 3.0, 0.0], [3.0, 0.0, 0.0]]]))
    assert torch.equal(
        mask, torch.tensor([[[True, True, True], [True, True, False], [True, False, False]]])
    )
    obs = torch.arange(6.0).reshape(1, 3, 2)
    t, m = local_window_targets(obs, 2)
    assert t.shape == (1, 3, 2, 2) and torch.equal(t[0, 1, 1], obs[0, 2])
    assert torch.equal(t[0, 2, 1], torch.zeros(2)) and not m[0, 2, 1]


def test_bounded_normal_matches_torch_normal():
    raw = torch.tensor([[0.3, -2.0, 0.1, 0.5]])
    dist = BoundedNormal(raw, 0.1, 1.0)
    ref = torch.distributions.Normal(dist.mean, dist.std)
    x = torch.tensor([[0.2, -0.4]])
    assert torch.allclose(dist.log_prob(x), ref.log_prob(x).sum(-1))
    assert torch.allclose(dist.entropy(), ref.entropy().sum(-1))
    assert torch.all(dist.std >= 0.1) and torch.all(dist.std <= 1.0)
    sample = dist.rsample(torch.tensor([[10.0, -10.0]]))
    assert torch.equal(sample, torch.tensor([[1.0, -1.0]]))


@pytest.mark.parametrize("kernels", ["c++", "pytorch-ops"])
def test_layernorm_gru_cell_matches_dreamerv3_formula(monkeypatch, kernels):
    import mamba_agent.nn.layers as layers
    from mamba_agent.nn.layers import LayerNormGRUCell

    if kernels == "pytorch-ops":
        monkeypatch.setattr(layers, "native_kernels_available", lambda *args: False)
    torch.manual_seed(0)
    cell = LayerNormGRUCell(3, 4)
    x, h = torch.randn(2, 3), torch.randn(2, 4)
    weight = torch.cat([cell.linear_x.weight, cell.linear_h.weight], 1)  # one Linear on [x, h]
    normed = torch.nn.functional.layer_norm(
        torch.cat([x, h], -1) @ weight.T, (12,), cell.norm.weight, torch.zeros(12), 1e-3
    )
    reset, cand, update = normed.split(4, -1)
    cand = torch.tanh(torch.sigmoid(reset) * cand)
    update = torch.sigmoid(update - 1.0)
    assert torch.allclose(cell(x, h), update * cand + (1 - update) * h, atol=1e-6)


def test_deferred_linear_grad_matches_autograd():
    from mamba_agent.nn.layers import DeferredLinearGrad

    torch.manual_seed(0)
    lin = torch.nn.Linear(3, 3)
    x0 = torch.randn(2, 3, requires_grad=True)

    def loop(chunk_rows: int | None) -> list[torch.Tensor]:
        lin.zero_grad(set_to_none=True)
        x0.grad = None
        step = lin if chunk_rows is None else DeferredLinearGrad(lin, chunk_rows)
        h, outs = x0, []
        for _ in range(7):
            h = torch.tanh(step(h))
            outs.append(h)
        torch.stack(outs).square().sum().backward()
        return [lin.weight.grad.clone(), lin.bias.grad.clone(), x0.grad.clone()]

    # one chunk for all steps, chunks of 2 steps (4 rows: 7 steps leave a partial last chunk), 1 step
    for chunk_rows in (1024, 4, 1):
        for a, b in zip(loop(None), loop(chunk_rows)):
            assert torch.allclose(a, b, atol=1e-6)
