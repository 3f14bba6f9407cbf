#include "io/pretokenizer_added.h"

#include "io/pretokenizer_regex.h"
#include "io/utf8.h"

namespace quanta::tok {
namespace {

// Start of the char that ends just before pos.
size_t prev_char(const std::string& s, size_t pos) {
  do {
    --pos;
  } while (pos > 0 && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80);
  return pos;
}

bool is_word_char(std::string_view ch) {
  static const Regex re(R"(\A\w)", false, "added_tokens");
  return re.search(ch);
}

// Byte offset where the run of whitespace ending at end starts.
size_t space_run_start(const std::string& s, size_t end) {
  while (end > 0) {
    const size_t p = prev_char(s, end);
    size_t q = p;
    if (!utf8::is_white_space(utf8::next(s, q))) break;
    end = p;
  }
  return end;
}

// Byte length of the run of whitespace starting at pos.
size_t space_run_len(const std::string& s, size_t pos) {
  size_t p = pos;
  while (p < s.size()) {
    size_t q = p;
    if (!utf8::is_white_space(utf8::next(s, q))) break;
    p = q;
  }
  return p - pos;
}

}  // namespace

int32_t AddedTokenMatcher::child(int32_t node, unsigned char c) const {
  for (const auto& [b, n] : nodes_[node].next)
    if (b == c) return n;
  return -1;
}

void AddedTokenMatcher::add(const std::string& pattern, const AddedToken& token) {
  if (pattern.empty()) return;  // HF ignores empty added tokens
  int32_t node = 0;
  for (unsigned char c : pattern) {
    int32_t n = child(node, c);
    if (n < 0) {
      n = int32_t(nodes_.size());
      nodes_[node].next.emplace_back(c, n);
      nodes_.emplace_back();
    }
    node = n;
  }
  if (nodes_[node].entry >= 0) return;  // same pattern twice: the first one wins
  nodes_[node].entry = int32_t(entries_.size());
  entries_.push_back({pattern, token});
  first_byte_[static_cast<unsigned char>(pattern[0])] = true;
}

int32_t AddedTokenMatcher::longest_at(const std::string& text, size_t pos, size_t& len) const {
  int32_t best = -1;
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    node = child(node, static_cast<unsigned char>(text[i]));
    if (node < 0) break;
    if (nodes_[node].entry >= 0) {
      best = nodes_[node].entry;
      len = i + 1 - pos;
    }
  }
  return best;
}

// AddedVocabulary::find_matches + split_with_indices.
void AddedTokenMatcher::split(std::vector<Piece>& pieces) const {
  if (entries_.empty()) return;
  std::vector<Piece> out;
  out.reserve(pieces.size());
  for (Piece& piece : pieces) {
    if (piece.id >= 0) {
      out.push_back(std::move(piece));
      continue;
    }
    const std::string& s = piece.text;
    auto emit = [&](size_t b, size_t e, int32_t id) {
      if (e > b) out.push_back(Piece{s.substr(b, e - b), id, piece.at_origin && b == 0});
    };
    size_t start_offset = 0;
    size_t pos = 0;
    while (pos < s.size()) {
      if (!first_byte_[static_cast<unsigned char>(s[pos])]) {
        ++pos;
        continue;
      }
      size_t len = 0;
      const int32_t e = longest_at(s, pos, len);
      if (e < 0) {
        ++pos;
        continue;
      }
      // Matches never overlap: the search resumes after this one whether or not it is kept.
      size_t start = pos, stop = pos + len;
      pos = stop;
      const AddedToken& t = entries_[e].token;
      if (t.single_word) {
        const bool start_space =
            start == 0 || !is_word_char(std::string_view(s).substr(prev_char(s, start),
                                                                   start - prev_char(s, start)));
        const bool stop_space = stop == s.size() || !is_word_char(std::string_view(s).substr(
                                                        stop, utf8::char_len(s, stop)));
        if (!start_space || !stop_space) continue;
      }
      if (t.lstrip) start = std::max(space_run_start(s, start), start_offset);
      if (t.rstrip) stop += space_run_len(s, stop);
      if (start_offset < start) emit(start_offset, start, -1);
      emit(start, stop, t.id);
      start_offset = stop;
    }
    if (start_offset < s.size()) emit(start_offset, s.size(), -1);
  }
  pieces = std::move(out);
}

}  // namespace quanta::tok
