// GPTQ against scripts/reference/make_gptq_cases.py (tests/compress/data/gptq_cases.json), and
// properties that hold for any correct implementation.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "compress/compress_test_util.h"
#include "compress/gptq.h"
#include "core/error.h"
#include "quant/rtn.h"

namespace quanta {
namespace {

const nlohmann::json& cases() {
  static const nlohmann::json j = [] {
    std::ifstream f(QUANTA_SOURCE_DIR "/tests/compress/data/gptq_cases.json");
    if (!f) throw Error("cannot open tests/compress/data/gptq_cases.json");
    return nlohmann::json::parse(f);
  }();
  return j;
}

struct Layer {
  int64_t rows, cols;
  std::vector<float> w;
  std::vector<double> h;
};

Layer load_layer(const nlohmann::json& l) {
  Layer out;
  out.rows = l["rows"];
  out.cols = l["cols"];
  out.w = l["w"].get<std::vector<float>>();
  const int64_t n = l["n_tokens"];
  const double xs = l["x_scale"];
  std::vector<float> x;
  for (int v : l["x_int"].get<std::vector<int>>()) x.push_back(float(v * xs));
  out.h = testing::hessian_of(x, n, out.cols);  // exact: x is dyadic and n a power of two
  return out;
}

TEST(Gptq, MatchesNumpyReference) {
  for (const auto& l : cases()["layers"]) {
    const Layer L = load_layer(l);
    for (const auto& c : l["gptq"]) {
      QuantArgs args;
      args.num_bits = c["bits"];
      args.symmetric = c["symmetric"];
      args.group_size = c["group_size"];
      const std::vector<int> want_codes = c["codes"].get<std::vector<int>>();
      const std::vector<float> want_scales = c["scales"].get<std::vector<float>>();
      const std::vector<int> want_zeros = c["zeros"].get<std::vector<int>>();
      // Lazy blocks of several widths (16: groups straddle blocks) give the same result.
      for (int64_t bs : {128, 16, 24}) {
        SCOPED_TRACE(std::string(l["name"]) + " " + std::string(c["name"]) + " block " +
                     std::to_string(bs));
        GptqOptions opt;
        opt.block_size = bs;
        opt.actorder = c["actorder"].get<bool>() ? ActOrder::kStatic : ActOrder::kNone;
        const GptqResult r = gptq_quantize(L.w.data(), L.rows, L.cols, L.h, args, opt);
        ASSERT_EQ(r.weight.codes.size(), want_codes.size());
        int64_t mismatches = 0;
        for (size_t i = 0; i < want_codes.size(); ++i) {
          int code = r.weight.codes[i];
          if (!args.symmetric) code = int(uint8_t(r.weight.codes[i]));
          mismatches += code != want_codes[i];
        }
        EXPECT_EQ(mismatches, 0);
        EXPECT_EQ(r.weight.scales, want_scales);
        if (!args.symmetric) {
          EXPECT_EQ(r.weight.zeros, std::vector<int32_t>(want_zeros.begin(), want_zeros.end()));
        }
        const double want_loss = c["loss"];
        EXPECT_NEAR(r.loss, want_loss, 1e-6 * want_loss);
        if (opt.actorder != ActOrder::kNone && args.group_size > 0) {
          ASSERT_EQ(int64_t(r.weight.g_idx.size()), L.cols);
          for (int64_t i = 0; i < L.cols; ++i) EXPECT_EQ(r.weight.g_idx[size_t(i)], i / 32);
        } else {
          EXPECT_TRUE(r.weight.g_idx.empty());
        }
      }
    }
  }
}

double rtn_error(const std::vector<float>& w, int64_t rows, int64_t cols,
                 const std::vector<double>& h, const QuantArgs& args) {
  const QuantizedWeight q = quantize_rtn(w.data(), rows, cols, args);
  std::vector<float> dq(w.size());
  q.dequantize(dq.data());
  return testing::output_error(w, dq, rows, cols, h);
}

TEST(Gptq, BeatsRtnOnCorrelatedInputs) {
  const int64_t rows = 32, cols = 128, n = 512;
  const std::vector<float> x = testing::correlated_inputs(n, cols, 11);
  const std::vector<float> w = testing::random_weights(rows, cols, 12);
  const std::vector<double> h = testing::hessian_of(x, n, cols);
  for (bool asym : {false, true}) {
    for (ActOrder actorder : {ActOrder::kNone, ActOrder::kStatic, ActOrder::kGroup}) {
      SCOPED_TRACE(std::string(asym ? "asym " : "sym ") + act_order_name(actorder));
      QuantArgs args;
      args.num_bits = 4;
      args.symmetric = !asym;
      args.group_size = 32;
      GptqOptions opt;
      opt.actorder = actorder;
      const GptqResult r = gptq_quantize(w.data(), rows, cols, h, args, opt);
      std::vector<float> dq(w.size());
      r.weight.dequantize(dq.data());
      const double e_gptq = testing::output_error(w, dq, rows, cols, h);
      const double e_rtn = rtn_error(w, rows, cols, h, args);
      EXPECT_LT(e_gptq, 0.8 * e_rtn) << "gptq " << e_gptq << " rtn " << e_rtn;
    }
  }
}

TEST(Gptq, StaticGroupsKeepRtnScales) {
  const int64_t rows = 8, cols = 64, n = 128;
  const std::vector<float> x = testing::correlated_inputs(n, cols, 3);
  const std::vector<float> w = testing::random_weights(rows, cols, 4);
  QuantArgs args;
  args.num_bits = 4;
  args.group_size = 32;
  GptqOptions opt;
  opt.static_groups = true;
  const GptqResult r =
      gptq_quantize(w.data(), rows, cols, testing::hessian_of(x, n, cols), args, opt);
  EXPECT_EQ(r.weight.scales, quantize_rtn(w.data(), rows, cols, args).scales);
}

TEST(Gptq, RejectsBadInput) {
  const std::vector<float> w(4 * 64, 0.1f);
  std::vector<double> h(64 * 64, 0.0);
  for (int i = 0; i < 64; ++i) h[size_t(i * 64 + i)] = 1.0;
  QuantArgs args;
  args.num_bits = 4;
  args.group_size = 32;
  const auto message = [&](std::vector<double> hh, const QuantArgs& a) -> std::string {
    try {
      gptq_quantize(w.data(), 4, 64, std::move(hh), a, GptqOptions{});
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(message(std::vector<double>(63 * 63, 1.0), args).find("Hessian has 3969 entries"),
            std::string::npos);
  QuantArgs bad = args;
  bad.group_size = 48;
  EXPECT_NE(message(h, bad).find("group_size 48 does not divide the 64"), std::string::npos);
  std::vector<double> neg = h;
  neg[0] = -5.0;
  EXPECT_NE(message(neg, args).find("not positive definite"), std::string::npos);
  EXPECT_EQ(message(h, args), "");
}

// actorder "group" is plain GPTQ (groups formed at the sweep) on W and H permuted by descending
// diag(H), mapped back: the same codes and scales, with g_idx naming each column's group.
TEST(Gptq, GroupActOrderIsGptqOnPermutedColumns) {
  const int64_t rows = 16, cols = 96, n = 400, gs = 32;
  const std::vector<float> x = testing::correlated_inputs(n, cols, 21);
  const std::vector<float> w = testing::random_weights(rows, cols, 22);
  const std::vector<double> h = testing::hessian_of(x, n, cols);
  std::vector<int64_t> perm(static_cast<size_t>(cols));
  std::iota(perm.begin(), perm.end(), 0);
  std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) {
    return h[size_t(a * cols + a)] > h[size_t(b * cols + b)];
  });
  ASSERT_FALSE(std::is_sorted(perm.begin(), perm.end())) << "test needs a non-trivial order";
  std::vector<float> wp(w.size());
  std::vector<double> hp(h.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) wp[size_t(r * cols + j)] = w[size_t(r * cols + perm[size_t(j)])];
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = 0; j < cols; ++j)
      hp[size_t(i * cols + j)] = h[size_t(perm[size_t(i)] * cols + perm[size_t(j)])];
  for (bool asym : {false, true}) {
    SCOPED_TRACE(asym ? "asym" : "sym");
    QuantArgs args;
    args.num_bits = 4;
    args.symmetric = !asym;
    args.group_size = gs;
    GptqOptions opt;
    const GptqResult plain = gptq_quantize(wp.data(), rows, cols, hp, args, opt);
    opt.actorder = ActOrder::kGroup;
    const GptqResult g = gptq_quantize(w.data(), rows, cols, h, args, opt);
    EXPECT_EQ(g.weight.args.actorder, ActOrder::kGroup);
    ASSERT_EQ(int64_t(g.weight.g_idx.size()), cols);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < cols; ++j)
        ASSERT_EQ(g.weight.codes[size_t(r * cols + perm[size_t(j)])], plain.weight.codes[size_t(r * cols + j)])
            << r << "," << j;
    for (int64_t j = 0; j < cols; ++j) EXPECT_EQ(g.weight.g_idx[size_t(perm[size_t(j)])], j / gs);
    EXPECT_EQ(g.weight.scales, plain.weight.scales);
    EXPECT_EQ(g.weight.zeros, plain.weight.zeros);
    EXPECT_NEAR(g.loss, plain.loss, 1e-9 * plain.loss);
  }
}

}  // namespace
}  // namespace quanta
