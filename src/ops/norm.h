// RMSNorm as HF LlamaRMSNorm: y = w * x / sqrt(mean(x^2) + eps), f32.
#pragma once

#include <cstdint>

namespace quanta::ops {

// x (m, d) -> y (m, d); y may alias x.
void rmsnorm(const float* x, const float* w, int64_t m, int64_t d, float eps, float* y);

}  // namespace quanta::ops
