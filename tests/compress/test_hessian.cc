#include <gtest/gtest.h>

#include <cmath>

#include "compress/compress_test_util.h"
#include "compress/gptq.h"
#include "core/error.h"

namespace quanta {
namespace {

TEST(Hessian, MatchesDirectSumOverBatches) {
  const int64_t cols = 37, n1 = 100, n2 = 300;  // n2 spans the accumulator's internal chunks
  const std::vector<float> x = testing::correlated_inputs(n1 + n2, cols, 7);
  HessianAccumulator acc(cols);
  acc.add(x.data(), n1);
  acc.add(x.data() + n1 * cols, n2);
  EXPECT_EQ(acc.n_tokens(), n1 + n2);
  const std::vector<double> h = acc.hessian();
  ASSERT_EQ(int64_t(h.size()), cols * cols);
  for (int64_t i = 0; i < cols; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      double s = 0;
      for (int64_t t = 0; t < n1 + n2; ++t)
        s += double(x[size_t(t * cols + i)]) * double(x[size_t(t * cols + j)]);
      s *= 2.0 / double(n1 + n2);
      EXPECT_NEAR(h[size_t(i * cols + j)], s, 1e-12 * (1 + std::fabs(s))) << i << "," << j;
    }
  }
}

TEST(Hessian, EmptyIsZero) {
  HessianAccumulator acc(4);
  for (double v : acc.hessian()) EXPECT_EQ(v, 0.0);
  EXPECT_THROW(HessianAccumulator(0), Error);
}

}  // namespace
}  // namespace quanta
