// Dispatch of the exp-based kernels (kernels/vexp.h).
#include "kernels/vexp.h"

#include "core/error.h"

namespace quanta::kernels {

void silu_mul(const float* gate, const float* up, float* out, int64_t n, Isa isa) {
  QUANTA_ASSERT(n >= 0 && static_cast<int>(isa) <= static_cast<int>(detected_isa()));
  switch (isa) {
    case Isa::kScalar: return ref::silu_mul(gate, up, out, n);
    case Isa::kAvx2: return avx2::silu_mul(gate, up, out, n);
    case Isa::kAmx:
    case Isa::kAvx512: return avx512::silu_mul(gate, up, out, n);
  }
}

float exp_shift_sum(float* x, int64_t n, float shift, Isa isa) {
  QUANTA_ASSERT(n >= 0 && static_cast<int>(isa) <= static_cast<int>(detected_isa()));
  switch (isa) {
    case Isa::kScalar: return ref::exp_shift_sum(x, n, shift);
    case Isa::kAvx2: return avx2::exp_shift_sum(x, n, shift);
    case Isa::kAmx:
    case Isa::kAvx512: return avx512::exp_shift_sum(x, n, shift);
  }
  return 0.0f;
}

float max_value(const float* x, int64_t n, Isa isa) {
  QUANTA_ASSERT(n >= 0 && static_cast<int>(isa) <= static_cast<int>(detected_isa()));
  switch (isa) {
    case Isa::kScalar: return ref::max_value(x, n);
    case Isa::kAvx2: return avx2::max_value(x, n);
    case Isa::kAmx:
    case Isa::kAvx512: return avx512::max_value(x, n);
  }
  return 0.0f;
}

}  // namespace quanta::kernels
