// Tiny random-weight models of each supported architecture, saved by transformers, against the logits
// transformers computes for them (scripts/reference/make_tiny_models.py): untied lm_head, llama3 RoPE
// scaling and transformers-5 `rope_parameters`, BF16/F16 weights, Mistral's sliding window, Qwen2's
// q/k/v bias, Qwen3's q/k RMSNorm.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "io/hf_config.h"
#include "model/llama.h"

namespace quanta {
namespace {

// f32 on both sides over 2 layers of width 64; logits are O(5).
constexpr double kTinyLogitTol = 2e-4;
// With K/V stored as F16 (rounded by up to 2^-11 relative; transformers keeps f32): measured
// 4.1e-3 on these O(5) logits.
constexpr double kTinyLogitTolF16Kv = 1e-2;

TEST(TinyGolden, LogitsMatchTransformersForEachArchitecture) {
  const std::string dir = QUANTA_SOURCE_DIR "/tests/golden/data/tiny/";
  const auto j = nlohmann::json::parse(read_file(dir + "expected.json"));
  const auto tokens = j["tokens"].get<std::vector<int32_t>>();
  const int64_t T = int64_t(tokens.size());
  ASSERT_GE(j["models"].size(), 5u);
  for (auto [kv, tol] : {std::pair{DType::kF32, kTinyLogitTol}, std::pair{DType::kF16, kTinyLogitTolF16Kv}})
  for (const auto& [name, m] : j["models"].items()) {
    LlamaModel model = LlamaModel::load(dir + name);
    model.set_kv_type(kv);
    const int64_t vocab = model.config().vocab_size;
    std::vector<float> logits(static_cast<size_t>(T * vocab));
    KvCache cache = model.make_cache(T);
    // Two chunks, so the cached path is exercised too.
    model.forward(tokens.data(), 5, cache, nullptr, 0);
    model.forward(tokens.data() + 5, T - 5, cache, logits.data() + 5 * vocab, T - 5);
    KvCache cache0 = model.make_cache(T);
    model.forward(tokens.data(), 5, cache0, logits.data(), 5);
    double worst = 0;
    for (int64_t t = 0; t < T; ++t)
      for (int64_t v = 0; v < vocab; ++v)
        worst = std::max(worst, std::fabs(double(logits[size_t(t * vocab + v)]) -
                                          m["logits"][size_t(t)][size_t(v)].get<double>()));
    EXPECT_LE(worst, tol) << name << " KV " << dtype_name(kv);
  }
}

}  // namespace
}  // namespace quanta
