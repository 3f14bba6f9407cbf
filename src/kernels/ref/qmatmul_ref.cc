// Scalar reference for the compressed-weight kernels: decode one element at a time, f32
// accumulation in index order (W8A8: exact int32 sums). Keep obviously correct, not fast.
#include <cmath>
#include <cstring>

#include "core/dtype.h"
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

int64_t padded_cols(int64_t k) { return (k + 31) / 32 * 32; }
bool blocked(const MatrixView& w) {
  return w.format == WeightFormat::kInt4x16 || w.format == WeightFormat::kInt8x16;
}

// Stored code of element (r, c) of a kInt4x16 / kInt8x16 matrix.
int code_x16(const MatrixView& w, int64_t r, int64_t c) {
  const uint8_t* d = static_cast<const uint8_t*>(w.data);
  const int64_t kp = padded_cols(w.cols);
  if (w.format == WeightFormat::kInt8x16)
    return int8_t(d[(r / 16) * 16 * kp + (c / 2) * 32 + (r % 16) * 2 + c % 2]);
  const int64_t e = c % 8, nib = e % 2 == 0 ? e / 2 : 4 + e / 2;
  const uint8_t byte = d[(r / 16) * 8 * kp + (c / 8) * 64 + (r % 16) * 4 + nib / 2];
  return nib % 2 == 0 ? (byte & 0xf) : (byte >> 4);
}

}  // namespace

float scale_at(const MatrixView& w, int64_t r, int64_t g) {
  if (!blocked(w)) return w.scales[r * w.n_groups() + g];
  const int64_t at = ((r / 16) * w.n_groups() + g) * 16 + r % 16;
  return w.scales_f16 ? f16_to_f32(w.scales_f16[at]) : w.scales[at];
}

float zero_at(const MatrixView& w, int64_t r, int64_t g) {
  if (w.format != WeightFormat::kInt4x16) return 0.0f;
  const int64_t at = ((r / 16) * w.n_groups() + g) * 16 + r % 16;
  if (w.zeros_f16) return f16_to_f32(w.zeros_f16[at]);
  return w.zeros ? w.zeros[at] : 8.0f;
}

float weight_at(const MatrixView& w, int64_t r, int64_t c) {
  const int64_t k = w.cols;
  const int64_t g = c / w.group_cols();
  const float scale = scale_at(w, r, g);
  const uint8_t* d = static_cast<const uint8_t*>(w.data);
  switch (w.format) {
    case WeightFormat::kInt4x16: return (float(code_x16(w, r, c)) - zero_at(w, r, g)) * scale;
    case WeightFormat::kInt8x16: return float(code_x16(w, r, c)) * scale;
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

void qmatmul_i16(const int16_t* xq, const float* xs, const float* xz, int64_t m,
                 const MatrixView& w, int64_t n0, int64_t n1, float* y, int64_t ldy) {
  const int64_t k = w.cols, kp = padded_cols(k), nb = kp / 32, gc = w.group_cols();
  const bool int4 = w.format == WeightFormat::kInt4x16;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = n0; j < n1; ++j) {
      float f = 0.0f;
      for (int64_t b = 0; b < nb; ++b) {
        int32_t acc = 0;
        for (int64_t c = b * 32; c < b * 32 + 32; ++c)
          acc += int32_t(xq[i * kp + c]) * (c < k ? code_x16(w, j, c) : 0);
        // This order of f32 operations is every level's.
        const int64_t g = b * 32 / gc;
        const float s = scale_at(w, j, g);
        f = std::fma(float(acc), s * xs[i * nb + b], f);
        if (int4) f = std::fma(-(zero_at(w, j, g) * s), xz[i * nb + b], f);
      }
      y[i * ldy + j] = f;
    }
  }
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
