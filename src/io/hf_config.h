// Hugging Face config.json / generation_config.json for the Llama family:
// LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace quanta {

enum class RopeScaling { kNone, kLlama3, kLinear };

struct ModelConfig {
  std::string architecture;  // e.g. "LlamaForCausalLM"
  std::string model_type;    // e.g. "llama"
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_heads_kv = 0;
  int64_t head_dim = 0;
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 0;
  float rms_norm_eps = 1e-6f;
  float rope_theta = 10000.0f;
  RopeScaling rope_scaling = RopeScaling::kNone;
  float rope_factor = 1.0f;
  float rope_low_freq_factor = 1.0f;
  float rope_high_freq_factor = 4.0f;
  int64_t rope_original_max_position = 8192;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;   // Qwen2: biases on q/k/v projections
  bool qk_norm = false;    // Qwen3: RMSNorm on each head of q and k
  int64_t sliding_window = 0;  // 0: none
  std::string torch_dtype;
  int32_t bos_id = -1;
  std::vector<int32_t> eos_ids;
};

struct GenerationConfig {
  std::vector<int32_t> eos_ids;
  bool do_sample = false;
  float temperature = 1.0f;
  float top_p = 1.0f;
  int top_k = 0;
};

// Parses and validates config.json text; `source` names the file in messages.
ModelConfig parse_model_config(const std::string& json_text, const std::string& source);
// Reads DIR/config.json.
ModelConfig load_model_config(const std::string& dir);
// Reads DIR/generation_config.json if present (defaults otherwise; eos from the model config).
GenerationConfig load_generation_config(const std::string& dir, const ModelConfig& model);

// Reads a whole file; throws quanta::Error naming the path if it cannot.
std::string read_file(const std::string& path);

}  // namespace quanta
