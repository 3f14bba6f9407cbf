// Scalar reference of the streamed-softmax attention update (kernels/attention.h): all n scores,
// their max, then one rescale of the state and one weighted sum, in index order, std::exp. I8
// rows: the dot with the codes times the row's K scale; p times the row's V scale times the codes.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/attention.h"

namespace quanta::kernels::ref {
namespace {

float load(const void* p, DType t, int64_t i) {
  if (t == DType::kF32) return static_cast<const float*>(p)[i];
  if (t == DType::kI8) return float(static_cast<const int8_t*>(p)[i]);
  const uint16_t h = static_cast<const uint16_t*>(p)[i];
  return t == DType::kF16 ? f16_to_f32(h) : bf16_to_f32(h);
}

}  // namespace

void attend_update(const float* q, int64_t n_q, int64_t hd, float scale, const KvRows& kv,
                   int64_t n, float* m, float* l, float* acc) {
  const bool i8 = kv.type == DType::kI8;
  std::vector<float> s(static_cast<size_t>(n));
  for (int64_t i = 0; i < n_q; ++i) {
    const float* qi = q + i * hd;
    float mx = m[i];
    for (int64_t j = 0; j < n; ++j) {
      float dot = 0.0f;
      for (int64_t d = 0; d < hd; ++d) dot += qi[d] * load(kv.k, kv.type, j * kv.stride + d);
      s[size_t(j)] = dot * scale * (i8 ? kv.k_scale[j * kv.scale_stride] : 1.0f);
      mx = std::max(mx, s[size_t(j)]);
    }
    const float corr = std::exp(m[i] - mx);  // 0 when m[i] is -inf (nothing seen yet)
    float* ai = acc + i * hd;
    for (int64_t d = 0; d < hd; ++d) ai[d] *= corr;
    float sum = 0.0f;
    for (int64_t j = 0; j < n; ++j) {
      const float p = std::exp(s[size_t(j)] - mx);
      sum += p;
      const float pv = p * (i8 ? kv.v_scale[j * kv.scale_stride] : 1.0f);
      for (int64_t d = 0; d < hd; ++d) ai[d] += pv * load(kv.v, kv.type, j * kv.stride + d);
    }
    l[i] = l[i] * corr + sum;
    m[i] = mx;
  }
}

}  // namespace quanta::kernels::ref
