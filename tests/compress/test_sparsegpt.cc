// SparseGPT and magnitude pruning: exact patterns, error vs magnitude, the numpy reference.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "compress/compress_test_util.h"
#include "compress/gptq.h"
#include "core/error.h"

namespace quanta {
namespace {

constexpr int64_t kRows = 32, kCols = 128, kTokens = 512;

struct Data {
  std::vector<float> w;
  std::vector<double> h;
};

const Data& data() {
  static const Data d = [] {
    Data out;
    out.w = testing::random_weights(kRows, kCols, 21);
    out.h = testing::hessian_of(testing::correlated_inputs(kTokens, kCols, 22), kTokens, kCols);
    return out;
  }();
  return d;
}

// exact = false: small kept weights may also quantize to 0.
void expect_n_zeros_per_m(const std::vector<float>& w, int n, int m, bool exact = true) {
  for (int64_t r = 0; r < kRows; ++r)
    for (int64_t c0 = 0; c0 < kCols; c0 += m) {
      int zeros = 0;
      for (int k = 0; k < m; ++k) zeros += w[size_t(r * kCols + c0 + k)] == 0.0f;
      if (exact) {
        ASSERT_EQ(zeros, n) << "row " << r << " cols " << c0;
      } else {
        ASSERT_GE(zeros, n) << "row " << r << " cols " << c0;
      }
    }
}

int64_t count_zeros(const std::vector<float>& w) {
  int64_t z = 0;
  for (float v : w) z += v == 0.0f;
  return z;
}

TEST(SparseGpt, TwoFourPatternAndBeatsMagnitude) {
  SparsityOptions sp;
  sp.n = 2;
  sp.m = 4;
  std::vector<float> w = data().w;
  const double loss = sparsegpt_prune(w.data(), kRows, kCols, data().h, sp, GptqOptions{});
  EXPECT_GT(loss, 0);
  expect_n_zeros_per_m(w, 2, 4);
  std::vector<float> wm = data().w;
  magnitude_prune(wm.data(), kRows, kCols, sp);
  expect_n_zeros_per_m(wm, 2, 4);
  const double e_sgpt = testing::output_error(data().w, w, kRows, kCols, data().h);
  const double e_mag = testing::output_error(data().w, wm, kRows, kCols, data().h);
  EXPECT_LT(e_sgpt, 0.8 * e_mag) << "sparsegpt " << e_sgpt << " magnitude " << e_mag;
}

TEST(SparseGpt, UnstructuredHalfAndBeatsMagnitude) {
  SparsityOptions sp;
  sp.sparsity = 0.5;
  std::vector<float> w = data().w;
  sparsegpt_prune(w.data(), kRows, kCols, data().h, sp, GptqOptions{});
  // One block of 128 columns: floor(numel / 2) + 1 entries at or under the threshold.
  EXPECT_EQ(count_zeros(w), kRows * kCols / 2 + 1);
  std::vector<float> wm = data().w;
  magnitude_prune(wm.data(), kRows, kCols, sp);
  EXPECT_EQ(count_zeros(wm), kRows * kCols / 2);
  const double e_sgpt = testing::output_error(data().w, w, kRows, kCols, data().h);
  const double e_mag = testing::output_error(data().w, wm, kRows, kCols, data().h);
  EXPECT_LT(e_sgpt, 0.8 * e_mag) << "sparsegpt " << e_sgpt << " magnitude " << e_mag;
}

TEST(SparseGpt, JointQuantization) {
  SparsityOptions sp;
  sp.n = 2;
  sp.m = 4;
  QuantArgs args;
  args.num_bits = 4;
  args.group_size = 32;
  std::vector<float> w = data().w;
  QuantizedWeight q;
  sparsegpt_prune(w.data(), kRows, kCols, data().h, sp, GptqOptions{}, &args, &q);
  expect_n_zeros_per_m(w, 2, 4, /*exact=*/false);
  std::vector<float> dq(w.size());
  q.dequantize(dq.data());
  EXPECT_EQ(dq, w);  // the returned weights are the dequantized ones
}

TEST(SparseGpt, MatchesNumpyReference) {
  std::ifstream f(QUANTA_SOURCE_DIR "/tests/compress/data/gptq_cases.json");
  ASSERT_TRUE(f);
  const nlohmann::json j = nlohmann::json::parse(f);
  const auto& l = j["layers"][0];
  const int64_t rows = l["rows"], cols = l["cols"], n = l["n_tokens"];
  const double xs = l["x_scale"];
  std::vector<float> x;
  for (int v : l["x_int"].get<std::vector<int>>()) x.push_back(float(v * xs));
  const std::vector<double> h = testing::hessian_of(x, n, cols);
  ASSERT_FALSE(l["sparsegpt"].empty());
  for (const auto& c : l["sparsegpt"]) {
    SCOPED_TRACE(std::string(c["name"]));
    SparsityOptions sp;
    sp.sparsity = c["sparsity"];
    sp.n = c["n"];
    sp.m = c["m"];
    GptqOptions opt;
    opt.block_size = c["block_size"];
    std::vector<float> w = l["w"].get<std::vector<float>>();
    const double loss = sparsegpt_prune(w.data(), rows, cols, h, sp, opt);
    const std::vector<double> want = c["w"].get<std::vector<double>>();
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(w[i] == 0.0f, want[i] == 0.0) << i;
      EXPECT_NEAR(w[i], want[i], 1e-6) << i;
    }
    const double want_loss = c["loss"];
    EXPECT_NEAR(loss, want_loss, 1e-6 * want_loss);
  }
}

TEST(SparseGpt, RejectsBadInput) {
  std::vector<float> w(4 * 64, 0.1f);
  SparsityOptions sp;
  sp.n = 2;
  sp.m = 3;
  std::vector<double> h(64 * 64, 0.0);
  try {
    sparsegpt_prune(w.data(), 4, 64, h, sp, GptqOptions{});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("m = 3 does not divide the 64"), std::string::npos);
  }
  sp.m = 4;
  EXPECT_THROW(sparsegpt_prune(w.data(), 4, 64, std::vector<double>(10), sp, GptqOptions{}), Error);
  sp = SparsityOptions{};
  sp.sparsity = 1.5;
  EXPECT_THROW(magnitude_prune(w.data(), 4, 64, sp), Error);
}

}  // namespace
}  // namespace quanta
