"""Linears on oneDNN-packed weights (mamba_agent/nn/packed_linear.py) against F.linear."""

from __future__ import annotations

import copy
import threading

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import mamba_agent.nn.packed_linear as pl
from mamba_agent.nn.packed_linear import Linear, linear, packed_weights, worth_packing

pytestmark = pytest.mark.skipif(
    not pl.onednn_packing_available("cpu", torch.float32), reason="oneDNN packing not available"
)


ROWS = 40
THRESHOLDS = (pl.MIN_MACS, pl.MIN_DEPTH)  # the library's, before the fixture below


@pytest.fixture(autouse=True)
def small_products(monkeypatch):
    """Pack products of any size (the tests' layers are small)."""
    monkeypatch.setattr(pl, "MIN_MACS", 1)
    monkeypatch.setattr(pl, "MIN_DEPTH", 1)


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


@pytest.mark.parametrize("shape", [(ROWS + 7, 24), (3, ROWS // 3 + 1, 24)])
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


def test_small_products_other_dtypes_and_autocast_run_f_linear(monkeypatch, packed_calls):
    torch.manual_seed(0)
    layer = Linear(8, 4)
    wide = torch.randn(ROWS, 8, dtype=torch.float64)
    with packed_weights():
        double = copy.deepcopy(layer).double()
        assert torch.equal(double(wide), F.linear(wide, double.weight, double.bias))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert layer(wide.float()).dtype == torch.bfloat16
        monkeypatch.setattr(pl, "MIN_MACS", ROWS * 8 * 4 + 1)
        small = torch.randn(ROWS, 8)
        assert torch.equal(layer(small), F.linear(small, layer.weight, layer.bias))
    assert packed_calls == []


def test_which_products_are_packed(monkeypatch):
    """With the library's thresholds: large products of enough depth (the paper-scale update's),
    not the small ones of the cpu presets or shallow ones, where MKL is as fast."""
    monkeypatch.setattr(pl, "MIN_MACS", THRESHOLDS[0])
    monkeypatch.setattr(pl, "MIN_DEPTH", THRESHOLDS[1])
    assert worth_packing(4800, 512, 1536)  # the GRU's h W_h^T in imagination
    assert worth_packing(9600, 128, 128)  # a head's second layer
    assert worth_packing(1024, 512, 512)  # the decoder on the sampled steps
    assert not worth_packing(4800, 128, 128)  # the cpu preset's encoder
    assert not worth_packing(4800, 64, 512)  # shallow: MKL is faster
    assert not worth_packing(4800, 4, 512)  # the encoder's first layer


def test_output_and_input_gradient_choose_separately(monkeypatch):
    """A shallow output with a deep input gradient: F.linear forward, packed W^T backward."""
    monkeypatch.setattr(pl, "MIN_DEPTH", 30)
    packs = []
    original = torch.ops.mkldnn._reorder_linear_weight

    class Spy:
        def __call__(self, *args):
            packs.append(tuple(args[0].shape))
            return original(*args)

    monkeypatch.setattr(torch.ops.mkldnn, "_reorder_linear_weight", Spy())
    torch.manual_seed(0)
    layer = Linear(24, 40)  # output depth 24 < 30, input-gradient depth 40
    x = torch.randn(ROWS, 24, requires_grad=True)
    target = torch.randn(ROWS, 40)
    with packed_weights():
        packed = _grads(layer, x, target)
    assert packs == [(24, 40)]  # W^T only
    plain = _grads(layer, x, target)
    for a, b in zip(packed, plain):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_a_weight_changed_in_place_is_packed_again():
    """The packs follow the weight's version counter (as an optimiser step changes it)."""
    torch.manual_seed(0)
    layer = Linear(16, 8, bias=False)
    x = torch.randn(ROWS, 16)
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
    x = torch.randn(ROWS, 16, requires_grad=True)
    with packed_weights():
        layer(x).sum().backward()
        with packed_weights():  # a nested block shares the packs
            layer(x).sum().backward()
    assert packs == [(8, 16), (16, 8)]  # W once, W^T once
    assert pl._state.packs is None
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
    x = torch.randn(ROWS, 16)
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
    x = torch.randn(2, ROWS, 12, requires_grad=True)
    weight = torch.randn(6, 12)
    with packed_weights():
        out = linear(x, weight)
        out.square().sum().backward()
    grad = x.grad
    x.grad = None
    F.linear(x, weight).square().sum().backward()
    torch.testing.assert_close(out, F.linear(x, weight), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(grad, x.grad, rtol=1e-4, atol=1e-4)


def test_each_thread_has_its_own_block(packed_calls):
    layer = Linear(24, 40)
    x = torch.randn(ROWS, 24)
    with packed_weights():
        other = threading.Thread(target=lambda: layer(x))
        other.start()
        other.join()
        assert packed_calls == []  # the other thread is in no block
        layer(x)
    assert len(packed_calls) == 1
