"""Linear layers on oneDNN-packed weights inside the training updates (CPU, float32).

On the CPU PyTorch runs a float32 ``F.linear`` as an MKL sgemm, which copies the weight into its
blocked layout at every call (and on AMD CPUs runs AVX2 code). oneDNN (PyTorch's ``mkldnn`` ops, the
ones ``torch.compile`` uses for frozen Linears) multiplies by a weight packed once, with AVX-512
where the CPU has it: 1.2-1.45x faster on the update's shapes on the 2-core development machine
(4,800 x 512 x 512: 142 -> 205 GFLOP/s), and the Point Robot update 4-12 % faster
(``benchmarks/agent_throughput.py``, docs/agent.md).

Within :func:`packed_weights` (the world-model and actor-critic update steps enter it),
:class:`Linear` and :func:`linear` compute the output and the input gradient of large products on
packed weights (``W``, and ``W^T`` for the input gradient, each packed at most once per block and
weight version): at least :data:`MIN_MACS` multiply-adds over a depth of at least
:data:`MIN_DEPTH`, where oneDNN wins by more than the packing costs (~0.1-0.2 ms a weight here;
smaller products, as in the ``cpu`` presets, stay on MKL). The weight gradient stays one matmul.
Everywhere else (acting, user code, other devices and dtypes, autocast, builds without the ops)
they are ``F.linear``. Results agree with ``F.linear`` up to float32 rounding (sums in another order).
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

__all__ = [
    "Linear",
    "linear",
    "worth_packing",
    "packed_weights",
    "onednn_packing_available",
    "pack_weight",
    "autocast_enabled",
    "MIN_MACS",
    "MIN_DEPTH",
]

#: Products (the output or the input gradient) of fewer multiply-adds, or ...
MIN_MACS = 1 << 27
#: ... of a shorter depth (the summed dimension) run on MKL: there packing a weight costs about as
#: much as it saves, or MKL is the faster one (4,800 x 64 x 512: 1.9 ms, oneDNN 2.0 ms).
MIN_DEPTH = 128


@dataclass
class _Packs:
    weight: torch.Tensor  # held, so that no other tensor takes its id while the entry lives
    version: int
    forward: torch.Tensor | None = None  # W (out, in), packed
    transposed: torch.Tensor | None = None  # W^T (in, out), packed, for input gradients


class _State(threading.local):
    packs: dict[int, _Packs] | None = None  # the packs of this thread's packed_weights block


_state = _State()


@contextlib.contextmanager
def packed_weights() -> Iterator[None]:
    """Run large float32 CPU Linears inside the block on oneDNN-packed weights.

    A weight is packed at its first use in the block, and again only after an in-place change (its
    version counter moves); the packs are dropped at the end of the block. A nested block shares
    the outer block's packs; each thread has its own. Backward passes run inside the block reuse
    them.
    """
    outer = _state.packs
    _state.packs = {} if outer is None else outer
    try:
        yield
    finally:
        _state.packs = outer


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``F.linear(x, weight, bias)``; inside :func:`packed_weights`, with everything float32 on the
    CPU and autocast off, its output and input gradient on packed weights where they are large
    (:func:`worth_packing`)."""
    if _state.packs is None or not _packable(x, weight, bias):
        return F.linear(x, weight, bias)
    rows, (width, depth) = x.numel() // x.shape[-1], weight.shape
    forward = worth_packing(rows, depth, width)
    backward = x.requires_grad and worth_packing(rows, width, depth)
    if not (forward or backward):
        return F.linear(x, weight, bias)
    return _PackedLinear.apply(x, weight, bias, forward, backward)


def worth_packing(rows: int, depth: int, width: int) -> bool:
    """Whether a (rows x depth) @ (depth x width) product runs on a packed weight: at least
    :data:`MIN_MACS` multiply-adds and a depth of at least :data:`MIN_DEPTH`."""
    return depth >= MIN_DEPTH and rows * depth * width >= MIN_MACS


class Linear(nn.Linear):
    """``nn.Linear`` (same parameters, initialisation and state-dict keys) whose forward is
    :func:`linear`: on packed weights inside :func:`packed_weights`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)


def autocast_enabled(device_type: str) -> bool:
    """Whether autocast is on for ``device_type`` (also on torch < 2.4)."""
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4
        return torch.is_autocast_enabled() or torch.is_autocast_cpu_enabled()


@functools.cache
def onednn_packing_available(device_type: str, dtype: torch.dtype) -> bool:
    """Whether oneDNN's packed float32 Linear works here (probed once per device type and dtype)."""
    if device_type != "cpu" or dtype != torch.float32 or not torch.backends.mkldnn.is_available():
        return False
    try:
        w, x = torch.ones(3, 2), torch.ones(1, 2)
        packed = torch.ops.mkldnn._reorder_linear_weight(w, 1)
        y = torch.ops.mkldnn._linear_pointwise.binary(x, torch.ones(1, 3), packed, None, "add")
        return bool(torch.equal(y, torch.full((1, 3), 3.0)))
    except (AttributeError, RuntimeError):  # a build without the (private) ops
        return False


def pack_weight(weight: torch.Tensor, rows: int | None = None) -> torch.Tensor:
    """``weight`` (out, in), detached, packed by oneDNN for ``x @ weight^T`` (``rows``: a hint of
    the inputs' row count); check :func:`onednn_packing_available` first."""
    return torch.ops.mkldnn._reorder_linear_weight(weight.detach().contiguous(), rows)


def _packable(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> bool:
    return (
        x.dim() >= 2
        and x.dtype == weight.dtype == torch.float32
        and (bias is None or bias.dtype == torch.float32)
        and x.device.type == weight.device.type == "cpu"
        and x.numel() > 0
        and not autocast_enabled("cpu")
        and onednn_packing_available("cpu", torch.float32)
    )


def _packed(weight: torch.Tensor, transposed: bool) -> torch.Tensor:
    """``weight`` (or its transpose) packed by oneDNN, from the packs of the current block."""

    def pack() -> torch.Tensor:
        return pack_weight(weight.t() if transposed else weight)

    packs = _state.packs
    if packs is None:  # a backward pass run after its block ended
        return pack()
    entry = packs.get(id(weight))
    if entry is None or entry.weight is not weight or entry.version != weight._version:
        entry = packs[id(weight)] = _Packs(weight, weight._version)
    if transposed:
        if entry.transposed is None:
            entry.transposed = pack()
        return entry.transposed
    if entry.forward is None:
        entry.forward = pack()
    return entry.forward


def _onednn_linear(
    x: torch.Tensor, packed: torch.Tensor, bias: torch.Tensor | None
) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise.default(x, packed, bias, "none", [], "")


def _weight_grad(dy_rows: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return dy_rows.t() @ x.reshape(-1, x.shape[-1])


def _will_run(ctx: Any, i: int) -> bool:
    """Whether the backward pass needs the gradient of input ``i``.

    ``ctx.needs_input_grad`` says only whether the input requires a gradient. A pass restricted by
    ``backward(inputs=...)`` (the actor's loss, through the world model's frozen layers) needs fewer:
    PyTorch's own nodes skip the others, and so does this one, by asking the engine whether it will
    run the input's node (the private hook ``torch.utils.checkpoint`` uses; without it, every
    gradient that is required is computed).
    """
    if not ctx.needs_input_grad[i]:
        return False
    node = ctx.next_functions[i][0]
    if node is None:
        return False
    try:
        return bool(torch._C._will_engine_execute_node(node))
    except (AttributeError, RuntimeError):
        return True


class _PackedLinear(torch.autograd.Function):
    """y = x W^T + b with the output's and (or) the input gradient's matmuls on packed weights."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        packed_forward: bool,
        packed_backward: bool,
    ) -> torch.Tensor:
        # x is needed only for the weight gradient
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, weight)
        ctx.packed_backward = packed_backward
        if packed_forward:
            return _onednn_linear(x.contiguous(), _packed(weight, False), bias)
        return F.linear(x, weight, bias)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, dy: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = (_will_run(ctx, i) for i in range(3))
        dy = dy.contiguous()
        dy_rows = dy.reshape(-1, dy.shape[-1])
        dx = None
        if need_x and ctx.packed_backward:
            dx = _onednn_linear(dy, _packed(weight, True), None)
        elif need_x:
            dx = dy @ weight
        dw = _weight_grad(dy_rows, x) if need_w else None
        db = dy_rows.sum(0) if need_b else None
        return dx, dw, db, None, None
