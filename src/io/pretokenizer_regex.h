// Pattern splitting as HF tokenizers does it: a PCRE2 regex standing in for Oniguruma, the
// Pattern::find_matches contract (spans covering the whole input, matches flagged) and the five
// SplitDelimiterBehavior rules.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace quanta::tok {

// Bytes [begin, end) of a string; match says whether the pattern matched them.
struct Span {
  size_t begin = 0, end = 0;
  bool match = false;
};

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// "Removed", "Isolated", ... as tokenizer.json spells them; where names the field for errors.
SplitBehavior parse_split_behavior(std::string_view name, const std::string& where);

// A compiled regex. Patterns are written for Oniguruma (what tokenizers uses); the few classes
// whose meaning differs in PCRE2 (\s, \S, \w, \W, \h, \H) are rewritten to Oniguruma's meaning.
// Input must be valid UTF-8.
class Regex {
 public:
  // literal: match the pattern text as a plain string (tokenizer.json's {"String": ...}).
  Regex(std::string_view pattern, bool literal, const std::string& where);
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;
  ~Regex();

  // Appends spans covering all of text (nothing if text is empty), in order: each match, and the
  // text between matches. Empty matches follow Rust's find_iter rules.
  void find_matches(std::string_view text, std::vector<Span>& out) const;
  // Whether the pattern matches anywhere in text.
  bool search(std::string_view text) const;
  // text with every match replaced by `content` (the Replace normalizer and decoder).
  std::string replace_all(std::string_view text, std::string_view content) const;

 private:
  struct Code;
  std::unique_ptr<Code> code_;
};

// Oniguruma -> PCRE2 pattern rewrite (exposed for tests).
std::string onig_to_pcre2(std::string_view pattern);

// Turns find_matches output into the pieces to keep, by behavior (NormalizedString::split).
// Empty pieces are dropped. spans may be inverted by the caller first (Split's invert flag).
void apply_split_behavior(const std::vector<Span>& spans, SplitBehavior behavior,
                          std::vector<std::pair<size_t, size_t>>& out);

}  // namespace quanta::tok
