// RTN codecs against compressed-tensors 0.19's own functions (fixture made by
// scripts/reference/make_quant_cases.py): scales, zero points, codes and int32 packing exactly;
// E4M3 conversions over all 256 bytes; awkward sizes.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "core/dtype.h"
#include "core/error.h"
#include "quant/compressed_tensors_format.h"
#include "quant/quant_args.h"
#include "quant/rtn.h"

namespace quanta {
namespace {

using json = nlohmann::json;

const json& fixture() {
  static const json j = [] {
    std::ifstream in(std::string(QUANTA_SOURCE_DIR) + "/tests/quant/data/quant_cases.json");
    std::stringstream ss;
    ss << in.rdbuf();
    return json::parse(ss.str());
  }();
  return j;
}

QuantArgs args_of(const json& c) {
  QuantArgs a;
  a.num_bits = c["num_bits"];
  a.type = c["type"] == "float" ? QuantType::kFloat : QuantType::kInt;
  a.symmetric = c["symmetric"];
  a.group_size = c["group_size"];
  return a;
}

TEST(Rtn, MatchesCompressedTensorsExactly) {
  const json& cases = fixture()["cases"];
  ASSERT_GE(cases.size(), 8u);
  for (const json& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const QuantArgs a = args_of(c);
    const int64_t rows = c["rows"], cols = c["cols"];
    std::vector<float> w;
    for (double d : c["w"]) w.push_back(float(d));
    const QuantizedWeight q = quantize_rtn(w.data(), rows, cols, a);
    const int64_t ng = q.n_groups();
    ASSERT_EQ(int64_t(c["scales"].size()), rows * ng);
    for (int64_t i = 0; i < rows * ng; ++i)
      ASSERT_EQ(q.scales[size_t(i)], float(c["scales"][size_t(i)].get<double>())) << "scale " << i;
    const int32_t off = a.type == QuantType::kInt && !a.symmetric ? 1 << (a.num_bits - 1) : 0;
    if (off) {
      for (int64_t i = 0; i < rows * ng; ++i)
        ASSERT_EQ(q.zeros[size_t(i)] - off, c["zeros"][size_t(i)].get<int>()) << "zero " << i;
    }
    for (int64_t i = 0; i < rows * cols; ++i) {
      int32_t code;
      if (a.type == QuantType::kFloat) {
        code = uint8_t(q.codes[size_t(i)]);
      } else if (off) {
        code = int32_t(uint8_t(q.codes[size_t(i)])) - off;  // compressed-tensors' signed code
      } else {
        code = q.codes[size_t(i)];
      }
      ASSERT_EQ(code, c["codes"][size_t(i)].get<int>()) << "code " << i;
    }
    if (c.contains("packed")) {
      std::vector<uint8_t> u(q.codes.size());
      for (size_t i = 0; i < u.size(); ++i)
        u[i] = off ? uint8_t(q.codes[i]) : uint8_t(int32_t(q.codes[i]) + (1 << (a.num_bits - 1)));
      const auto packed = ct::pack_rows(u.data(), rows, cols, a.num_bits);
      ASSERT_EQ(packed.size(), c["packed"].size());
      for (size_t i = 0; i < packed.size(); ++i)
        ASSERT_EQ(packed[i], c["packed"][i].get<int32_t>()) << "packed word " << i;
      const auto back = ct::unpack_rows(packed.data(), rows, cols, a.num_bits);
      EXPECT_EQ(back, u);
    }
    // dequantize() agrees with dequantize_value() of each element.
    std::vector<float> dq(size_t(rows * cols));
    q.dequantize(dq.data());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t col = 0; col < cols; ++col) {
        const int64_t g = a.group_size > 0 ? col / a.group_size : 0;
        QParams p;
        p.scale = q.scales[size_t(r * ng + g)];
        if (off) p.zero = q.zeros[size_t(r * ng + g)];
        int32_t code = a.type == QuantType::kFloat || off ? int32_t(uint8_t(q.codes[size_t(r * cols + col)]))
                                                          : int32_t(q.codes[size_t(r * cols + col)]);
        ASSERT_EQ(dq[size_t(r * cols + col)], dequantize_value(code, p, a));
      }
  }
}

TEST(Rtn, E4m3AllBytesRoundTrip) {
  const json& e = fixture()["e4m3"];
  for (int b = 0; b < 256; ++b) {
    const float f = e4m3_to_f32(uint8_t(b));
    const json& ref = e["byte_values"][size_t(b)];
    if (ref.is_null()) {
      EXPECT_TRUE(std::isnan(f)) << b;
      EXPECT_EQ(f32_to_e4m3(f) & 0x7f, 0x7f);
      continue;
    }
    EXPECT_EQ(f, float(ref.get<double>())) << "byte " << b;
    EXPECT_EQ(f32_to_e4m3(f), uint8_t(b)) << "byte " << b;
  }
  const json& probes = e["probes"];
  for (size_t i = 0; i < probes.size(); ++i)
    EXPECT_EQ(int(f32_to_e4m3(float(probes[i].get<double>()))), e["probe_bytes"][i].get<int>())
        << "probe " << probes[i];
  // Saturation (compressed-tensors clamps to +-448 before the cast).
  EXPECT_EQ(f32_to_e4m3(1e6f), 0x7e);
  EXPECT_EQ(f32_to_e4m3(-500.0f), 0xfe);
  EXPECT_EQ(f32_to_e4m3(INFINITY), 0x7e);
}

TEST(Rtn, ZeroGroupsAreSafe) {
  std::vector<float> z(24, 0.0f);
  for (const char* name : {"W4A16", "W4A16_ASYM", "W8A8", "FP8_DYNAMIC"}) {
    const Scheme s = scheme_by_name(name, 8);
    const QuantizedWeight q = quantize_rtn(z.data(), 3, 8, s.weights);
    for (float sc : q.scales) EXPECT_EQ(sc, 0.0078125f) << name;  // bf16 eps, as compressed-tensors
    std::vector<float> dq(24);
    q.dequantize(dq.data());
    for (float v : dq) EXPECT_EQ(v, 0.0f) << name;
  }
}

TEST(Rtn, AwkwardSizesErrorBounded) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (int64_t cols : {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 576}) {
    for (const char* name : {"W8A16", "W4A16", "W4A16_ASYM", "FP8"}) {
      const int64_t gs = std::string(name).rfind("W4", 0) == 0 ? cols : -1;
      const Scheme s = scheme_by_name(name, gs);
      const int64_t rows = 3;
      std::vector<float> w(size_t(rows * cols));
      for (auto& v : w) v = dist(rng);
      const QuantizedWeight q = quantize_rtn(w.data(), rows, cols, s.weights);
      std::vector<float> dq(w.size());
      q.dequantize(dq.data());
      for (int64_t r = 0; r < rows; ++r) {
        float amax = 0;
        for (int64_t c = 0; c < cols; ++c) amax = std::max(amax, std::fabs(w[size_t(r * cols + c)]));
        const float s0 = q.scales[size_t(r)];
        for (int64_t c = 0; c < cols; ++c) {
          const float err = std::fabs(dq[size_t(r * cols + c)] - w[size_t(r * cols + c)]);
          if (s.weights.type == QuantType::kFloat) {
            EXPECT_LE(err, amax * 0.0625f + 1e-6f) << name << " cols " << cols;
          } else {
            EXPECT_LE(err, s0 * 1.01f) << name << " cols " << cols;  // bf16 scale rounding
          }
        }
      }
    }
  }
}

TEST(QuantArgs, Schemes) {
  EXPECT_EQ(scheme_by_name("W4A16").weights.group_size, 128);
  EXPECT_EQ(scheme_by_name("W4A16", 64).weights.group_size, 64);
  EXPECT_EQ(scheme_by_name("W4A16", 0).weights.group_size, 0);  // per channel
  EXPECT_FALSE(scheme_by_name("W4A16_ASYM").weights.symmetric);
  EXPECT_TRUE(scheme_by_name("W8A8").input_activations.has_value());
  EXPECT_TRUE(scheme_by_name("W8A8").input_activations->dynamic);
  EXPECT_EQ(scheme_by_name("FP8_DYNAMIC").weights.type, QuantType::kFloat);
  EXPECT_FALSE(scheme_by_name("FP8").input_activations.has_value());
  EXPECT_EQ(scheme_by_name("W8A16").weights.group_size, 0);
  try {
    scheme_by_name("W3A5");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("W4A16_ASYM"), std::string::npos);
  }
  EXPECT_EQ(ct::format_for(scheme_by_name("W4A16")), "pack-quantized");
  EXPECT_EQ(ct::format_for(scheme_by_name("W8A16")), "pack-quantized");
  EXPECT_EQ(ct::format_for(scheme_by_name("W8A8")), "int-quantized");
  EXPECT_EQ(ct::format_for(scheme_by_name("FP8_DYNAMIC")), "float-quantized");
  EXPECT_EQ(ct::format_for(scheme_by_name("FP8")), "naive-quantized");
}

}  // namespace
}  // namespace quanta

namespace quanta {
namespace {

TEST(ActOrder, NamesAsCompressedTensorsSpellsThem) {
  EXPECT_EQ(act_order_by_name("static"), ActOrder::kStatic);
  EXPECT_EQ(act_order_by_name("weight"), ActOrder::kStatic);  // compressed-tensors' canonical name
  EXPECT_EQ(act_order_by_name("group"), ActOrder::kGroup);
  EXPECT_EQ(act_order_by_name(""), ActOrder::kNone);
  EXPECT_STREQ(act_order_name(ActOrder::kStatic), "static");
  EXPECT_THROW(act_order_by_name("columns"), Error);
}

}  // namespace
}  // namespace quanta
