// Dispatch of the compressed-weight kernels (kernels/qmatmul.h) to the scalar reference or one
// SIMD level.
#include "kernels/qmatmul.h"

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "kernels/act_quant.h"
#include "kernels/matmul.h"

namespace quanta::kernels {
namespace {

void check_args(const MatrixView& w, int64_t m, int64_t n0, int64_t n1, int64_t ldy, Isa isa) {
  QUANTA_ASSERT(m >= 0 && 0 <= n0 && n0 <= n1 && n1 <= w.rows && n1 <= ldy);
  QUANTA_ASSERT(w.scales != nullptr || w.scales_f16 != nullptr);
  QUANTA_ASSERT(w.group_size == 0 || w.cols % w.group_size == 0);
  // Running a level above the CPU's would die with SIGILL; say why instead.
  QUANTA_ASSERT(static_cast<int>(isa) <= static_cast<int>(detected_isa()));
}

void dequantize_at(const MatrixView& w, int64_t r0, int64_t r1, float* out, Isa isa) {
  switch (isa) {
    case Isa::kScalar: return ref::dequantize_rows(w, r0, r1, out);
    case Isa::kAvx2: return avx2::dequantize_rows(w, r0, r1, out);
    case Isa::kAmx:
    case Isa::kAvx512: return avx512::dequantize_rows(w, r0, r1, out);
  }
}

bool runs_i16(const MatrixView& w) {
  return w.format == WeightFormat::kInt4x16 || w.format == WeightFormat::kInt8x16;
}

}  // namespace

bool has_avx512_vnni() {
  static const bool vnni = [] {
    __builtin_cpu_init();
    return detected_isa() >= Isa::kAvx512 && __builtin_cpu_supports("avx512vnni");
  }();
  return vnni;
}

namespace {
float* aligned_floats(std::vector<float>& buf, int64_t n) {
  constexpr int64_t kAlignFloats = 16;  // 64 bytes
  if (int64_t(buf.size()) < n + kAlignFloats) buf.resize(size_t(n + kAlignFloats));
  const uintptr_t p = reinterpret_cast<uintptr_t>(buf.data());
  return reinterpret_cast<float*>((p + 63) & ~uintptr_t(63));
}
}  // namespace

float* qmatmul_scratch(int64_t n) {
  thread_local std::vector<float> buf;
  return aligned_floats(buf, n);
}

float* qmatmul_input_scratch(int64_t n) {
  thread_local std::vector<float> buf;
  return aligned_floats(buf, n);
}

void qmatmul(const float* x, int64_t m, const MatrixView& w, int64_t n0, int64_t n1, float* y,
             int64_t ldy, Isa isa) {
  QUANTA_ASSERT(runs_i16(w) || w.format == WeightFormat::kInt8 || w.format == WeightFormat::kFp8);
  check_args(w, m, n0, n1, ldy, isa);
  if (m == 0 || n0 == n1) return;
  if (runs_i16(w)) {
    // Callers that run many matrices on one input quantize it once (ops::linear); this is the
    // simple form.
    const int64_t kp = i16_row_stride(w.cols), nb = kp / kI16Block;
    std::vector<int16_t> xq(size_t(m * kp));
    std::vector<float> xs(size_t(m * nb)), xz(size_t(m * nb));
    quantize_act_i16(x, m, w.cols, xq.data(), kp, xs.data(), xz.data());
    return qmatmul_i16(xq.data(), xs.data(), xz.data(), m, w, n0, n1, y, ldy, isa);
  }
  if (isa == Isa::kScalar) return ref::qgemv(x, m, w, n0, n1, y, ldy);
  if (m < kQGemmMinRows) {
    if (isa >= Isa::kAvx512) return avx512::qgemv(x, m, w, n0, n1, y, ldy);
    return avx2::qgemv(x, m, w, n0, n1, y, ldy);
  }
  // Prefill: decode a block of rows once, then the f32 GEMM over all m tokens. Note: the GEMM
  // packs X again for every block, so blocks are large (384 rows: 0.9 MB of f32 at k = 576);
  // at 96 rows the repacking made W4A16 prefill 1.5x slower than F32 (bench_qmatmul).
  const int64_t k = w.cols;
  float* buf = qmatmul_scratch(kQRowBlock * k);
  for (int64_t j = n0; j < n1; j += kQRowBlock) {
    const int64_t rows = std::min(kQRowBlock, n1 - j);
    dequantize_at(w, j, j + rows, buf, isa);
    matmul(x, m, k, buf, DType::kF32, 0, rows, y + j, ldy, isa);
  }
}

bool fp8_dynamic_on_tiles(const MatrixView& w, Isa isa) {
  return isa == Isa::kAmx && w.format == WeightFormat::kFp8 && w.act == ActQuant::kFp8PerToken &&
         w.group_size == 0 && w.scales != nullptr;
}

void qmatmul_fp8_dynamic(const float* xf, const float* sx, int64_t m, const MatrixView& w,
                         int64_t n0, int64_t n1, float* y, int64_t ldy, Isa isa) {
  QUANTA_ASSERT(w.format == WeightFormat::kFp8);
  check_args(w, m, n0, n1, ldy, isa);
  if (m == 0 || n0 == n1) return;
  if (m >= kAmxFp8MinRows && fp8_dynamic_on_tiles(w, isa))
    return amx::qmatmul_fp8_dynamic(xf, sx, m, w, n0, n1, y, ldy);
  qmatmul(xf, m, w, n0, n1, y, ldy, isa);
}

void qmatmul_a8(const int8_t* xq, const float* sx, int64_t m, int64_t ldq, const MatrixView& w,
                int64_t n0, int64_t n1, float* y, int64_t ldy, Isa isa) {
  QUANTA_ASSERT(w.format == WeightFormat::kInt8Vnni && w.group_size == 0);
  QUANTA_ASSERT(ldq == a8_row_stride(w.cols));
  check_args(w, m, n0, n1, ldy, isa);
  if (m == 0 || n0 == n1) return;
  switch (isa) {
    case Isa::kScalar: return ref::qmatmul_a8(xq, sx, m, ldq, w, n0, n1, y, ldy);
    case Isa::kAvx2: return avx2::qmatmul_a8(xq, sx, m, ldq, w, n0, n1, y, ldy);
    case Isa::kAmx:
      if (m >= kAmxMinRows) return amx::qmatmul_a8(xq, sx, m, ldq, w, n0, n1, y, ldy);
      [[fallthrough]];
    case Isa::kAvx512:
      if (has_avx512_vnni()) return avx512vnni::qmatmul_a8(xq, sx, m, ldq, w, n0, n1, y, ldy);
      return avx2::qmatmul_a8(xq, sx, m, ldq, w, n0, n1, y, ldy);
  }
}

void qmatmul_i16(const int16_t* xq, const float* xs, const float* xz, int64_t m,
                 const MatrixView& w, int64_t n0, int64_t n1, float* y, int64_t ldy, Isa isa,
                 bool input_unchanged) {
  QUANTA_ASSERT(runs_i16(w));
  check_args(w, m, n0, n1, ldy, isa);
  if (m == 0 || n0 == n1) return;
  switch (isa) {
    case Isa::kScalar: return ref::qmatmul_i16(xq, xs, xz, m, w, n0, n1, y, ldy);
    case Isa::kAvx2: return avx2::qmatmul_i16(xq, xs, xz, m, w, n0, n1, y, ldy, input_unchanged);
    case Isa::kAmx:
      if (m >= kAmxI16MinRows) return amx::qmatmul_i16(xq, xs, xz, m, w, n0, n1, y, ldy);
      [[fallthrough]];
    case Isa::kAvx512:
      if (has_avx512_vnni()) return avx512vnni::qmatmul_i16(xq, xs, xz, m, w, n0, n1, y, ldy);
      return avx2::qmatmul_i16(xq, xs, xz, m, w, n0, n1, y, ldy, input_unchanged);
  }
}

void dequantize_rows(const MatrixView& w, int64_t r0, int64_t r1, float* out, Isa isa) {
  QUANTA_ASSERT(w.compressed());
  check_args(w, 0, r0, r1, w.rows, isa);
  // The formats the f32 kernels do not run are decoded by the reference (tests, tools).
  if (w.format == WeightFormat::kInt8Vnni || runs_i16(w)) return ref::dequantize_rows(w, r0, r1, out);
  dequantize_at(w, r0, r1, out, isa);
}

}  // namespace quanta::kernels
