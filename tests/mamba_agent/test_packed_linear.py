"""Linears on oneDNN-packed weights (mamba_agent/nn/packed_linear.py) against F.linear."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import mamba_agent.nn.packed_linear as pl
from mamba_agent.nn.packed_linear import MIN_ROWS, Linear, linear, packed_weights

pytestmark = pytest.mark.skipif(
    not pl.onednn_packing_available("cpu", torch.float32), reason="oneDNN packing not available"
)


@pytest.fixture
def packed_calls(monkeypatch):
    """Counts the calls that take the packed path."""
    calls = []
    original = pl._PackedLinear.apply

    def spy(*args):
        calls.append(args[0].shape)
        return original(*args)

    monkeypatch.setattr(pl._PackedLinear, "apply", spy)
    return calls


def _grads(layer: nn.Linear, x: torch.Tensor, target: torch.Tensor) -> list[torch.Tensor]:
    layer.zero_grad(set_to_none=True)
    x.grad = None
    out = layer(x)
    ((out - target) ** 2).sum().backward()
    return [out.detach(), x.grad, layer.weight.grad, layer.bias.grad]


@pytest.mark.parametrize("shape", [(MIN_ROWS + 7, 24), (3, MIN_ROWS // 3 + 1, 24)])
def test_packed_linear_matches_f_linear(packed_calls, shape):
    """Output and gradients (input, weight, bias) as F.linear, for 2-D and 3-D inputs."""
    torch.manual_seed(0)
    layer = Linear(24, 40)
    x = torch.randn(*shape, requires_grad=True)
    target = torch.randn(*shape[:-1], 40)
    plain = _grads(layer, x, target)
    assert packed_calls == []  # outside the block: F.linear
    with packed_weights():
        packed = _grads(layer, x, target)
    assert len(packed_calls) == 1
    for a, b in zip(packed, plain):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_small_inputs_other_dtypes_and_autocast_run_f_linear(packed_calls):
    torch.manual_seed(0)
    layer = Linear(8, 4)
    small = torch.randn(MIN_ROWS - 1, 8)
    with packed_weights():
        assert torch.equal(layer(small), F.linear(small, layer.weight, layer.bias))
        wide = torch.randn(MIN_ROWS, 8, dtype=torch.float64)
        double = copy.deepcopy(layer).double()
        assert torch.equal(double(wide), F.linear(wide, double.weight, double.bias))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert layer(wide.float()).dtype == torch.bfloat16
    assert packed_calls == []


def test_a_weight_changed_in_place_is_packed_again():
    """The packs follow the weight's version counter (as an optimiser step changes it)."""
    torch.manual_seed(0)
    layer = Linear(16, 8, bias=False)
    x = torch.randn(MIN_ROWS, 16)
    with packed_weights(), torch.no_grad():
        before = layer(x)
        layer.weight.mul_(-2.0)
        after = layer(x)
    torch.testing.assert_close(after, -2.0 * before, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(after, F.linear(x, layer.weight), rtol=1e-5, atol=1e-5)


def test_packs_are_reused_within_a_block_and_dropped_after(monkeypatch):
    packs = []
    original = torch.ops.mkldnn._reorder_linear_weight

    class Spy:
        def __call__(self, *args):
            packs.append(args[0].shape)
            return original(*args)

    monkeypatch.setattr(torch.ops.mkldnn, "_reorder_linear_weight", Spy())
    layer = Linear(16, 8, bias=False)
    x = torch.randn(MIN_ROWS, 16, requires_grad=True)
    with packed_weights():
        layer(x).sum().backward()
        with packed_weights():  # a nested block shares the packs
            layer(x).sum().backward()
    assert packs == [(8, 16), (16, 8)]  # W once, W^T once
    assert pl._packs is None
    with packed_weights():
        layer(x)
    assert packs == [(8, 16), (16, 8), (8, 16)]


def test_backward_restricted_to_some_inputs_skips_the_other_gradients(monkeypatch):
    """``backward(inputs=...)`` (the actor's loss through the world model's layers) computes no
    weight gradient for the layers outside ``inputs``, as PyTorch's own Linear does not."""
    weight_grads = []
    original = pl._weight_grad

    def spy(*args):
        weight_grads.append(1)
        return original(*args)

    monkeypatch.setattr(pl, "_weight_grad", spy)
    torch.manual_seed(0)
    trained, frozen = Linear(16, 16), Linear(16, 4)  # the gradient passes the frozen layer
    x = torch.randn(MIN_ROWS, 16)
    with packed_weights():
        frozen(trained(x)).sum().backward(inputs=list(trained.parameters()))
    assert weight_grads == [1]  # the trained layer's only
    assert frozen.weight.grad is None and trained.weight.grad is not None
    with packed_weights():
        frozen(trained(x)).sum().backward()
    assert weight_grads == [1, 1, 1]


def test_linear_is_an_nn_linear_with_the_same_state_dict():
    torch.manual_seed(0)
    ours = Linear(5, 3)
    torch.manual_seed(0)
    theirs = nn.Linear(5, 3)
    assert isinstance(ours, nn.Linear)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()):
        assert torch.equal(a, b)  # same initialisation from the same seed
    copy.deepcopy(ours)  # the slow critic is a deep copy


def test_functional_linear_with_a_detached_weight():
    """``linear`` on a fresh detached weight (as ``input_gradient_mlps`` builds one per call)."""
    torch.manual_seed(0)
    x = torch.randn(2, MIN_ROWS, 12, requires_grad=True)
    weight = torch.randn(6, 12)
    with packed_weights():
        out = linear(x, weight)
        out.square().sum().backward()
    grad = x.grad
    x.grad = None
    F.linear(x, weight).square().sum().backward()
    torch.testing.assert_close(out, F.linear(x, weight), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(grad, x.grad, rtol=1e-4, atol=1e-4)
