// Scalar reference kernels: plain loops, f32 accumulation in index order. The SIMD levels are
// tested against these (tests/kernels/test_matmul.cc); keep them obviously correct, not fast.
#include <cstring>

#include "core/dtype.h"
#include "kernels/matmul.h"

namespace quanta::kernels::ref {
namespace {

// Element i of a row in dtype t (F32, F16 or BF16) as f32.
float load(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::kF16: return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::kBF16: return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

}  // namespace

// X (m, k) @ W[n0:n1] (n1 - n0, k)^T -> Y[:, n0:n1], Y row stride ldy.
void matmul(const float* x, int64_t m, int64_t k, const void* w, DType wtype, int64_t n0, int64_t n1,
            float* y, int64_t ldy) {
  const size_t row_bytes = dtype_size(wtype) * size_t(k);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = n0; j < n1; ++j) {
      const void* wj = static_cast<const char*>(w) + size_t(j) * row_bytes;
      float acc = 0.0f;
      for (int64_t kk = 0; kk < k; ++kk) acc += x[i * k + kk] * load(wj, wtype, kk);
      y[i * ldy + j] = acc;
    }
  }
}

void matmul_nn(const float* x, int64_t m, int64_t k, int64_t ldx, const float* w, int64_t n,
               int64_t ldw, float* y, int64_t ldy) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float acc = 0.0f;
      for (int64_t c = 0; c < k; ++c) acc += x[i * ldx + c] * w[c * ldw + j];
      y[i * ldy + j] = acc;
    }
}

float dot(const float* a, const float* b, int64_t n) {
  float acc = 0.0f;
  for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

void axpy(float alpha, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

void to_f32(const void* src, DType src_type, float* dst, int64_t n) {
  if (src_type == DType::kF32) {
    std::memcpy(dst, src, size_t(n) * sizeof(float));
    return;
  }
  for (int64_t i = 0; i < n; ++i) dst[i] = load(src, src_type, i);
}

}  // namespace quanta::kernels::ref
