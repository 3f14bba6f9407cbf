#include <gtest/gtest.h>

#include "core/error.h"
#include "io/hf_config.h"

namespace quanta {
namespace {

const char* kSmol = R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 576,
  "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9,
  "num_key_value_heads": 3, "vocab_size": 49152, "rms_norm_eps": 1e-05, "rope_theta": 100000,
  "tie_word_embeddings": true, "bos_token_id": 1, "eos_token_id": 2, "rope_scaling": null,
  "max_position_embeddings": 8192, "model_type": "llama"})";

std::string error_of(const std::string& json) {
  try {
    parse_model_config(json, "x/config.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(HfConfig, ParsesSmolLM2) {
  const ModelConfig c = parse_model_config(kSmol, "config.json");
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.n_heads_kv, 3);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_FLOAT_EQ(c.rope_theta, 100000.0f);
  EXPECT_EQ(c.eos_ids, std::vector<int32_t>{2});
  EXPECT_FALSE(c.qkv_bias);
}

TEST(HfConfig, QwenFlagsAndLlama3Scaling) {
  std::string q2 = kSmol;
  q2.replace(q2.find("LlamaForCausalLM"), 16, "Qwen2ForCausalLM");
  EXPECT_TRUE(parse_model_config(q2, "c").qkv_bias);
  std::string q3 = kSmol;
  q3.replace(q3.find("LlamaForCausalLM"), 16, "Qwen3ForCausalLM");
  EXPECT_TRUE(parse_model_config(q3, "c").qk_norm);
  std::string l3 = kSmol;
  l3.replace(l3.find("\"rope_scaling\": null"), 20,
             R"("rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})");
  const ModelConfig c = parse_model_config(l3, "c");
  EXPECT_EQ(c.rope_scaling, RopeScaling::kLlama3);
  EXPECT_FLOAT_EQ(c.rope_factor, 32.0f);
}

TEST(HfConfig, ErrorsNameTheFileAndField) {
  std::string unknown = kSmol;
  unknown.replace(unknown.find("LlamaForCausalLM"), 16, "GPTNeoXForCausalLM");
  EXPECT_NE(error_of(unknown).find("unsupported architecture 'GPTNeoXForCausalLM'"), std::string::npos);
  EXPECT_NE(error_of("{not json").find("x/config.json: invalid JSON"), std::string::npos);
  std::string missing = kSmol;
  missing.replace(missing.find("\"hidden_size\""), 13, "\"hidden_sizeX\"");
  EXPECT_NE(error_of(missing).find("missing field 'hidden_size'"), std::string::npos);
  std::string bad_heads = kSmol;
  bad_heads.replace(bad_heads.find("\"num_key_value_heads\": 3"), 24, "\"num_key_value_heads\": 4");
  EXPECT_NE(error_of(bad_heads).find("multiple of num_key_value_heads"), std::string::npos);
  std::string wrong_type = kSmol;
  wrong_type.replace(wrong_type.find("576"), 3, "\"576\"");
  EXPECT_NE(error_of(wrong_type).find("'hidden_size' must be an integer"), std::string::npos);
  EXPECT_THROW(load_model_config("/nonexistent-dir"), Error);
}

}  // namespace
}  // namespace quanta
