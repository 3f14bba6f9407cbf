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
// Note: from m = 16 the SIMD levels copy X transposed (m * k floats) at the start of every call,
// which pays off over the n1 - n0 rows of W the call covers; for prefill, giving each thread a
// range of rows of X (x + i0 * k, y + i0 * ldy) rather than a thin slice of n avoids every
// thread repeating that copy.
void matmul(const float* x, int64_t m, int64_t k, const void* w, DType wtype, int64_t n0, int64_t n1,
            float* y, int64_t ldy, Isa isa);

// Same at the active ISA.
inline void matmul(const float* x, int64_t m, int64_t k, const void* w, DType wtype, int64_t n0,
                   int64_t n1, float* y, int64_t ldy) {
  matmul(x, m, k, w, wtype, n0, n1, y, ldy, active_isa());
}

// Y (m, n) = X (m, k) W (k, n), all f32 row-major with row strides ldx, ldw, ldy (W not
// transposed: e.g. attention's P V with V as cached, positions by head dims). Overwrites Y.
// Single-threaded.
void matmul_nn(const float* x, int64_t m, int64_t k, int64_t ldx, const float* w, int64_t n,
               int64_t ldw, float* y, int64_t ldy, Isa isa);

// sum_i a[i] * b[i]
float dot(const float* a, const float* b, int64_t n, Isa isa);
// y[i] += alpha * x[i]
void axpy(float alpha, const float* x, float* y, int64_t n, Isa isa);

// Converts n elements of dtype src_type (F32, F16, BF16) to f32.
void to_f32(const void* src, DType src_type, float* dst, int64_t n, Isa isa);

// ---- Per-ISA implementations: called by the dispatcher (kernels/matmul.cc), not by ops. ----
// Same contracts as above; arguments are already checked (wtype is F32, F16 or BF16). ref:: is
// the plain scalar reference the SIMD levels are tested against.
// Note: avx2:: and avx512:: are defined in their own translation units, built with that ISA's
// flags; they must not be called on a CPU below that level.
namespace ref {
void matmul(const float* x, int64_t m, int64_t k, const void* w, DType wtype, int64_t n0, int64_t n1,
            float* y, int64_t ldy);
void matmul_nn(const float* x, int64_t m, int64_t k, int64_t ldx, const float* w, int64_t n,
               int64_t ldw, float* y, int64_t ldy);
float dot(const float* a, const float* b, int64_t n);
void axpy(float alpha, const float* x, float* y, int64_t n);
void to_f32(const void* src, DType src_type, float* dst, int64_t n);
}  // namespace ref
namespace avx2 {
void matmul(const float* x, int64_t m, int64_t k, const void* w, DType wtype, int64_t n0, int64_t n1,
            float* y, int64_t ldy);
void matmul_nn(const float* x, int64_t m, int64_t k, int64_t ldx, const float* w, int64_t n,
               int64_t ldw, float* y, int64_t ldy);
float dot(const float* a, const float* b, int64_t n);
void axpy(float alpha, const float* x, float* y, int64_t n);
void to_f32(const void* src, DType src_type, float* dst, int64_t n);
}  // namespace avx2
namespace avx512 {
void matmul(const float* x, int64_t m, int64_t k, const void* w, DType wtype, int64_t n0, int64_t n1,
            float* y, int64_t ldy);
void matmul_nn(const float* x, int64_t m, int64_t k, int64_t ldx, const float* w, int64_t n,
               int64_t ldw, float* y, int64_t ldy);
float dot(const float* a, const float* b, int64_t n);
void axpy(float alpha, const float* x, float* y, int64_t n);
void to_f32(const void* src, DType src_type, float* dst, int64_t n);
}  // namespace avx512

// Per-thread scratch for the SIMD kernels: at least n floats, 64-byte aligned, valid until the
// calling thread calls it again. Defined in the dispatcher's (generic) translation unit so that
// the ISA files need no standard-library code (see the note in matmul_avx512.cc).
float* matmul_scratch(int64_t n);

}  // namespace quanta::kernels
