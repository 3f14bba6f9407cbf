// Normalizers (tokenizer.json "normalizer"): the SentencePiece-style rewrites Llama-2/Mistral use
// (Prepend "▁", Replace " " -> "▁"), plus Strip, NFC and Sequence.
#include "io/pretokenizer.h"
#include "io/pretokenizer_json.h"
#include "io/utf8_nfc.h"

namespace quanta::tok {
namespace {

class PrependNorm : public Normalizer {
 public:
  explicit PrependNorm(std::string s) : s_(std::move(s)) {}
  void normalize(std::string& t) const override {
    if (!t.empty()) t.insert(0, s_);
  }

 private:
  std::string s_;
};

class ReplaceNorm : public Normalizer {
 public:
  ReplaceNorm(Regex re, std::string content) : re_(std::move(re)), content_(std::move(content)) {}
  void normalize(std::string& t) const override {
    t = re_.replace_all(t, content_);
  }

 private:
  Regex re_;
  std::string content_;
};

class StripNorm : public Normalizer {
 public:
  StripNorm(bool left, bool right)
      : left_(left),
        right_(right),
        lead_(R"(\A\s+)", false, "Strip"),
        trail_(R"(\s+\z)", false, "Strip") {}
  void normalize(std::string& t) const override {
    std::vector<Span> spans;
    if (right_) {
      trail_.find_matches(t, spans);
      if (!spans.empty() && spans.back().match) t.resize(spans.back().begin);
      spans.clear();
    }
    if (left_) {
      lead_.find_matches(t, spans);
      if (!spans.empty() && spans.front().match) t.erase(0, spans.front().end);
    }
  }

 private:
  bool left_, right_;
  Regex lead_, trail_;
};

class NfcNorm : public Normalizer {
 public:
  void normalize(std::string& t) const override { t = utf8::nfc(t); }
};

class SequenceNorm : public Normalizer {
 public:
  explicit SequenceNorm(std::vector<std::unique_ptr<Normalizer>> steps)
      : steps_(std::move(steps)) {}
  void normalize(std::string& t) const override {
    for (const auto& s : steps_) s->normalize(t);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

}  // namespace

std::unique_ptr<Normalizer> parse_normalizer(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = type_of(j, where);
  const std::string w = where + "(" + type + ")";
  if (type == "Prepend") return std::make_unique<PrependNorm>(get_string(j, "prepend", w));
  if (type == "Replace") {
    return std::make_unique<ReplaceNorm>(get_pattern(j, "pattern", w), get_string(j, "content", w));
  }
  if (type == "Strip") {
    return std::make_unique<StripNorm>(get_bool(j, "strip_left", w, true),
                                       get_bool(j, "strip_right", w, true));
  }
  if (type == "NFC") return std::make_unique<NfcNorm>();
  if (type == "Sequence") {
    const json& list = get_field(j, "normalizers", w);
    if (!list.is_array()) fail("{}.normalizers: expected a list", w);
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (size_t i = 0; i < list.size(); ++i) {
      auto s = parse_normalizer(list[i], fmt::format("{}.normalizers[{}]", w, i));
      if (s) steps.push_back(std::move(s));
    }
    return std::make_unique<SequenceNorm>(std::move(steps));
  }
  fail("{}: unsupported normalizer type '{}' (supported: Prepend, Replace, Strip, NFC, Sequence)",
       where, type);
}

}  // namespace quanta::tok
