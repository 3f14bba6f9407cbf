// Scalar reference for kernels/convert.h: core/dtype.h's conversions, one value at a time.
#include "kernels/convert.h"

namespace quanta::kernels::ref {

void f32_to_half(const float* src, int64_t n, bool bf16, uint16_t* dst) {
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16 ? f32_to_bf16(src[i]) : f32_to_f16(src[i]);
}

}  // namespace quanta::kernels::ref
