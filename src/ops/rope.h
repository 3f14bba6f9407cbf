// Rotary position embedding, HF "rotate_half" layout (non-interleaved): for each head vector v of
// size hd and i < hd/2, (v[i], v[i+hd/2]) is rotated by angle pos * inv_freq[i].
#pragma once

#include <cstdint>
#include <vector>

namespace quanta::ops {

struct RopeParams {
  float theta = 10000.0f;
  int kind = 0;  // 0 none, 1 llama3, 2 linear
  float factor = 1.0f;
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  int64_t original_max_position = 8192;
};

// inv_freq (hd/2,) as transformers computes it in f32, with llama3/linear scaling applied.
std::vector<float> rope_inv_freq(int64_t head_dim, const RopeParams& p);

// cos and sin (T, hd/2) of positions[t] * inv_freq[i] (the angle an f32 product, as torch
// computes it). One table serves every layer's q and k of a step: the trigonometry is per
// position, not per head and layer.
struct RopeTable {
  std::vector<float> cos, sin;
};
void rope_table(const int64_t* positions, int64_t T, const std::vector<float>& inv_freq,
                RopeTable& out);

// x (T, n_heads, hd) in place, token t rotated by row t of the table's (cos, sin).
void rope_rotate(float* x, int64_t T, int64_t n_heads, int64_t hd, const float* cos,
                 const float* sin);

// x (T, n_heads, hd) in place; token t sits at position pos0 + t (rope_table + rope_rotate).
void rope_apply(float* x, int64_t T, int64_t n_heads, int64_t hd, int64_t pos0,
                const std::vector<float>& inv_freq);

}  // namespace quanta::ops
