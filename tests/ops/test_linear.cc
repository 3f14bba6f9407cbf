// ops::linear_fused's residual against the sequence it replaces (linear, then the skip
// connection): the same bits, for every kernel path (f32, int4 / int8 weight-only, W8A8, FP8,
// FP8_DYNAMIC), at decode and prefill token counts, with 2 and 3 threads.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include "core/thread_pool.h"
#include "ops/linear.h"
#include "quant/packed_weight.h"
#include "quant/rtn.h"
#include "test_util.h"

namespace quanta::ops {
namespace {

using testing_util::random_floats;

// A (rows, cols) weight: f32, or RTN-quantized and packed for the kernels.
struct Weight {
  std::vector<float> dense;
  std::optional<PackedWeight> packed;
  MatrixView view;
};

enum class Kind { kF32, kInt4G32, kInt8Chan, kW8A8, kFp8, kFp8Dynamic };

Weight make_weight(Kind kind, int64_t rows, int64_t cols, uint32_t seed) {
  Weight w;
  w.dense = random_floats(rows * cols, seed);
  if (kind == Kind::kF32) {
    w.view.data = w.dense.data();
    w.view.rows = rows;
    w.view.cols = cols;
    return w;
  }
  QuantArgs a;
  a.type = kind == Kind::kFp8 || kind == Kind::kFp8Dynamic ? QuantType::kFloat : QuantType::kInt;
  a.num_bits = kind == Kind::kInt4G32 ? 4 : 8;
  a.symmetric = true;
  a.group_size = kind == Kind::kInt4G32 ? 32 : 0;
  const QuantizedWeight q = quantize_rtn(w.dense.data(), rows, cols, a);
  w.packed = pack_weight(q, kind == Kind::kW8A8         ? ActQuant::kInt8PerToken
                            : kind == Kind::kFp8Dynamic ? ActQuant::kFp8PerToken
                                                        : ActQuant::kNone);
  EXPECT_TRUE(w.packed.has_value());
  w.view = w.packed->view;
  return w;
}

const Kind kKinds[] = {Kind::kF32, Kind::kInt4G32, Kind::kInt8Chan, Kind::kW8A8, Kind::kFp8,
                       Kind::kFp8Dynamic};

TEST(Linear, ResidualEqualsLinearThenAdd) {
  const int64_t rows = 200, cols = 96;  // rows: no multiple of the 16-row pieces
  for (int threads : {2, 3}) {
    ThreadPool pool(threads);
    for (Kind kind : kKinds) {
      const Weight w = make_weight(kind, rows, cols, 1);
      for (int64_t m : {1, 3, 5, 70}) {  // 5: batched decode (AMX from 3 or 4 tokens)
        const std::vector<float> x = random_floats(m * cols, 2), base = random_floats(m * rows, 3);
        std::vector<float> y(x.size() / cols * rows), want = base;
        linear(x.data(), m, w.view, nullptr, y.data(), pool);
        for (size_t i = 0; i < want.size(); ++i) want[i] += y[i];
        std::vector<float> got = base, y2(y.size());
        const LinearPart part{&w.view, nullptr, y2.data(), got.data()};
        linear_fused(x.data(), m, &part, 1, pool);
        ASSERT_EQ(got, want) << "kind " << int(kind) << " m=" << m << " threads=" << threads;
        ASSERT_EQ(y2, y);
      }
    }
  }
}

}  // namespace
}  // namespace quanta::ops
