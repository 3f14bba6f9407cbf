#include "runtime/text_stream.h"

#include <algorithm>

namespace quanta {

size_t held_back_for_stops(const std::string& s, const std::vector<std::string>& stop) {
  size_t held = 0;
  for (const auto& st : stop) {
    if (st.empty()) continue;
    for (size_t n = std::min(st.size() - 1, s.size()); n > held; --n)
      if (s.compare(s.size() - n, n, st, 0, n) == 0) {
        held = n;
        break;
      }
  }
  return held;
}

size_t utf8_safe_end(const std::string& s, size_t n) {
  size_t i = n;
  int back = 0;
  while (i > 0 && back < 4 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80) --i, ++back;
  if (i == 0) return n;
  const unsigned char lead = static_cast<unsigned char>(s[i - 1]);
  const size_t len = lead < 0x80 ? 1 : (lead >> 5) == 6 ? 2 : (lead >> 4) == 14 ? 3 : (lead >> 3) == 30 ? 4 : 1;
  return (n - (i - 1)) >= len ? n : i - 1;
}

std::string TextStream::push(const std::string& bytes) {
  if (stopped_) return "";
  full_ += bytes;
  size_t stop_at = std::string::npos;
  for (const auto& st : stop_) {
    if (st.empty()) continue;
    const size_t from = emitted_ > st.size() ? emitted_ - st.size() : 0;
    const size_t p = full_.find(st, from);
    if (p != std::string::npos) stop_at = std::min(stop_at, p);
  }
  if (stop_at != std::string::npos) {
    full_.resize(stop_at);
    stopped_ = true;
    return flush();
  }
  const size_t safe = utf8_safe_end(full_, full_.size() - held_back_for_stops(full_, stop_));
  if (safe <= emitted_) return "";
  std::string out = full_.substr(emitted_, safe - emitted_);
  emitted_ = safe;
  return out;
}

std::string TextStream::flush() {
  if (full_.size() <= emitted_) return "";
  std::string out = full_.substr(emitted_);
  emitted_ = full_.size();
  return out;
}

}  // namespace quanta
