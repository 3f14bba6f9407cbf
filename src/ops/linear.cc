#include "ops/linear.h"

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
  std::vector<float> xf;   // x gathered to W's column order and/or fake-quantized
  std::vector<int8_t> xq;  // int8 activation codes (W8A8)
  std::vector<float> sx;   // their per-token scales
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// Runs body(i0, i1, n0, n1) over the output: token blocks for prefill, row blocks for decode.
template <typename Body>
void split(int64_t m, int64_t n, ThreadPool& pool, const Body& body) {
  if (m >= kSplitTokensFrom) {
    // Prefill: each thread takes a block of tokens and all of W, so the kernel's packing of X is
    // not repeated by every thread (W is shared through the last-level cache).
    pool.parallel_for(m, [&](int64_t i0, int64_t i1, int) { body(i0, i1, 0, n); }, 32);
    return;
  }
  // Decode: split W's rows; chunks of 16 rows keep every thread's tile aligned to the kernels'
  // row blocking (and to the 16-row blocks of kInt8Vnni).
  pool.parallel_for(n, [&](int64_t n0, int64_t n1, int) { body(0, m, n0, n1); }, 16);
}

}  // namespace

void linear(const float* x, int64_t m, const MatrixView& w, const float* bias, float* y,
            ThreadPool& pool) {
  const int64_t n = w.rows, k = w.cols;
  auto add_bias = [&](int64_t i0, int64_t i1, int64_t n0, int64_t n1) {
    if (!bias) return;
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t j = n0; j < n1; ++j) y[i * n + j] += bias[j];
  };
  Scratch& s = scratch();
  // The input as W's columns see it: gathered (act-order), then quantized per token.
  const float* xin = x;
  if (w.col_perm) {
    s.xf.resize(size_t(m * k));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t c = 0; c < k; ++c) s.xf[size_t(i * k + c)] = x[i * k + w.col_perm[c]];
    xin = s.xf.data();
  }
  if (w.act == ActQuant::kInt8PerToken && w.format == WeightFormat::kInt8Vnni) {
    const int64_t ldq = kernels::a8_row_stride(k);
    s.xq.resize(size_t(m * ldq));
    s.sx.resize(size_t(m));
    const kernels::Isa isa = kernels::active_isa();
    if (m >= kSplitTokensFrom) {  // prefill: each thread quantizes a block of tokens
      pool.parallel_for(m, [&](int64_t i0, int64_t i1, int) {
        kernels::quantize_act_int8(xin + i0 * k, i1 - i0, k, s.xq.data() + i0 * ldq, ldq, s.sx.data() + i0, isa);
      }, 32);
    } else {
      kernels::quantize_act_int8(xin, m, k, s.xq.data(), ldq, s.sx.data(), isa);
    }
    split(m, n, pool, [&](int64_t i0, int64_t i1, int64_t n0, int64_t n1) {
      kernels::qmatmul_a8(s.xq.data() + i0 * ldq, s.sx.data() + i0, i1 - i0, ldq, w, n0, n1,
                          y + i0 * n, n, isa);
      add_bias(i0, i1, n0, n1);
    });
    return;
  }
  if (w.act != ActQuant::kNone) {
    // Other weights under activation quantization: quantize-dequantize x, then the f32 kernels.
    s.xf.resize(size_t(m * k));
    if (w.act == ActQuant::kInt8PerToken) {
      kernels::fake_quant_act_int8(xin, m, k, s.xf.data());
    } else {
      kernels::fake_quant_act_fp8(xin, m, k, s.xf.data());
    }
    xin = s.xf.data();
  }
  split(m, n, pool, [&](int64_t i0, int64_t i1, int64_t n0, int64_t n1) {
    if (w.compressed()) {
      kernels::qmatmul(xin + i0 * k, i1 - i0, w, n0, n1, y + i0 * n, n, kernels::active_isa());
    } else {
      kernels::matmul(xin + i0 * k, i1 - i0, k, w.data, w.dtype, n0, n1, y + i0 * n, n);
    }
    add_bias(i0, i1, n0, n1);
  });
}

void embedding_row(const MatrixView& table, int64_t index, float* out) {
  QUANTA_ASSERT(index >= 0 && index < table.rows);
  QUANTA_ASSERT(!table.compressed());
  kernels::to_f32(table.row(index), table.dtype, out, table.cols, kernels::active_isa());
}

}  // namespace quanta::ops
