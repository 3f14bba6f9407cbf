// Tokenizer: tokenizer.json's pipeline put together (added tokens -> normalizer -> pre-tokenizer
// -> BPE -> post-processor, and the decoder back), plus tokenizer_config.json's bos/eos/template.
#include "io/tokenizer.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "io/bpe.h"
#include "io/bpe_decoder.h"
#include "io/pretokenizer.h"
#include "io/pretokenizer_added.h"
#include "io/pretokenizer_json.h"
#include "io/utf8.h"

namespace quanta {

using tok::json;

struct Tokenizer::Impl {
  tok::BpeModel model;
  std::vector<tok::AddedToken> added;
  std::unordered_map<int32_t, size_t> added_by_id;  // -> index in added
  tok::StringMap added_by_content;
  std::unordered_map<int32_t, std::string> added_decoded;  // normalized form, when it differs
  tok::AddedTokenMatcher raw_matcher, normalized_matcher;
  std::unique_ptr<tok::Normalizer> normalizer;
  std::unique_ptr<tok::PreTokenizer> pre_tokenizer;
  std::unique_ptr<tok::Decoder> decoder;
  std::vector<int32_t> post_prefix, post_suffix;  // add_special: prefix + ids + suffix
  int32_t bos_id = -1, eos_id = -1;
  std::string bos_token, eos_token, chat_template;

  const tok::AddedToken* added_token(int32_t id) const {
    auto it = added_by_id.find(id);
    return it == added_by_id.end() ? nullptr : &added[it->second];
  }
};

namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("{}: cannot open file", path);
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) fail("{}: read error", path);
  return ss.str();
}

json parse_json(std::string_view text, const std::string& where) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    fail("{}: invalid JSON: {}", where, e.what());
  }
}

// One template ("single") of TemplateProcessing: list form or "[CLS] $A [SEP]" string form.
void parse_template(const json& single, const json& specials, const std::string& w,
                    std::vector<int32_t>& prefix, std::vector<int32_t>& suffix) {
  std::vector<std::pair<bool, std::string>> pieces;  // (is sequence, special token id)
  if (single.is_string()) {
    std::istringstream ss(single.get<std::string>());
    for (std::string p; ss >> p;) {
      const std::string name = p.substr(0, p.find(':'));
      if (!name.empty() && name[0] == '$')
        pieces.emplace_back(true, "");
      else
        pieces.emplace_back(false, name);
    }
  } else if (single.is_array()) {
    for (const json& p : single) {
      if (p.contains("Sequence"))
        pieces.emplace_back(true, "");
      else if (p.contains("SpecialToken") && p["SpecialToken"].contains("id"))
        pieces.emplace_back(false, p["SpecialToken"]["id"].get<std::string>());
      else
        fail("{}.single: expected Sequence or SpecialToken pieces", w);
    }
  } else {
    fail("{}.single: expected a list or a string", w);
  }
  std::vector<int32_t> pre, suf;
  bool seen_seq = false;
  for (const auto& [is_seq, name] : pieces) {
    if (is_seq) {
      if (seen_seq) fail("{}.single: more than one sequence", w);
      seen_seq = true;
      continue;
    }
    if (!specials.is_object() || !specials.contains(name))
      fail("{}.special_tokens: no entry for '{}'", w, name);
    const json& ids = tok::get_field(specials[name], "ids", w + ".special_tokens." + name);
    for (const json& id : ids) (seen_seq ? suf : pre).push_back(id.get<int32_t>());
  }
  prefix.insert(prefix.begin(), pre.begin(), pre.end());
  suffix.insert(suffix.end(), suf.begin(), suf.end());
}

// The post_processor's effect on a single sequence: ids to put before and after it.
void parse_post_processor(const json& j, const std::string& where, std::vector<int32_t>& prefix,
                          std::vector<int32_t>& suffix) {
  if (j.is_null()) return;
  const std::string type = tok::type_of(j, where);
  const std::string w = where + "(" + type + ")";
  if (type == "ByteLevel") return;  // only trims offsets
  if (type == "TemplateProcessing") {
    parse_template(tok::get_field(j, "single", w), j.value("special_tokens", json()), w, prefix,
                   suffix);
  } else if (type == "BertProcessing" || type == "RobertaProcessing") {
    auto id_of = [&](const char* key) {
      const json& p = tok::get_field(j, key, w);
      if (!p.is_array() || p.size() != 2 || !p[1].is_number_integer())
        fail("{}.{}: expected [token, id]", w, key);
      return p[1].get<int32_t>();
    };
    prefix.insert(prefix.begin(), id_of("cls"));
    suffix.push_back(id_of("sep"));
  } else if (type == "Sequence") {
    const json& list = tok::get_field(j, "processors", w);
    for (size_t i = 0; i < list.size(); ++i)
      parse_post_processor(list[i], fmt::format("{}.processors[{}]", w, i), prefix, suffix);
  } else {
    fail(
        "{}: unsupported post_processor type '{}' (supported: TemplateProcessing, ByteLevel, "
        "BertProcessing, RobertaProcessing, Sequence)",
        where, type);
  }
}

// bos_token / eos_token in tokenizer_config.json: a string, {"content": ...} or null.
std::string config_token(const json& cfg, const char* key, const std::string& where) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
    return (*it)["content"].get<std::string>();
  fail("{}.{}: expected a string or an object with \"content\"", where, key);
}

std::string config_template(const json& cfg, const std::string& where) {
  auto it = cfg.find("chat_template");
  if (it == cfg.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_array()) {
    // Named templates; "default" is the one apply_chat_template uses.
    for (const json& t : *it) {
      if (t.is_object() && t.value("name", "") == "default" && t.contains("template"))
        return t["template"].get<std::string>();
    }
    fail("{}.chat_template: a list of templates without one named 'default'", where);
  }
  fail("{}.chat_template: expected a string or a list of {{name, template}}", where);
}

}  // namespace

Tokenizer::Tokenizer() : impl_(std::make_unique<Impl>()) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load(const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string path = (fs::path(dir) / "tokenizer.json").string();
  const std::string text = read_file(path);
  std::string config;
  const fs::path config_path = fs::path(dir) / "tokenizer_config.json";
  if (fs::exists(config_path)) config = read_file(config_path.string());
  Tokenizer t = with_context(path, [&] { return from_json(text, {}); });
  if (!config.empty()) t.apply_config(config, config_path.string());
  // Newer checkpoints keep the template in its own file.
  const fs::path jinja_path = fs::path(dir) / "chat_template.jinja";
  if (t.impl_->chat_template.empty() && fs::exists(jinja_path))
    t.impl_->chat_template = read_file(jinja_path.string());
  return t;
}

Tokenizer Tokenizer::from_json(std::string_view tokenizer_json,
                               std::string_view tokenizer_config_json) {
  const std::string where = "tokenizer.json";
  const json j = parse_json(tokenizer_json, where);
  if (!j.is_object()) fail("{}: expected a JSON object", where);
  Tokenizer t;
  Impl& im = *t.impl_;
  im.model = tok::BpeModel::from_json(tok::get_field(j, "model", where), where + ".model");
  im.normalizer = tok::parse_normalizer(j.value("normalizer", json()), where + ".normalizer");
  im.pre_tokenizer =
      tok::parse_pre_tokenizer(j.value("pre_tokenizer", json()), where + ".pre_tokenizer");
  im.decoder = tok::parse_decoder(j.value("decoder", json()), where + ".decoder");
  parse_post_processor(j.value("post_processor", json()), where + ".post_processor", im.post_prefix,
                       im.post_suffix);

  const json added = j.value("added_tokens", json::array());
  if (!added.is_array()) fail("{}.added_tokens: expected a list", where);
  // HF ignores the "id" field: a token takes its vocab id if the model has it, else the next id
  // after the vocab (AddedVocabulary::add_tokens). The files HF writes agree with this.
  int64_t next_id = im.model.vocab_count();
  for (size_t i = 0; i < added.size(); ++i) {
    const std::string w = fmt::format("{}.added_tokens[{}]", where, i);
    const json& a = added[i];
    tok::AddedToken at;
    at.content = tok::get_string(a, "content", w);
    const json& id = tok::get_field(a, "id", w);
    if (!id.is_number_integer() || id.get<int64_t>() < 0) fail("{}.id: expected an id >= 0", w);
    at.special = tok::get_bool(a, "special", w, false);
    at.lstrip = tok::get_bool(a, "lstrip", w, false);
    at.rstrip = tok::get_bool(a, "rstrip", w, false);
    at.normalized = tok::get_bool(a, "normalized", w, !at.special);
    at.single_word = tok::get_bool(a, "single_word", w, false);
    if (at.content.empty()) continue;
    auto prev = im.added_by_content.find(at.content);
    if (prev != im.added_by_content.end()) {
      // Re-adding a token updates its flags and keeps its id.
      at.id = prev->second;
      im.added[im.added_by_id[at.id]] = at;
      continue;
    }
    const int32_t vocab_id = im.model.token_id(at.content);
    at.id = vocab_id >= 0 ? vocab_id : int32_t(next_id++);
    im.added_by_content[at.content] = at.id;
    im.added_by_id[at.id] = im.added.size();
    im.added.push_back(at);
  }
  for (const tok::AddedToken& at : im.added) {
    if (!at.normalized) {
      im.raw_matcher.add(at.content, at);
      continue;
    }
    // Normalized tokens are looked for in normalized text, so in their normalized form.
    std::string pattern = at.content;
    if (im.normalizer) im.normalizer->normalize(pattern);
    if (pattern != at.content) im.added_decoded[at.id] = pattern;
    im.normalized_matcher.add(pattern, at);
  }
  if (!tokenizer_config_json.empty())
    t.apply_config(tokenizer_config_json, "tokenizer_config.json");
  return t;
}

void Tokenizer::apply_config(std::string_view config_json, const std::string& where) {
  const json cfg = parse_json(config_json, where);
  if (!cfg.is_object()) fail("{}: expected a JSON object", where);
  Impl& im = *impl_;
  im.bos_token = config_token(cfg, "bos_token", where);
  im.eos_token = config_token(cfg, "eos_token", where);
  im.bos_id = im.bos_token.empty() ? -1 : token_id(im.bos_token);
  im.eos_id = im.eos_token.empty() ? -1 : token_id(im.eos_token);
  if (!im.bos_token.empty() && im.bos_id < 0)
    fail("{}.bos_token: '{}' is not a token of tokenizer.json", where, im.bos_token);
  if (!im.eos_token.empty() && im.eos_id < 0)
    fail("{}.eos_token: '{}' is not a token of tokenizer.json", where, im.eos_token);
  const std::string tmpl = config_template(cfg, where);
  if (!tmpl.empty()) im.chat_template = tmpl;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special) const {
  const Impl& im = *impl_;
  std::vector<int32_t> ids;
  if (add_special) ids = im.post_prefix;
  std::vector<tok::Piece> pieces;
  if (!text.empty()) {
    // Rust strings are valid UTF-8 by construction; repair like a lossy decode would.
    pieces.push_back(
        tok::Piece{utf8::is_valid(text) ? std::string(text) : utf8::lossy(text), -1, true});
  }
  im.raw_matcher.split(pieces);
  if (im.normalizer) {
    for (tok::Piece& p : pieces)
      if (p.id < 0) im.normalizer->normalize(p.text);
    std::erase_if(pieces, [](const tok::Piece& p) { return p.id < 0 && p.text.empty(); });
  }
  im.normalized_matcher.split(pieces);
  if (im.pre_tokenizer) im.pre_tokenizer->pre_tokenize(pieces);
  for (const tok::Piece& p : pieces) {
    if (p.id >= 0)
      ids.push_back(p.id);
    else
      im.model.tokenize(p.text, ids);
  }
  if (add_special) ids.insert(ids.end(), im.post_suffix.begin(), im.post_suffix.end());
  return ids;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  const Impl& im = *impl_;
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (const tok::AddedToken* at = im.added_token(id)) {
      if (skip_special && at->special) continue;
      auto it = im.added_decoded.find(id);
      tokens.push_back(it != im.added_decoded.end() ? it->second : at->content);
    } else if (const std::string* s = im.model.token(id)) {
      tokens.push_back(*s);
    }
    // Unknown ids are dropped, as HF does.
  }
  if (!im.decoder) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
    return out;
  }
  im.decoder->decode_chain(tokens);
  std::string out;
  for (const std::string& t : tokens) out += t;
  return out;
}

std::string Tokenizer::token_bytes(int32_t id) const {
  const Impl& im = *impl_;
  if (const tok::AddedToken* at = im.added_token(id)) return at->content;
  const std::string* s = im.model.token(id);
  if (!s) return {};
  std::string t = *s;
  if (im.decoder) im.decoder->stream(t);
  return t;
}

int32_t Tokenizer::vocab_size() const {
  int32_t n = impl_->model.max_id() + 1;
  for (const auto& at : impl_->added) n = std::max(n, at.id + 1);
  return n;
}

int32_t Tokenizer::token_id(std::string_view token) const {
  auto it = impl_->added_by_content.find(token);
  if (it != impl_->added_by_content.end()) return it->second;
  return impl_->model.token_id(token);
}

bool Tokenizer::is_special(int32_t id) const {
  const tok::AddedToken* at = impl_->added_token(id);
  return at && at->special;
}

int32_t Tokenizer::bos_id() const { return impl_->bos_id; }
int32_t Tokenizer::eos_id() const { return impl_->eos_id; }
const std::string& Tokenizer::bos_token() const { return impl_->bos_token; }
const std::string& Tokenizer::eos_token() const { return impl_->eos_token; }
const std::string& Tokenizer::chat_template() const { return impl_->chat_template; }

std::string Tokenizer::apply_chat_template(const std::vector<ChatMessage>& messages,
                                           bool add_generation_prompt) const {
  if (impl_->chat_template.empty()) fail("tokenizer has no chat_template");
  return render_chat_template(impl_->chat_template, messages, add_generation_prompt,
                              impl_->bos_token, impl_->eos_token);
}

}  // namespace quanta
