// Magnitude pruning baseline: zero the smallest |w|.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "compress/gptq.h"
#include "core/error.h"

namespace quanta {

void magnitude_prune(float* w, int64_t rows, int64_t cols, const SparsityOptions& sp) {
  constexpr const char* kWho = "magnitude_prune";
  if (rows <= 0 || cols <= 0) fail("{}: empty weight ({} x {})", kWho, rows, cols);
  if (sp.n > 0 || sp.m > 0) {
    if (sp.n <= 0 || sp.m <= 0 || sp.n > sp.m)
      fail("{}: n:m sparsity needs 0 < n <= m, got {}:{}", kWho, sp.n, sp.m);
    if (cols % sp.m != 0) fail("{}: m = {} does not divide the {} input columns", kWho, sp.m, cols);
    std::vector<int> order(size_t(sp.m));
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c0 = 0; c0 < cols; c0 += sp.m) {
        float* g = w + r * cols + c0;
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(),
                         [&](int a, int b) { return std::fabs(g[a]) < std::fabs(g[b]); });
        for (int k = 0; k < sp.n; ++k) g[order[size_t(k)]] = 0.0f;
      }
    }
    return;
  }
  if (!(sp.sparsity >= 0 && sp.sparsity <= 1))
    fail("{}: sparsity must be in [0, 1], got {}", kWho, sp.sparsity);
  const int64_t numel = rows * cols;
  const int64_t k = std::llround(sp.sparsity * double(numel));
  if (k == 0) return;
  std::vector<int64_t> idx(static_cast<size_t>(numel));
  std::iota(idx.begin(), idx.end(), 0);
  const auto less = [&](int64_t a, int64_t b) {
    const float fa = std::fabs(w[a]), fb = std::fabs(w[b]);
    return fa < fb || (fa == fb && a < b);
  };
  std::nth_element(idx.begin(), idx.begin() + (k - 1), idx.end(), less);
  for (int64_t i = 0; i < k; ++i) w[idx[size_t(i)]] = 0.0f;
}

}  // namespace quanta
