#include "io/jinja_lexer.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "io/jinja_value.h"
#include "io/utf8.h"

namespace quanta::jinja {
namespace {

bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Python str.rstrip() / lstrip() (Unicode whitespace), as Jinja's "-" control uses.
std::string rstrip_py(const std::string& s) {
  size_t end = s.size();
  while (end > 0) {
    size_t p = end - 1;
    while (p > 0 && (static_cast<unsigned char>(s[p]) & 0xC0) == 0x80) --p;
    size_t q = p;
    if (!is_py_space(utf8::next(s, q))) break;
    end = p;
  }
  return s.substr(0, end);
}

size_t skip_py_space(const std::string& s, size_t pos) {
  while (pos < s.size()) {
    size_t q = pos;
    if (!is_py_space(utf8::next(s, q))) break;
    pos = q;
  }
  return pos;
}

// Python's "unicode-escape" decoding of a string literal's body.
std::string unescape(const std::string& s, int line) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    const char c = s[++i];
    auto hex = [&](int n) {
      uint32_t v = 0;
      for (int k = 0; k < n; ++k) {
        if (i + 1 >= s.size() || !isxdigit(static_cast<unsigned char>(s[i + 1])))
          fail("chat template: line {}: truncated \\{} escape in a string", line, c);
        const char h = s[++i];
        v = v * 16 +
            uint32_t(isdigit(static_cast<unsigned char>(h)) ? h - '0' : (tolower(h) - 'a' + 10));
      }
      return v;
    };
    switch (c) {
      case '\n':
        break;  // line continuation
      case '\\':
        out += '\\';
        break;
      case '\'':
        out += '\'';
        break;
      case '"':
        out += '"';
        break;
      case 'a':
        out += '\a';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'v':
        out += '\v';
        break;
      case 'x':
        utf8::append(out, hex(2));
        break;
      case 'u':
        utf8::append(out, hex(4));
        break;
      case 'U':
        utf8::append(out, hex(8));
        break;
      default:
        if (c >= '0' && c <= '7') {
          uint32_t v = c - '0';
          for (int k = 0; k < 2 && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '7'; ++k)
            v = v * 8 + uint32_t(s[++i] - '0');
          utf8::append(out, v);
        } else {
          out += '\\';  // unknown escapes stay as written
          out += c;
        }
    }
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string src) : src_(std::move(src)) {}

  std::vector<Token> run() {
    while (true) {
      const size_t tag = find_tag(pos_);
      std::string text =
          src_.substr(pos_, tag == std::string::npos ? std::string::npos : tag - pos_);
      if (tag == std::string::npos) {
        emit_text(std::move(text));
        break;
      }
      const char kind = src_[tag + 1];  // '{', '%' or '#'
      const char ctl = tag + 2 < src_.size() ? src_[tag + 2] : 0;
      emit_text(begin_control(std::move(text), ctl, kind != '{'));
      advance_to(tag + 2 + (ctl == '-' || ctl == '+' ? 1 : 0));
      if (kind == '#')
        comment();
      else
        tag_body(kind == '{');
    }
    tokens_.push_back({TokenKind::kEof, "", line_});
    return std::move(tokens_);
  }

 private:
  size_t find_tag(size_t from) const {
    size_t p = from;
    while ((p = src_.find('{', p)) != std::string::npos) {
      if (p + 1 < src_.size() && (src_[p + 1] == '{' || src_[p + 1] == '%' || src_[p + 1] == '#'))
        return p;
      ++p;
    }
    return std::string::npos;
  }

  // Whitespace control on the text before a tag: '-' strips it all; for block and comment tags
  // lstrip_blocks drops the indentation before a tag that starts its line ('+' keeps it).
  std::string begin_control(std::string text, char ctl, bool is_block) const {
    if (ctl == '-') return rstrip_py(text);
    if (ctl == '+' || !is_block) return text;
    const size_t nl = text.rfind('\n');
    const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
    if ((l_pos > 0 || line_starting_) &&
        std::all_of(text.begin() + l_pos, text.end(), [](char c) { return is_ws(c); }))
      text.resize(l_pos);
    return text;
  }

  void emit_text(std::string text) {
    if (!text.empty()) tokens_.push_back({TokenKind::kText, std::move(text), line_});
  }

  void advance_to(size_t p) {
    line_ += int(std::count(src_.begin() + pos_, src_.begin() + p, '\n'));
    pos_ = p;
  }

  [[noreturn]] void error(const std::string& what) const {
    fail("chat template: line {}: {}", line_, what);
  }

  // After the closing "%}" / "#}" (at end): '-' strips all following whitespace, '+' nothing,
  // plain strips one newline (trim_blocks). For "}}" only '-' applies.
  void close_tag(size_t end, char ctl, bool trim_newline) {
    size_t p = end;
    if (ctl == '-')
      p = skip_py_space(src_, p);
    else if (ctl != '+' && trim_newline && p < src_.size() && src_[p] == '\n')
      ++p;
    line_starting_ = p > pos_ && src_[p - 1] == '\n';
    advance_to(p);
  }

  void comment() {
    const size_t end = src_.find("#}", pos_);
    if (end == std::string::npos) error("unclosed comment '{#'");
    const char ctl =
        end > pos_ && (src_[end - 1] == '-' || src_[end - 1] == '+') ? src_[end - 1] : 0;
    close_tag(end + 2, ctl, true);
  }

  // Tokens of one {{ ... }} or {% ... %}, through its end marker.
  void tag_body(bool is_var) {
    tokens_.push_back({is_var ? TokenKind::kVarBegin : TokenKind::kBlockBegin, "", line_});
    const size_t first_token = tokens_.size();
    const char* close = is_var ? "}}" : "%}";
    int depth = 0;
    while (true) {
      while (pos_ < src_.size() && is_ws(src_[pos_])) advance_to(pos_ + 1);
      if (pos_ >= src_.size()) error(is_var ? "unclosed '{{'" : "unclosed '{%'");
      if (depth == 0) {
        const bool ctl =
            (src_[pos_] == '-' || src_[pos_] == '+') && src_.compare(pos_ + 1, 2, close) == 0;
        if (ctl || src_.compare(pos_, 2, close) == 0) {
          if (ctl && src_[pos_] == '+' && is_var) error("'+}}' is not valid");
          tokens_.push_back({is_var ? TokenKind::kVarEnd : TokenKind::kBlockEnd, "", line_});
          // The end of "{% raw %}" does not trim a newline (Jinja's raw_begin rule).
          const bool raw = !is_var && tokens_.size() == first_token + 2 &&
                           tokens_[first_token].kind == TokenKind::kName &&
                           tokens_[first_token].value == "raw";
          close_tag(pos_ + (ctl ? 3 : 2), ctl ? src_[pos_] : 0, !is_var && !raw);
          if (raw) raw_block();
          return;
        }
      }
      const char c = src_[pos_];
      if (isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t e = pos_;
        while (e < src_.size() && (isalnum(static_cast<unsigned char>(src_[e])) || src_[e] == '_'))
          ++e;
        tokens_.push_back({TokenKind::kName, src_.substr(pos_, e - pos_), line_});
        advance_to(e);
      } else if (isdigit(static_cast<unsigned char>(c))) {
        number();
      } else if (c == '\'' || c == '"') {
        string_literal(c);
      } else {
        static const char* const kOps[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*",
                                           "/",  "%",  "~",  "<",  ">",  "=",  "|", ".", ",",
                                           ":",  "(",  ")",  "[",  "]",  "{",  "}", ";"};
        const char* op = nullptr;
        for (const char* o : kOps) {
          if (src_.compare(pos_, strlen(o), o) == 0) {
            op = o;
            break;
          }
        }
        if (!op) error(fmt::format("unexpected character '{}'", c));
        const std::string s = op;
        if (s == "(" || s == "[" || s == "{") ++depth;
        if ((s == ")" || s == "]" || s == "}") && depth > 0) --depth;
        tokens_.push_back({TokenKind::kOp, s, line_});
        advance_to(pos_ + s.size());
      }
    }
  }

  void number() {
    size_t e = pos_;
    auto digits = [&] {
      while (e < src_.size() && (isdigit(static_cast<unsigned char>(src_[e])) ||
                                 (src_[e] == '_' && e + 1 < src_.size() &&
                                  isdigit(static_cast<unsigned char>(src_[e + 1])))))
        ++e;
    };
    digits();
    bool is_float = false;
    if (e + 1 < src_.size() && src_[e] == '.' && isdigit(static_cast<unsigned char>(src_[e + 1]))) {
      ++e;
      digits();
      is_float = true;
    }
    if (e < src_.size() && (src_[e] == 'e' || src_[e] == 'E')) {
      size_t f = e + 1;
      if (f < src_.size() && (src_[f] == '+' || src_[f] == '-')) ++f;
      if (f < src_.size() && isdigit(static_cast<unsigned char>(src_[f]))) {
        e = f;
        digits();
        is_float = true;
      }
    }
    std::string text = src_.substr(pos_, e - pos_);
    std::erase(text, '_');
    tokens_.push_back({is_float ? TokenKind::kFloat : TokenKind::kInt, text, line_});
    advance_to(e);
  }

  void string_literal(char q) {
    size_t e = pos_ + 1;
    while (e < src_.size() && src_[e] != q) e += src_[e] == '\\' ? 2 : 1;
    if (e >= src_.size()) error("unterminated string literal");
    tokens_.push_back(
        {TokenKind::kString, unescape(src_.substr(pos_ + 1, e - pos_ - 1), line_), line_});
    advance_to(e + 1);
  }

  // {% raw %}...{% endraw %}: the body is text, taken as written.
  void raw_block() {
    tokens_.resize(tokens_.size() - 3);  // drop {% raw %}
    size_t p = pos_;
    while ((p = src_.find("{%", p)) != std::string::npos) {
      size_t q = p + 2;
      const char ctl = q < src_.size() && (src_[q] == '-' || src_[q] == '+') ? src_[q++] : 0;
      while (q < src_.size() && is_ws(src_[q])) ++q;
      if (src_.compare(q, 6, "endraw") != 0) {
        p += 2;
        continue;
      }
      q += 6;
      while (q < src_.size() && is_ws(src_[q])) ++q;
      const char end_ctl = q < src_.size() && (src_[q] == '-' || src_[q] == '+') ? src_[q++] : 0;
      if (src_.compare(q, 2, "%}") != 0) error("malformed '{% endraw %}'");
      emit_text(begin_control(src_.substr(pos_, p - pos_), ctl, true));
      advance_to(p);
      close_tag(q + 2, end_ctl, true);
      return;
    }
    error("'{% raw %}' without '{% endraw %}'");
  }

  std::string src_;
  size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> lex(const std::string& source) {
  // Jinja splits the source on \r\n, \r and \n and joins with \n, dropping one final newline.
  std::string src;
  src.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      src += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      src += source[i];
    }
  }
  if (!src.empty() && src.back() == '\n') src.pop_back();
  return Lexer(std::move(src)).run();
}

}  // namespace quanta::jinja
