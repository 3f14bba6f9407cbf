#include "io/pretokenizer.h"

#include "io/pretokenizer_json.h"
#include "io/utf8.h"

namespace quanta::tok {
namespace {

// Replaces each piece that has no id by the sub-pieces fn(text, out) appends as byte ranges of
// the piece (PreTokenizedString::split). Empty sub-pieces are dropped.
template <typename Fn>
void split_each(std::vector<Piece>& pieces, Fn&& fn) {
  std::vector<Piece> out;
  out.reserve(pieces.size() * 2);
  std::vector<std::pair<size_t, size_t>> ranges;
  for (Piece& p : pieces) {
    if (p.id >= 0) {
      out.push_back(std::move(p));
      continue;
    }
    ranges.clear();
    fn(p.text, ranges);
    for (const auto& [b, e] : ranges) {
      if (e <= b) continue;
      out.push_back(Piece{p.text.substr(b, e - b), -1, p.at_origin && b == 0});
    }
  }
  pieces = std::move(out);
}

// Splits by pattern with behavior; invert flips which spans count as matches.
void split_by(const Regex& re, SplitBehavior behavior, bool invert, const std::string& text,
              std::vector<std::pair<size_t, size_t>>& ranges) {
  thread_local std::vector<Span> spans;
  spans.clear();
  re.find_matches(text, spans);
  if (invert)
    for (Span& s : spans) s.match = !s.match;
  apply_split_behavior(spans, behavior, ranges);
}

const char* const kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevelPre : public PreTokenizer {
 public:
  ByteLevelPre(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space), use_regex_(use_regex) {}

  void pre_tokenize(std::vector<Piece>& pieces) const override {
    static const Regex re(kGpt2Pattern, false, "ByteLevel");
    if (add_prefix_space_) {
      for (Piece& p : pieces)
        if (p.id < 0 && !p.text.empty() && p.text[0] != ' ') p.text.insert(0, 1, ' ');
    }
    if (use_regex_) {
      split_each(pieces, [&](const std::string& t, auto& r) {
        split_by(re, SplitBehavior::kIsolated, false, t, r);
      });
    }
    // Every byte becomes its printable stand-in (one char per byte).
    const auto& map = utf8::byte_to_unicode();
    std::string mapped;
    for (Piece& p : pieces) {
      if (p.id >= 0) continue;
      mapped.clear();
      for (unsigned char c : p.text) mapped += map[c];
      p.text.swap(mapped);
    }
  }

 private:
  bool add_prefix_space_, use_regex_;
};

class SplitPre : public PreTokenizer {
 public:
  SplitPre(Regex re, SplitBehavior behavior, bool invert)
      : re_(std::move(re)), behavior_(behavior), invert_(invert) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_each(pieces,
               [&](const std::string& t, auto& r) { split_by(re_, behavior_, invert_, t, r); });
  }

 private:
  Regex re_;
  SplitBehavior behavior_;
  bool invert_;
};

class MetaspacePre : public PreTokenizer {
 public:
  enum class Prepend { kAlways, kFirst, kNever };
  MetaspacePre(std::string replacement, Prepend prepend, bool split)
      : rep_(std::move(replacement)),
        prepend_(prepend),
        split_(split),
        rep_re_(rep_, /*literal=*/true, "Metaspace") {}

  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for (Piece& p : pieces) {
      if (p.id < 0) p.text = replace_spaces(p.text);
    }
    for (Piece& p : pieces) {
      if (p.id < 0 && !p.text.empty() && p.text.compare(0, rep_.size(), rep_) != 0 &&
          (prepend_ == Prepend::kAlways || (prepend_ == Prepend::kFirst && p.at_origin)))
        p.text.insert(0, rep_);
    }
    if (split_) {
      split_each(pieces, [&](const std::string& t, auto& r) {
        split_by(rep_re_, SplitBehavior::kMergedWithNext, false, t, r);
      });
    } else {
      std::erase_if(pieces, [](const Piece& p) { return p.id < 0 && p.text.empty(); });
    }
  }

 private:
  std::string replace_spaces(const std::string& t) const {
    std::string out;
    out.reserve(t.size() + 8);
    for (char c : t) {
      if (c == ' ')
        out += rep_;
      else
        out += c;
    }
    return out;
  }

  std::string rep_;
  Prepend prepend_;
  bool split_;
  Regex rep_re_;
};

class SequencePre : public PreTokenizer {
 public:
  explicit SequencePre(std::vector<std::unique_ptr<PreTokenizer>> steps)
      : steps_(std::move(steps)) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for (const auto& s : steps_) s->pre_tokenize(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

std::unique_ptr<PreTokenizer> make_split(const char* pattern, bool literal, SplitBehavior b,
                                         bool invert, const std::string& where) {
  return std::make_unique<SplitPre>(Regex(pattern, literal, where), b, invert);
}

}  // namespace

std::unique_ptr<PreTokenizer> parse_pre_tokenizer(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = type_of(j, where);
  const std::string w = where + "(" + type + ")";
  if (type == "ByteLevel") {
    return std::make_unique<ByteLevelPre>(get_bool(j, "add_prefix_space", w, true),
                                          get_bool(j, "use_regex", w, true));
  }
  if (type == "Split") {
    const std::string behavior = get_string(j, "behavior", w);
    return std::make_unique<SplitPre>(get_pattern(j, "pattern", w),
                                      parse_split_behavior(behavior, w + ".behavior"),
                                      get_bool(j, "invert", w, false));
  }
  if (type == "Digits") {
    // char::is_numeric is any Unicode N* character.
    const bool individual = get_bool(j, "individual_digits", w, false);
    return make_split(R"(\p{N})", false,
                      individual ? SplitBehavior::kIsolated : SplitBehavior::kContiguous, false, w);
  }
  if (type == "Metaspace") {
    std::string scheme = "always";
    if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string())
      scheme = j["prepend_scheme"].get<std::string>();
    if (!get_bool(j, "add_prefix_space", w, true)) scheme = "never";
    MetaspacePre::Prepend p;
    if (scheme == "always")
      p = MetaspacePre::Prepend::kAlways;
    else if (scheme == "first")
      p = MetaspacePre::Prepend::kFirst;
    else if (scheme == "never")
      p = MetaspacePre::Prepend::kNever;
    else
      fail("{}.prepend_scheme: expected always, first or never, got '{}'", w, scheme);
    return std::make_unique<MetaspacePre>(get_char(j, "replacement", w), p,
                                          get_bool(j, "split", w, true));
  }
  if (type == "Whitespace") {
    return make_split(R"(\w+|[^\w\s]+)", false, SplitBehavior::kRemoved, true, w);
  }
  if (type == "WhitespaceSplit") {
    return make_split(R"(\s)", false, SplitBehavior::kRemoved, false, w);
  }
  if (type == "Punctuation") {
    std::string behavior = "Isolated";
    if (j.contains("behavior") && j["behavior"].is_string()) behavior = j["behavior"];
    return make_split(R"([\p{P}!-/:-@\[-`{-~])", false,
                      parse_split_behavior(behavior, w + ".behavior"), false, w);
  }
  if (type == "CharDelimiterSplit") {
    const std::string d = get_char(j, "delimiter", w);
    return make_split(d.c_str(), true, SplitBehavior::kRemoved, false, w);
  }
  if (type == "Sequence") {
    const json& list = get_field(j, "pretokenizers", w);
    if (!list.is_array()) fail("{}.pretokenizers: expected a list", w);
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (size_t i = 0; i < list.size(); ++i) {
      auto s = parse_pre_tokenizer(list[i], fmt::format("{}.pretokenizers[{}]", w, i));
      if (s) steps.push_back(std::move(s));
    }
    return std::make_unique<SequencePre>(std::move(steps));
  }
  fail(
      "{}: unsupported pre_tokenizer type '{}' (supported: ByteLevel, Split, Digits, Metaspace, "
      "Whitespace, WhitespaceSplit, Punctuation, CharDelimiterSplit, Sequence)",
      where, type);
}

}  // namespace quanta::tok
