// Encoding arbitrary bytes with a real tokenizer ($QUANTA_FUZZ_TOKENIZER_DIR, default
// models/smollm2-135m-instruct): never crashes, ids stay inside the vocabulary, and valid UTF-8 text
// decodes back to itself (byte-level BPE is lossless) when every byte of it has a byte token.
// Note: SmolLM2's vocabulary lacks the byte tokens of 0x04, 0x06, 0x13, ... (21 bytes); such bytes
// are dropped by the tokenizers library too (BPE without unk_token), so they are exempt.
#include <cstdlib>
#include <memory>
#include <string>

#include "core/error.h"
#include "io/tokenizer.h"

namespace {

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (n < 0 || i + size_t(n) >= s.size() + (n == 0 ? 1 : 0)) return false;
    uint32_t cp = n == 0 ? c : c & (0x3f >> n);
    for (int k = 1; k <= n; ++k) {
      const unsigned char d = static_cast<unsigned char>(s[i + size_t(k)]);
      if ((d >> 6) != 2) return false;
      cp = cp << 6 | (d & 0x3f);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += size_t(n) + 1;
  }
  return true;
}

// GPT-2's bytes_to_unicode: the character byte b stands for in a byte-level vocabulary, as UTF-8.
std::string byte_char(unsigned b) {
  unsigned cp = b;
  if (!((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff))) {
    unsigned n = 0;
    for (unsigned x = 0; x < b; ++x)
      if (!((x >= 0x21 && x <= 0x7e) || (x >= 0xa1 && x <= 0xac) || (x >= 0xae && x <= 0xff))) ++n;
    cp = 256 + n;
  }
  std::string s;
  if (cp < 0x80) {
    s += char(cp);
  } else {
    s += char(0xc0 | (cp >> 6));
    s += char(0x80 | (cp & 0x3f));
  }
  return s;
}

const quanta::Tokenizer& tokenizer() {
  static const std::unique_ptr<quanta::Tokenizer> t = [] {
    const char* dir = std::getenv("QUANTA_FUZZ_TOKENIZER_DIR");
    return std::make_unique<quanta::Tokenizer>(
        quanta::Tokenizer::load(dir ? dir : "models/smollm2-135m-instruct"));
  }();
  return *t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const quanta::Tokenizer& t = tokenizer();
  std::vector<int32_t> ids;
  try {
    ids = t.encode(text, false);
  } catch (const quanta::Error&) {
    return 0;  // e.g. invalid UTF-8 refused with a message
  }
  for (int32_t id : ids)
    if (id < 0 || id >= t.vocab_size()) __builtin_trap();
  static const std::vector<bool> has_byte = [&] {
    std::vector<bool> v(256);
    for (unsigned b = 0; b < 256; ++b) v[b] = t.token_id(byte_char(b)) >= 0;
    return v;
  }();
  bool representable = true;
  for (unsigned char c : text) representable = representable && has_byte[c];
  if (representable && valid_utf8(text) && t.decode(ids, false) != text) __builtin_trap();
  return 0;
}
