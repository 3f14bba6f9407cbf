// tokenizer.json loading (Tokenizer::from_json); a tokenizer that loads must encode and decode a
// fixed text without crashing.
#include <string>

#include "core/error.h"
#include "io/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const quanta::Tokenizer t = quanta::Tokenizer::from_json(text);
    const std::vector<int32_t> ids = t.encode("Hello world 123 <|im_start|>é\r\n", true);
    (void)t.decode(ids, false);
  } catch (const quanta::Error&) {
  }
  return 0;
}
