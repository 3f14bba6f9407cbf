#include "io/hf_config.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"

namespace quanta {
namespace {

using nlohmann::json;

constexpr const char* kArchitectures[] = {"LlamaForCausalLM", "MistralForCausalLM",
                                          "Qwen2ForCausalLM", "Qwen3ForCausalLM"};

int64_t get_int(const json& j, const char* key, const std::string& src, bool required,
                int64_t def = 0) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) fail("{}: missing field '{}'", src, key);
    return def;
  }
  if (!it->is_number_integer()) fail("{}: field '{}' must be an integer", src, key);
  return it->get<int64_t>();
}

double get_num(const json& j, const char* key, const std::string& src, double def) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  if (!it->is_number()) fail("{}: field '{}' must be a number", src, key);
  return it->get<double>();
}

std::vector<int32_t> get_ids(const json& j, const char* key, const std::string& src) {
  std::vector<int32_t> ids;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return ids;
  if (it->is_number_integer()) {
    ids.push_back(it->get<int32_t>());
  } else if (it->is_array()) {
    for (const auto& v : *it) {
      if (!v.is_number_integer()) fail("{}: field '{}' must hold integers", src, key);
      ids.push_back(v.get<int32_t>());
    }
  } else {
    fail("{}: field '{}' must be an integer or a list of integers", src, key);
  }
  return ids;
}

// RoPE settings: transformers <= 4.x writes `rope_theta` plus an optional `rope_scaling` object;
// transformers 5 writes one `rope_parameters` object holding rope_theta and the scaling fields.
void parse_rope(const json& j, const std::string& src, ModelConfig& c) {
  c.rope_theta = float(get_num(j, "rope_theta", src, 10000.0));
  const char* key = j.contains("rope_parameters") ? "rope_parameters" : "rope_scaling";
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  if (!it->is_object()) fail("{}: '{}' must be an object or null", src, key);
  c.rope_theta = float(get_num(*it, "rope_theta", src, c.rope_theta));
  std::string type = it->value("rope_type", it->value("type", std::string("default")));
  if (type == "default") return;
  c.rope_factor = float(get_num(*it, "factor", src, 1.0));
  if (type == "llama3") {
    c.rope_scaling = RopeScaling::kLlama3;
    c.rope_low_freq_factor = float(get_num(*it, "low_freq_factor", src, 1.0));
    c.rope_high_freq_factor = float(get_num(*it, "high_freq_factor", src, 4.0));
    c.rope_original_max_position =
        get_int(*it, "original_max_position_embeddings", src, false, 8192);
  } else if (type == "linear") {
    c.rope_scaling = RopeScaling::kLinear;
  } else {
    fail("{}: {} type '{}' is not supported (supported: default, linear, llama3)", src, key, type);
  }
}

}  // namespace

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open {}", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail("cannot read {}", path);
  return ss.str();
}

namespace {
ModelConfig parse_model_config_unchecked(const std::string& text, const std::string& src) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail("{}: invalid JSON: {}", src, e.what());
  }
  if (!j.is_object()) fail("{}: expected a JSON object", src);
  ModelConfig c;
  auto arch = j.find("architectures");
  if (arch == j.end() || !arch->is_array() || arch->empty() || !(*arch)[0].is_string())
    fail("{}: missing field 'architectures' (a list naming the model class)", src);
  c.architecture = (*arch)[0].get<std::string>();
  bool known = false;
  for (const char* a : kArchitectures) known = known || c.architecture == a;
  if (!known)
    fail("{}: unsupported architecture '{}' (supported: LlamaForCausalLM, MistralForCausalLM, "
         "Qwen2ForCausalLM, Qwen3ForCausalLM)",
         src, c.architecture);
  c.model_type = j.value("model_type", std::string());
  c.hidden_size = get_int(j, "hidden_size", src, true);
  c.intermediate_size = get_int(j, "intermediate_size", src, true);
  c.n_layers = get_int(j, "num_hidden_layers", src, true);
  c.n_heads = get_int(j, "num_attention_heads", src, true);
  c.n_heads_kv = get_int(j, "num_key_value_heads", src, false, c.n_heads);
  c.vocab_size = get_int(j, "vocab_size", src, true);
  c.max_position_embeddings = get_int(j, "max_position_embeddings", src, false, 2048);
  if (c.hidden_size <= 0 || c.intermediate_size <= 0 || c.n_layers <= 0 || c.n_heads <= 0 ||
      c.n_heads_kv <= 0 || c.vocab_size <= 0)
    fail("{}: sizes must be positive (hidden_size, intermediate_size, num_hidden_layers, "
         "num_attention_heads, num_key_value_heads, vocab_size)",
         src);
  if (c.n_heads % c.n_heads_kv != 0)
    fail("{}: num_attention_heads ({}) must be a multiple of num_key_value_heads ({})", src,
         c.n_heads, c.n_heads_kv);
  c.head_dim = get_int(j, "head_dim", src, false, 0);
  if (c.head_dim == 0) {
    if (c.hidden_size % c.n_heads != 0)
      fail("{}: hidden_size ({}) is not a multiple of num_attention_heads ({})", src,
           c.hidden_size, c.n_heads);
    c.head_dim = c.hidden_size / c.n_heads;
  }
  if (c.head_dim <= 0 || c.head_dim % 2 != 0) fail("{}: head_dim must be positive and even", src);
  c.rms_norm_eps = float(get_num(j, "rms_norm_eps", src, 1e-6));
  parse_rope(j, src, c);
  const bool is_qwen2 = c.architecture == "Qwen2ForCausalLM";
  const bool is_qwen3 = c.architecture == "Qwen3ForCausalLM";
  c.tie_word_embeddings = j.value("tie_word_embeddings", false);  // HF default for these classes
  c.qkv_bias = is_qwen2 ? true : j.value("attention_bias", false);
  c.qk_norm = is_qwen3;
  if (j.value("mlp_bias", false)) fail("{}: mlp_bias=true is not supported", src);
  const std::string act = j.value("hidden_act", std::string("silu"));
  if (act != "silu") fail("{}: hidden_act '{}' is not supported (expected silu)", src, act);
  if (j.contains("sliding_window") && j["sliding_window"].is_number_integer() &&
      j.value("use_sliding_window", c.architecture == "MistralForCausalLM"))
    c.sliding_window = j["sliding_window"].get<int64_t>();
  c.torch_dtype = j.value("torch_dtype", j.value("dtype", std::string()));
  auto bos = get_ids(j, "bos_token_id", src);
  c.bos_id = bos.empty() ? -1 : bos[0];
  c.eos_ids = get_ids(j, "eos_token_id", src);
  return c;
}

}  // namespace

ModelConfig parse_model_config(const std::string& text, const std::string& src) {
  // Note: j.value(key, default) throws json::type_error when the field has another type (found by
  // fuzz/fuzz_config.cc: "torch_dtype": 5); report it as bad input like every other field.
  try {
    return parse_model_config_unchecked(text, src);
  } catch (const json::exception& e) {
    fail("{}: {}", src, e.what());
  }
}

ModelConfig load_model_config(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "config.json").string();
  if (!std::filesystem::exists(path)) fail("{}: not found (is {} a Hugging Face model folder?)", path, dir);
  return parse_model_config(read_file(path), path);
}

GenerationConfig load_generation_config(const std::string& dir, const ModelConfig& model) {
  GenerationConfig g;
  g.eos_ids = model.eos_ids;
  const std::string path = (std::filesystem::path(dir) / "generation_config.json").string();
  if (!std::filesystem::exists(path)) return g;
  json j;
  try {
    j = json::parse(read_file(path));
  } catch (const json::exception& e) {
    fail("{}: invalid JSON: {}", path, e.what());
  }
  auto eos = get_ids(j, "eos_token_id", path);
  if (!eos.empty()) g.eos_ids = eos;
  g.do_sample = j.value("do_sample", false);
  g.temperature = float(get_num(j, "temperature", path, 1.0));
  g.top_p = float(get_num(j, "top_p", path, 1.0));
  g.top_k = int(get_int(j, "top_k", path, false, 0));
  return g;
}

}  // namespace quanta
