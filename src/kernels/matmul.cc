// Dispatch of the f32 kernels to the scalar reference or one SIMD level (one file per ISA).
#include "kernels/matmul.h"

#include <cstdint>
#include <vector>

#include "core/error.h"

namespace quanta::kernels {
namespace {

void check_isa(Isa isa) {
  // Running a level above the CPU's would die with SIGILL; say why instead.
  QUANTA_ASSERT(static_cast<int>(isa) <= static_cast<int>(detected_isa()));
}

void check_float_type(DType t, const char* what) {
  if (t != DType::kF32 && t != DType::kF16 && t != DType::kBF16)
    fail("{}: dtype {} not supported (expected F32, F16 or BF16)", what, dtype_name(t));
}

}  // namespace

float* matmul_scratch(int64_t n) {
  constexpr int64_t kAlignFloats = 16;  // 64 bytes
  thread_local std::vector<float> buf;
  if (int64_t(buf.size()) < n + kAlignFloats) buf.resize(size_t(n + kAlignFloats));
  const uintptr_t p = reinterpret_cast<uintptr_t>(buf.data());
  return reinterpret_cast<float*>((p + 63) & ~uintptr_t(63));
}

void matmul(const float* x, int64_t m, int64_t k, const void* w, DType wtype, int64_t n0, int64_t n1,
            float* y, int64_t ldy, Isa isa) {
  check_float_type(wtype, "matmul weights");
  QUANTA_ASSERT(m >= 0 && k >= 0 && 0 <= n0 && n0 <= n1 && n1 <= ldy);
  if (m == 0 || n0 == n1) return;
  check_isa(isa);
  switch (isa) {
    case Isa::kScalar: return ref::matmul(x, m, k, w, wtype, n0, n1, y, ldy);
    case Isa::kAvx2: return avx2::matmul(x, m, k, w, wtype, n0, n1, y, ldy);
    case Isa::kAmx:
    case Isa::kAvx512: return avx512::matmul(x, m, k, w, wtype, n0, n1, y, ldy);
  }
}

void matmul_nn(const float* x, int64_t m, int64_t k, int64_t ldx, const float* w, int64_t n,
               int64_t ldw, float* y, int64_t ldy, Isa isa) {
  QUANTA_ASSERT(m >= 0 && k >= 0 && n >= 0 && ldx >= k && ldw >= n && ldy >= n);
  if (m == 0 || n == 0) return;
  check_isa(isa);
  switch (isa) {
    case Isa::kScalar: return ref::matmul_nn(x, m, k, ldx, w, n, ldw, y, ldy);
    case Isa::kAvx2: return avx2::matmul_nn(x, m, k, ldx, w, n, ldw, y, ldy);
    case Isa::kAmx:
    case Isa::kAvx512: return avx512::matmul_nn(x, m, k, ldx, w, n, ldw, y, ldy);
  }
}

float dot(const float* a, const float* b, int64_t n, Isa isa) {
  QUANTA_ASSERT(n >= 0);
  check_isa(isa);
  switch (isa) {
    case Isa::kScalar: return ref::dot(a, b, n);
    case Isa::kAvx2: return avx2::dot(a, b, n);
    case Isa::kAmx:
    case Isa::kAvx512: return avx512::dot(a, b, n);
  }
  return 0.0f;
}

void axpy(float alpha, const float* x, float* y, int64_t n, Isa isa) {
  QUANTA_ASSERT(n >= 0);
  check_isa(isa);
  switch (isa) {
    case Isa::kScalar: return ref::axpy(alpha, x, y, n);
    case Isa::kAvx2: return avx2::axpy(alpha, x, y, n);
    case Isa::kAmx:
    case Isa::kAvx512: return avx512::axpy(alpha, x, y, n);
  }
}

void to_f32(const void* src, DType src_type, float* dst, int64_t n, Isa isa) {
  check_float_type(src_type, "to_f32 source");
  QUANTA_ASSERT(n >= 0);
  check_isa(isa);
  switch (isa) {
    case Isa::kScalar: return ref::to_f32(src, src_type, dst, n);
    case Isa::kAvx2: return avx2::to_f32(src, src_type, dst, n);
    case Isa::kAmx:
    case Isa::kAvx512: return avx512::to_f32(src, src_type, dst, n);
  }
}

}  // namespace quanta::kernels
