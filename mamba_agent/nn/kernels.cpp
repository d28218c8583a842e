// CPU kernels of the world model, built on first use by mamba_agent/nn/kernels.py.
//
// 1. The RSSM posterior scan (scan_forward / scan_backward): the same forward and backward loops as
// the Python ones in world_model/posterior_scan.py (see its docstring for the step), without
// Python's per-op overhead and with the LayerNorms, the GRU gates, the softmax backward and the
// categorical sampling written as fused loops over the B rows of a step. Matmuls, SiLU, sigmoid
// and softmax stay ATen calls (their vectorised kernels).
// With several threads, each runs all the steps for its own block of rows (for_row_blocks).
// 2. The LayerNorm GRU gates of nn/layers.py over N rows (gru_forward / gru_backward): LayerNorm,
// gate inputs and blend as loops over blocks of 16 rows that stay in cache (blocks in parallel;
// sigmoid by ATen, tanh(x) as 2 sigmoid(2x) - 1), and one loop for the backward, instead of a dozen
// (N, D) temporaries and their backward kernels.
//
// Built with -fopenmp where PyTorch's threads are GNU OpenMP's (kernels.py), so that
// at::parallel_for here runs on PyTorch's threads; without it, at::parallel_for runs serially.
//
// Scan layout: every (T, B, ...) tensor is contiguous and time-major. Weights, in this order:
//   w_z (H, L), ln1_w, ln1_b (H), w_x (3D, H), w_h (3D, D), ln2_w, ln2_b (3D), w_oh (H, D),
//   ln3_w, ln3_b (H), w_out (L, H), b_out (L).
// Sampling uses the exponential race: argmax_c p_c exp(g_c) = argmax_c (log p_c + g_c) for the
// Gumbel noise g, so the caller passes exp(g).

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

namespace {

using at::Tensor;

// x W^T + other with a weight packed by mkldnn::_reorder_linear_weight.
Tensor packed_linear_add(const Tensor& x, const Tensor& other, const Tensor& packed) {
  static auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("mkldnn::_linear_pointwise", "binary")
          .typed<Tensor(const Tensor&, const Tensor&, const Tensor&, const std::optional<Tensor>&,
                        c10::string_view)>();
  return op.call(x, other, packed, std::nullopt, "add");
}

// y = LN(x) * w + b over rows of n; writes the row means and reciprocal std.
template <typename T>
void layer_norm_rows(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, int64_t rows,
                     int64_t n, double eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * n;
    T* yr = y + r * n;
    T sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < n; ++i) sum += xr[i];
    const T m = sum / static_cast<T>(n);
    T sq = 0;
#pragma omp simd reduction(+ : sq)
    for (int64_t i = 0; i < n; ++i) sq += (xr[i] - m) * (xr[i] - m);
    const T rs = static_cast<T>(1.0 / std::sqrt(static_cast<double>(sq) / n + eps));
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) yr[i] = (xr[i] - m) * rs * w[i] + b[i];
    mean[r] = m;
    rstd[r] = rs;
  }
}

constexpr int64_t kLanes = 16;

// Input gradient of y = LN(x) * w + b from dy, rows of n; adds the weight and bias gradients.
template <typename T>
void layer_norm_backward_rows(const T* dy, const T* x, const T* mean, const T* rstd, const T* w,
                              T* dx, T* acc_w, T* acc_b, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* dyr = dy + r * n;
    const T* xr = x + r * n;
    T* dxr = dx + r * n;
    const T m = mean[r], rs = rstd[r];
    // c1 = sum(dy w), c2 = sum(dy w xhat) in 16 lanes (GCC leaves a two-variable simd reduction
    // scalar here)
    T s1[kLanes] = {}, s2[kLanes] = {};
    int64_t i0 = 0;
    for (; i0 + kLanes <= n; i0 += kLanes) {
#pragma omp simd
      for (int64_t j = 0; j < kLanes; ++j) {
        const T g = dyr[i0 + j] * w[i0 + j];
        s1[j] += g;
        s2[j] += g * ((xr[i0 + j] - m) * rs);
      }
    }
    for (; i0 < n; ++i0) {
      const T g = dyr[i0] * w[i0];
      s1[0] += g;
      s2[0] += g * ((xr[i0] - m) * rs);
    }
    T c1 = 0, c2 = 0;
    for (int64_t j = 0; j < kLanes; ++j) {
      c1 += s1[j];
      c2 += s2[j];
    }
    c1 /= static_cast<T>(n);
    c2 /= static_cast<T>(n);
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
      const T xhat = (xr[i] - m) * rs;
      acc_w[i] += dyr[i] * xhat;
      acc_b[i] += dyr[i];
      dxr[i] = rs * (dyr[i] * w[i] - c1 - xhat * c2);
    }
  }
}

template <typename T>
T* ptr(const Tensor& t) {
  return t.data_ptr<T>();
}


// ---- LayerNorm GRU gates over rows (shared by the scan's steps and the GRU op) --------------
// pre (rows, 3D) -> n = LN(pre) * w + b = [n_r, n_c, n_v]; s = sigmoid(n_r), cand = tanh(s * n_c),
// upd = sigmoid(n_v); h' = lerp(h, cand, upd). Writes the row stats, gates = [s, cand, upd] and
// h_new; ``n`` (rows, 3D) is scratch. Called on a few rows at a time (a step of a scan block, or a
// block of the GRU op), so that n and the gates stay in cache between the passes.

template <typename T>
void gates_forward(const T* x, const T* h, const T* w, const T* b, double eps, const Tensor& n,
                   T* mean, T* rstd, Tensor gates, T* h_new) {
  const int64_t N = gates.size(0), D3 = gates.size(1), D = D3 / 3;
  T *np = ptr<T>(n), *gp = ptr<T>(gates);
  layer_norm_rows<T>(x, w, b, np, mean, rstd, N, D3, eps);
  at::sigmoid_out(gates, n);  // s and upd; the middle third is overwritten next
  for (int64_t r = 0; r < N; ++r) {
    T* gr = gp + r * D3;
    const T* nr = np + r * D3;
#pragma omp simd
    for (int64_t d = 0; d < D; ++d) gr[D + d] = T(2) * gr[d] * nr[D + d];
  }
  // tanh(x) = 2 sigmoid(2x) - 1: ATen's vectorised sigmoid is ~5x faster than its tanh
  Tensor mid = gates.narrow(1, D, D);
  at::sigmoid_(mid);
  for (int64_t r = 0; r < N; ++r) {
    T* gr = gp + r * D3;
#pragma omp simd
    for (int64_t d = 0; d < D; ++d) {
      const T c = T(2) * gr[D + d] - T(1), upd = gr[2 * D + d], h0 = h[r * D + d];
      gr[D + d] = c;
      // torch.lerp's formula, as on the PyTorch-op path (both sides computed, so that the loop
      // vectorises as a blend)
      const T from_h = h0 + upd * (c - h0), from_c = c - (c - h0) * (T(1) - upd);
      h_new[r * D + d] = upd < T(0.5) ? from_h : from_c;
    }
  }
}

// Backward of gates_forward for rows [r0, r1): d_pre and the part of dL/dh that passes the blend
// directly (d_h_direct), from dL/dh_new; adds the LayerNorm's weight and bias gradients into
// acc_w, acc_b. ``dn`` is scratch of 3D.
template <typename T>
void gates_backward_rows(const T* dh, const T* x, const T* h, const T* gates, const T* mean,
                         const T* rstd, const T* w, const T* b, T* d_pre, T* d_h_direct, T* acc_w,
                         T* acc_b, T* dn, int64_t r0, int64_t r1, int64_t D) {
  const int64_t D3 = 3 * D;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t o = r * D3;
    const T m = mean[r], rs = rstd[r];
#pragma omp simd
    for (int64_t d = 0; d < D; ++d) {
      const T g = dh[r * D + d], s = gates[o + d], c = gates[o + D + d];
      const T upd = gates[o + 2 * D + d];
      const T n_c = (x[o + D + d] - m) * rs * w[D + d] + b[D + d];
      const T d_cand = g * upd;
      const T d_sc = d_cand * (T(1) - c * c);
      dn[2 * D + d] = g * (c - h[r * D + d]) * upd * (T(1) - upd);
      dn[D + d] = d_sc * s;
      dn[d] = d_sc * n_c * s * (T(1) - s);
      d_h_direct[r * D + d] = g - d_cand;
    }
    layer_norm_backward_rows<T>(dn, x + o, mean + r, rstd + r, w, d_pre + o, acc_w, acc_b, 1, D3);
  }
}

// The scan's rows are independent sequences. With several threads each thread runs all the steps
// for its own block of rows (its matmuls single-threaded inside the parallel region, no
// synchronisation between steps) instead of every small per-step kernel being split across the
// threads: at B = 16 the per-step kernels are too small to split well.
constexpr int64_t kScanBlockRows = 4;

int64_t scan_blocks(int64_t B) {
  return std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), B / kScanBlockRows));
}

// f(block, r0, r1) for the row blocks of B rows, in parallel when there are several.
template <typename F>
void for_row_blocks(int64_t B, const F& f) {
  const int64_t blocks = scan_blocks(B), per = (B + blocks - 1) / blocks;
  if (blocks == 1) {
    f(0, 0, B);
    return;
  }
  at::parallel_for(0, blocks, 1, [&](int64_t k0, int64_t k1) {
    at::NoGradGuard no_grad;  // grad mode is thread-local: the worker threads' default is on
    for (int64_t k = k0; k < k1; ++k) {
      if (k * per < B) f(k, k * per, std::min(B, (k + 1) * per));
    }
  });
}

template <typename T>
std::vector<Tensor> forward_impl(const Tensor& act_proj, const Tensor& emb_proj,
                                 const Tensor& exp_noise, const Tensor& first,
                                 const std::vector<bool>& resets, const Tensor& h_start,
                                 const Tensor& z_start, const Tensor& h_init, const Tensor& z_init,
                                 at::TensorList w, const std::optional<Tensor>& packed_h,
                                 int64_t classes, double unimix, double eps) {
  const int64_t steps = act_proj.size(0), B = act_proj.size(1), H = act_proj.size(2);
  const int64_t D = h_start.size(1), L = z_start.size(1), C = classes, S = L / C;
  auto opts = act_proj.options();
  Tensor h_prev = at::empty({steps, B, D}, opts), z_prev = at::empty({steps, B, L}, opts);
  Tensor u_all = at::empty({steps, B, H}, opts), a1_all = at::empty({steps, B, H}, opts);
  Tensor x_all = at::empty({steps, B, H}, opts), g_all = at::empty({steps, B, 3 * D}, opts);
  Tensor gates = at::empty({steps, B, 3 * D}, opts);
  Tensor q_all = at::empty({steps, B, H}, opts), a3_all = at::empty({steps, B, H}, opts);
  Tensor y_all = at::empty({steps, B, H}, opts), stats = at::empty({steps, 6, B}, opts);
  Tensor deter = at::empty({steps, B, D}, opts), logits = at::empty({steps, B, L}, opts);
  Tensor soft = at::empty({steps, B, L}, opts), stoch = at::zeros({steps, B, L}, opts);
  const Tensor w_zt = w[0].t(), w_xt = w[3].t(), w_ht = w[4].t(), w_oht = w[7].t();
  const Tensor w_outt = w[10].t();
  const T *ln1_w = ptr<T>(w[1]), *ln1_b = ptr<T>(w[2]), *ln2_w = ptr<T>(w[5]);
  const T *ln2_b = ptr<T>(w[6]), *ln3_w = ptr<T>(w[8]), *ln3_b = ptr<T>(w[9]);
  const T keep = static_cast<T>(1.0 - unimix), floor_p = static_cast<T>(unimix / C);
  for_row_blocks(B, [&](int64_t, int64_t r0, int64_t r1) {
    const int64_t b = r1 - r0;
    auto rows = [&](const Tensor& x) { return x.narrow(0, r0, b); };  // a contiguous block
    Tensor n_tmp = at::empty({b, 3 * D}, opts);
    Tensor h = rows(h_start).contiguous(), z = rows(z_start).contiguous();
    for (int64_t t = 0; t < steps; ++t) {
      if (resets[t]) {
        const Tensor f = rows(first[t]);
        h = at::where(f, rows(h_init), h).contiguous();
        z = at::where(f, rows(z_init), z).contiguous();
      }
      rows(h_prev[t]).copy_(h);
      rows(z_prev[t]).copy_(z);
      T* st = ptr<T>(stats[t]) + r0;  // stat k of row r0 + i at st[k * B + i]
      Tensor u = rows(u_all[t]), a1 = rows(a1_all[t]), x = rows(x_all[t]), g = rows(g_all[t]);
      at::addmm_out(u, rows(act_proj[t]), z, w_zt);
      layer_norm_rows<T>(ptr<T>(u), ln1_w, ln1_b, ptr<T>(a1), st, st + B, b, H, eps);
      at::silu_out(x, a1);
      if (packed_h.has_value()) {
        g.copy_(packed_linear_add(h, at::mm(x, w_xt), *packed_h));
      } else {
        at::addmm_out(g, at::mm(h, w_ht), x, w_xt);
      }
      h = rows(deter[t]);
      gates_forward<T>(ptr<T>(g), ptr<T>(rows(h_prev[t])), ln2_w, ln2_b, eps, n_tmp, st + 2 * B,
                       st + 3 * B, rows(gates[t]), ptr<T>(h));
      Tensor q = rows(q_all[t]), a3 = rows(a3_all[t]), y = rows(y_all[t]), lg = rows(logits[t]);
      at::addmm_out(q, rows(emb_proj[t]), h, w_oht);
      layer_norm_rows<T>(ptr<T>(q), ln3_w, ln3_b, ptr<T>(a3), st + 4 * B, st + 5 * B, b, H, eps);
      at::silu_out(y, a3);
      at::addmm_out(lg, w[11], y, w_outt);
      Tensor p = rows(soft[t]).view({b, S, C});
      at::_softmax_out(p, lg.view({b, S, C}), -1, false);
      const T *pp = ptr<T>(p), *en = ptr<T>(rows(exp_noise[t]));
      T* zt = ptr<T>(rows(stoch[t]));
      for (int64_t k = 0; k < b * S; ++k) {
        const int64_t o = k * C;
        int64_t best = 0;
        T best_score = -1;
        for (int64_t c = 0; c < C; ++c) {
          const T score = (pp[o + c] * keep + floor_p) * en[o + c];
          if (score > best_score) {
            best_score = score;
            best = c;
          }
        }
        zt[o + best] = 1;
      }
      z = rows(stoch[t]);
    }
  });
  return {deter, stoch, logits, h_prev, z_prev, u_all, a1_all, x_all, g_all, gates,
          q_all,  a3_all, y_all, stats, soft};
}

template <typename T>
std::vector<Tensor> backward_impl(at::TensorList saved, const Tensor& first,
                                  const std::vector<bool>& resets, const Tensor& g_deter,
                                  const Tensor& g_stoch, const Tensor& g_logits, at::TensorList w,
                                  const std::optional<Tensor>& packed_ht, int64_t classes,
                                  double unimix, int64_t chunk_rows) {
  const Tensor &deter = saved[0], &h_prev = saved[3], &z_prev = saved[4], &u_all = saved[5];
  const Tensor &a1_all = saved[6], &x_all = saved[7], &g_all = saved[8], &gates = saved[9];
  const Tensor &q_all = saved[10], &a3_all = saved[11], &y_all = saved[12], &stats = saved[13];
  const Tensor& soft = saved[14];
  const int64_t steps = deter.size(0), B = deter.size(1), D = deter.size(2);
  const int64_t H = u_all.size(2), L = soft.size(2), C = classes, S = L / C;
  const int64_t K = std::max<int64_t>(1, chunk_rows / B);
  auto opts = deter.options();
  Tensor d_u = at::empty({steps, B, H}, opts), d_q = at::empty({steps, B, H}, opts);
  Tensor d_lg = at::empty({K, B, L}, opts), d_g = at::empty({K, B, 3 * D}, opts);
  Tensor d_y = at::empty({B, H}, opts), d_a = at::empty({B, H}, opts);
  Tensor d_ht = at::empty({B, D}, opts), d_hd = at::empty({B, D}, opts);
  std::vector<Tensor> acc;
  for (const auto& p : w) acc.push_back(at::zeros_like(p));
  // the LayerNorms' and b_out's gradients: one partial sum per row block, added at the end
  const std::vector<int64_t> summed = {1, 2, 5, 6, 8, 9, 11};
  std::vector<std::vector<Tensor>> part(scan_blocks(B));
  for (auto& p : part)
    for (int64_t i : summed) p.push_back(at::zeros_like(w[i]));
  const T *ln1_w = ptr<T>(w[1]), *ln2_w = ptr<T>(w[5]), *ln2_b = ptr<T>(w[6]);
  const T* ln3_w = ptr<T>(w[8]);
  const T keep = static_cast<T>(1.0 - unimix);
  Tensor d_h_init = at::zeros({B, D}, opts), d_z_init = at::zeros({B, L}, opts);
  Tensor d_h = at::zeros({B, D}, opts), d_z = at::zeros({B, L}, opts);
  // chunks of K steps from the end (the first one possibly shorter): each row block walks the
  // chunk's steps backwards, then the chunk's weight gradients are one matmul each
  for (int64_t hi = steps - 1; hi >= 0;) {
    const int64_t lo = (hi / K) * K;
    for_row_blocks(B, [&](int64_t blk, int64_t r0, int64_t r1) {
      const int64_t b = r1 - r0;
      auto rows = [&](const Tensor& x) { return x.narrow(0, r0, b); };
      T *acc_ln1_w = ptr<T>(part[blk][0]), *acc_ln1_b = ptr<T>(part[blk][1]);
      T *acc_ln2_w = ptr<T>(part[blk][2]), *acc_ln2_b = ptr<T>(part[blk][3]);
      T *acc_ln3_w = ptr<T>(part[blk][4]), *acc_ln3_b = ptr<T>(part[blk][5]);
      T* acc_b_out = ptr<T>(part[blk][6]);
      std::vector<T> dn(3 * D);
      Tensor dy = rows(d_y), da = rows(d_a), dht = rows(d_ht), dhd = rows(d_hd);
      Tensor dh = rows(d_h), dz = rows(d_z);
      for (int64_t t = hi; t >= lo; --t) {
        const int64_t j = t - lo;
        const T* st = ptr<T>(stats[t]) + r0;
        // z_t = onehot + p - sg(p), p = (1 - unimix) softmax(logits) + unimix / C
        {
          const T *gs = ptr<T>(rows(g_stoch[t])), *dzp = ptr<T>(dz), *pp = ptr<T>(rows(soft[t]));
          const T* gl = ptr<T>(rows(g_logits[t]));
          T* dl = ptr<T>(rows(d_lg[j]));
          for (int64_t k = 0; k < b * S; ++k) {
            const int64_t o = k * C;
            T* ab = acc_b_out + (k % S) * C;  // b_out's gradient for this row's variable k % S
            T dot = 0;
#pragma omp simd reduction(+ : dot)
            for (int64_t c = 0; c < C; ++c) dot += (gs[o + c] + dzp[o + c]) * keep * pp[o + c];
#pragma omp simd
            for (int64_t c = 0; c < C; ++c) {
              const T v = pp[o + c] * ((gs[o + c] + dzp[o + c]) * keep - dot) + gl[o + c];
              dl[o + c] = v;
              ab[c] += v;
            }
          }
        }
        at::mm_out(dy, rows(d_lg[j]), w[10]);
        at::silu_backward_out(da, dy, rows(a3_all[t]));
        layer_norm_backward_rows<T>(ptr<T>(da), ptr<T>(rows(q_all[t])), st + 4 * B, st + 5 * B,
                                    ln3_w, ptr<T>(rows(d_q[t])), acc_ln3_w, acc_ln3_b, b, H);
        dh.add_(rows(g_deter[t]));
        at::addmm_out(dht, dh, rows(d_q[t]), w[7]);  // all of dL/dh_t
        Tensor dg = rows(d_g[j]);
        gates_backward_rows<T>(ptr<T>(dht), ptr<T>(rows(g_all[t])), ptr<T>(rows(h_prev[t])),
                               ptr<T>(rows(gates[t])), st + 2 * B, st + 3 * B, ln2_w, ln2_b,
                               ptr<T>(dg), ptr<T>(dhd), acc_ln2_w, acc_ln2_b, dn.data(), 0, b, D);
        Tensor d_hp = packed_ht.has_value() ? packed_linear_add(dg, dhd, *packed_ht)
                                            : at::addmm(dhd, dg, w[4]);
        at::mm_out(dy, dg, w[3]);
        at::silu_backward_out(da, dy, rows(a1_all[t]));
        layer_norm_backward_rows<T>(ptr<T>(da), ptr<T>(rows(u_all[t])), st, st + B, ln1_w,
                                    ptr<T>(rows(d_u[t])), acc_ln1_w, acc_ln1_b, b, H);
        Tensor d_zp = at::mm(rows(d_u[t]), w[0]);
        if (resets[t]) {  // rows reset at t took h_{t-1}, z_{t-1} from the initial state
          const Tensor f = rows(first[t]);
          rows(d_h_init).add_(at::where(f, d_hp, 0.0));
          rows(d_z_init).add_(at::where(f, d_zp, 0.0));
          d_hp = at::where(f, 0.0, d_hp);
          d_zp = at::where(f, 0.0, d_zp);
        }
        dh.copy_(d_hp);
        dz.copy_(d_zp);
      }
    });
    // the chunk lo .. hi is complete: its weight gradients in one matmul each
    const int64_t n = hi - lo + 1;
    auto flat = [](const Tensor& x) { return x.reshape({-1, x.size(-1)}); };
    auto c = [&](const Tensor& x) { return flat(x.narrow(0, lo, n)); };
    auto k = [&](const Tensor& x) { return flat(x.narrow(0, 0, n)); };
    acc[0].addmm_(c(d_u).t(), c(z_prev));
    acc[3].addmm_(k(d_g).t(), c(x_all));
    acc[4].addmm_(k(d_g).t(), c(h_prev));
    acc[7].addmm_(c(d_q).t(), c(deter));
    acc[10].addmm_(k(d_lg).t(), c(y_all));
    hi = lo - 1;
  }
  for (const auto& p : part)
    for (size_t i = 0; i < summed.size(); ++i) acc[summed[i]].add_(p[i]);
  std::vector<Tensor> out = {d_u, d_q, d_h, d_z, d_h_init, d_z_init};
  out.insert(out.end(), acc.begin(), acc.end());
  return out;
}


// ---- The GRU gates op: gates_forward / gates_backward_rows over N rows -------------------

// Rows per block of the GRU op's forward: its scratch and gates (3D each) stay in L2.
constexpr int64_t kGateBlockRows = 16;

template <typename T>
std::vector<Tensor> gru_forward_impl(const Tensor& pre, const Tensor& h, const Tensor& w,
                                     const Tensor& b, double eps) {
  const int64_t N = pre.size(0), D3 = pre.size(1), D = D3 / 3;
  auto opts = pre.options();
  Tensor mean = at::empty({N}, opts), rstd = at::empty({N}, opts);
  Tensor gates = at::empty({N, D3}, opts), h_new = at::empty({N, D}, opts);
  const T *x = ptr<T>(pre), *hp = ptr<T>(h), *wp = ptr<T>(w), *bp = ptr<T>(b);
  T *mp = ptr<T>(mean), *rp = ptr<T>(rstd), *hn = ptr<T>(h_new);
  at::parallel_for(0, N, kGateBlockRows, [&](int64_t r0, int64_t r1) {
    at::NoGradGuard no_grad;  // grad mode is thread-local: the worker threads' default is on
    Tensor n = at::empty({std::min(r1 - r0, kGateBlockRows), D3}, opts);
    for (int64_t lo = r0; lo < r1; lo += kGateBlockRows) {
      const int64_t rows = std::min(r1 - lo, kGateBlockRows);
      gates_forward<T>(x + lo * D3, hp + lo * D, wp, bp, eps, n.narrow(0, 0, rows), mp + lo,
                       rp + lo, gates.narrow(0, lo, rows), hn + lo * D);
    }
  });
  return {h_new, gates, mean, rstd};
}

template <typename T>
std::vector<Tensor> gru_backward_impl(const Tensor& d_hn, const Tensor& pre, const Tensor& h,
                                      const Tensor& gates, const Tensor& mean, const Tensor& rstd,
                                      const Tensor& w, const Tensor& b) {
  const int64_t N = pre.size(0), D3 = pre.size(1), D = D3 / 3;
  auto opts = pre.options();
  Tensor d_pre = at::empty({N, D3}, opts), d_h = at::empty({N, D}, opts);
  // the LayerNorm's weight and bias gradients: one partial sum per block of rows, added after
  const int64_t blocks = std::max<int64_t>(1, std::min<int64_t>(N, 8 * at::get_num_threads()));
  const int64_t per_block = (N + blocks - 1) / blocks;
  Tensor partial = at::zeros({blocks, 2, D3}, opts);
  T* part = ptr<T>(partial);
  at::parallel_for(0, blocks, 1, [&](int64_t k0, int64_t k1) {
    std::vector<T> dn(D3);
    for (int64_t k = k0; k < k1; ++k) {
      T* acc_w = part + k * 2 * D3;
      gates_backward_rows<T>(ptr<T>(d_hn), ptr<T>(pre), ptr<T>(h), ptr<T>(gates), ptr<T>(mean),
                             ptr<T>(rstd), ptr<T>(w), ptr<T>(b), ptr<T>(d_pre), ptr<T>(d_h),
                             acc_w, acc_w + D3, dn.data(), k * per_block,
                             std::min(N, (k + 1) * per_block), D);
    }
  });
  return {d_pre, d_h, partial.select(1, 0).sum(0), partial.select(1, 1).sum(0)};
}

std::vector<bool> flags(const Tensor& resets) {
  const Tensor r = resets.to(at::kBool).contiguous();
  const bool* p = r.data_ptr<bool>();
  return std::vector<bool>(p, p + r.numel());
}

std::vector<Tensor> scan_forward(const Tensor& act_proj, const Tensor& emb_proj,
                                 const Tensor& exp_noise, const Tensor& first,
                                 const Tensor& resets, const Tensor& h_start,
                                 const Tensor& z_start, const Tensor& h_init, const Tensor& z_init,
                                 at::TensorList weights, const std::optional<Tensor>& packed_h,
                                 int64_t classes, double unimix, double eps) {
  const auto r = flags(resets);
  return AT_DISPATCH_FLOATING_TYPES(act_proj.scalar_type(), "posterior_scan_forward", [&] {
    return forward_impl<scalar_t>(act_proj, emb_proj, exp_noise, first, r, h_start, z_start,
                                  h_init, z_init, weights, packed_h, classes, unimix, eps);
  });
}

std::vector<Tensor> scan_backward(at::TensorList saved, const Tensor& first, const Tensor& resets,
                                  const Tensor& g_deter, const Tensor& g_stoch,
                                  const Tensor& g_logits, at::TensorList weights,
                                  const std::optional<Tensor>& packed_ht, int64_t classes,
                                  double unimix, int64_t chunk_rows) {
  const auto r = flags(resets);
  return AT_DISPATCH_FLOATING_TYPES(saved[0].scalar_type(), "posterior_scan_backward", [&] {
    return backward_impl<scalar_t>(saved, first, r, g_deter.contiguous(), g_stoch.contiguous(),
                                   g_logits.contiguous(), weights, packed_ht, classes, unimix,
                                   chunk_rows);
  });
}

std::vector<Tensor> gru_forward(const Tensor& pre, const Tensor& h, const Tensor& weight,
                                const Tensor& bias, double eps) {
  return AT_DISPATCH_FLOATING_TYPES(pre.scalar_type(), "gru_forward", [&] {
    return gru_forward_impl<scalar_t>(pre.contiguous(), h.contiguous(), weight.contiguous(),
                                      bias.contiguous(), eps);
  });
}

std::vector<Tensor> gru_backward(const Tensor& d_h_new, const Tensor& pre, const Tensor& h,
                                 const Tensor& gates, const Tensor& mean, const Tensor& rstd,
                                 const Tensor& weight, const Tensor& bias) {
  return AT_DISPATCH_FLOATING_TYPES(pre.scalar_type(), "gru_backward", [&] {
    return gru_backward_impl<scalar_t>(d_h_new.contiguous(), pre, h.contiguous(), gates, mean,
                                       rstd, weight.contiguous(), bias.contiguous());
  });
}

}  // namespace

TORCH_LIBRARY(mamba_agent_kernels, m) {
  m.def("scan_forward", &scan_forward);
  m.def("scan_backward", &scan_backward);
  m.def("gru_forward", &gru_forward);
  m.def("gru_backward", &gru_backward);
}
