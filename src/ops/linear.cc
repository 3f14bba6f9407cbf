#include "ops/linear.h"

#include "core/error.h"
#include "kernels/matmul.h"

namespace quanta::ops {

namespace {
// From this many tokens on, threads split the tokens instead of the weight rows.
constexpr int64_t kSplitTokensFrom = 64;
}  // namespace

void linear(const float* x, int64_t m, const MatrixView& w, const float* bias, float* y,
            ThreadPool& pool) {
  const int64_t n = w.rows, k = w.cols;
  auto add_bias = [&](int64_t i0, int64_t i1, int64_t n0, int64_t n1) {
    if (!bias) return;
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t j = n0; j < n1; ++j) y[i * n + j] += bias[j];
  };
  if (m >= kSplitTokensFrom) {
    // Prefill: each thread takes a block of tokens and all of W, so the kernel's packing of X is
    // not repeated by every thread (W is shared through the last-level cache).
    pool.parallel_for(
        m,
        [&](int64_t i0, int64_t i1, int) {
          kernels::matmul(x + i0 * k, i1 - i0, k, w.data, w.dtype, 0, n, y + i0 * n, n);
          add_bias(i0, i1, 0, n);
        },
        32);
    return;
  }
  // Decode: split W's rows; chunks of 16 rows keep every thread's tile aligned to the kernels'
  // row blocking.
  pool.parallel_for(
      n,
      [&](int64_t n0, int64_t n1, int) {
        kernels::matmul(x, m, k, w.data, w.dtype, n0, n1, y, n);
        add_bias(0, m, n0, n1);
      },
      16);
}

void embedding_row(const MatrixView& table, int64_t index, float* out) {
  QUANTA_ASSERT(index >= 0 && index < table.rows);
  kernels::to_f32(table.row(index), table.dtype, out, table.cols, kernels::active_isa());
}

}  // namespace quanta::ops
