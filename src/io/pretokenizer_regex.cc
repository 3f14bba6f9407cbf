#include "io/pretokenizer_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/error.h"
#include "io/utf8.h"

namespace quanta::tok {

SplitBehavior parse_split_behavior(std::string_view name, const std::string& where) {
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  fail(
      "{}: unknown split behavior '{}' (expected Removed, Isolated, MergedWithPrevious, "
      "MergedWithNext or Contiguous)",
      where, name);
}

std::string onig_to_pcre2(std::string_view p) {
  // Oniguruma (UTF-8): \s is Unicode White_Space (PCRE2's misses U+0085 in older releases),
  // \w is Letter|Mark|Decimal_Number|Connector_Punctuation (PCRE2's adds No/Nl, drops Mark) and
  // \h is a hex digit (PCRE2: horizontal space).
  constexpr const char* kWord = "\\p{L}\\p{M}\\p{Nd}\\p{Pc}";
  std::string out;
  out.reserve(p.size() + 16);
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char e = p[++i];
      switch (e) {
        case 's':
          out += "\\p{White_Space}";
          break;
        case 'S':
          out += "\\P{White_Space}";
          break;
        case 'w':
          out += in_class ? std::string(kWord) : fmt::format("[{}]", kWord);
          break;
        case 'W':
          // A negated set cannot be spelled inside a class; PCRE2's own \W is close enough there.
          out += in_class ? std::string("\\W") : fmt::format("[^{}]", kWord);
          break;
        case 'h':
          out += in_class ? "0-9a-fA-F" : "[0-9a-fA-F]";
          break;
        case 'H':
          out += in_class ? "\\H" : "[^0-9a-fA-F]";
          break;
        default:
          out += '\\';
          out += e;
          break;
      }
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal.
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];
      continue;
    }
    if (in_class && c == ']') in_class = false;
    out += c;
  }
  return out;
}

struct Regex::Code {
  pcre2_code* code = nullptr;
  ~Code() { pcre2_code_free(code); }
};

Regex::Regex(std::string_view pattern, bool literal, const std::string& where)
    : code_(std::make_unique<Code>()) {
  const std::string pat = literal ? std::string(pattern) : onig_to_pcre2(pattern);
  // Oniguruma's default syntax treats ^ and $ as line anchors. (PCRE2_LITERAL refuses UCP.)
  const uint32_t options = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP | PCRE2_MULTILINE);
  int err = 0;
  PCRE2_SIZE err_off = 0;
  code_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pat.data()), pat.size(), options, &err,
                              &err_off, nullptr);
  if (!code_->code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof(msg));
    fail("{}: invalid regex '{}' at offset {}: {}", where, pattern, err_off,
         reinterpret_cast<const char*>(msg));
  }
  // JIT is an optimisation only; the interpreter gives the same matches if it is unavailable.
  pcre2_jit_compile(code_->code, PCRE2_JIT_COMPLETE);
}

Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;
Regex::~Regex() = default;

namespace {

struct MatchData {
  pcre2_match_data* md;
  explicit MatchData(const pcre2_code* code)
      : md(pcre2_match_data_create_from_pattern(code, nullptr)) {}
  ~MatchData() { pcre2_match_data_free(md); }
};

}  // namespace

void Regex::find_matches(std::string_view text, std::vector<Span>& out) const {
  if (text.empty()) return;
  MatchData data(code_->code);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t prev = 0;    // end of the last span emitted
  size_t search = 0;  // where the next search starts
  bool have_last = false;
  size_t last_match_end = 0;
  while (search <= text.size()) {
    const int rc = pcre2_match(code_->code, subject, text.size(), search, PCRE2_NO_UTF_CHECK,
                               data.md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) fail("regex match failed (PCRE2 error {})", rc);
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data.md);
    const size_t s = ov[0], e = ov[1];
    // No empty match right where the previous match ended (Rust/onig find_iter).
    if (s == e && have_last && last_match_end == e) {
      search += search < text.size() ? utf8::char_len(text, search) : 1;
      continue;
    }
    search = e;
    have_last = true;
    last_match_end = e;
    if (prev != s) out.push_back({prev, s, false});
    out.push_back({s, e, true});
    prev = e;
  }
  if (prev != text.size()) out.push_back({prev, text.size(), false});
}

std::string Regex::replace_all(std::string_view text, std::string_view content) const {
  thread_local std::vector<Span> spans;
  spans.clear();
  find_matches(text, spans);
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  for (const Span& s : spans) {
    if (s.match)
      out += content;
    else
      out.append(text, s.begin, s.end - s.begin);
  }
  return out;
}

bool Regex::search(std::string_view text) const {
  MatchData data(code_->code);
  const int rc = pcre2_match(code_->code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0,
                             PCRE2_NO_UTF_CHECK, data.md, nullptr);
  if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) fail("regex match failed (PCRE2 error {})", rc);
  return rc >= 0;
}

void apply_split_behavior(const std::vector<Span>& spans, SplitBehavior behavior,
                          std::vector<std::pair<size_t, size_t>>& out) {
  auto push = [&](size_t b, size_t e) {
    if (e > b) out.emplace_back(b, e);
  };
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const Span& s : spans) push(s.begin, s.end);
      return;
    case SplitBehavior::kRemoved:
      for (const Span& s : spans)
        if (!s.match) push(s.begin, s.end);
      return;
    default:
      break;
  }
  // The merging behaviors build the piece list first, then drop empties.
  std::vector<std::pair<size_t, size_t>> acc;
  bool previous_match = false;
  if (behavior == SplitBehavior::kMergedWithNext) {
    for (size_t k = spans.size(); k-- > 0;) {
      const Span& s = spans[k];
      if (s.match && !previous_match && !acc.empty()) {
        acc.back().first = s.begin;
      } else {
        acc.emplace_back(s.begin, s.end);
      }
      previous_match = s.match;
    }
    for (size_t k = acc.size(); k-- > 0;) push(acc[k].first, acc[k].second);
    return;
  }
  for (const Span& s : spans) {
    const bool merge = behavior == SplitBehavior::kContiguous ? s.match == previous_match
                                                              : s.match && !previous_match;
    if (merge && !acc.empty()) {
      acc.back().second = s.end;
    } else {
      acc.emplace_back(s.begin, s.end);
    }
    previous_match = s.match;
  }
  for (const auto& [b, e] : acc) push(b, e);
}

}  // namespace quanta::tok
