// UTF-8 helpers for the tokenizer: code point iteration, lossy repair (as Rust's
// String::from_utf8_lossy), and GPT-2's byte <-> printable-unicode map used by byte-level BPE.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace quanta::utf8 {

constexpr uint32_t kReplacement = 0xFFFD;

// Appends code point cp as UTF-8.
void append(std::string& out, uint32_t cp);

// Length in bytes of the valid UTF-8 sequence starting at s[pos], or 0 if it is not one.
size_t valid_len(std::string_view s, size_t pos);

// Decodes the code point at s[pos] and advances pos. On invalid input returns kReplacement and
// advances by the length of the maximal invalid subpart (at least 1 byte).
uint32_t next(std::string_view s, size_t& pos);

// Byte length of the (possibly invalid) char at pos, as next() would advance.
inline size_t char_len(std::string_view s, size_t pos) {
  size_t p = pos;
  next(s, p);
  return p - pos;
}

bool is_valid(std::string_view s);

// Unicode White_Space (what Rust's char::is_whitespace and regex \s test).
bool is_white_space(uint32_t cp);

// Replaces each maximal invalid subpart with U+FFFD (Rust from_utf8_lossy / WHATWG decode).
std::string lossy(std::string_view bytes);

// GPT-2 byte-level alphabet: byte b -> the UTF-8 text of its printable stand-in character.
const std::array<std::string, 256>& byte_to_unicode();
// Inverse map: code point -> byte, or -1 if cp is not in the alphabet.
int unicode_to_byte(uint32_t cp);

}  // namespace quanta::utf8
