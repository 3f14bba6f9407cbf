#include "ops/linear.h"

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "kernels/act_quant.h"
#include "kernels/matmul.h"
#include "kernels/qmatmul.h"

namespace quanta::ops {

namespace {
// From this many tokens on, threads split the tokens instead of the weight rows.
constexpr int64_t kSplitTokensFrom = 64;

// Scratch of the calling thread (linear is called from one thread at a time per model; the
// pool's workers only read these).
struct Scratch {
  std::vector<float> xf;          // x gathered to W's column order and/or fake-quantized
  std::vector<int8_t> xq;         // int8 activation codes (W8A8)
  std::vector<float> sx;          // their per-token scales
  std::vector<int16_t> xq16;      // int16 activation codes (int4 / int8 weight-only kernels)
  std::vector<float> xs16, xz16;  // their block scales, and scales times code sums
  std::vector<uint8_t> called;    // per thread: has it run a kernel on this input yet
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// Runs body(i0, i1, n0, n1, thread) over the output: token blocks for prefill, row blocks for
// decode.
// one_piece_per_thread: prefill gives each thread one block of tokens (for kernels that convert
// all of W per call, so the fewer calls the better), not pieces of 32.
template <typename Body>
void split(int64_t m, int64_t n, ThreadPool& pool, const Body& body,
           bool one_piece_per_thread = false) {
  if (m >= kSplitTokensFrom) {
    // Prefill: each thread takes a block of tokens and all of W, so the kernel's packing of X is
    // not repeated by every thread (W is shared through the last-level cache).
    const int64_t share = (m + pool.size() - 1) / pool.size();
    pool.parallel_for(
        m, [&](int64_t i0, int64_t i1, int th) { body(i0, i1, 0, n, th); },
        one_piece_per_thread ? (share + 15) / 16 * 16 : 32);
    return;
  }
  // Decode: split W's rows; pieces of 16 rows keep every thread's tile aligned to the kernels'
  // row blocking (and to the 16-row blocks of kInt8Vnni).
  pool.parallel_for(
      n, [&](int64_t n0, int64_t n1, int th) { body(0, m, n0, n1, th); }, 16);
}

// What a kernel takes as input: int8 codes (W8A8), int16 codes (int4 / int8 weight-only), or f32.
enum class Input { kInt8, kInt16, kF32 };
Input input_of(const MatrixView& w) {
  if (w.act == ActQuant::kInt8PerToken && w.format == WeightFormat::kInt8Vnni) return Input::kInt8;
  if (w.act == ActQuant::kNone &&
      (w.format == WeightFormat::kInt4x16 || w.format == WeightFormat::kInt8x16))
    return Input::kInt16;
  return Input::kF32;
}

// Parts whose input can be prepared once: same column order, activation quantization and input.
bool share_input(const LinearPart* parts, int64_t n_parts) {
  const MatrixView& w0 = *parts[0].w;
  for (int64_t p = 1; p < n_parts; ++p) {
    const MatrixView& w = *parts[p].w;
    if (w.cols != w0.cols || w.col_perm != w0.col_perm || w.act != w0.act ||
        input_of(w) != input_of(w0))
      return false;
  }
  return true;
}

}  // namespace

void linear_fused(const float* x, int64_t m, const LinearPart* parts, int64_t n_parts,
                  ThreadPool& pool) {
  QUANTA_ASSERT(n_parts >= 1);
  if (n_parts > 1 && !share_input(parts, n_parts)) {
    for (int64_t p = 0; p < n_parts; ++p) linear_fused(x, m, parts + p, 1, pool);
    return;
  }
  const MatrixView& w0 = *parts[0].w;
  const int64_t k = w0.cols;
  int64_t n = 0;  // rows of all parts stacked
  for (int64_t p = 0; p < n_parts; ++p) n += parts[p].w->rows;
  // Runs fn(part, i0, i1, local rows r0, r1) for the parts' rows within stacked rows [n0, n1).
  auto each_part = [&](int64_t i0, int64_t i1, int64_t n0, int64_t n1, const auto& fn) {
    int64_t off = 0;
    for (int64_t p = 0; p < n_parts; ++p) {
      const int64_t rows = parts[p].w->rows;
      const int64_t r0 = std::max<int64_t>(n0 - off, 0), r1 = std::min<int64_t>(n1 - off, rows);
      if (r0 < r1) {
        fn(parts[p], i0, i1, r0, r1);
        const float* y = parts[p].y;
        if (const float* b = parts[p].bias)
          for (int64_t i = i0; i < i1; ++i)
            for (int64_t j = r0; j < r1; ++j) parts[p].y[i * rows + j] += b[j];
        if (float* res = parts[p].residual)
          for (int64_t i = i0; i < i1; ++i)
            for (int64_t j = r0; j < r1; ++j) res[i * rows + j] += y[i * rows + j];
      }
      off += rows;
    }
  };
  Scratch& s = scratch();
  // The input as W's columns see it: gathered (act-order), then quantized per token.
  const float* xin = x;
  if (w0.col_perm) {
    s.xf.resize(size_t(m * k));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t c = 0; c < k; ++c) s.xf[size_t(i * k + c)] = x[i * k + w0.col_perm[c]];
    xin = s.xf.data();
  }
  const kernels::Isa isa = kernels::active_isa();
  if (input_of(w0) == Input::kInt16) {
    const int64_t kp = kernels::i16_row_stride(k), nb = kp / kernels::kI16Block;
    s.xq16.resize(size_t(m * kp));
    s.xs16.resize(size_t(m * nb));
    s.xz16.resize(size_t(m * nb));
    auto quantize = [&](int64_t i0, int64_t i1, int) {
      kernels::quantize_act_i16(xin + i0 * k, i1 - i0, k, s.xq16.data() + i0 * kp, kp,
                                s.xs16.data() + i0 * nb, s.xz16.data() + i0 * nb);
    };
    if (m >= kSplitTokensFrom) {
      pool.parallel_for(m, quantize, 32);
    } else {
      quantize(0, m, 0);
    }
    s.called.assign(size_t(pool.size()), 0);
    split(m, n, pool, [&](int64_t i0, int64_t i1, int64_t n0, int64_t n1, int th) {
      each_part(i0, i1, n0, n1,
                [&](const LinearPart& p, int64_t a0, int64_t a1, int64_t r0, int64_t r1) {
                  const int64_t ny = p.w->rows;
                  // Note: the codes are written above, before the split; a thread's later calls
                  // (pieces, parts) may reuse its kernel's preparation of them.
                  kernels::qmatmul_i16(s.xq16.data() + a0 * kp, s.xs16.data() + a0 * nb,
                                       s.xz16.data() + a0 * nb, a1 - a0, *p.w, r0, r1,
                                       p.y + a0 * ny, ny, isa, s.called[size_t(th)] != 0);
                  s.called[size_t(th)] = 1;
                });
    });
    return;
  }
  if (input_of(w0) == Input::kInt8) {
    const int64_t ldq = kernels::a8_row_stride(k);
    s.xq.resize(size_t(m * ldq));
    s.sx.resize(size_t(m));
    if (m >= kSplitTokensFrom) {  // prefill: each thread quantizes a block of tokens
      pool.parallel_for(
          m,
          [&](int64_t i0, int64_t i1, int) {
            kernels::quantize_act_int8(xin + i0 * k, i1 - i0, k, s.xq.data() + i0 * ldq, ldq,
                                       s.sx.data() + i0, isa);
          },
          32);
    } else {
      kernels::quantize_act_int8(xin, m, k, s.xq.data(), ldq, s.sx.data(), isa);
    }
    split(m, n, pool, [&](int64_t i0, int64_t i1, int64_t n0, int64_t n1, int) {
      each_part(i0, i1, n0, n1,
                [&](const LinearPart& p, int64_t a0, int64_t a1, int64_t r0, int64_t r1) {
                  const int64_t ny = p.w->rows;
                  kernels::qmatmul_a8(s.xq.data() + a0 * ldq, s.sx.data() + a0, a1 - a0, ldq, *p.w,
                                      r0, r1, p.y + a0 * ny, ny, isa);
                });
    });
    return;
  }
  if (w0.act != ActQuant::kNone) {
    // Other weights under activation quantization: quantize-dequantize x, then the f32 kernels.
    s.xf.resize(size_t(m * k));
    const float* src = xin;
    float* dst = s.xf.data();
    if (w0.act == ActQuant::kFp8PerToken) s.sx.resize(size_t(m));
    auto fake_quant = [&](int64_t i0, int64_t i1, int) {
      if (w0.act == ActQuant::kInt8PerToken) {
        kernels::fake_quant_act_int8(src + i0 * k, i1 - i0, k, dst + i0 * k);
      } else {
        kernels::fake_quant_act_fp8(src + i0 * k, i1 - i0, k, dst + i0 * k, isa, s.sx.data() + i0);
      }
    };
    if (m >= kSplitTokensFrom) {  // prefill: each thread a block of tokens
      pool.parallel_for(m, fake_quant, 32);
    } else {
      fake_quant(0, m, 0);
    }
    xin = dst;
  }
  // FP8_DYNAMIC on AMX converts every weight it uses to bf16 per call (kernels/qmatmul.h).
  const bool fp8_amx = kernels::fp8_dynamic_on_tiles(w0, isa);
  split(m, n, pool, [&](int64_t i0, int64_t i1, int64_t n0, int64_t n1, int) {
    each_part(i0, i1, n0, n1,
              [&](const LinearPart& p, int64_t a0, int64_t a1, int64_t r0, int64_t r1) {
                const MatrixView& w = *p.w;
                const int64_t ny = w.rows;
                if (w.format == WeightFormat::kFp8 && w.act == ActQuant::kFp8PerToken) {
                  // xin: the fake-quantized activations, s.sx their token scales (above).
                  kernels::qmatmul_fp8_dynamic(xin + a0 * k, s.sx.data() + a0, a1 - a0, w, r0, r1,
                                               p.y + a0 * ny, ny, isa);
                } else if (w.compressed()) {
                  kernels::qmatmul(xin + a0 * k, a1 - a0, w, r0, r1, p.y + a0 * ny, ny, isa);
                } else {
                  kernels::matmul(xin + a0 * k, a1 - a0, k, w.data, w.dtype, r0, r1, p.y + a0 * ny,
                                  ny, isa);
                }
              });
  }, fp8_amx);
}

void linear(const float* x, int64_t m, const MatrixView& w, const float* bias, float* y,
            ThreadPool& pool) {
  const LinearPart part{&w, bias, y};
  linear_fused(x, m, &part, 1, pool);
}

void embedding_row(const MatrixView& table, int64_t index, float* out) {
  QUANTA_ASSERT(index >= 0 && index < table.rows);
  QUANTA_ASSERT(!table.compressed());
  kernels::to_f32(table.row(index), table.dtype, out, table.cols, kernels::active_isa());
}

}  // namespace quanta::ops
