// Scalar reference for the compressed-weight kernels: decode one element at a time, f32
// accumulation in index order (W8A8: exact int32 sums). Keep obviously correct, not fast.
#include <cmath>
#include <cstring>

#include "kernels/qmatmul.h"

namespace quanta::kernels::ref {
namespace {

// E4M3 byte -> f32 (OCP e4m3fn; 0x7f / 0xff are NaN).
float e4m3_value(uint8_t b) {
  const int e = (b >> 3) & 0xf, mant = b & 0x7;
  float v;
  if (e == 0xf && mant == 0x7) {
    v = std::nanf("");
  } else if (e == 0) {
    v = std::ldexp(float(mant), -9);
  } else {
    v = std::ldexp(1.0f + float(mant) / 8.0f, e - 7);
  }
  return (b & 0x80) ? -v : v;
}

int64_t int4_row_bytes(int64_t k) { return (k + 31) / 32 * 16; }

}  // namespace

float weight_at(const MatrixView& w, int64_t r, int64_t c) {
  const int64_t k = w.cols;
  const int64_t g = c / w.group_cols();
  const float scale = w.scales[r * w.n_groups() + g];
  const uint8_t* d = static_cast<const uint8_t*>(w.data);
  switch (w.format) {
    case WeightFormat::kInt4: {
      const uint8_t byte = d[r * int4_row_bytes(k) + (c / 32) * 16 + (c % 16)];
      const int q = (c % 32) < 16 ? (byte & 0xf) : (byte >> 4);
      const float zero = w.zeros ? w.zeros[r * w.n_groups() + g] : 8.0f;
      return (float(q) - zero) * scale;
    }
    case WeightFormat::kInt8: return float(int8_t(d[r * k + c])) * scale;
    case WeightFormat::kFp8: return e4m3_value(d[r * k + c]) * scale;
    case WeightFormat::kInt8Vnni: {
      const int64_t k4 = a8_row_stride(k);
      const int64_t off = (r / 16) * 16 * k4 + (c / 4) * 64 + (r % 16) * 4 + c % 4;
      return float(int8_t(d[off])) * scale;
    }
    case WeightFormat::kDense: break;
  }
  return std::nanf("");
}

void qgemv(const float* x, int64_t m, const MatrixView& w, int64_t n0, int64_t n1, float* y,
           int64_t ldy) {
  const int64_t k = w.cols;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = n0; j < n1; ++j) {
      float acc = 0.0f;
      for (int64_t c = 0; c < k; ++c) acc += x[i * k + c] * weight_at(w, j, c);
      y[i * ldy + j] = acc;
    }
  }
}

void qmatmul_a8(const int8_t* xq, const float* sx, int64_t m, int64_t ldq, const MatrixView& w,
                int64_t n0, int64_t n1, float* y, int64_t ldy) {
  const int64_t k = w.cols, k4 = a8_row_stride(k);
  const int8_t* d = static_cast<const int8_t*>(w.data);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = n0; j < n1; ++j) {
      int32_t acc = 0;
      for (int64_t c = 0; c < k; ++c) {
        const int64_t off = (j / 16) * 16 * k4 + (c / 4) * 64 + (j % 16) * 4 + c % 4;
        acc += int32_t(xq[i * ldq + c]) * int32_t(d[off]);
      }
      // The SIMD levels scale in this order too, so all levels agree exactly.
      y[i * ldy + j] = float(acc) * sx[i] * w.scales[j];
    }
  }
}

void dequantize_rows(const MatrixView& w, int64_t r0, int64_t r1, float* out) {
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t c = 0; c < w.cols; ++c) out[(r - r0) * w.cols + c] = weight_at(w, r, c);
}

}  // namespace quanta::kernels::ref
