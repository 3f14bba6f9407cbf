#include "kernels/act_quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "core/error.h"

namespace quanta::kernels {
namespace {

// compressed-tensors replaces a zero scale by finfo(bfloat16).eps.
constexpr float kZeroScale = 0.0078125f;

float bf16_round(float f) { return bf16_to_f32(f32_to_bf16(f)); }

// Scale for a token whose largest |x| is absmax, for a symmetric range of +-half_range codes.
float scale_for(float absmax, float half_range) {
  const float s = bf16_round(absmax / half_range);
  return s == 0.0f ? kZeroScale : s;
}

float token_scale(const float* x, int64_t k, float half_range) {
  float mn = 0.0f, mx = 0.0f;  // the range includes 0
  for (int64_t i = 0; i < k; ++i) {
    mn = std::min(mn, x[i]);
    mx = std::max(mx, x[i]);
  }
  return scale_for(std::max(std::fabs(mn), std::fabs(mx)), half_range);
}

// One int8 code: x / s, clamped to [-128, 127], rounded to nearest even.
int8_t int8_code(float x, float s) {
  return int8_t(std::nearbyint(std::clamp(x / s, -128.0f, 127.0f)));
}

}  // namespace

float act_int8_scale(float absmax) { return scale_for(absmax, 127.5f); }  // (127 - (-128)) / 2

namespace ref {
void quantize_act_int8(const float* x, int64_t m, int64_t k, int8_t* q, int64_t ldq,
                       float* scales) {
  for (int64_t i = 0; i < m; ++i) {
    const float* xi = x + i * k;
    int8_t* qi = q + i * ldq;
    const float s = token_scale(xi, k, 127.5f);
    scales[i] = s;
    // Note: x / s, not x * (1 / s): the reference divides, and the two can round differently.
    for (int64_t c = 0; c < k; ++c) qi[c] = int8_code(xi[c], s);
    for (int64_t c = k; c < ldq; ++c) qi[c] = 0;
  }
}

int32_t quantize_act_i16_block(const float* x, int64_t n, int16_t* q, float* scale) {
  const int64_t c1 = std::min<int64_t>(n, 32);
  float absmax = 0.0f;
  for (int64_t c = 0; c < c1; ++c) absmax = std::max(absmax, std::fabs(x[c]));  // NaN: skipped
  const float s = absmax / 32767.0f;
  *scale = s;
  int32_t sum = 0;
  for (int64_t c = 0; c < 32; ++c) {
    int16_t code = 0;
    if (c < c1 && s > 0.0f && std::isfinite(s) && !std::isnan(x[c]))
      code = int16_t(std::nearbyint(std::clamp(x[c] / s, -32767.0f, 32767.0f)));
    q[c] = code;
    sum += code;
  }
  return sum;
}
}  // namespace ref

void quantize_act_int8(const float* x, int64_t m, int64_t k, int8_t* q, int64_t ldq, float* scales,
                       Isa isa) {
  QUANTA_ASSERT(m >= 0 && k >= 1 && ldq >= k);
  QUANTA_ASSERT(static_cast<int>(isa) <= static_cast<int>(detected_isa()));
  switch (isa) {
    case Isa::kScalar:
      return ref::quantize_act_int8(x, m, k, q, ldq, scales);
    case Isa::kAvx2:
      return avx2::quantize_act_int8(x, m, k, q, ldq, scales);
    case Isa::kAmx:
    case Isa::kAvx512:
      return avx512::quantize_act_int8(x, m, k, q, ldq, scales);
  }
}

void quantize_act_int8(const float* x, int64_t m, int64_t k, int8_t* q, int64_t ldq,
                       float* scales) {
  quantize_act_int8(x, m, k, q, ldq, scales, active_isa());
}

void fake_quant_act_int8(const float* x, int64_t m, int64_t k, float* out) {
  for (int64_t i = 0; i < m; ++i) {
    const float* xi = x + i * k;
    const float s = token_scale(xi, k, 127.5f);
    for (int64_t c = 0; c < k; ++c) out[i * k + c] = float(int8_code(xi[c], s)) * s;
  }
}

void quantize_act_i16(const float* x, int64_t m, int64_t k, int16_t* q, int64_t kp, float* xs,
                      float* xz, Isa isa) {
  QUANTA_ASSERT(m >= 0 && k >= 1 && kp >= k && kp % 32 == 0);
  QUANTA_ASSERT(static_cast<int>(isa) <= static_cast<int>(detected_isa()));
  int32_t (*block)(const float*, int64_t, int16_t*, float*) = ref::quantize_act_i16_block;
  if (isa == Isa::kAvx2) block = avx2::quantize_act_i16_block;
  if (isa >= Isa::kAvx512) block = avx512::quantize_act_i16_block;
  const int64_t nb = kp / 32;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t b = 0; b < nb; ++b) {
      const int64_t c0 = b * 32;
      float s = 0.0f;
      int32_t sum = 0;
      if (c0 < k) {
        sum = block(x + i * k + c0, k - c0, q + i * kp + c0, &s);
      } else {
        std::fill(q + i * kp + c0, q + i * kp + c0 + 32, int16_t(0));
      }
      xs[i * nb + b] = s;
      xz[i * nb + b] = s * float(sum);
    }
  }
}

void quantize_act_i16(const float* x, int64_t m, int64_t k, int16_t* q, int64_t kp, float* xs,
                      float* xz) {
  quantize_act_i16(x, m, k, q, kp, xs, xz, active_isa());
}

float e4m3_round(float f) {
  const float a = std::fabs(f);
  float r;
  if (a < 0.015625f) {
    // Subnormal E4M3: multiples of 2^-9 (scaling by 512 is exact).
    r = std::nearbyint(a * 512.0f) / 512.0f;
  } else {
    // Normal: keep 3 mantissa bits, round half to even on the 20 dropped bits. A carry into the
    // exponent is the correct result (e.g. 1.9375 -> 2); |f| <= 448 keeps it finite.
    uint32_t u;
    std::memcpy(&u, &a, 4);
    u = (u + 0x7ffffu + ((u >> 20) & 1u)) & 0xfff00000u;
    std::memcpy(&r, &u, 4);
  }
  return std::copysign(r, f);
}

float act_fp8_scale(float absmax) { return scale_for(absmax, 448.0f); }  // (448 - (-448)) / 2

namespace ref {
void fake_quant_act_fp8(const float* x, int64_t m, int64_t k, float* out, float* scales) {
  for (int64_t i = 0; i < m; ++i) {
    const float* xi = x + i * k;
    const float s = token_scale(xi, k, 448.0f);
    if (scales != nullptr) scales[i] = s;
    for (int64_t c = 0; c < k; ++c)
      out[i * k + c] = e4m3_round(std::clamp(xi[c] / s, -448.0f, 448.0f)) * s;
  }
}
}  // namespace ref

void fake_quant_act_fp8(const float* x, int64_t m, int64_t k, float* out, Isa isa, float* scales) {
  QUANTA_ASSERT(m >= 0 && k >= 1);
  QUANTA_ASSERT(static_cast<int>(isa) <= static_cast<int>(detected_isa()));
  if (isa == Isa::kScalar) return ref::fake_quant_act_fp8(x, m, k, out, scales);
  return avx2::fake_quant_act_fp8(x, m, k, out, scales);
}

void fake_quant_act_fp8(const float* x, int64_t m, int64_t k, float* out) {
  fake_quant_act_fp8(x, m, k, out, active_isa());
}

}  // namespace quanta::kernels
