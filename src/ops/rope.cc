#include "ops/rope.h"

#include <cmath>

namespace quanta::ops {

std::vector<float> rope_inv_freq(int64_t hd, const RopeParams& p) {
  const int64_t half = hd / 2;
  std::vector<float> inv(half);
  for (int64_t i = 0; i < half; ++i) {
    // transformers: 1.0 / (base ** (arange(0, dim, 2).float() / dim)), in f32.
    const float expo = float(2 * i) / float(hd);
    inv[i] = 1.0f / std::pow(p.theta, expo);
  }
  if (p.kind == 2) {
    for (auto& f : inv) f /= p.factor;
  } else if (p.kind == 1) {
    // transformers' _compute_llama3_parameters.
    const float low_wavelen = float(p.original_max_position) / p.low_freq_factor;
    const float high_wavelen = float(p.original_max_position) / p.high_freq_factor;
    for (auto& f : inv) {
      const float wavelen = 2.0f * float(M_PI) / f;
      if (wavelen > low_wavelen) {
        f = f / p.factor;
      } else if (wavelen >= high_wavelen) {
        const float smooth = (float(p.original_max_position) / wavelen - p.low_freq_factor) /
                             (p.high_freq_factor - p.low_freq_factor);
        f = (1.0f - smooth) * f / p.factor + smooth * f;
      }
    }
  }
  return inv;
}

void rope_apply(float* x, int64_t T, int64_t n_heads, int64_t hd, int64_t pos0,
                const std::vector<float>& inv_freq) {
  const int64_t half = hd / 2;
  std::vector<float> cs(half), sn(half);
  for (int64_t t = 0; t < T; ++t) {
    const float pos = float(pos0 + t);
    for (int64_t i = 0; i < half; ++i) {
      const float angle = pos * inv_freq[i];  // f32 product, as torch does
      cs[i] = float(std::cos(double(angle)));
      sn[i] = float(std::sin(double(angle)));
    }
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x + (t * n_heads + h) * hd;
      for (int64_t i = 0; i < half; ++i) {
        const float a = v[i], b = v[i + half];
        v[i] = a * cs[i] - b * sn[i];
        v[i + half] = b * cs[i] + a * sn[i];
      }
    }
  }
}

}  // namespace quanta::ops
