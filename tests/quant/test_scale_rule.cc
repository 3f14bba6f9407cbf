// --scale-rule ggml: ggml's Q4_0 / Q8_0 block rules against llama.cpp's own gguf-py port of
// quantize_row_q4_0_ref / quantize_row_q8_0_ref (fixture made by
// scripts/reference/make_ggml_block_cases.py): d bit for bit as f16 (sign of zero included) and
// every code; GPTQ on that grid; schemes the rule cannot apply to.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "compress/gptq.h"
#include "compress/compress_test_util.h"
#include "core/dtype.h"
#include "core/error.h"
#include "quant/ggml_blocks.h"
#include "quant/rtn.h"

namespace quanta {
namespace {

using json = nlohmann::json;

QuantArgs ggml_args(int bits) {
  QuantArgs a;
  a.num_bits = bits;
  a.group_size = 32;
  a.scale_rule = ScaleRule::kGgml;
  return a;
}

TEST(ScaleRuleGgml, MatchesLlamaCppReferenceBlocks) {
  std::ifstream in(std::string(QUANTA_SOURCE_DIR) + "/tests/quant/data/ggml_block_cases.json");
  std::stringstream ss;
  ss << in.rdbuf();
  const json cases = json::parse(ss.str())["cases"];
  ASSERT_GT(cases.size(), 100u);
  int negative = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const json& c = cases[i];
    SCOPED_TRACE(fmt::format("case {} ({})", i, c["type"].get<std::string>()));
    const bool q4 = c["type"] == "q4_0";
    const std::vector<float> x = c["x"].get<std::vector<float>>();
    ASSERT_EQ(x.size(), 32u);
    const QuantizedWeight q = quantize_rtn(x.data(), 1, 32, ggml_args(q4 ? 4 : 8));
    EXPECT_EQ(f32_to_f16(q.scales[0]), c["d_f16"].get<uint16_t>()) << q.scales[0];
    const std::vector<int> want = c["codes"].get<std::vector<int>>();
    for (int j = 0; j < 32; ++j) EXPECT_EQ(int(q.codes[size_t(j)]), want[size_t(j)]) << "element " << j;
    negative += q.scales[0] < 0;
    // The Q4_0 bytes our export writes for these codes are ggml's block.
    if (q4) {
      uint8_t block[kQ4_0Bytes];
      encode_q4_0_row(q.codes.data(), q.scales.data(), 32, block);
      uint16_t d;
      std::memcpy(&d, block, 2);
      EXPECT_EQ(d, c["d_f16"].get<uint16_t>());
    }
  }
  EXPECT_GT(negative, 10);  // ggml's d is negative when the extreme weight is positive
}

TEST(ScaleRuleGgml, CodesStayOnTheGridOutsideTheGroupRange) {
  // GPTQ's updates can push a weight beyond the range its group's scale was set from.
  QuantArgs a = ggml_args(4);
  std::vector<float> g(32, 0.01f);
  g[3] = -0.08f;  // d = 0.01
  const QParams p = compute_qparams(g.data(), 32, a);
  EXPECT_FLOAT_EQ(p.scale, f16_to_f32(f32_to_f16(0.01f)));
  EXPECT_EQ(quantize_value(-0.5f, p, a), -8);
  EXPECT_EQ(quantize_value(0.5f, p, a), 7);
  EXPECT_EQ(quantize_value(0.025f, p, a), 3);  // ties round up, as ggml's + 8.5 and truncation
  EXPECT_EQ(quantize_value(-0.025f, p, a), -2);
  a.num_bits = 8;
  const QParams p8 = compute_qparams(g.data(), 32, a);
  EXPECT_EQ(quantize_value(5.0f, p8, a), 127);
  EXPECT_EQ(quantize_value(-5.0f, p8, a), -128);
}

TEST(ScaleRuleGgml, GptqWithIdentityHessianIsRtn) {
  // With H = I nothing is propagated, so GPTQ reduces to RTN on the same grid, code for code.
  const int64_t rows = 16, cols = 128;
  const std::vector<float> w = testing::random_weights(rows, cols, 21);
  std::vector<double> h(size_t(cols * cols), 0.0);
  for (int64_t i = 0; i < cols; ++i) h[size_t(i * cols + i)] = 1.0;
  for (int bits : {4, 8}) {
    const QuantArgs a = ggml_args(bits);
    const GptqResult r = gptq_quantize(w.data(), rows, cols, h, a, GptqOptions{});
    const QuantizedWeight q = quantize_rtn(w.data(), rows, cols, a);
    EXPECT_EQ(r.weight.codes, q.codes);
    EXPECT_EQ(r.weight.scales, q.scales);
  }
}

TEST(ScaleRuleGgml, GptqBeatsRtnOnTheGgmlGrid) {
  const int64_t rows = 32, cols = 128, n = 512;
  const std::vector<float> x = testing::correlated_inputs(n, cols, 11);
  const std::vector<float> w = testing::random_weights(rows, cols, 12);
  const std::vector<double> h = testing::hessian_of(x, n, cols);
  const QuantArgs a = ggml_args(4);
  const GptqResult r = gptq_quantize(w.data(), rows, cols, h, a, GptqOptions{});
  std::vector<float> dq(w.size()), dr(w.size());
  r.weight.dequantize(dq.data());
  quantize_rtn(w.data(), rows, cols, a).dequantize(dr.data());
  for (int8_t c : r.weight.codes) ASSERT_TRUE(c >= -8 && c <= 7);
  const double e_gptq = testing::output_error(w, dq, rows, cols, h);
  const double e_rtn = testing::output_error(w, dr, rows, cols, h);
  EXPECT_LT(e_gptq, 0.8 * e_rtn) << "gptq " << e_gptq << " rtn " << e_rtn;
}

TEST(ScaleRuleGgml, RejectsSchemesItCannotApplyTo) {
  const std::vector<float> w(32, 0.1f);
  const auto message = [&](QuantArgs a) -> std::string {
    try {
      quantize_rtn(w.data(), 1, 32, a);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  QuantArgs a = ggml_args(4);
  a.symmetric = false;
  EXPECT_NE(message(a).find("scale rule ggml applies to symmetric 4-bit"), std::string::npos);
  a = ggml_args(3);
  EXPECT_NE(message(a).find("not 3-bit"), std::string::npos);
  a = ggml_args(8);
  a.type = QuantType::kFloat;
  EXPECT_NE(message(a).find("float"), std::string::npos);
  EXPECT_EQ(scale_rule_by_name("ggml"), ScaleRule::kGgml);
  EXPECT_EQ(scale_rule_by_name("minmax"), ScaleRule::kMinMax);
  EXPECT_THROW(scale_rule_by_name("q4_0"), Error);
}

}  // namespace
}  // namespace quanta
