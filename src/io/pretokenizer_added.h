// Added tokens (tokenizer.json "added_tokens"): found in the text before anything else and
// never passed to the model, as HF's AddedVocabulary does (leftmost-longest match, then the
// single_word / lstrip / rstrip rules).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "io/pretokenizer.h"

namespace quanta::tok {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false, lstrip = false, rstrip = false, normalized = true, single_word = false;
};

// Finds one set of added tokens in text (HF keeps two: those matched before normalization and
// those matched on the normalized text).
class AddedTokenMatcher {
 public:
  // pattern: the text to find (the content, or its normalized form); token gives the rules.
  void add(const std::string& pattern, const AddedToken& token);
  bool empty() const { return entries_.empty(); }
  // Splits each piece that has no id into text pieces and added-token pieces (id set).
  void split(std::vector<Piece>& pieces) const;

 private:
  struct Entry {
    std::string pattern;
    AddedToken token;
  };
  // Byte trie over the patterns; node 0 is the root.
  struct Node {
    int32_t entry = -1;  // the pattern ending here
    std::vector<std::pair<unsigned char, int32_t>> next;
  };
  int32_t child(int32_t node, unsigned char c) const;
  // Longest pattern starting at text[pos], or -1.
  int32_t longest_at(const std::string& text, size_t pos, size_t& len) const;

  std::vector<Entry> entries_;
  std::vector<Node> nodes_ = std::vector<Node>(1);
  bool first_byte_[256] = {};
};

}  // namespace quanta::tok
