"""The RSSM posterior loop over a whole sequence as one autograd node, with a hand-written backward.

:meth:`RSSM.observe <mamba_agent.world_model.rssm.RSSM.observe>` runs T small recurrent steps. Under
plain autograd every step records ~30 graph nodes and its backward runs ~80 small kernels; on a CPU
the per-op overhead, not the arithmetic, then dominates (B = 16 rows per step). :func:`posterior_scan`
runs the forward loop without a graph, keeps what the backward needs in (T, ...) buffers, and in the
backward walks the steps in reverse with the chain rule written out (fused ATen backward kernels of
LayerNorm, SiLU, sigmoid, tanh and softmax), adding the weight and LayerNorm-affine gradients once
per chunk of ~1,024 rows (one matmul each; fixed-size temporaries, so linear in T). Same function
and same gradients as the plain loop (tests compare them in float64 and float32). On the CPU the
same two loops run in C++ (``mamba_agent/nn/kernels.cpp``, see :mod:`mamba_agent.nn.kernels`),
with the step's elementwise work fused; the Python loops below run elsewhere and as the fallback.
The recurrent matmul h W_h^T uses a weight packed once per pass (:func:`recurrent_linear`).

One step, for the state (h, z) after the reset to the initial state at ``is_first``:

    u = z W_z^T + a_proj[t];  x = silu(LN_1(u))
    g = x W_x^T + h W_h^T;    r, c, v = LN_2(g);  h' = lerp(h, tanh(sigmoid(r) c), sigmoid(v))
    q = h' W_oh^T + e_proj[t];  y = silu(LN_3(q));  logits = y W_out^T + b_out
    z' = onehot(argmax(log p + noise)) + p - sg(p),  p = (1 - unimix) softmax(logits) + unimix / C
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from mamba_agent.nn.kernels import native_kernels_available
from mamba_agent.nn.packed_linear import onednn_packing_available, pack_weight

__all__ = ["ScanWeights", "posterior_scan", "recurrent_linear"]

_aten = torch.ops.aten


@dataclass
class ScanWeights:
    """The parameters one posterior step uses (tensors of the RSSM's modules, not copies)."""

    w_z: torch.Tensor  # (H, L) img_in_z
    ln1_w: torch.Tensor  # (H,)
    ln1_b: torch.Tensor
    w_x: torch.Tensor  # (3D, H) gru.linear_x
    w_h: torch.Tensor  # (3D, D) gru.linear_h
    ln2_w: torch.Tensor  # (3D,)
    ln2_b: torch.Tensor
    w_oh: torch.Tensor  # (H, D) obs_h
    ln3_w: torch.Tensor  # (H,)
    ln3_b: torch.Tensor
    w_out: torch.Tensor  # (L, H) obs_logits
    b_out: torch.Tensor  # (L,)

    def tensors(self) -> tuple[torch.Tensor, ...]:
        return tuple(self.__dict__.values())


def posterior_scan(
    act_proj: torch.Tensor,
    emb_proj: torch.Tensor,
    noise: torch.Tensor,
    is_first: torch.Tensor,
    start: tuple[torch.Tensor, torch.Tensor],
    init: tuple[torch.Tensor, torch.Tensor],
    weights: ScanWeights,
    classes: int,
    unimix: float,
    eps: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Posterior states of T steps, time-major.

    Args: ``act_proj`` (T, B, H) = the action projection of a_{t-1} (zero where ``is_first``),
    ``emb_proj`` (T, B, H) = the embedding projection, ``noise`` (T, B, S, C) Gumbel noise,
    ``is_first`` (T, B) bool, ``start`` / ``init`` (h (B, D), z (B, L)) the state before step 0
    and the state that ``is_first`` resets to, ``eps`` the LayerNorms' epsilon.
    Returns deter (T, B, D), stoch (T, B, L) (straight-through one-hot) and logits (T, B, L).
    """
    return _PosteriorScan.apply(
        classes,
        unimix,
        eps,
        is_first.any(1).tolist(),
        is_first.unsqueeze(-1),
        noise,
        act_proj,
        emb_proj,
        *start,
        *init,
        *weights.tensors(),
    )


class _PosteriorScan(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        classes: int,
        unimix: float,
        eps: float,
        resets: list[bool],
        first: torch.Tensor,
        noise: torch.Tensor,
        act_proj: torch.Tensor,
        emb_proj: torch.Tensor,
        h_start: torch.Tensor,
        z_start: torch.Tensor,
        h_init: torch.Tensor,
        z_init: torch.Tensor,
        *params: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        ctx.resets, ctx.classes, ctx.unimix = resets, classes, unimix
        ctx.native = native_kernels_available(act_proj.device.type, act_proj.dtype)
        if ctx.native:
            T, B, _ = act_proj.shape
            out = torch.ops.mamba_agent_kernels.scan_forward(
                act_proj.contiguous(),
                emb_proj.contiguous(),
                noise.exp().reshape(T, B, -1).to(act_proj.dtype).contiguous(),  # exponential race
                first,
                torch.tensor(resets, dtype=torch.bool),
                h_start,
                z_start,
                h_init,
                z_init,
                list(params),
                _packed_weight(params[4], B),  # w_h
                classes,
                unimix,
                eps,
            )
            ctx.save_for_backward(first, *out, *params)
            return out[0], out[1], out[2]
        w = ScanWeights(*params)
        T, B, H = act_proj.shape
        D, L = h_start.shape[-1], z_start.shape[-1]
        S = L // classes
        new = act_proj.new_empty
        # what the backward needs: every matmul's input, every LayerNorm's input, output and stats
        h_prev, z_prev = new(T, B, D), new(T, B, L)
        u_all, a1_all, x_all = new(T, B, H), new(T, B, H), new(T, B, H)
        g_all, n_all, gates = new(T, B, 3 * D), new(T, B, 3 * D), new(T, B, 3 * D)
        q_all, a3_all, y_all = new(T, B, H), new(T, B, H), new(T, B, H)
        stats = new(T, 6, B, 1)  # mean and rstd of the three LayerNorms
        deter, logits, soft = new(T, B, D), new(T, B, L), new(T, B, L)
        stoch = act_proj.new_zeros(T, B, L)  # one-hot rows: one scatter per step
        w_zt, w_xt, w_oht, w_outt = w.w_z.t(), w.w_x.t(), w.w_oh.t(), w.w_out.t()
        h_proj = recurrent_linear(w.w_h, B)  # h W_h^T, the largest per-step matmul
        h, z = h_start, z_start
        for t in range(T):
            if resets[t]:
                h = torch.where(first[t], h_init, h)
                z = torch.where(first[t], z_init, z)
            h_prev[t], z_prev[t] = h, z
            u = torch.addmm(act_proj[t], z, w_zt, out=u_all[t])
            a1_all[t], stats[t, 0], stats[t, 1] = _aten.native_layer_norm(
                u, (H,), w.ln1_w, w.ln1_b, eps
            )
            x = _silu(a1_all[t], x_all[t])
            g = torch.addmm(h_proj(h, None), x, w_xt, out=g_all[t])
            n_all[t], stats[t, 2], stats[t, 3] = _aten.native_layer_norm(
                g, (3 * D,), w.ln2_w, w.ln2_b, eps
            )
            n = n_all[t]
            s = torch.sigmoid(n[:, :D], out=gates[t, :, :D])
            cand = torch.tanh(s * n[:, D : 2 * D], out=gates[t, :, D : 2 * D])
            upd = torch.sigmoid(n[:, 2 * D :], out=gates[t, :, 2 * D :])
            h = torch.lerp(h, cand, upd, out=deter[t])
            q = torch.addmm(emb_proj[t], h, w_oht, out=q_all[t])
            a3_all[t], stats[t, 4], stats[t, 5] = _aten.native_layer_norm(
                q, (H,), w.ln3_w, w.ln3_b, eps
            )
            y = _silu(a3_all[t], y_all[t])
            lg = torch.addmm(w.b_out, y, w_outt, out=logits[t]).view(B, S, classes)
            p = torch.softmax(lg, -1)
            soft[t] = p.view(B, L)
            probs = p * (1.0 - unimix) + unimix / classes
            index = (torch.log(probs) + noise[t]).argmax(-1, keepdim=True)
            z = stoch[t].view(B, S, classes).scatter_(-1, index, 1.0).view(B, L)
        ctx.save_for_backward(
            first, h_prev, z_prev, u_all, a1_all, x_all, g_all, n_all, gates, q_all, a3_all,
            y_all, stats, deter, soft, *params,
        )  # fmt: skip
        return deter, stoch, logits

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: Any, g_deter: torch.Tensor, g_stoch: torch.Tensor, g_logits: torch.Tensor
    ) -> tuple[torch.Tensor | None, ...]:
        saved = ctx.saved_tensors
        if ctx.native:
            return _native_backward(ctx, saved, g_deter, g_stoch, g_logits)
        first, h_prev, z_prev, u_all, a1_all, x_all, g_all, n_all, gates = saved[:9]
        q_all, a3_all, y_all, stats, deter, soft = saved[9:15]
        w = ScanWeights(*saved[15:])
        resets, classes, unimix = ctx.resets, ctx.classes, ctx.unimix
        T, B, D = deter.shape
        H, L = u_all.shape[-1], soft.shape[-1]
        S = L // classes
        g_deter = torch.zeros_like(deter) if g_deter is None else g_deter
        g_stoch = torch.zeros_like(soft) if g_stoch is None else g_stoch
        g_logits = torch.zeros_like(soft) if g_logits is None else g_logits
        # d_u, d_q: the input gradients of act_proj and emb_proj; the others are kept for one
        # chunk of K steps, whose weight gradients are then added with one matmul each
        K = max(1, _CHUNK_ROWS // B)
        new = deter.new_empty
        d_u, d_q = new(T, B, H), new(T, B, H)
        d_a1, d_a3, d_lg = new(K, B, H), new(K, B, H), new(K, B, L)
        d_n, d_g = new(K, B, 3 * D), new(K, B, 3 * D)
        grads = [torch.zeros_like(p) for p in w.tensors()]
        acc = ScanWeights(*grads)
        input_only = [True, False, False]
        d_h_init, d_z_init = torch.zeros_like(deter[0]), torch.zeros_like(soft[0])
        d_h, d_z = torch.zeros_like(deter[0]), torch.zeros_like(soft[0])  # from step t + 1
        d_g_w_h = recurrent_linear(w.w_h.t(), B)  # d_g W_h, the largest per-step matmul
        for t in range(T - 1, -1, -1):
            j, st = t % K, stats[t]
            # z_t = onehot + p - sg(p) with p = (1 - unimix) softmax + unimix / C
            d_p = ((g_stoch[t] + d_z) * (1.0 - unimix)).view(B, S, classes)
            d_soft = _aten._softmax_backward_data(d_p, soft[t].view(B, S, classes), -1, d_p.dtype)
            d_logit = torch.add(d_soft.view(B, L), g_logits[t], out=d_lg[j])
            d_a3[j] = _aten.silu_backward(d_logit @ w.w_out, a3_all[t])
            d_q[t] = _aten.native_layer_norm_backward(
                d_a3[j], q_all[t], (H,), st[4], st[5], w.ln3_w, w.ln3_b, input_only
            )[0]
            d_h = torch.addmm(g_deter[t] + d_h, d_q[t], w.w_oh)  # all of dL/dh_t
            # h_t = lerp(h_{t-1}, tanh(s * n_c), upd) with s = sigmoid(n_r), upd = sigmoid(n_v)
            s, cand, upd = gates[t].split(D, -1)
            d_cand = d_h * upd
            dn = d_n[j]
            dn[:, 2 * D :] = _aten.sigmoid_backward(d_h * (cand - h_prev[t]), upd)
            d_sc = _aten.tanh_backward(d_cand, cand)
            dn[:, D : 2 * D] = d_sc * s
            dn[:, :D] = _aten.sigmoid_backward(d_sc * n_all[t][:, D : 2 * D], s)
            d_g[j] = _aten.native_layer_norm_backward(
                dn, g_all[t], (3 * D,), st[2], st[3], w.ln2_w, w.ln2_b, input_only
            )[0]
            d_hp = d_g_w_h(d_g[j], d_h - d_cand)
            d_a1[j] = _aten.silu_backward(d_g[j] @ w.w_x, a1_all[t])
            d_u[t] = _aten.native_layer_norm_backward(
                d_a1[j], u_all[t], (H,), st[0], st[1], w.ln1_w, w.ln1_b, input_only
            )[0]
            d_zp = d_u[t] @ w.w_z
            if resets[t]:  # rows reset at t took h_{t-1}, z_{t-1} from the initial state
                f = first[t]
                d_h_init += torch.where(f, d_hp, 0.0)
                d_z_init += torch.where(f, d_zp, 0.0)
                d_hp = torch.where(f, 0.0, d_hp)
                d_zp = torch.where(f, 0.0, d_zp)
            d_h, d_z = d_hp, d_zp
            if j == 0:  # the chunk t .. t + n - 1 is complete
                n = min(K, T - t)
                c = slice(t, t + n)
                _add_mm(acc.w_z, d_u[c], z_prev[c])
                _add_layer_norm_affine(acc.ln1_w, acc.ln1_b, d_a1[:n], u_all[c], stats[c, 0:2])
                _add_mm(acc.w_x, d_g[:n], x_all[c])
                _add_mm(acc.w_h, d_g[:n], h_prev[c])
                _add_layer_norm_affine(acc.ln2_w, acc.ln2_b, d_n[:n], g_all[c], stats[c, 2:4])
                _add_mm(acc.w_oh, d_q[c], deter[c])
                _add_layer_norm_affine(acc.ln3_w, acc.ln3_b, d_a3[:n], q_all[c], stats[c, 4:6])
                _add_mm(acc.w_out, d_lg[:n], y_all[c])
                acc.b_out += d_lg[:n].sum((0, 1))
        return (
            None, None, None, None, None, None,  # classes, unimix, eps, resets, first, noise
            d_u, d_q,  # act_proj, emb_proj
            d_h, d_z,  # start
            d_h_init, d_z_init,  # init
            *grads,
        )  # fmt: skip


#: Rows (steps x batch) per chunk of the backward's weight-gradient matmuls: large enough for
#: efficient matmuls, small enough that the chunk buffers stay in cache and off the page allocator.
_CHUNK_ROWS = 1024


def recurrent_linear(
    weight: torch.Tensor, rows: int
) -> Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]:
    """``f(x, other) = x @ weight^T (+ other)`` for one weight (out, in) applied at every step of a
    loop to ``rows`` x in inputs.

    On CPUs in float32 the weight is packed once by oneDNN (PyTorch's ``mkldnn`` ops, as
    ``torch.compile`` uses them for frozen Linears), so the steps skip the per-call repacking that
    dominates a 16-row matmul (~1.7x faster on 16 x 512 x 1,536 here); the sum is accumulated in
    another order than ``addmm``'s (float32 rounding). Elsewhere, or when the ops are missing, addmm.
    """
    packed = _packed_weight(weight, rows)
    if packed is not None:
        plain = torch.ops.mkldnn._linear_pointwise.default
        binary = torch.ops.mkldnn._linear_pointwise.binary

        def packed_linear(x: torch.Tensor, other: torch.Tensor | None) -> torch.Tensor:
            if other is None:
                return plain(x, packed, None, "none", [], "")
            return binary(x, other, packed, None, "add")

        return packed_linear
    weight_t = weight.detach().t()

    def linear(x: torch.Tensor, other: torch.Tensor | None) -> torch.Tensor:
        return torch.mm(x, weight_t) if other is None else torch.addmm(other, x, weight_t)

    return linear


def _packed_weight(weight: torch.Tensor, rows: int) -> torch.Tensor | None:
    """``weight`` (out, in) packed by oneDNN for ``rows``-row inputs, or None where not available."""
    if not onednn_packing_available(weight.device.type, weight.dtype):
        return None
    return pack_weight(weight, rows)


def _native_backward(
    ctx: Any,
    saved: tuple[torch.Tensor, ...],
    g_deter: torch.Tensor | None,
    g_stoch: torch.Tensor | None,
    g_logits: torch.Tensor | None,
) -> tuple[torch.Tensor | None, ...]:
    """The C++ backward (``mamba_agent/nn/kernels.cpp``) of the C++ forward's saved tensors."""
    first, out, params = saved[0], saved[1:16], saved[16:]
    deter, soft = out[0], out[14]
    g_deter = torch.zeros_like(deter) if g_deter is None else g_deter
    g_stoch = torch.zeros_like(soft) if g_stoch is None else g_stoch
    g_logits = torch.zeros_like(soft) if g_logits is None else g_logits
    grads = torch.ops.mamba_agent_kernels.scan_backward(
        list(out),
        first,
        torch.tensor(ctx.resets, dtype=torch.bool),
        g_deter,
        g_stoch,
        g_logits,
        list(params),
        _packed_weight(params[4].t(), deter.shape[1]),  # d_g W_h
        ctx.classes,
        ctx.unimix,
        _CHUNK_ROWS,
    )
    # classes, unimix, eps, resets, first, noise; act_proj, emb_proj, start, init, weights
    return (None,) * 6 + tuple(grads)


def _add_mm(acc: torch.Tensor, d_out: torch.Tensor, x: torch.Tensor) -> None:
    """acc += d_out^T x over all leading dims (a Linear's weight gradient)."""
    acc.addmm_(d_out.reshape(-1, d_out.shape[-1]).t(), x.reshape(-1, x.shape[-1]))


def _add_layer_norm_affine(
    acc_w: torch.Tensor, acc_b: torch.Tensor, d_out: torch.Tensor, x: torch.Tensor, st: torch.Tensor
) -> None:
    """Add a LayerNorm's weight and bias gradients over (K, B) rows; ``st`` (K, 2, B, 1) holds the
    mean and rstd of each row."""
    acc_w += (d_out * ((x - st[:, 0]) * st[:, 1])).sum((0, 1))
    acc_b += d_out.sum((0, 1))


def _silu(a: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    return _aten.silu.out(a, out=out)
