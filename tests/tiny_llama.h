// A tiny random Llama written as a real HF folder (config.json, model.safetensors) with a
// byte-fallback SentencePiece-style tokenizer (tokenizer.json: <unk> <s> </s> and the 256 byte
// tokens) and a chat template (tokenizer_config.json), for runtime and server tests.
#pragma once

#include <fmt/format.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "io/safetensors.h"

namespace quanta::testing_util {

struct TinyLlamaSpec {
  int64_t d = 32, ff = 48, layers = 2, heads = 4, kv = 2;
  int64_t vocab = 272;  // >= 259 tokenizer ids
  int64_t max_pos = 512;
  uint32_t seed = 7;
};

inline void write_tiny_tokenizer(const std::filesystem::path& dir) {
  nlohmann::json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (int b = 0; b < 256; ++b) vocab[fmt::format("<0x{:02X}>", b)] = 3 + b;
  nlohmann::json added = nlohmann::json::array();
  int id = 0;
  for (const char* t : {"<unk>", "<s>", "</s>"})
    added.push_back({{"id", id++}, {"content", t}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", true}});
  const nlohmann::json tok = {
      {"version", "1.0"},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer", nullptr},
      {"post_processor", nullptr},
      {"decoder", {{"type", "Sequence"}, {"decoders", {{{"type", "ByteFallback"}}, {{"type", "Fuse"}}}}}},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", "<unk>"}, {"fuse_unk", true},
        {"byte_fallback", true}, {"ignore_merges", false}, {"vocab", vocab},
        {"merges", nlohmann::json::array()}}}};
  std::ofstream(dir / "tokenizer.json") << tok.dump();
  const nlohmann::json cfg = {
      {"bos_token", "<s>"},
      {"eos_token", "</s>"},
      {"chat_template",
       "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
       "{% if add_generation_prompt %}<assistant>{% endif %}"}};
  std::ofstream(dir / "tokenizer_config.json") << cfg.dump();
}

// Writes the model into dir (created) and returns dir.
inline std::string write_tiny_llama(const std::filesystem::path& dir, const TinyLlamaSpec& s = {}) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "config.json") << fmt::format(
      R"({{"architectures": ["LlamaForCausalLM"], "hidden_size": {}, "intermediate_size": {},
      "num_hidden_layers": {}, "num_attention_heads": {}, "num_key_value_heads": {},
      "vocab_size": {}, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": true,
      "max_position_embeddings": {}, "eos_token_id": 2, "bos_token_id": 1}})",
      s.d, s.ff, s.layers, s.heads, s.kv, s.vocab, s.max_pos);
  std::mt19937 rng(s.seed);
  SafetensorsWriter w;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, float scale) {
    int64_t n = 1;
    for (auto v : shape) n *= v;
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> f(static_cast<size_t>(n));
    const bool norm = name.find("norm") != std::string::npos;
    for (auto& x : f) x = norm ? 1.0f + 0.1f * dist(rng) : dist(rng);
    w.add(name, DType::kF32, shape, f.data(), f.size() * sizeof(float));
  };
  const int64_t hd = s.d / s.heads;
  add("model.embed_tokens.weight", {s.vocab, s.d}, 1.0f);
  add("model.norm.weight", {s.d}, 1.0f);
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {s.d}, 1.0f);
    add(p + "post_attention_layernorm.weight", {s.d}, 1.0f);
    add(p + "self_attn.q_proj.weight", {s.heads * hd, s.d}, 0.2f);
    add(p + "self_attn.k_proj.weight", {s.kv * hd, s.d}, 0.2f);
    add(p + "self_attn.v_proj.weight", {s.kv * hd, s.d}, 0.2f);
    add(p + "self_attn.o_proj.weight", {s.d, s.heads * hd}, 0.2f);
    add(p + "mlp.gate_proj.weight", {s.ff, s.d}, 0.2f);
    add(p + "mlp.up_proj.weight", {s.ff, s.d}, 0.2f);
    add(p + "mlp.down_proj.weight", {s.d, s.ff}, 0.2f);
  }
  w.write((dir / "model.safetensors").string());
  write_tiny_tokenizer(dir);
  return dir.string();
}

}  // namespace quanta::testing_util
