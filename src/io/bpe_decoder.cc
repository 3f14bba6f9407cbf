#include "io/bpe_decoder.h"

#include "io/pretokenizer_json.h"
#include "io/utf8.h"

namespace quanta::tok {
namespace {

// Maps a byte-level token back to bytes; a token with any char outside the alphabet (an added
// token such as "<|im_start|>" is fine, one with a real space is not) stays as it is.
std::string byte_level_bytes(const std::string& t) {
  std::string out;
  out.reserve(t.size());
  for (size_t pos = 0; pos < t.size();) {
    const int b = utf8::unicode_to_byte(utf8::next(t, pos));
    if (b < 0) return t;
    out += char(b);
  }
  return out;
}

class ByteLevelDec : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const std::string& t : tokens) bytes += byte_level_bytes(t);
    tokens.assign(1, utf8::lossy(bytes));
  }
  void stream(std::string& t) const override { t = byte_level_bytes(t); }
};

// "<0xAB>" -> 0xAB, else -1 (u8::from_str_radix, which also takes a leading '+').
int byte_token(const std::string& t) {
  if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (t[3] == '+') return hex(t[4]);
  const int h = hex(t[3]), l = hex(t[4]);
  return h < 0 || l < 0 ? -1 : h * 16 + l;
}

class ByteFallbackDec : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string bytes;
    auto flush = [&] {
      if (bytes.empty()) return;
      if (utf8::is_valid(bytes)) {
        out.push_back(bytes);
      } else {
        // One U+FFFD per byte, as HF does (not per invalid sequence).
        for (size_t i = 0; i < bytes.size(); ++i) out.emplace_back("\xEF\xBF\xBD");
      }
      bytes.clear();
    };
    for (std::string& t : tokens) {
      const int b = byte_token(t);
      if (b >= 0) {
        bytes += char(b);
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens = std::move(out);
  }
  void stream(std::string& t) const override {
    const int b = byte_token(t);
    if (b >= 0) t.assign(1, char(b));
  }
};

class ReplaceDec : public Decoder {
 public:
  ReplaceDec(Regex re, std::string content) : re_(std::move(re)), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) stream(t);
  }
  void stream(std::string& t) const override {
    if (!utf8::is_valid(t)) return;  // a byte stand-in from an earlier step; nothing to match
    t = re_.replace_all(t, content_);
  }

 private:
  Regex re_;
  std::string content_;
};

class FuseDec : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const std::string& t : tokens) all += t;
    tokens.assign(1, std::move(all));
  }
  void stream(std::string&) const override {}
};

class StripDec : public Decoder {
 public:
  StripDec(uint32_t content, size_t start, size_t stop) : c_(content), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) {
      std::vector<std::pair<size_t, uint32_t>> chars;  // (byte offset, code point)
      for (size_t pos = 0; pos < t.size();) {
        const size_t at = pos;
        chars.emplace_back(at, utf8::next(t, pos));
      }
      size_t cut_start = 0;
      for (size_t i = 0; i < std::min(start_, chars.size()) && chars[i].second == c_; ++i)
        cut_start = i + 1;
      size_t cut_stop = chars.size();
      for (size_t i = 0; i < std::min(stop_, chars.size()); ++i) {
        const size_t index = chars.size() - i - 1;
        if (chars[index].second != c_) break;
        cut_stop = index;
      }
      if (cut_stop < cut_start) cut_stop = cut_start;
      const size_t b = cut_start < chars.size() ? chars[cut_start].first : t.size();
      const size_t e = cut_stop < chars.size() ? chars[cut_stop].first : t.size();
      t = t.substr(b, e - b);
    }
  }
  // Stripping applies to the start/end of the whole text, not to each streamed token.
  void stream(std::string&) const override {}

 private:
  uint32_t c_;
  size_t start_, stop_;
};

class MetaspaceDec : public Decoder {
 public:
  MetaspaceDec(std::string rep, bool strip_first)
      : rep_(std::move(rep)), strip_first_(strip_first) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i)
      replace(tokens[i], i == 0 && strip_first_ ? "" : " ");
  }
  void stream(std::string& t) const override { replace(t, " "); }

 private:
  // HF drops every replacement char of the first token when a prefix was prepended.
  void replace(std::string& t, const char* with) const {
    std::string out;
    for (size_t pos = 0; pos < t.size();) {
      if (t.compare(pos, rep_.size(), rep_) == 0) {
        out += with;
        pos += rep_.size();
      } else {
        out += t[pos++];
      }
    }
    t.swap(out);
  }
  std::string rep_;
  bool strip_first_;
};

class BpeSuffixDec : public Decoder {
 public:
  explicit BpeSuffixDec(std::string suffix) : suffix_(std::move(suffix)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i)
      replace(tokens[i], i + 1 == tokens.size() ? "" : " ");
  }
  void stream(std::string& t) const override { replace(t, " "); }

 private:
  void replace(std::string& t, const char* with) const {
    if (suffix_.empty()) return;
    std::string out;
    size_t pos = 0;
    for (size_t f; (f = t.find(suffix_, pos)) != std::string::npos; pos = f + suffix_.size())
      out.append(t, pos, f - pos).append(with);
    t = out.append(t, pos, std::string::npos);
  }
  std::string suffix_;
};

class SequenceDec : public Decoder {
 public:
  explicit SequenceDec(std::vector<std::unique_ptr<Decoder>> steps) : steps_(std::move(steps)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& s : steps_) s->decode_chain(tokens);
  }
  void stream(std::string& t) const override {
    for (const auto& s : steps_) s->stream(t);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

size_t get_count(const json& j, const char* key, const std::string& where) {
  const json& v = get_field(j, key, where);
  if (!v.is_number_unsigned()) fail("{}.{}: expected a non-negative integer", where, key);
  return v.get<size_t>();
}

}  // namespace

std::unique_ptr<Decoder> parse_decoder(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = type_of(j, where);
  const std::string w = where + "(" + type + ")";
  if (type == "ByteLevel") return std::make_unique<ByteLevelDec>();
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDec>();
  if (type == "Fuse") return std::make_unique<FuseDec>();
  if (type == "Replace") {
    return std::make_unique<ReplaceDec>(get_pattern(j, "pattern", w), get_string(j, "content", w));
  }
  if (type == "Strip") {
    const std::string c = get_char(j, "content", w);
    size_t pos = 0;
    const uint32_t cp = utf8::next(c, pos);
    return std::make_unique<StripDec>(cp, get_count(j, "start", w), get_count(j, "stop", w));
  }
  if (type == "Metaspace") {
    std::string scheme = "always";
    if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string())
      scheme = j["prepend_scheme"];
    if (!get_bool(j, "add_prefix_space", w, true)) scheme = "never";
    return std::make_unique<MetaspaceDec>(get_char(j, "replacement", w), scheme != "never");
  }
  if (type == "BPEDecoder") {
    std::string suffix = "</w>";
    if (j.contains("suffix") && j["suffix"].is_string()) suffix = j["suffix"];
    return std::make_unique<BpeSuffixDec>(suffix);
  }
  if (type == "Sequence") {
    const json& list = get_field(j, "decoders", w);
    if (!list.is_array()) fail("{}.decoders: expected a list", w);
    std::vector<std::unique_ptr<Decoder>> steps;
    for (size_t i = 0; i < list.size(); ++i) {
      auto s = parse_decoder(list[i], fmt::format("{}.decoders[{}]", w, i));
      if (s) steps.push_back(std::move(s));
    }
    return std::make_unique<SequenceDec>(std::move(steps));
  }
  fail(
      "{}: unsupported decoder type '{}' (supported: ByteLevel, ByteFallback, Replace, Fuse, "
      "Strip, Metaspace, BPEDecoder, Sequence)",
      where, type);
}

}  // namespace quanta::tok
