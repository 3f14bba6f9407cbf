// HellaSwag on the packaged SmolLM2-135M-Instruct: the first 20 items scored by quanta against
// transformers (float32) under llama.cpp's convention (scripts/reference/make_hellaswag.py wrote
// tests/golden/data/hellaswag.json): the same scored tokens per ending, the summed log-probs to
// float rounding, the same acc and acc_norm picks.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "eval/hellaswag.h"
#include "io/hf_config.h"

namespace quanta {
namespace {

const std::string kModelDir = QUANTA_SOURCE_DIR "/models/smollm2-135m-instruct";
const std::string kHellaswag = QUANTA_SOURCE_DIR "/../shared/data/hellaswag/hellaswag_val_full.txt";
const std::string kRef = QUANTA_SOURCE_DIR "/tests/golden/data/hellaswag.json";

TEST(GoldenHellaswag, First20ItemsMatchTransformers) {
  ASSERT_TRUE(std::filesystem::exists(kModelDir + "/model.safetensors")) << kModelDir << " is missing";
  const nlohmann::json ref = nlohmann::json::parse(read_file(kRef));
  const int64_t n = ref["n_items"].get<int64_t>();
  LlamaModel model = LlamaModel::load(kModelDir);
  model.set_kv_type(DType::kF32);  // compared with transformers' f32 cache (F16 KV moves sums by ~1e-2)
  const Tokenizer tok = Tokenizer::load(kModelDir);
  const std::vector<HellaswagItem> items = load_hellaswag(kHellaswag, n);
  const HellaswagResult r = hellaswag_eval(model, tok, items);
  ASSERT_EQ(r.n_items, n);
  for (int64_t i = 0; i < n; ++i) {
    const nlohmann::json& it = ref["items"][size_t(i)];
    EXPECT_EQ(items[size_t(i)].gold, it["gold"].get<int>());
    for (size_t s = 0; s < 4; ++s) {
      EXPECT_EQ(r.items[size_t(i)].n_tokens[s], it["n_tokens"][s].get<int64_t>()) << "item " << i << " ending " << s;
      const double want = it["logprob_sum"][s].get<double>();
      // f32 on both sides, different summation orders: ~1e-4 per token measured.
      EXPECT_NEAR(r.items[size_t(i)].logprob_sum[s], want, 2e-3 + 1e-4 * std::abs(want))
          << "item " << i << " ending " << s;
    }
    EXPECT_EQ(r.items[size_t(i)].pred, it["pred"].get<int>()) << "item " << i;
    EXPECT_EQ(r.items[size_t(i)].pred_norm, it["pred_norm"].get<int>()) << "item " << i;
  }
  EXPECT_EQ(r.n_correct, ref["n_correct"].get<int64_t>());
  EXPECT_EQ(r.n_correct_norm, ref["n_correct_norm"].get<int64_t>());
}

}  // namespace
}  // namespace quanta
