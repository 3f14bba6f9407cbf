#include "ops/activation.h"

#include "kernels/vexp.h"

namespace quanta::ops {

namespace {
// Values per task: below this a decode step's few thousand values are not worth a fork-join.
constexpr int64_t kChunk = 8192;
}  // namespace

void silu_mul(const float* gate, const float* up, float* out, int64_t n, ThreadPool& pool) {
  const kernels::Isa isa = kernels::active_isa();
  if (n < 2 * kChunk) return kernels::silu_mul(gate, up, out, n, isa);
  pool.parallel_for(n, [&](int64_t i0, int64_t i1, int) {
    kernels::silu_mul(gate + i0, up + i0, out + i0, i1 - i0, isa);
  }, 64);
}

}  // namespace quanta::ops
