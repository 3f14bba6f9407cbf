// Dispatch of the f32 -> F16 / BF16 conversion (kernels/convert.h).
#include "kernels/convert.h"

#include "core/error.h"

namespace quanta::kernels {

void f32_to_half(const float* src, int64_t n, DType t, uint16_t* dst, Isa isa) {
  QUANTA_ASSERT(n >= 0 && static_cast<int>(isa) <= static_cast<int>(detected_isa()));
  QUANTA_ASSERT(t == DType::kF16 || t == DType::kBF16);
  const bool bf16 = t == DType::kBF16;
  if (isa == Isa::kScalar) return ref::f32_to_half(src, n, bf16, dst);
  avx2::f32_to_half(src, n, bf16, dst);
}

}  // namespace quanta::kernels
