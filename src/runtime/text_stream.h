// Incremental detokenization for streaming with stop strings: token bytes go in, text comes out
// only once it is final: complete UTF-8 and not possibly the start of a stop string. A stop string
// that appears cuts the text before it.
#pragma once

#include <string>
#include <vector>

namespace quanta {

// Length of the longest suffix of s that is a proper prefix of some (non-empty) stop string.
size_t held_back_for_stops(const std::string& s, const std::vector<std::string>& stop);
// Largest end <= n such that s[0..end) does not end inside a UTF-8 sequence.
size_t utf8_safe_end(const std::string& s, size_t n);

class TextStream {
 public:
  explicit TextStream(std::vector<std::string> stop) : stop_(std::move(stop)) {}

  // Appends a token's bytes; returns the newly final text (may be empty). After a stop string
  // was seen, stopped() is true and the text ends before it.
  std::string push(const std::string& bytes);
  // The rest of the text, held back so far (call when generation ends without a stop string).
  std::string flush();
  bool stopped() const { return stopped_; }
  const std::string& text() const { return full_; }

 private:
  std::vector<std::string> stop_;
  std::string full_;
  size_t emitted_ = 0;
  bool stopped_ = false;
};

}  // namespace quanta
