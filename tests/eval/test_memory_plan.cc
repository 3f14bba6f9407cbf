// quanta plan's arithmetic: a 109B-parameter model at BF16 / INT8 / INT4 on 80 GB GPUs, and the
// KV-cache term from a config.
#include <gtest/gtest.h>

#include "eval/memory_plan.h"
#include "test_util.h"

namespace quanta {
namespace {

TEST(MemoryPlan, WeightsOf109BOn80GbGpus) {
  PlanInput in;
  in.params = 109e9;
  in.gpu_mem_gb = 80;
  in.scheme = "BF16";
  Plan p = make_plan(in);
  EXPECT_GE(p.weight_gb, 218.0);
  EXPECT_LE(p.weight_gb, 220.0);
  EXPECT_EQ(p.gpus, 3);
  in.scheme = "INT8";
  p = make_plan(in);
  EXPECT_NEAR(p.weight_gb, 109.0, 1.0);
  EXPECT_EQ(p.gpus, 2);
  in.scheme = "W4A16";  // 0.5 B + a 16-bit scale per 128 weights
  p = make_plan(in);
  EXPECT_NEAR(p.weight_gb, 56.2, 0.1);
  EXPECT_EQ(p.gpus, 1);
  in.group_size = 0;  // per channel: exactly half a byte
  EXPECT_NEAR(make_plan(in).weight_gb, 54.5, 1e-6);
}

TEST(MemoryPlan, KvCacheFromConfigAddsGpus) {
  ModelConfig c;
  c.n_layers = 48;
  c.n_heads_kv = 8;
  c.head_dim = 128;
  PlanInput in;
  in.params = 109e9;
  in.scheme = "INT4";
  in.config = c;
  in.ctx = 8192;
  in.batch = 16;
  const Plan p = make_plan(in);
  // 48 layers x 2 (K, V) x 8 heads x 128 x 8192 tokens x 16 sequences x 2 bytes.
  EXPECT_NEAR(p.kv_gb, 48.0 * 2 * 8 * 128 * 8192 * 16 * 2 / 1e9, 1e-9);
  EXPECT_NEAR(p.kv_gb, 25.77, 0.01);
  EXPECT_EQ(p.gpus, 2);  // 56.2 + 25.8 GB > 76 GB usable
}

TEST(MemoryPlan, ConfigParamsAndBadInput) {
  ModelConfig c;  // SmolLM2-135M
  c.hidden_size = 576;
  c.intermediate_size = 1536;
  c.n_layers = 30;
  c.n_heads = 9;
  c.n_heads_kv = 3;
  c.head_dim = 64;
  c.vocab_size = 49152;
  c.tie_word_embeddings = true;
  EXPECT_EQ(config_params(c), 134515008.0);
  EXPECT_NE(testing_util::error_of([] { scheme_bytes_per_param("INT3", 128); }).find("INT3"), std::string::npos);
  PlanInput in;
  EXPECT_NE(testing_util::error_of([&] { make_plan(in); }).find("--params"), std::string::npos);
}

}  // namespace
}  // namespace quanta
