// Unicode Normalization Form C (what the NFC normalizer of Qwen-style tokenizer.json files asks
// for): canonical decomposition, canonical ordering, canonical composition (UAX #15).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace quanta::utf8 {

// s must be valid UTF-8. Text without code points >= U+0300 is returned unchanged, quickly.
std::string nfc(std::string_view s);

namespace nfc_data {  // utf8_nfc_data.cc (generated)
struct Decomp {
  uint32_t cp;
  uint16_t offset;  // into kDecompPool
  uint8_t len;
};
struct CccRange {
  uint32_t first, last;
  uint8_t ccc;
};
struct Compose {
  uint32_t a, b, composite;
};
extern const uint32_t kDecompPool[];
extern const Decomp kDecomp[];
extern const size_t kDecompCount;
extern const CccRange kCcc[];
extern const size_t kCccCount;
extern const Compose kCompose[];
extern const size_t kComposeCount;
}  // namespace nfc_data

}  // namespace quanta::utf8
