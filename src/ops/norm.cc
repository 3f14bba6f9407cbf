#include "ops/norm.h"

#include <cmath>

namespace quanta::ops {

void rmsnorm(const float* x, const float* w, int64_t m, int64_t d, float eps, float* y) {
  for (int64_t i = 0; i < m; ++i) {
    const float* xr = x + i * d;
    float* yr = y + i * d;
    // Note: 8 running sums, not one: a single chain of dependent double adds took about 1 us
    // for d = 576 (4 cycles each), 60 us of a decode step with the other core idle. The squares
    // are exact in double, so the order moves the sum by a few units in its last place at most.
    double acc[8] = {};
    int64_t j = 0;
    for (; j + 8 <= d; j += 8)
      for (int l = 0; l < 8; ++l) acc[l] += double(xr[j + l]) * xr[j + l];
    for (; j < d; ++j) acc[0] += double(xr[j]) * xr[j];
    const double ss = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    const float inv = 1.0f / std::sqrt(float(ss / double(d)) + eps);
    for (int64_t j = 0; j < d; ++j) yr[j] = w[j] * (xr[j] * inv);
  }
}

}  // namespace quanta::ops
