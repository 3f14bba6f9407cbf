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

void rope_table(const int64_t* positions, int64_t T, const std::vector<float>& inv_freq,
                RopeTable& out) {
  const int64_t half = int64_t(inv_freq.size());
  out.cos.resize(size_t(T * half));
  out.sin.resize(size_t(T * half));
  for (int64_t t = 0; t < T; ++t) {
    const float pos = float(positions[t]);
    for (int64_t i = 0; i < half; ++i) {
      const float angle = pos * inv_freq[size_t(i)];  // f32 product, as torch does
      out.cos[size_t(t * half + i)] = float(std::cos(double(angle)));
      out.sin[size_t(t * half + i)] = float(std::sin(double(angle)));
    }
  }
}

void rope_rotate(float* x, int64_t T, int64_t n_heads, int64_t hd, const float* cos,
                 const float* sin) {
  const int64_t half = hd / 2;
  for (int64_t t = 0; t < T; ++t) {
    const float* cs = cos + t * half;
    const float* sn = sin + t * half;
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

void rope_apply(float* x, int64_t T, int64_t n_heads, int64_t hd, int64_t pos0,
                const std::vector<float>& inv_freq) {
  std::vector<int64_t> positions(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) positions[size_t(t)] = pos0 + t;
  RopeTable table;
  rope_table(positions.data(), T, inv_freq, table);
  rope_rotate(x, T, n_heads, hd, table.cos.data(), table.sin.data());
}

}  // namespace quanta::ops
