// SwiGLU: out = silu(gate) * up, elementwise over n values.
#pragma once

#include <cstdint>

#include "core/thread_pool.h"

namespace quanta::ops {

// out may equal gate or up. Large n (prefill) is split over the pool.
void silu_mul(const float* gate, const float* up, float* out, int64_t n, ThreadPool& pool);

}  // namespace quanta::ops
