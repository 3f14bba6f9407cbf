// tokenizer.json and tokenizer_config.json rebuilt from a GGUF's tokenizer.* metadata: the
// vocabulary, merges and special tokens come from the file; the pre-tokenizer, post-processor
// and decoder are the Hugging Face structures of the tokenizer family named by tokenizer.ggml.pre.
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "core/error.h"
#include "io/gguf.h"
#include "io/gguf_import.h"

namespace quanta {
namespace {

using ojson = nlohmann::ordered_json;

// llama.cpp's llama_token_type (tokenizer.ggml.token_type values).
constexpr int64_t kTokenControl = 3;
constexpr int64_t kTokenUserDefined = 4;

// The split regexes of the HF tokenizers (tokenizer.json "Split" pre-tokenizers).
constexpr const char* kLlama3Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr const char* kQwen2Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

ojson byte_level(bool add_prefix_space, bool trim_offsets, bool use_regex) {
  return {{"type", "ByteLevel"},
          {"add_prefix_space", add_prefix_space},
          {"trim_offsets", trim_offsets},
          {"use_regex", use_regex}};
}

ojson split(const char* regex) {
  return {{"type", "Split"},
          {"pattern", {{"Regex", regex}}},
          {"behavior", "Isolated"},
          {"invert", false}};
}

// The HF pipeline pieces of one tokenizer family.
struct Family {
  ojson normalizer, pre_tokenizer, post_processor, decoder;
  bool ignore_merges = false;
  const char* tokenizer_class = "PreTrainedTokenizerFast";
};

Family family_for(const GgufFile& f, const std::string& pre) {
  Family fam;
  fam.normalizer = nullptr;
  if (pre == "smollm") {
    // As in HuggingFaceTB/SmolLM2-*/tokenizer.json.
    fam.pre_tokenizer = {
        {"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Digits"}, {"individual_digits", true}}, byte_level(false, true, true)}}};
    fam.post_processor = nullptr;
    fam.decoder = byte_level(true, true, true);
    fam.tokenizer_class = "GPT2Tokenizer";
  } else if (pre == "gpt2" || pre == "default") {
    fam.pre_tokenizer = byte_level(false, true, true);
    fam.post_processor = byte_level(true, false, true);
    fam.decoder = byte_level(true, true, true);
    fam.tokenizer_class = "GPT2Tokenizer";
  } else if (pre == "llama-bpe") {
    fam.pre_tokenizer = {{"type", "Sequence"},
                         {"pretokenizers", {split(kLlama3Regex), byte_level(false, true, false)}}};
    fam.post_processor = byte_level(true, false, true);
    fam.decoder = byte_level(true, true, true);
    fam.ignore_merges = true;
  } else if (pre == "qwen2") {
    fam.normalizer = {{"type", "NFC"}};
    fam.pre_tokenizer = {{"type", "Sequence"},
                         {"pretokenizers", {split(kQwen2Regex), byte_level(false, false, false)}}};
    fam.post_processor = byte_level(false, false, false);
    fam.decoder = byte_level(false, false, false);
  } else {
    fail(
        "{}: tokenizer.ggml.pre '{}' is not supported (supported: smollm, gpt2, llama-bpe, "
        "qwen2, default)",
        f.path(), pre);
  }
  return fam;
}

struct Vocab {
  std::vector<std::string> tokens;
  std::vector<int64_t> types;
};

Vocab read_vocab(const GgufFile& f) {
  const std::string model = f.get_string("tokenizer.ggml.model");
  if (model != "gpt2")
    fail("{}: tokenizer.ggml.model '{}' is not supported (only 'gpt2', byte-level BPE)", f.path(),
         model);
  Vocab v;
  v.tokens = f.get_strings("tokenizer.ggml.tokens");
  if (f.find("tokenizer.ggml.token_type")) {
    v.types = f.get_ints("tokenizer.ggml.token_type");
    if (v.types.size() != v.tokens.size())
      fail("{}: tokenizer.ggml.token_type has {} entries, tokenizer.ggml.tokens {}", f.path(),
           v.types.size(), v.tokens.size());
  } else {
    v.types.assign(v.tokens.size(), 1);
  }
  return v;
}

const std::string& token_at(const GgufFile& f, const Vocab& v, const std::string& key) {
  const int64_t id = f.get_int(key);
  if (id < 0 || size_t(id) >= v.tokens.size())
    fail("{}: {} = {} is outside the vocabulary of {}", f.path(), key, id, v.tokens.size());
  return v.tokens[size_t(id)];
}

ojson added_token(const Vocab& v, size_t id, bool with_id) {
  ojson t;
  if (with_id) t["id"] = id;
  t["content"] = v.tokens[id];
  t["single_word"] = false;
  t["lstrip"] = false;
  t["rstrip"] = false;
  t["normalized"] = false;
  t["special"] = v.types[id] == kTokenControl;
  return t;
}

bool is_added(const Vocab& v, size_t id) {
  return v.types[id] == kTokenControl || v.types[id] == kTokenUserDefined;
}

}  // namespace

std::string gguf_tokenizer_json(const GgufFile& f) {
  const Vocab v = read_vocab(f);
  const Family fam = family_for(f, f.get_string("tokenizer.ggml.pre", "default"));
  std::vector<std::string> merges = f.get_strings("tokenizer.ggml.merges");

  ojson vocab = ojson::object();
  {
    // Note: ordered_map::emplace searches linearly for duplicates (quadratic over 150k tokens);
    // append to its vector base instead, after our own duplicate check.
    auto& items = vocab.get_ref<ojson::object_t&>();
    using Base = std::vector<std::pair<const std::string, ojson>>;
    Base& base = items;
    base.reserve(v.tokens.size());
    std::unordered_map<std::string_view, size_t> seen;
    for (size_t id = 0; id < v.tokens.size(); ++id) {
      auto [it, inserted] = seen.emplace(v.tokens[id], id);
      if (!inserted)
        fail("{}: tokenizer.ggml.tokens: token '{}' appears at ids {} and {}", f.path(),
             v.tokens[id], it->second, id);
      base.emplace_back(v.tokens[id], ojson(id));
    }
  }

  ojson added = ojson::array();
  for (size_t id = 0; id < v.tokens.size(); ++id)
    if (is_added(v, id)) added.push_back(added_token(v, id, true));

  // Special tokens the GGUF asks to add around every sequence.
  ojson post = fam.post_processor;
  const bool add_bos =
      f.get_bool("tokenizer.ggml.add_bos_token", false) && f.find("tokenizer.ggml.bos_token_id");
  const bool add_eos =
      f.get_bool("tokenizer.ggml.add_eos_token", false) && f.find("tokenizer.ggml.eos_token_id");
  if (add_bos || add_eos) {
    ojson single = ojson::array(), pair = ojson::array(), specials = ojson::object();
    auto special = [&](const char* key, int type_id) {
      const std::string& tok = token_at(f, v, key);
      specials[tok] = {{"id", tok}, {"ids", {f.get_int(key)}}, {"tokens", {tok}}};
      return ojson{{"SpecialToken", {{"id", tok}, {"type_id", type_id}}}};
    };
    auto seq = [](const char* id, int type_id) {
      return ojson{{"Sequence", {{"id", id}, {"type_id", type_id}}}};
    };
    const char* bos_key = "tokenizer.ggml.bos_token_id";
    const char* eos_key = "tokenizer.ggml.eos_token_id";
    for (int s = 0; s < 2; ++s) {
      if (add_bos) pair.push_back(special(bos_key, s));
      pair.push_back(seq(s == 0 ? "A" : "B", s));
      if (add_eos) pair.push_back(special(eos_key, s));
    }
    if (add_bos) single.push_back(special(bos_key, 0));
    single.push_back(seq("A", 0));
    if (add_eos) single.push_back(special(eos_key, 0));
    ojson tmpl = {{"type", "TemplateProcessing"},
                  {"single", single},
                  {"pair", pair},
                  {"special_tokens", specials}};
    post = post.is_null() ? tmpl : ojson{{"type", "Sequence"}, {"processors", {post, tmpl}}};
  }

  ojson model;
  model["type"] = "BPE";
  model["dropout"] = nullptr;
  model["unk_token"] = nullptr;
  model["continuing_subword_prefix"] = nullptr;
  model["end_of_word_suffix"] = nullptr;
  model["fuse_unk"] = false;
  model["byte_fallback"] = false;
  model["ignore_merges"] = fam.ignore_merges;
  model["vocab"] = std::move(vocab);
  model["merges"] = std::move(merges);

  ojson t;
  t["version"] = "1.0";
  t["truncation"] = nullptr;
  t["padding"] = nullptr;
  t["added_tokens"] = std::move(added);
  t["normalizer"] = fam.normalizer;
  t["pre_tokenizer"] = fam.pre_tokenizer;
  t["post_processor"] = post;
  t["decoder"] = fam.decoder;
  t["model"] = std::move(model);
  try {
    return t.dump(2) + "\n";
  } catch (const nlohmann::json::exception& e) {
    fail("{}: tokenizer.ggml.tokens/merges: {}", f.path(), e.what());  // e.g. invalid UTF-8
  }
}

std::string gguf_tokenizer_config_json(const GgufFile& f) {
  const Vocab v = read_vocab(f);
  const Family fam = family_for(f, f.get_string("tokenizer.ggml.pre", "default"));
  ojson c;
  c["add_prefix_space"] = false;
  ojson decoder = ojson::object();
  for (size_t id = 0; id < v.tokens.size(); ++id)
    if (is_added(v, id)) decoder[std::to_string(id)] = added_token(v, id, false);
  c["added_tokens_decoder"] = std::move(decoder);
  const std::pair<const char*, const char*> kSpecials[] = {
      {"bos_token", "tokenizer.ggml.bos_token_id"},
      {"eos_token", "tokenizer.ggml.eos_token_id"},
      {"pad_token", "tokenizer.ggml.padding_token_id"},
      {"unk_token", "tokenizer.ggml.unknown_token_id"},
  };
  for (const auto& [name, key] : kSpecials)
    if (f.find(key)) c[name] = token_at(f, v, key);
  if (f.find("tokenizer.chat_template"))
    c["chat_template"] = f.get_string("tokenizer.chat_template");
  c["clean_up_tokenization_spaces"] = false;
  const std::string arch = f.get_string("general.architecture", "llama");
  c["model_max_length"] = f.get_int(arch + ".context_length", 1 << 20);
  c["tokenizer_class"] = fam.tokenizer_class;
  try {
    return c.dump(2) + "\n";
  } catch (const nlohmann::json::exception& e) {
    fail("{}: tokenizer.*: {}", f.path(), e.what());  // e.g. invalid UTF-8
  }
}

}  // namespace quanta
