// HessianAccumulator: H = (2 / n) sum_t x_t x_t^T, accumulated in double with BLAS dsyrk.
#include <cblas.h>

#include <algorithm>

#include "compress/gptq.h"
#include "core/error.h"

namespace quanta {

HessianAccumulator::HessianAccumulator(int64_t cols) : cols_(cols) {
  if (cols <= 0) fail("HessianAccumulator: cols must be positive, got {}", cols);
  sum_.assign(size_t(cols * cols), 0.0);
}

void HessianAccumulator::add(const float* x, int64_t n_tokens) {
  if (n_tokens < 0) fail("HessianAccumulator::add: negative token count {}", n_tokens);
  // Convert in chunks to bound the double copy (chunk x cols).
  constexpr int64_t kChunk = 256;
  std::vector<double> xd;
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kChunk) {
    const int64_t nt = std::min(kChunk, n_tokens - t0);
    xd.assign(x + t0 * cols_, x + (t0 + nt) * cols_);
    // sum (upper triangle, row-major) += xd^T xd, xd (nt, cols).
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, int(cols_), int(nt), 1.0, xd.data(),
                int(cols_), 1.0, sum_.data(), int(cols_));
  }
  n_ += n_tokens;
}

std::vector<double> HessianAccumulator::hessian() const {
  std::vector<double> h(size_t(cols_ * cols_), 0.0);
  if (n_ == 0) return h;  // no data: every column dead
  const double f = 2.0 / double(n_);
  for (int64_t i = 0; i < cols_; ++i) {
    for (int64_t j = i; j < cols_; ++j) {
      const double v = f * sum_[size_t(i * cols_ + j)];
      h[size_t(i * cols_ + j)] = v;
      h[size_t(j * cols_ + i)] = v;
    }
  }
  return h;
}

}  // namespace quanta
