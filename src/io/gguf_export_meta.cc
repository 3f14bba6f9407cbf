#include "io/gguf_export_meta.h"

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "core/error.h"
#include "io/gguf_writer.h"

namespace quanta {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// llama.cpp's llama_token_type (tokenizer.ggml.token_type values).
constexpr int32_t kTokenNormal = 1;
constexpr int32_t kTokenUnused = 5;
constexpr int32_t kTokenControl = 3;
constexpr int32_t kTokenUserDefined = 4;

// The regexes of the Split pre-tokenizers that name llama.cpp's pre-tokenizer types.
constexpr const char* kLlama3Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr const char* kQwen2Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

json parse_json_file(const fs::path& path) {
  const std::string text = read_file(path.string());
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    fail("{}: invalid JSON: {}", path.string(), e.what());
  }
}

json optional_json_file(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return json::object();
  json j = parse_json_file(path);
  return j.is_object() ? j : json::object();
}

// The pre-tokenizer steps as a flat list (a Sequence unwrapped).
std::vector<json> steps_of(const json& pre) {
  if (pre.is_object() && pre.value("type", "") == "Sequence" && pre.contains("pretokenizers") &&
      pre["pretokenizers"].is_array())
    return pre["pretokenizers"].get<std::vector<json>>();
  if (pre.is_null()) return {};
  return {pre};
}

bool is_byte_level(const json& s, bool use_regex) {
  return s.is_object() && s.value("type", "") == "ByteLevel" && s.value("use_regex", true) == use_regex;
}

bool is_split(const json& s, const char* regex) {
  if (!s.is_object() || s.value("type", "") != "Split") return false;
  const auto p = s.find("pattern");
  return p != s.end() && p->is_object() && p->contains("Regex") && (*p)["Regex"].is_string() &&
         (*p)["Regex"].get<std::string>() == regex;
}

// A special token's text from tokenizer_config.json ("<s>" or {"content": "<s>", ...}).
std::string token_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string())
    return v["content"].get<std::string>();
  return {};
}

std::string merge_text(const json& m, const std::string& where) {
  if (m.is_string()) return m.get<std::string>();
  if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
    return m[0].get<std::string>() + " " + m[1].get<std::string>();
  fail("{}: model.merges: expected \"a b\" or [\"a\", \"b\"], got {}", where, m.dump());
}

int64_t first_id(const json& v) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_array() && !v.empty() && v[0].is_number_integer()) return v[0].get<int64_t>();
  return -1;
}

}  // namespace

void check_llama_exportable(const ModelConfig& c, const std::string& where) {
  if (c.architecture != "LlamaForCausalLM" && c.architecture != "MistralForCausalLM")
    fail("{}: architecture '{}' cannot be exported to GGUF (supported: LlamaForCausalLM, "
         "MistralForCausalLM)",
         where, c.architecture);
  if (c.sliding_window > 0)
    fail("{}: sliding_window {} is not supported by the GGUF export", where, c.sliding_window);
  if (c.qkv_bias) fail("{}: attention_bias=true is not supported by the GGUF export", where);
  if (c.qk_norm) fail("{}: q/k norms are not supported by the GGUF export", where);
  if (c.rope_scaling == RopeScaling::kLlama3)
    fail("{}: llama3 rope_scaling (rope_freqs.weight) is not supported by the GGUF export", where);
}

void add_llama_metadata(GgufWriter& w, const std::string& model_dir, const ModelConfig& c,
                        GgufFileType file_type) {
  const fs::path dir(model_dir);
  const json cfg = parse_json_file(dir / "config.json");
  std::string name = cfg.value("_name_or_path", std::string());
  if (name.empty()) name = fs::path(model_dir).lexically_normal().filename().string();
  if (name.empty()) name = fs::absolute(dir).lexically_normal().parent_path().filename().string();
  w.set("general.architecture", GgufValue::string("llama"));
  w.set("general.type", GgufValue::string("model"));
  w.set("general.name", GgufValue::string(name));
  w.set("general.quantized_by", GgufValue::string("quanta"));
  w.set("llama.block_count", GgufValue::u32(uint32_t(c.n_layers)));
  w.set("llama.context_length", GgufValue::u32(uint32_t(c.max_position_embeddings)));
  w.set("llama.embedding_length", GgufValue::u32(uint32_t(c.hidden_size)));
  w.set("llama.feed_forward_length", GgufValue::u32(uint32_t(c.intermediate_size)));
  w.set("llama.attention.head_count", GgufValue::u32(uint32_t(c.n_heads)));
  w.set("llama.attention.head_count_kv", GgufValue::u32(uint32_t(c.n_heads_kv)));
  w.set("llama.rope.freq_base", GgufValue::f32(c.rope_theta));
  w.set("llama.attention.layer_norm_rms_epsilon", GgufValue::f32(c.rms_norm_eps));
  if (cfg.contains("head_dim") && cfg["head_dim"].is_number_integer()) {
    w.set("llama.attention.key_length", GgufValue::u32(uint32_t(c.head_dim)));
    w.set("llama.attention.value_length", GgufValue::u32(uint32_t(c.head_dim)));
  }
  if (c.rope_scaling == RopeScaling::kLinear) {
    w.set("llama.rope.scaling.type", GgufValue::string("linear"));
    w.set("llama.rope.scaling.factor", GgufValue::f32(c.rope_factor));
  }
  w.set("general.file_type", GgufValue::u32(uint32_t(file_type)));
  w.set("llama.vocab_size", GgufValue::u32(uint32_t(c.vocab_size)));
  w.set("llama.rope.dimension_count", GgufValue::u32(uint32_t(c.head_dim)));
  w.set("general.quantization_version", GgufValue::u32(2));  // ggml's QNT_VERSION
}

std::string gguf_pre_tokenizer_name(const std::string& tokenizer_json_text,
                                    const std::string& where) {
  json t;
  try {
    t = json::parse(tokenizer_json_text);
  } catch (const json::exception& e) {
    fail("{}: invalid JSON: {}", where, e.what());
  }
  if (!t.is_object()) fail("{}: expected a JSON object", where);
  const json pre = t.value("pre_tokenizer", json());
  const json norm = t.value("normalizer", json());
  const std::vector<json> s = steps_of(pre);
  const bool no_norm = norm.is_null();
  if (no_norm && s.size() == 2 && s[0].is_object() && s[0].value("type", "") == "Digits" &&
      s[0].value("individual_digits", false) && is_byte_level(s[1], true))
    return "smollm";
  if (no_norm && s.size() == 1 && is_byte_level(s[0], true)) return "gpt2";
  if (no_norm && s.size() == 2 && is_split(s[0], kLlama3Regex) && is_byte_level(s[1], false))
    return "llama-bpe";
  if (norm.is_object() && norm.value("type", "") == "NFC" && s.size() == 2 &&
      is_split(s[0], kQwen2Regex) && is_byte_level(s[1], false))
    return "qwen2";
  fail(
      "{}: pre_tokenizer {} is not one llama.cpp knows by name (supported: SmolLM's Digits + "
      "ByteLevel, GPT-2's ByteLevel, Llama 3's Split + ByteLevel, Qwen2's NFC + Split + ByteLevel)",
      where, pre.dump().substr(0, 200));
}

void add_tokenizer_metadata(GgufWriter& w, const std::string& model_dir, int64_t vocab_size) {
  const fs::path dir(model_dir);
  const fs::path tok_path = dir / "tokenizer.json";
  const std::string where = tok_path.string();
  const std::string text = read_file(where);
  const std::string pre = gguf_pre_tokenizer_name(text, where);
  const json t = json::parse(text);
  const json tc = optional_json_file(dir / "tokenizer_config.json");
  const json cfg = optional_json_file(dir / "config.json");
  const json gen = optional_json_file(dir / "generation_config.json");

  const json model = t.value("model", json::object());
  if (!model.is_object() || model.value("type", "") != "BPE")
    fail("{}: model.type must be \"BPE\" (byte-level) for GGUF tokenizer.ggml.model \"gpt2\"",
         where);
  const auto vit = model.find("vocab");
  if (vit == model.end() || !vit->is_object()) fail("{}: model.vocab: expected an object", where);

  // id -> token; the vocabulary may have holes (padded as the converter pads them).
  std::map<int64_t, std::string> by_id;
  for (auto it = vit->begin(); it != vit->end(); ++it) {
    if (!it->is_number_integer()) fail("{}: model.vocab['{}']: expected an integer id", where, it.key());
    by_id[it->get<int64_t>()] = it.key();
  }
  std::unordered_map<int64_t, bool> added;  // id -> special
  if (t.contains("added_tokens") && t["added_tokens"].is_array()) {
    for (const json& a : t["added_tokens"]) {
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() ||
          !a.contains("content") || !a["content"].is_string())
        fail("{}: added_tokens: expected objects with id and content, got {}", where,
             a.dump().substr(0, 100));
      const int64_t id = a["id"].get<int64_t>();
      by_id[id] = a["content"].get<std::string>();
      added[id] = a.value("special", false);
    }
  }
  if (!by_id.empty() && by_id.begin()->first < 0) fail("{}: negative token id", where);
  const int64_t n = std::max<int64_t>(vocab_size, by_id.empty() ? 0 : by_id.rbegin()->first + 1);
  if (n > vocab_size)
    fail("{}: token id {} is outside config.json's vocab_size {}", where, n - 1, vocab_size);
  std::vector<std::string> tokens(static_cast<size_t>(n));
  std::vector<int32_t> types(size_t(n), kTokenNormal);
  std::unordered_map<std::string, int64_t> id_of;
  for (int64_t id = 0; id < n; ++id) {
    auto it = by_id.find(id);
    if (it == by_id.end()) {
      tokens[size_t(id)] = fmt::format("[PAD{}]", id);
      types[size_t(id)] = kTokenUnused;
      continue;
    }
    tokens[size_t(id)] = it->second;
    id_of.emplace(it->second, id);
    auto a = added.find(id);
    if (a != added.end()) types[size_t(id)] = a->second ? kTokenControl : kTokenUserDefined;
  }

  std::vector<std::string> merges;
  if (model.contains("merges") && model["merges"].is_array()) {
    merges.reserve(model["merges"].size());
    for (const json& m : model["merges"]) merges.push_back(merge_text(m, where));
  }

  w.set("tokenizer.ggml.add_space_prefix", GgufValue::boolean(tc.value("add_prefix_space", false)));
  // add_bos: tokenizer_config's flag, else whether the post-processor prepends a special token.
  bool add_bos = false;
  if (tc.contains("add_bos_token") && tc["add_bos_token"].is_boolean()) {
    add_bos = tc["add_bos_token"].get<bool>();
  } else {
    const json post = t.value("post_processor", json());
    if (post.is_object() && post.value("type", "") == "TemplateProcessing" &&
        post.contains("single") && post["single"].is_array() && !post["single"].empty() &&
        post["single"][0].contains("SpecialToken"))
      add_bos = true;
  }
  w.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(add_bos));
  if (tc.contains("add_eos_token") && tc["add_eos_token"].is_boolean())
    w.set("tokenizer.ggml.add_eos_token", GgufValue::boolean(tc["add_eos_token"].get<bool>()));
  w.set("tokenizer.ggml.model", GgufValue::string("gpt2"));
  w.set("tokenizer.ggml.pre", GgufValue::string(pre));
  w.set("tokenizer.ggml.tokens", GgufValue::strings(tokens));
  w.set("tokenizer.ggml.token_type", GgufValue::i32s(types));
  w.set("tokenizer.ggml.merges", GgufValue::strings(merges));

  // Special ids: tokenizer_config.json's token texts, else config.json / generation_config.json.
  const std::pair<const char*, const char*> kSpecials[] = {
      {"bos", "bos"}, {"eos", "eos"}, {"unknown", "unk"}, {"padding", "pad"}};
  for (const auto& [gguf_name, hf_name] : kSpecials) {
    int64_t id = -1;
    const std::string tok = token_text(tc.value(std::string(hf_name) + "_token", json()));
    if (!tok.empty()) {
      auto it = id_of.find(tok);
      if (it == id_of.end())
        fail("{}: {}_token '{}' is not in the vocabulary of {}", (dir / "tokenizer_config.json").string(),
             hf_name, tok, where);
      id = it->second;
    }
    if (id < 0) id = first_id(cfg.value(std::string(hf_name) + "_token_id", json()));
    if (id < 0) id = first_id(gen.value(std::string(hf_name) + "_token_id", json()));
    if (id < 0) continue;
    if (id >= n) fail("{}: {}_token_id {} is outside the vocabulary of {}", model_dir, hf_name, id, n);
    w.set(fmt::format("tokenizer.ggml.{}_token_id", gguf_name), GgufValue::u32(uint32_t(id)));
  }

  const json tmpl = tc.value("chat_template", json());
  if (tmpl.is_string()) {
    w.set("tokenizer.chat_template", GgufValue::string(tmpl.get<std::string>()));
  } else if (tmpl.is_array()) {
    // Named templates: [{"name": "default", "template": "..."}, ...].
    for (const json& e : tmpl)
      if (e.is_object() && e.value("name", "") == "default" && e.contains("template") &&
          e["template"].is_string())
        w.set("tokenizer.chat_template", GgufValue::string(e["template"].get<std::string>()));
  }
}

}  // namespace quanta
