#include "ops/linear.h"

#include "core/error.h"
#include "kernels/matmul.h"

namespace quanta::ops {

void linear(const float* x, int64_t m, const MatrixView& w, const float* bias, float* y,
            ThreadPool& pool) {
  const int64_t n = w.rows;
  // Note: chunks of 16 rows keep every thread's tile aligned to the kernels' row blocking.
  pool.parallel_for(
      n,
      [&](int64_t n0, int64_t n1, int) {
        kernels::matmul(x, m, w.cols, w.data, w.dtype, n0, n1, y, n);
        if (bias) {
          for (int64_t i = 0; i < m; ++i)
            for (int64_t j = n0; j < n1; ++j) y[i * n + j] += bias[j];
        }
      },
      16);
}

void embedding_row(const MatrixView& table, int64_t index, float* out) {
  QUANTA_ASSERT(index >= 0 && index < table.rows);
  kernels::to_f32(table.row(index), table.dtype, out, table.cols, kernels::active_isa());
}

}  // namespace quanta::ops
