// Helpers shared by the compress tests: correlated calibration data and Hessian-weighted errors.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "compress/gptq.h"

namespace quanta::testing {

// x (n, cols) f32: a few shared factors plus noise, so that H is far from diagonal.
inline std::vector<float> correlated_inputs(int64_t n, int64_t cols, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int64_t k = std::max<int64_t>(1, cols / 8);
  std::vector<float> a(static_cast<size_t>(k * cols)), x(static_cast<size_t>(n * cols));
  for (auto& v : a) v = nd(gen);
  std::vector<float> z(static_cast<size_t>(k));
  for (int64_t t = 0; t < n; ++t) {
    for (auto& v : z) v = nd(gen);
    for (int64_t c = 0; c < cols; ++c) {
      float s = 0.3f * nd(gen);
      for (int64_t i = 0; i < k; ++i) s += z[size_t(i)] * a[size_t(i * cols + c)];
      x[size_t(t * cols + c)] = s;
    }
  }
  return x;
}

inline std::vector<float> random_weights(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> nd(0.0f, 0.05f);
  std::vector<float> w(static_cast<size_t>(rows * cols));
  for (auto& v : w) v = nd(gen);
  return w;
}

inline std::vector<double> hessian_of(const std::vector<float>& x, int64_t n, int64_t cols) {
  HessianAccumulator acc(cols);
  acc.add(x.data(), n);
  return acc.hessian();
}

// sum_r (w_r - q_r)^T H (w_r - q_r) = (2 / n) ||W X - Q X||^2.
inline double output_error(const std::vector<float>& w, const std::vector<float>& q, int64_t rows,
                           int64_t cols, const std::vector<double>& h) {
  double total = 0;
  std::vector<double> d(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c)
      d[size_t(c)] = double(w[size_t(r * cols + c)]) - double(q[size_t(r * cols + c)]);
    for (int64_t i = 0; i < cols; ++i) {
      double s = 0;
      for (int64_t j = 0; j < cols; ++j) s += h[size_t(i * cols + j)] * d[size_t(j)];
      total += d[size_t(i)] * s;
    }
  }
  return total;
}

}  // namespace quanta::testing
