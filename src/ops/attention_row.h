// One query head attending over keys [first, n_keys): o (hd,) = sum_j softmax_j(q . k_j * scale) v_j.
// key_row(j) / value_row(j) give the (hd,) rows, so the contiguous cache (ops/attention.cc) and the
// paged one (ops/paged_attention.cc) share the arithmetic. scores has room for n_keys floats.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/matmul.h"

namespace quanta::ops {

template <typename KeyRow, typename ValueRow>
void attend_one_query(const float* qv, int64_t first, int64_t n_keys, int64_t hd, float scale,
                      const KeyRow& key_row, const ValueRow& value_row, float* scores, float* o,
                      kernels::Isa isa) {
  float mx = -INFINITY;
  for (int64_t j = first; j < n_keys; ++j) {
    const float sc = kernels::dot(qv, key_row(j), hd, isa) * scale;
    scores[j] = sc;
    mx = std::max(mx, sc);
  }
  float sum = 0.0f;
  for (int64_t j = first; j < n_keys; ++j) {
    scores[j] = std::exp(scores[j] - mx);
    sum += scores[j];
  }
  std::memset(o, 0, sizeof(float) * size_t(hd));
  const float inv = 1.0f / sum;
  for (int64_t j = first; j < n_keys; ++j) kernels::axpy(scores[j] * inv, value_row(j), o, hd, isa);
}

}  // namespace quanta::ops
