// Golden tests: quanta on the packaged SmolLM2-135M-Instruct against transformers (PyTorch, f32)
// on the same weights. Fixtures made by scripts/reference/make_golden.py.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "eval/perplexity.h"
#include "io/hf_config.h"
#include "io/tokenizer.h"
#include "model/llama.h"
#include "runtime/generate.h"

namespace quanta {
namespace {

using nlohmann::json;

// Max |logit difference| allowed, relative to the largest |logit| of the prompt. Both sides compute
// in f32 with different summation orders; measured ~1e-5 (see docs/numerics.md).
constexpr double kLogitRelTol = 1e-3;
// The same with K/V stored rounded (transformers keeps f32): F16 rounds each K/V value by up to
// 2^-11 relative (measured 9e-4 x max|logit| on the chat prompt, AVX-512), BF16 by up to 2^-8
// (measured 3.3e-3).
constexpr double kLogitRelTolF16Kv = 2e-3;
constexpr double kLogitRelTolBf16Kv = 1e-2;
// Perplexity agreement with transformers.
constexpr double kPplRelTol = 1e-3;

const std::string kModelDir = QUANTA_SOURCE_DIR "/models/smollm2-135m-instruct";
const std::string kData = QUANTA_SOURCE_DIR "/tests/golden/data/";
const std::string kWiki = QUANTA_SOURCE_DIR "/../shared/data/wikitext-2-raw/wiki.test.raw";

json load_json(const std::string& name) { return json::parse(read_file(kData + name)); }

class Golden : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(std::filesystem::exists(kModelDir + "/model.safetensors"))
        << kModelDir << " is missing: run scripts/fetch_model.sh (./quanta.sh test does)";
    model_ = new LlamaModel(LlamaModel::load(kModelDir));
    tok_ = new Tokenizer(Tokenizer::load(kModelDir));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete tok_;
  }
  static LlamaModel* model_;
  static Tokenizer* tok_;
};
LlamaModel* Golden::model_ = nullptr;

const DType kKvTypes[] = {DType::kF32, DType::kF16, DType::kBF16};

// Sets the model's KV cache dtype for one scope, then restores it.
class KvTypeScope {
 public:
  KvTypeScope(LlamaModel& m, DType t) : m_(m), saved_(m.kv_type()) { m_.set_kv_type(t); }
  ~KvTypeScope() { m_.set_kv_type(saved_); }

 private:
  LlamaModel& m_;
  DType saved_;
};
Tokenizer* Golden::tok_ = nullptr;

TEST_F(Golden, PromptTokensMatch) {
  for (const auto& p : load_json("logits.json")["prompts"]) {
    EXPECT_EQ(tok_->encode(p["prompt"].get<std::string>(), false), p["ids"].get<std::vector<int32_t>>())
        << p["name"];
  }
}

TEST_F(Golden, LogitsMatchTransformers) {
  const json j = load_json("logits.json");
  const int64_t start = j["sample_ids"]["start"], step = j["sample_ids"]["step"];
  const int64_t vocab = model_->config().vocab_size;
  // Every KV cache dtype keeps within the f32 tolerance (the prompts' K/V are rounded to it before
  // attention reads them back).
  for (DType kv : kKvTypes) {
  KvTypeScope scope(*model_, kv);
  for (const auto& p : j["prompts"]) {
    const auto ids = p["ids"].get<std::vector<int32_t>>();
    const int64_t T = int64_t(ids.size());
    std::vector<float> logits(static_cast<size_t>(T * vocab));
    KvCache cache = model_->make_cache(T);
    model_->forward(ids.data(), T, cache, logits.data(), T);
    const double max_abs = p["max_abs_logit"];
    double worst = 0;
    for (int64_t t = 0; t < T; ++t) {
      const auto& pos = p["positions"][size_t(t)];
      const float* row = logits.data() + t * vocab;
      for (const auto& tv : pos["top"]) worst = std::max(worst, std::fabs(row[tv[0].get<int64_t>()] - tv[1].get<double>()));
      const auto& sampled = pos["sampled"];
      for (size_t i = 0; i < sampled.size(); ++i)
        worst = std::max(worst, std::fabs(row[start + int64_t(i) * step] - sampled[i].get<double>()));
      EXPECT_EQ(std::max_element(row, row + vocab) - row, pos["top"][0][0].get<int64_t>())
          << p["name"] << " position " << t << " KV " << dtype_name(kv);
    }
    // Fixture values carry 6 significant digits: allow their rounding on top of the tolerance.
    const double tol = kv == DType::kF32   ? kLogitRelTol
                       : kv == DType::kF16 ? kLogitRelTolF16Kv
                                           : kLogitRelTolBf16Kv;
    EXPECT_LE(worst, tol * max_abs) << p["name"] << " KV " << dtype_name(kv);
    std::printf("[golden] %s, KV %s: max |logit diff| %.3g = %.2g x max|logit| %.2f\n",
                p["name"].get<std::string>().c_str(), std::string(dtype_name(kv)).c_str(), worst,
                worst / max_abs, max_abs);
  }
  }
}

TEST_F(Golden, GreedyTokensMatchTransformers) {
  const json j = load_json("greedy.json");
  const GenerationConfig gen = load_generation_config(kModelDir, model_->config());
  for (DType kv : kKvTypes) {
    KvTypeScope scope(*model_, kv);
    for (const auto& p : j["prompts"]) {
      GenerateOptions opt;
      opt.max_tokens = j["max_new_tokens"];
      opt.eos_ids = {j["eos_token_id"].get<int32_t>()};
      const GenerateResult r = generate(*model_, *tok_, p["ids"].get<std::vector<int32_t>>(), opt);
      EXPECT_EQ(r.tokens, p["tokens"].get<std::vector<int32_t>>()) << p["name"] << " KV " << dtype_name(kv);
      EXPECT_EQ(tok_->decode(r.tokens), p["text"].get<std::string>()) << p["name"];
    }
  }
  EXPECT_EQ(gen.eos_ids, std::vector<int32_t>{2});
}

TEST_F(Golden, StopStringsAndStreaming) {
  const json j = load_json("greedy.json");
  const auto& p = j["prompts"][0];  // "The capital of France is" -> " Paris.\n\nThe answer is: ..."
  GenerateOptions opt;
  opt.max_tokens = 32;
  opt.eos_ids = {2};
  opt.stop = {"\n"};
  std::string streamed;
  const GenerateResult r = generate(*model_, *tok_, p["ids"].get<std::vector<int32_t>>(), opt,
                                    [&](const std::string& s) { streamed += s; });
  EXPECT_EQ(r.text, " Paris.");
  EXPECT_EQ(streamed, r.text);
  EXPECT_EQ(r.finish_reason, "stop");
  opt.stop = {"answer is"};
  streamed.clear();
  const GenerateResult r2 = generate(*model_, *tok_, p["ids"].get<std::vector<int32_t>>(), opt,
                                     [&](const std::string& s) { streamed += s; });
  EXPECT_EQ(r2.text, " Paris.\n\nThe ");
  EXPECT_EQ(streamed, r2.text);
}

TEST_F(Golden, ChatTemplateRendersTheGoldenPrompt) {
  const json j = load_json("logits.json");
  const std::string want = j["prompts"][2]["prompt"];
  EXPECT_EQ(tok_->apply_chat_template({{"user", "What is 17 times 23?"}}, true), want);
}

TEST_F(Golden, PerplexityMatchesTransformers) {
  const json j = load_json("ppl.json");
  const std::vector<int32_t> ids = tok_->encode(read_file(kWiki), false);
  EXPECT_EQ(int64_t(ids.size()), j["n_tokens"].get<int64_t>());
  const auto head = j["first_window_ids_head"].get<std::vector<int32_t>>();
  EXPECT_TRUE(std::equal(head.begin(), head.end(), ids.begin()));
  for (auto [scoring, key] : {std::pair{PplScoring::kAllButFirst, "windows"},
                              std::pair{PplScoring::kSecondHalf, "second_half"}}) {
    PplOptions opt;
    opt.ctx = j["ctx"];
    opt.max_windows = 8;
    opt.scoring = scoring;
    const PplResult r = perplexity(*model_, ids, opt);
    const double ref = j[key]["8"];
    EXPECT_NEAR(r.ppl, ref, kPplRelTol * ref) << key;
    std::printf("[golden] ppl %s, 8 windows: quanta %.4f, transformers %.4f (%.4f%%)\n", key, r.ppl, ref,
                100.0 * (r.ppl - ref) / ref);
  }
}

}  // namespace
}  // namespace quanta
