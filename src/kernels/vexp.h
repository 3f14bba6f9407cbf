// Elementwise exp-based kernels: SwiGLU's silu(gate) * up and a softmax row's exp(x - shift), and
// the row's max that precedes it.
// The scalar reference calls std::exp; the SIMD levels evaluate exp as 2^n * p(r) (n = round(x
// log2 e), r = x - n ln 2 in two parts, p Cephes' expf polynomial: 1 + r + r^2 (1/2 + ...)),
// within kExpRelTol of std::exp for -87 <= x <= 88, 0 below -87.34 (std::exp gives subnormals
// down to -103) and +inf above 88.38 (std::exp: from 88.73); NaN stays NaN. Scalar reference in kernels/ref/, SIMD versions one ISA per translation unit.
#pragma once

#include <cstdint>

#include "kernels/isa.h"

namespace quanta::kernels {

// Largest relative difference of the SIMD exp from std::exp (tests/kernels/test_vexp.cc).
inline constexpr double kExpRelTol = 4e-7;

// out[i] = gate[i] / (1 + exp(-gate[i])) * up[i]. out may equal gate or up.
void silu_mul(const float* gate, const float* up, float* out, int64_t n, Isa isa);

// x[i] = exp(x[i] - shift) for i < n, in place; returns their sum (f32, in lane order at the SIMD
// levels). shift is the row's max in softmax use, so every argument is <= 0.
float exp_shift_sum(float* x, int64_t n, float shift, Isa isa);

// The largest of x[0, n): -inf for n = 0 or an all-NaN row; NaNs are skipped, as the fold
// m = std::max(m, x[i]) from m = -inf skips them. Every level returns the same value (a max is
// exact); only the sign of a zero max may differ, which exp(x - max) does not see.
float max_value(const float* x, int64_t n, Isa isa);

// ---- Per-ISA implementations (called by the dispatchers in kernels/vexp.cc). ----
namespace ref {
void silu_mul(const float* gate, const float* up, float* out, int64_t n);
float exp_shift_sum(float* x, int64_t n, float shift);
float max_value(const float* x, int64_t n);
}  // namespace ref
namespace avx2 {
void silu_mul(const float* gate, const float* up, float* out, int64_t n);
float exp_shift_sum(float* x, int64_t n, float shift);
float max_value(const float* x, int64_t n);
}  // namespace avx2
namespace avx512 {
void silu_mul(const float* gate, const float* up, float* out, int64_t n);
float exp_shift_sum(float* x, int64_t n, float shift);
float max_value(const float* x, int64_t n);
}  // namespace avx512

}  // namespace quanta::kernels
