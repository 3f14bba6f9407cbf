// Matrix multiply with weights in their storage dtype, f32 activations and accumulation.
// Scalar reference in kernels/ref/, SIMD versions one ISA per translation unit.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "kernels/isa.h"

namespace quanta::kernels {

// Y (m, ldy) rows, columns [n0, n1):  Y[i][j] = sum_k X[i][k] * W[j][k]
//   X (m, k) f32 row-major, row stride k;  W (n, k) row-major in dtype wtype (F32, F16, BF16),
//   row stride k elements.  Y row stride ldy floats (ldy >= n1). Overwrites Y[i][n0..n1).
// Callers split [0, n) across threads; the kernel itself is single-threaded.
void matmul(const float* x, int64_t m, int64_t k, const void* w, DType wtype, int64_t n0, int64_t n1,
            float* y, int64_t ldy, Isa isa);

// Same at the active ISA.
inline void matmul(const float* x, int64_t m, int64_t k, const void* w, DType wtype, int64_t n0,
                   int64_t n1, float* y, int64_t ldy) {
  matmul(x, m, k, w, wtype, n0, n1, y, ldy, active_isa());
}

// sum_i a[i] * b[i]
float dot(const float* a, const float* b, int64_t n, Isa isa);
// y[i] += alpha * x[i]
void axpy(float alpha, const float* x, float* y, int64_t n, Isa isa);

// Converts n elements of dtype src_type (F32, F16, BF16) to f32.
void to_f32(const void* src, DType src_type, float* dst, int64_t n, Isa isa);

}  // namespace quanta::kernels
