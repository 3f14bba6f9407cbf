// SwiGLU: out = silu(gate) * up, elementwise over n values.
#pragma once

#include <cstdint>

namespace quanta::ops {

void silu_mul(const float* gate, const float* up, float* out, int64_t n);

}  // namespace quanta::ops
