// Scalar reference of the streamed-softmax attention update (kernels/attention.h): all n scores,
// their max, then one rescale of the state and one weighted sum, in index order, std::exp.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/attention.h"

namespace quanta::kernels::ref {
namespace {

float load(const void* p, DType t, int64_t i) {
  if (t == DType::kF32) return static_cast<const float*>(p)[i];
  const uint16_t h = static_cast<const uint16_t*>(p)[i];
  return t == DType::kF16 ? f16_to_f32(h) : bf16_to_f32(h);
}

}  // namespace

void attend_update(const float* q, int64_t n_q, int64_t hd, float scale, const void* k,
                   const void* v, DType kv_type, int64_t kv_stride, int64_t n, float* m, float* l,
                   float* acc) {
  std::vector<float> s(static_cast<size_t>(n));
  for (int64_t i = 0; i < n_q; ++i) {
    const float* qi = q + i * hd;
    float mx = m[i];
    for (int64_t j = 0; j < n; ++j) {
      float dot = 0.0f;
      for (int64_t d = 0; d < hd; ++d) dot += qi[d] * load(k, kv_type, j * kv_stride + d);
      s[size_t(j)] = dot * scale;
      mx = std::max(mx, s[size_t(j)]);
    }
    const float corr = std::exp(m[i] - mx);  // 0 when m[i] is -inf (nothing seen yet)
    float* ai = acc + i * hd;
    for (int64_t d = 0; d < hd; ++d) ai[d] *= corr;
    float sum = 0.0f;
    for (int64_t j = 0; j < n; ++j) {
      const float p = std::exp(s[size_t(j)] - mx);
      sum += p;
      for (int64_t d = 0; d < hd; ++d) ai[d] += p * load(v, kv_type, j * kv_stride + d);
    }
    l[i] = l[i] * corr + sum;
    m[i] = mx;
  }
}

}  // namespace quanta::kernels::ref
