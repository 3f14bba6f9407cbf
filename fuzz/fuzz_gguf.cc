// The GGUF reader: any bytes either open (every tensor inside the file, dequantizable ones
// dequantized) or throw quanta::Error; the llama config / tokenizer rebuilt from an opened file
// either succeed or throw quanta::Error.
#include <string>

#include "core/error.h"
#include "fuzz_util.h"
#include "io/gguf.h"
#include "io/gguf_import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = quanta::fuzz::write_input("model.gguf", data, size);
  std::unique_ptr<quanta::GgufFile> f;
  try {
    f = quanta::GgufFile::open(path);
  } catch (const quanta::Error&) {
    return 0;
  }
  for (const quanta::GgufTensor& t : f->tensors()) {
    if (!quanta::can_dequantize(t.type) || t.numel() > (1 << 20)) continue;
    try {
      (void)quanta::dequantize(t);
    } catch (const quanta::Error&) {
    }
  }
  for (auto fn : {&quanta::gguf_llama_config_json, &quanta::gguf_tokenizer_json,
                  &quanta::gguf_tokenizer_config_json}) {
    try {
      (void)fn(*f);
    } catch (const quanta::Error&) {
    }
  }
  return 0;
}
