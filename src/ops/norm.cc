#include "ops/norm.h"

#include <cmath>

namespace quanta::ops {

void rmsnorm(const float* x, const float* w, int64_t m, int64_t d, float eps, float* y) {
  for (int64_t i = 0; i < m; ++i) {
    const float* xr = x + i * d;
    float* yr = y + i * d;
    double ss = 0.0;
    for (int64_t j = 0; j < d; ++j) ss += double(xr[j]) * xr[j];
    const float inv = 1.0f / std::sqrt(float(ss / double(d)) + eps);
    for (int64_t j = 0; j < d; ++j) yr[j] = w[j] * (xr[j] * inv);
  }
}

}  // namespace quanta::ops
